"""Judging a world: fidelity and seam metrics, what counts as a revisit, and the
pictures (equirect, cube cross, maps, point clouds) a run is looked at through."""

from worldengine.eval import metrics
from worldengine.eval.metrics import Lpips, depth_absrel, psnr, seam_sobel, seam_ssim, ssim
from worldengine.eval.visualize import cube_cross, equirect_image, pointcloud_topdown, topdown_map

__all__ = ["metrics", "Lpips", "depth_absrel", "psnr", "seam_sobel", "seam_ssim", "ssim",
           "cube_cross", "equirect_image", "pointcloud_topdown", "topdown_map"]

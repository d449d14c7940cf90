"""memory: the Zarr-backed 3D store of latent tokens, pose retrieval and latent warping (to come)."""

__all__: list[str] = []

from memory.export import (
    ExportedFiles,
    cube_cross,
    export_ply,
    fill_holes,
    preview_png,
    trajectory_json,
)

__all__ += ["ExportedFiles", "cube_cross", "export_ply", "fill_holes", "preview_png", "trajectory_json"]

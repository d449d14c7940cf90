"""Cubemap geometry: the engine's frame and face conventions, cube-aware padding and
sampling, equirectangular conversion and rigid poses. Every other module follows it."""

from worldengine.geometry.checks import check_cubemap, check_face_size, check_faces, check_pose, check_vectors
from worldengine.geometry.cube import (
    EDGES,
    FACE_NAMES,
    NUM_FACES,
    SIDE_NAMES,
    Edge,
    camera_rays,
    cubemap_to_points,
    direction_to_face,
    face_rays,
    face_rotations,
    face_to_direction,
    norm_to_pixel,
    pixel_coords,
    pixel_to_norm,
    project_points,
    range_to_zdepth,
    zdepth_to_range,
)
from worldengine.geometry.equirect import cube_to_equirect, direction_to_equirect, equirect_directions, equirect_to_cube
from worldengine.geometry.padding import CubemapSampler, pad_faces, sample_cubemap
from worldengine.geometry.pose import (
    check_rigid,
    compose,
    invert,
    make_pose,
    pose_from_yaw_pitch,
    relative_pose,
    rotation_angle,
    transform_points,
    turned,
    yaw_pitch_from_pose,
    yaw_pitch_position,
)

__all__ = [
    "check_cubemap", "check_face_size", "check_faces", "check_pose", "check_vectors",
    "EDGES", "FACE_NAMES", "NUM_FACES", "SIDE_NAMES", "Edge", "camera_rays", "cubemap_to_points",
    "direction_to_face", "face_rays", "face_rotations", "face_to_direction", "norm_to_pixel", "pixel_coords",
    "pixel_to_norm", "project_points", "range_to_zdepth", "zdepth_to_range",
    "cube_to_equirect", "direction_to_equirect", "equirect_directions", "equirect_to_cube",
    "CubemapSampler", "pad_faces", "sample_cubemap",
    "check_rigid", "compose", "invert", "make_pose", "pose_from_yaw_pitch", "relative_pose", "rotation_angle",
    "transform_points", "turned", "yaw_pitch_from_pose", "yaw_pitch_position",
]

"""worldengine: a world-model simulation engine over 360-degree RGB-D cubemaps.

Public names of the foundation; submodules hold the rest (see README.md "Layout").
"""

from worldengine.actions import (
    DiscreteAction,
    Motion,
    MotionConfig,
    action_rates,
    continuous_space,
    decode_action,
    discrete_space,
)
from worldengine.cube import (
    EDGES,
    FACE_NAMES,
    NUM_FACES,
    cubemap_to_points,
    direction_to_face,
    face_rays,
    face_rotations,
    face_to_direction,
    pad_faces,
    project_points,
    range_to_zdepth,
    sample_cubemap,
    zdepth_to_range,
)
from worldengine.equirect import cube_to_equirect, equirect_directions, equirect_to_cube
from worldengine.flow import SamplerConfig
from worldengine.generate import CubeGenerator, GeneratedWindow, WindowContext
from worldengine.kinematics import step_pose
from worldengine.model import MODEL_SIZES, CubeDiT, CubeDiTConfig, DiTInput
from worldengine.pose import (
    check_rigid,
    compose,
    invert,
    make_pose,
    pose_from_yaw_pitch,
    relative_pose,
    rotation_angle,
    transform_points,
    yaw_pitch_from_pose,
)

__all__ = [
    "DiscreteAction", "Motion", "MotionConfig", "action_rates", "continuous_space", "decode_action", "discrete_space",
    "EDGES", "FACE_NAMES", "NUM_FACES", "cubemap_to_points", "direction_to_face", "face_rays",
    "face_rotations", "face_to_direction", "pad_faces", "project_points", "range_to_zdepth",
    "sample_cubemap", "zdepth_to_range",
    "cube_to_equirect", "equirect_directions", "equirect_to_cube",
    "SamplerConfig", "CubeGenerator", "GeneratedWindow", "WindowContext",
    "step_pose",
    "MODEL_SIZES", "CubeDiT", "CubeDiTConfig", "DiTInput",
    "check_rigid", "compose", "invert", "make_pose", "pose_from_yaw_pitch", "relative_pose",
    "rotation_angle", "transform_points", "yaw_pitch_from_pose",
]

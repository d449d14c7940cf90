"""worldengine: a world-model simulation engine over 360-degree RGB-D cubemaps.

Subpackages, one concept each (README.md "Layout"): geometry, agent, scenes, data, model,
world, eval, train, cli. The names most users need are re-exported here.
"""

from worldengine.agent import (
    DiscreteAction,
    Motion,
    MotionConfig,
    action_rates,
    continuous_space,
    decode_action,
    discrete_space,
    step_pose,
)
from worldengine.geometry import (
    EDGES,
    FACE_NAMES,
    NUM_FACES,
    check_rigid,
    compose,
    cube_to_equirect,
    cubemap_to_points,
    direction_to_face,
    equirect_directions,
    equirect_to_cube,
    face_rays,
    face_rotations,
    face_to_direction,
    invert,
    make_pose,
    pad_faces,
    pose_from_yaw_pitch,
    project_points,
    range_to_zdepth,
    relative_pose,
    rotation_angle,
    sample_cubemap,
    transform_points,
    yaw_pitch_from_pose,
    zdepth_to_range,
)
from worldengine.model import (
    MODEL_SIZES,
    CubeDiT,
    CubeDiTConfig,
    CubeGenerator,
    DiTInput,
    GeneratedWindow,
    SamplerConfig,
    WindowContext,
    load_world_generator,
)
from worldengine.world import Frame, StartFrame, WorldConfig, WorldModel

__all__ = [
    "DiscreteAction", "Motion", "MotionConfig", "action_rates", "continuous_space", "decode_action", "discrete_space",
    "step_pose",
    "EDGES", "FACE_NAMES", "NUM_FACES", "cubemap_to_points", "direction_to_face", "face_rays",
    "face_rotations", "face_to_direction", "pad_faces", "project_points", "range_to_zdepth",
    "sample_cubemap", "zdepth_to_range",
    "cube_to_equirect", "equirect_directions", "equirect_to_cube",
    "check_rigid", "compose", "invert", "make_pose", "pose_from_yaw_pitch", "relative_pose",
    "rotation_angle", "transform_points", "yaw_pitch_from_pose",
    "MODEL_SIZES", "CubeDiT", "CubeDiTConfig", "CubeGenerator", "DiTInput", "GeneratedWindow", "SamplerConfig",
    "WindowContext", "load_world_generator",
    "Frame", "StartFrame", "WorldConfig", "WorldModel",
]

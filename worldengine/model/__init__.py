"""The learned parts: the cube autoencoder, the CubeDiT generator (cube-aware RoPE,
raymaps, rectified flow, window generation, seam blending) and loading their checkpoints."""

from worldengine.model.autoencoder import AUTOENCODER_SIZES, AutoencoderConfig, CubeAutoencoder, pack_rgbd, unpack_rgbd
from worldengine.model.checkpoint import (
    DEFAULT_AUTOENCODER,
    DEFAULT_GENERATOR,
    load_autoencoder,
    load_generator,
    load_world_generator,
)
from worldengine.model.dit import MODEL_SIZES, CubeDiT, CubeDiTConfig, DiTInput
from worldengine.model.flow import SamplerConfig
from worldengine.model.generate import MODES, CubeGenerator, GeneratedWindow, WindowContext
from worldengine.model.seams import blend_seams

__all__ = [
    "AUTOENCODER_SIZES", "AutoencoderConfig", "CubeAutoencoder", "pack_rgbd", "unpack_rgbd",
    "DEFAULT_AUTOENCODER", "DEFAULT_GENERATOR", "load_autoencoder", "load_generator", "load_world_generator",
    "MODEL_SIZES", "CubeDiT", "CubeDiTConfig", "DiTInput", "SamplerConfig",
    "MODES", "CubeGenerator", "GeneratedWindow", "WindowContext", "blend_seams",
]

"""All tests: Triton kernels run through the interpreter where there is no GPU.

TRITON_INTERPRET must be set before triton is imported (``triton.jit`` picks the
interpreter when a kernel is decorated, i.e. when ``kernels`` is imported). With
CUDA present it is left alone, so the Triton tests run compiled on the GPU.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


def make_tiny_generator(seed: int = 0):
    """A randomly initialised tiny autoencoder (32 px faces, 4 x 8 x 8 latents) and tiny
    CubeDiT: the world loop's plumbing at test speed (the shipped weights are measured by
    the benchmarks)."""
    from worldengine.model.autoencoder import AutoencoderConfig, CubeAutoencoder
    from worldengine.model.dit import CubeDiT, CubeDiTConfig
    from worldengine.model.flow import SamplerConfig
    from worldengine.model.generate import CubeGenerator

    torch.manual_seed(seed)
    autoencoder = CubeAutoencoder(AutoencoderConfig(face_size=32, widths=(8, 16, 16), latent_channels=4))
    model = CubeDiT(CubeDiTConfig(latent_channels=4, latent_size=8, width=32, depth=1, heads=2, memory_depth=True))
    return CubeGenerator(model, autoencoder, SamplerConfig(steps=2))


def save_tiny_checkpoints(folder):
    """make_tiny_generator's models saved as checkpoint folders: (generator, autoencoder)."""
    from pathlib import Path

    from worldengine.train.checkpoint import save_model

    generator = make_tiny_generator()
    folder = Path(folder)
    save_model(folder / "generator", generator.model, {"kind": "generator", "config": generator.model.config.to_dict()})
    save_model(folder / "autoencoder", generator.autoencoder,
               {"kind": "autoencoder", "config": generator.autoencoder.config.to_dict()})
    return folder / "generator", folder / "autoencoder"

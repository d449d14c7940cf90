"""Which latents an autoencoder makes: a digest of its encoder and latent statistics."""

from __future__ import annotations

import hashlib

from worldengine.model.autoencoder import CubeAutoencoder


def autoencoder_digest(autoencoder: CubeAutoencoder) -> str:
    """A short digest of what makes the latents (encoder weights and latent statistics):
    latents of another encoder are not interchangeable; a retrained decoder reads them all."""
    digest = hashlib.sha256()
    for name, tensor in sorted(autoencoder.state_dict().items()):
        if name.startswith("decoder."):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()[:16]


__all__ = ["autoencoder_digest"]

"""memory: the Zarr-backed 3D store of latent tokens, pose retrieval and latent warping (to come)."""

__all__: list[str] = []

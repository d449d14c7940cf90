"""Loading trained models: the shipped checkpoint folders and the one loader for every kind.

    <dir>/model.safetensors   model parameters and buffers (never pickled)
    <dir>/config.json         {"kind", "config", "train_seeds", "heldout_seeds", ...}

Writing checkpoints (and the optimizer state beside them) is training's business
(worldengine.train.checkpoint); the runtime only reads them, so it never imports train.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from worldengine.model.autoencoder import AutoencoderConfig, CubeAutoencoder
from worldengine.model.dit import CubeDiT, CubeDiTConfig
from worldengine.model.generate import CubeGenerator
from worldengine.model.latent_digest import autoencoder_digest
from worldengine.model.refiner import LatentRefiner, RefinerConfig

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_AUTOENCODER = ROOT / "checkpoints" / "autoencoder"
DEFAULT_GENERATOR = ROOT / "checkpoints" / "generator"
DEFAULT_REFINER = ROOT / "checkpoints" / "refiner"


def read_meta(directory: Path) -> dict:
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {directory} (missing config.json)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not Path(path).is_file():
        raise FileNotFoundError(f"missing weights file {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable safetensors file: {error}") from error


def load_state_dict_strict(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Load with a clear error naming missing, unexpected and mismatched tensors."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    mismatched = [f"{k} {tuple(tensors[k].shape)} != {tuple(expected[k].shape)}"
                  for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    if missing or unexpected or mismatched:
        raise ValueError(f"checkpoint {source} does not fit the model: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}, mismatched {mismatched[:5]}")
    model.load_state_dict(tensors)


def load_model(directory: str | Path, kind: str, build, device=None) -> torch.nn.Module:
    """A trained model of `kind` from a checkpoint folder: `build(config dict)` makes the
    module, the safetensors weights fill it (strictly), and it comes back in eval mode."""
    directory = Path(directory)
    meta = read_meta(directory)
    if not isinstance(meta, dict):
        raise ValueError(f"{directory}/config.json must hold an object, got {type(meta).__name__}")
    if meta.get("kind") != kind:
        raise ValueError(f"{directory} holds a {meta.get('kind')!r} checkpoint, not a {kind}")
    try:
        model = build(meta.get("config"))
    except ValueError as error:
        raise ValueError(f"{directory}/config.json: {error}") from None
    load_state_dict_strict(model, load_tensors(directory / "model.safetensors"), directory)
    return model.to(device).eval()


def load_autoencoder(directory: str | Path, device=None) -> CubeAutoencoder:
    """A trained autoencoder from a checkpoint folder (safetensors + config.json)."""
    return load_model(directory, "autoencoder", lambda c: CubeAutoencoder(AutoencoderConfig.from_dict(c)), device)


def load_generator(directory: str | Path, device=None) -> CubeDiT:
    """A trained CubeDiT from a checkpoint folder (safetensors + config.json)."""
    return load_model(directory, "generator", lambda c: CubeDiT(CubeDiTConfig.from_dict(c)), device)


def load_refiner(directory: str | Path, device=None) -> LatentRefiner:
    """A trained latent refiner from a checkpoint folder (safetensors + config.json)."""
    return load_model(directory, "refiner", lambda c: LatentRefiner(RefinerConfig.from_dict(c)), device)


def load_world_generator(generator: str | Path = DEFAULT_GENERATOR, autoencoder: str | Path = DEFAULT_AUTOENCODER,
                         device=None, refiner: str | Path | None = DEFAULT_REFINER,
                         check_latents: bool = True) -> CubeGenerator:
    """The generator, autoencoder and refiner checkpoints a world runs on (the shipped ones
    by default); a missing or corrupt checkpoint raises FileNotFoundError / ValueError.
    refiner None: covered cells are the warped memory as it is (see `refiner_for`).
    check_latents False: any autoencoder, for a world whose generator network never runs
    (one that only writes ground truth and warps it, as the refiner's pairs do)."""
    model = load_generator(generator, device)
    decoder = load_autoencoder(autoencoder, device)
    if check_latents:
        check_generator_latents(generator, decoder)
    return CubeGenerator(model, decoder, refiner=refiner_for(decoder, refiner, device))


def check_generator_latents(generator: str | Path, autoencoder: CubeAutoencoder) -> None:
    """A generator works only on the latents it was trained on (its config.json records their
    digest; any decoder of them will do): another encoder's latents are an error, not a world
    of noise. A generator that records none (trained before the digest) is taken on trust."""
    other = _other_latents(generator, autoencoder)
    if other is not None:
        raise ValueError(f"the generator at {generator} {other}: retrain it on this autoencoder or use the one "
                         f"it was trained on")


def _other_latents(checkpoint: str | Path, autoencoder: CubeAutoencoder) -> str | None:
    """None when `checkpoint` was trained on `autoencoder`'s latents (or records none: taken on
    trust); else what it was trained on and what these are, worded for an error."""
    trained_on, latents = read_meta(Path(checkpoint)).get("autoencoder"), autoencoder_digest(autoencoder)
    if trained_on is None or trained_on == latents:
        return None
    return f"was trained on the latents of autoencoder {trained_on}, not on these ({latents})"


def refiner_for(autoencoder: CubeAutoencoder, refiner: str | Path | None, device=None) -> LatentRefiner | None:
    """The refiner that works on `autoencoder`'s latents, or None. A refiner is trained on
    one encoder's latents (its config.json records their digest) through any decoder of
    them. The shipped refiner joins an autoencoder with those latents and stays out of any
    other (and when it is absent); another refiner with other latents is an error."""
    if refiner is None:
        return None
    shipped = Path(refiner).resolve() == DEFAULT_REFINER.resolve()
    if shipped and not DEFAULT_REFINER.exists():
        return None
    loaded = load_refiner(refiner, device)  # a missing or corrupt folder fails here, shipped or not
    other = _other_latents(refiner, autoencoder)
    if other is None:
        return loaded
    if shipped:
        return None
    raise ValueError(f"the refiner at {refiner} {other}")


__all__ = ["DEFAULT_AUTOENCODER", "DEFAULT_GENERATOR", "DEFAULT_REFINER", "check_generator_latents",
           "load_autoencoder", "load_generator",
           "load_model", "load_refiner", "refiner_for",
           "load_state_dict_strict", "load_tensors", "load_world_generator", "read_meta"]

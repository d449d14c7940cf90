"""Training: one loop for every model (plain or torchrun/DDP), checkpoint writing, data, tasks.

The runtime never imports this package; loading trained weights is worldengine.model's.
"""

from worldengine.model.checkpoint import load_autoencoder, load_generator
from worldengine.scenes.seeds import HELDOUT_SCENE_SEEDS, TRAIN_SCENE_SEEDS
from worldengine.train.autoencoder_task import AutoencoderTask
from worldengine.train.generator_task import GeneratorTask
from worldengine.train.loop import TrainConfig, train

__all__ = ["AutoencoderTask", "load_autoencoder", "GeneratorTask", "load_generator", "TrainConfig", "train",
           "HELDOUT_SCENE_SEEDS", "TRAIN_SCENE_SEEDS"]

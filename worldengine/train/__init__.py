"""Training: one loop for every model (plain or torchrun/DDP), checkpoints, data, tasks."""

from worldengine.train.autoencoder_task import AutoencoderTask, load_autoencoder
from worldengine.train.generator_task import GeneratorTask, load_generator
from worldengine.train.loop import TrainConfig, train
from worldengine.train.seeds import HELDOUT_SCENE_SEEDS, TRAIN_SCENE_SEEDS

__all__ = ["AutoencoderTask", "load_autoencoder", "GeneratorTask", "load_generator", "TrainConfig", "train",
           "HELDOUT_SCENE_SEEDS", "TRAIN_SCENE_SEEDS"]

"""The generated world: the step loop over many worlds sharing one generator, where a
world starts, what it recalls and writes back to its memory, collisions, save/resume."""

from worldengine.model.checkpoint import DEFAULT_GENERATOR, load_world_generator
from worldengine.world.collision import MemoryCollider
from worldengine.world.config import WorldConfig
from worldengine.world.frame import Frame
from worldengine.world.loop import WorldModel
from worldengine.world.recall import MEMORY_KINDS, LatentRecall, NoRecall, PointRecall
from worldengine.world.start import StartFrame, equirect_start, scene_start
from worldengine.world.state import WorldState
from worldengine.world.view import CubeView
from worldengine.world.writer import MemoryWriter, export_memory

__all__ = [
    "DEFAULT_GENERATOR", "load_world_generator",  # their home is worldengine.model; kept here for old imports
    "MemoryCollider", "Frame", "WorldConfig", "WorldModel", "MEMORY_KINDS", "LatentRecall", "NoRecall",
    "PointRecall", "CubeView", "StartFrame", "equirect_start", "scene_start", "WorldState", "MemoryWriter", "export_memory",
]

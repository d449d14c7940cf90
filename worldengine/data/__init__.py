"""Recorded walks: the Zarr trajectory format (RGB-D cubemaps, poses, actions) and the
recorder that walks the ground-truth explorer through scenes into it."""

from worldengine.data.record import Rollout, record, walk
from worldengine.data.trajectory import EpisodeWriter, TrajectoryReader, TrajectoryWriter, Window

__all__ = ["Rollout", "record", "walk", "EpisodeWriter", "TrajectoryReader", "TrajectoryWriter", "Window"]

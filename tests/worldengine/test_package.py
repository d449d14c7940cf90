"""The worldengine package as a whole: its re-exported names, and a generation path that
runs where open3d and trimesh are not installed (DESIGN.md)."""

import subprocess
import sys
from pathlib import Path

import worldengine

ROOT = Path(__file__).resolve().parents[2]

WITHOUT_MESH_LIBRARIES = """
import sys
sys.modules["open3d"] = None  # an import of either now raises ImportError
sys.modules["trimesh"] = None
import numpy as np
import envs, worldengine
from worldengine.world import WorldModel
from tests.conftest import make_tiny_generator
world = WorldModel(make_tiny_generator())
pose = np.eye(4, dtype=np.float32)
world.reset(0, None, pose=pose, seed=0)
frame = world.step({0: 1})[0]
assert frame.rgb.shape == (6, 32, 32, 3)
world.close()
print("stepped")
"""


def test_generation_path_runs_without_open3d_and_trimesh():
    result = subprocess.run([sys.executable, "-c", WITHOUT_MESH_LIBRARIES], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("stepped")


def test_every_public_name_resolves():
    for name in worldengine.__all__:
        assert getattr(worldengine, name) is not None, name
    from worldengine.world import WorldConfig, WorldModel  # the old import path keeps working

    assert worldengine.WorldModel is WorldModel and worldengine.WorldConfig is WorldConfig


def test_top_level_holds_no_more_than_eight_modules():
    modules = sorted(p.name for p in (ROOT / "worldengine").glob("*.py"))
    assert len(modules) <= 8, modules

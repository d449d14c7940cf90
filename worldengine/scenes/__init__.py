"""Ground-truth 3D worlds: seeded procedural scenes, users' meshes, RGB-D cubemap rendering."""

from worldengine.scenes.layout import SCENE_KINDS, SceneLayout, generate_layout
from worldengine.scenes.mesh_scene import MeshScene
from worldengine.scenes.render import CubemapRGBD, render_cubemaps, render_rays, world_rays
from worldengine.scenes.scene import ProceduralScene, Scene

__all__ = [
    "SCENE_KINDS",
    "SceneLayout",
    "generate_layout",
    "MeshScene",
    "CubemapRGBD",
    "render_cubemaps",
    "render_rays",
    "world_rays",
    "ProceduralScene",
    "Scene",
]

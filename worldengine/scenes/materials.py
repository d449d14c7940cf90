"""Procedural materials: albedo computed from the hit point, its normal and the material.

Patterns are evaluated in torch with integer hashing (int64 wrap-around is the same on
every device), so the CPU (open3d) and GPU (analytic) renderers shade identically.
Texture coordinates are triplanar: the two world axes across the dominant normal axis.
"""

from __future__ import annotations

import torch

CHECKER, STRIPES, BRICKS, NOISE, DOTS, GRID, RINGS = range(7)

# (pattern, colour a (rgb), colour b (rgb), scale in metres)
PALETTE = (
    (CHECKER, (0.80, 0.78, 0.72), (0.35, 0.33, 0.30), 0.50),  # 0 tiled floor
    (RINGS, (0.62, 0.44, 0.26), (0.45, 0.30, 0.16), 0.35),  # 1 wood
    (BRICKS, (0.70, 0.34, 0.24), (0.82, 0.80, 0.74), 0.25),  # 2 brick wall
    (NOISE, (0.55, 0.60, 0.50), (0.30, 0.38, 0.28), 0.60),  # 3 mossy stone
    (STRIPES, (0.85, 0.82, 0.60), (0.55, 0.70, 0.80), 0.30),  # 4 wallpaper
    (DOTS, (0.25, 0.35, 0.60), (0.90, 0.85, 0.40), 0.20),  # 5 blue dots
    (GRID, (0.90, 0.90, 0.88), (0.40, 0.42, 0.45), 0.40),  # 6 white tiles
    (CHECKER, (0.75, 0.25, 0.25), (0.95, 0.90, 0.85), 0.25),  # 7 red check
    (NOISE, (0.82, 0.76, 0.62), (0.60, 0.52, 0.40), 0.90),  # 8 sandstone
    (STRIPES, (0.30, 0.55, 0.35), (0.18, 0.30, 0.20), 0.15),  # 9 green stripes
    (BRICKS, (0.55, 0.55, 0.58), (0.30, 0.30, 0.32), 0.40),  # 10 grey blocks
    (DOTS, (0.90, 0.60, 0.20), (0.35, 0.15, 0.10), 0.15),  # 11 orange dots
    (RINGS, (0.80, 0.70, 0.55), (0.60, 0.48, 0.35), 0.50),  # 12 light wood
    (GRID, (0.20, 0.22, 0.28), (0.75, 0.80, 0.85), 0.60),  # 13 dark panels
    (NOISE, (0.45, 0.40, 0.55), (0.78, 0.72, 0.85), 0.40),  # 14 lilac marble
    (CHECKER, (0.20, 0.45, 0.55), (0.70, 0.85, 0.80), 1.00),  # 15 teal check
)
MATERIAL_COUNT = len(PALETTE)
WALL_MATERIALS = (2, 3, 4, 8, 10, 13)
FLOOR_MATERIALS = (0, 1, 6, 12, 15)

SUN_DIRECTION = (0.35, 0.85, 0.40)  # towards the light, normalised when used
AMBIENT = 0.45
SKY_HORIZON = (0.78, 0.86, 0.95)
SKY_ZENITH = (0.30, 0.50, 0.85)


def _hash01(ix: torch.Tensor, iy: torch.Tensor, salt: torch.Tensor) -> torch.Tensor:
    """Deterministic pseudo-random value in [0, 1) per integer lattice point."""
    h = ix * 73856093 ^ iy * 19349663 ^ salt * 83492791
    h = (h ^ (h >> 13)) * 1274126177
    h = h ^ (h >> 16)
    return (h & 0xFFFF).to(torch.float32) / 65536.0


def _value_noise(u: torch.Tensor, v: torch.Tensor, salt: torch.Tensor) -> torch.Tensor:
    """Smooth lattice noise in [0, 1): hashed corners blended with a smoothstep."""
    iu, iv = torch.floor(u), torch.floor(v)
    fu, fv = u - iu, v - iv
    fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    iu, iv = iu.long(), iv.long()
    c00, c10 = _hash01(iu, iv, salt), _hash01(iu + 1, iv, salt)
    c01, c11 = _hash01(iu, iv + 1, salt), _hash01(iu + 1, iv + 1, salt)
    return torch.lerp(torch.lerp(c00, c10, fu), torch.lerp(c01, c11, fu), fv)


def _frac(x: torch.Tensor) -> torch.Tensor:
    return x - torch.floor(x)


def _checker(u, v, salt):
    return ((torch.floor(u) + torch.floor(v)) % 2 == 1).float()


def _stripes(u, v, salt):
    return (_frac(u) < 0.5).float()


def _bricks(u, v, salt):
    shifted = u + 0.5 * (torch.floor(v * 2) % 2)  # every other row of bricks is offset
    return ((_frac(v * 2) < 0.08) | (_frac(shifted) < 0.04)).float()


def _noise(u, v, salt):
    return 0.65 * _value_noise(u * 2, v * 2, salt) + 0.35 * _value_noise(u * 5, v * 5, salt + 1)


def _dots(u, v, salt):
    du, dv = _frac(u) - 0.5, _frac(v) - 0.5
    return (du * du + dv * dv < 0.09).float()


def _grid(u, v, salt):
    return ((_frac(u) < 0.06) | (_frac(v) < 0.06)).float()


def _rings(u, v, salt):
    return 0.5 + 0.5 * torch.sin(20.0 * torch.sqrt(u * u * 0.05 + v * v) + 4 * _value_noise(u, v, salt))


_PATTERNS = (_checker, _stripes, _bricks, _noise, _dots, _grid, _rings)  # indexed by CHECKER..RINGS


def _pattern(kind: torch.Tensor, u: torch.Tensor, v: torch.Tensor, salt: torch.Tensor) -> torch.Tensor:
    """Blend weight of colour b in [0, 1] for each point, by pattern kind (each point
    evaluates only its own pattern)."""
    weight = torch.empty_like(u)
    for index, pattern in enumerate(_PATTERNS):
        chosen = kind == index
        if chosen.any():
            weight[chosen] = pattern(u[chosen], v[chosen], salt[chosen])
    return weight


def _palette_tensors(device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    kind = torch.tensor([p[0] for p in PALETTE], dtype=torch.long, device=device)
    colour_a = torch.tensor([p[1] for p in PALETTE], dtype=torch.float32, device=device)
    colour_b = torch.tensor([p[2] for p in PALETTE], dtype=torch.float32, device=device)
    scale = torch.tensor([p[3] for p in PALETTE], dtype=torch.float32, device=device)
    return kind, colour_a, colour_b, scale


def triplanar_uv(points: torch.Tensor, normals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Texture coordinates (N,), (N,) from the two world axes across the normal's dominant axis."""
    axis = normals.abs().argmax(dim=-1)
    x, y, z = points.unbind(-1)
    u = torch.where(axis == 0, z, x)
    v = torch.where(axis == 1, z, y)
    return u, v


def procedural_albedo(points: torch.Tensor, normals: torch.Tensor, material: torch.Tensor) -> torch.Tensor:
    """Albedo (N, 3) in [0, 1] of hit points (N, 3) with unit normals (N, 3), material ids (N,)."""
    kind, colour_a, colour_b, scale = _palette_tensors(points.device)
    u, v = triplanar_uv(points.float(), normals.float())
    s = scale[material]
    u, v = u / s, v / s
    weight = _pattern(kind[material], u, v, material)
    base = torch.lerp(colour_a[material], colour_b[material], weight.unsqueeze(-1))
    grain = 0.85 + 0.3 * _value_noise(u * 8, v * 8, material + 7)  # fine detail on every surface
    return (base * grain.unsqueeze(-1)).clamp(0, 1)


def shade(albedo: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """Lambertian shading under a fixed sun plus ambient light, (N, 3) -> (N, 3)."""
    sun = torch.tensor(SUN_DIRECTION, dtype=albedo.dtype, device=albedo.device)
    sun = sun / sun.norm()
    # Surfaces facing away from the sun get a softer fill so indoor walls stay readable.
    lambert = (normals.to(albedo.dtype) @ sun).abs()
    return (albedo * (AMBIENT + (1 - AMBIENT) * lambert.unsqueeze(-1))).clamp(0, 1)


def sky(directions: torch.Tensor) -> torch.Tensor:
    """Sky colour (N, 3) for rays (N, 3) that hit nothing: a horizon-to-zenith gradient."""
    unit = directions / directions.norm(dim=-1, keepdim=True)
    t = unit[:, 1].clamp(0, 1).unsqueeze(-1).float()
    horizon = torch.tensor(SKY_HORIZON, device=directions.device)
    zenith = torch.tensor(SKY_ZENITH, device=directions.device)
    return torch.lerp(horizon, zenith, t)

"""Analytic ray casting of procedural layouts in pure torch (any device, no open3d).

This is the GPU path: the machine with the accelerator cannot install open3d, so the
procedural scenes are intersected exactly (oriented boxes, spheres, capped vertical
cylinders). Results agree with the open3d mesh path up to tessellation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from worldengine.scenes.layout import SceneLayout

_EPS = 1e-6
_CHUNK = 1 << 16  # rays per chunk: bounds the (rays x primitives) temporaries


@dataclass
class Hits:
    """First hits of N rays: parameter t (inf = miss), unit normal facing the ray,
    primitive id (-1 = miss; boxes, then spheres, then cylinders, or mesh triangles)."""

    t: torch.Tensor  # (N,)
    normal: torch.Tensor  # (N, 3)
    primitive: torch.Tensor  # (N,)


class LayoutTensors:
    """A layout's primitives as tensors on one device, ready for intersection."""

    def __init__(self, layout: SceneLayout, device=None, dtype=torch.float32):
        def as_tensor(a):
            return torch.as_tensor(a, dtype=dtype, device=device)

        self.box_centre, self.box_half = as_tensor(layout.box_centre), as_tensor(layout.box_half)
        self.box_cos, self.box_sin = as_tensor(layout.box_yaw).cos(), as_tensor(layout.box_yaw).sin()
        self.sphere_centre, self.sphere_radius = as_tensor(layout.sphere_centre), as_tensor(layout.sphere_radius)
        self.cyl_xz, self.cyl_y, self.cyl_radius = as_tensor(layout.cyl_xz), as_tensor(layout.cyl_y), as_tensor(layout.cyl_radius)
        self.counts = layout.counts


def _to_box_frame(v: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate vectors (N, 1, 3) by Ry(-yaw) of every box (M,) -> (N, M, 3)."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return torch.stack([cos * x - sin * z, y.expand_as(cos * x), sin * x + cos * z], dim=-1)


def _boxes(o, d, s: LayoutTensors):
    """Ray/oriented-box slab test: t (N, M) and box-frame normal axis/sign."""
    ol = _to_box_frame((o.unsqueeze(1) - s.box_centre), s.box_cos, s.box_sin)  # (N, M, 3)
    dl = _to_box_frame(d.unsqueeze(1), s.box_cos, s.box_sin)  # (N, M, 3)
    dl = torch.where(dl.abs() < 1e-12, torch.full_like(dl, 1e-12), dl)
    t1, t2 = (-s.box_half - ol) / dl, (s.box_half - ol) / dl
    t_near, axis = torch.minimum(t1, t2).max(dim=-1)  # (N, M)
    t_far = torch.maximum(t1, t2).min(dim=-1).values
    hit = (t_far >= t_near) & (t_far > _EPS)
    t = torch.where(t_near > _EPS, t_near, t_far)  # from inside a box: its far side
    t = torch.where(hit, t, torch.full_like(t, float("inf")))
    sign = -torch.sign(dl.gather(-1, axis.unsqueeze(-1)).squeeze(-1))
    return t, axis, sign


def _box_normal(axis, sign, cos, sin):
    """World normal of a box face from its local axis and sign (rotate by Ry(yaw))."""
    local = torch.nn.functional.one_hot(axis, 3).to(cos.dtype) * sign.unsqueeze(-1)
    x, y, z = local.unbind(-1)
    return torch.stack([cos * x + sin * z, y, -sin * x + cos * z], dim=-1)


def _spheres(o, d, s: LayoutTensors):
    oc = o.unsqueeze(1) - s.sphere_centre  # (N, M, 3)
    a = (d * d).sum(-1, keepdim=True)  # (N, 1)
    b = (oc * d.unsqueeze(1)).sum(-1)
    c = (oc * oc).sum(-1) - s.sphere_radius ** 2
    disc = b * b - a * c
    root = disc.clamp_min(0).sqrt()
    t0, t1 = (-b - root) / a, (-b + root) / a
    t = torch.where(t0 > _EPS, t0, t1)
    return torch.where((disc >= 0) & (t > _EPS), t, torch.full_like(t, float("inf")))


def _cylinders(o, d, s: LayoutTensors):
    """Vertical capped cylinders: t (N, M) and whether the hit is on a cap."""
    inf = float("inf")
    ox, oz = o[:, 0:1] - s.cyl_xz[:, 0], o[:, 2:3] - s.cyl_xz[:, 1]  # (N, M)
    dx, dy, dz = d[:, 0:1], d[:, 1:2], d[:, 2:3]
    a = (dx * dx + dz * dz).clamp_min(1e-12)
    b = ox * dx + oz * dz
    c = ox * ox + oz * oz - s.cyl_radius ** 2
    disc = b * b - a * c
    root = disc.clamp_min(0).sqrt()
    y0, y1 = s.cyl_y[:, 0], s.cyl_y[:, 1]
    side = torch.full_like(b, inf)
    for t_side in ((-b - root) / a, (-b + root) / a):
        y = o[:, 1:2] + t_side * dy
        ok = (disc >= 0) & (t_side > _EPS) & (y >= y0) & (y <= y1)
        side = torch.where(ok & (t_side < side), t_side, side)
    dy_safe = torch.where(dy.abs() < 1e-12, torch.full_like(dy, 1e-12), dy)
    cap = torch.full_like(b, inf)
    for y_cap in (y0, y1):
        t_cap = (y_cap - o[:, 1:2]) / dy_safe
        px, pz = ox + t_cap * dx, oz + t_cap * dz
        ok = (t_cap > _EPS) & (px * px + pz * pz <= s.cyl_radius ** 2)
        cap = torch.where(ok & (t_cap < cap), t_cap, cap)
    return torch.minimum(side, cap), cap < side


def _first_hits(o: torch.Tensor, d: torch.Tensor, s: LayoutTensors) -> Hits:
    nb, ns, nc = s.counts
    parts = []
    if nb:
        t, axis, sign = _boxes(o, d, s)
        parts.append(t)
    if ns:
        parts.append(_spheres(o, d, s))
    if nc:
        t_cyl, on_cap = _cylinders(o, d, s)
        parts.append(t_cyl)
    t_all = torch.cat(parts, dim=1)  # (N, M)
    t, primitive = t_all.min(dim=1)
    miss = torch.isinf(t)
    point = o + t.clamp_max(1e9).unsqueeze(-1) * d
    normal = torch.zeros_like(o)
    if nb:
        is_box = primitive < nb
        k = primitive.clamp(max=nb - 1)
        ax, sg = axis.gather(1, k[:, None])[:, 0], sign.gather(1, k[:, None])[:, 0]
        normal = torch.where(is_box[:, None], _box_normal(ax, sg, s.box_cos[k], s.box_sin[k]), normal)
    if ns:
        is_sphere = (primitive >= nb) & (primitive < nb + ns)
        k = (primitive - nb).clamp(0, ns - 1)
        normal = torch.where(is_sphere[:, None], point - s.sphere_centre[k], normal)
    if nc:
        is_cyl = primitive >= nb + ns
        k = (primitive - nb - ns).clamp(0, nc - 1)
        cap = on_cap.gather(1, k[:, None])[:, 0]
        radial = point - torch.stack([s.cyl_xz[k, 0], point[:, 1], s.cyl_xz[k, 1]], dim=-1)
        vertical = torch.zeros_like(point)
        vertical[:, 1] = 1.0
        normal = torch.where(is_cyl[:, None], torch.where(cap[:, None], vertical, radial), normal)
    normal = normal / normal.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    normal = torch.where(((normal * d).sum(-1) > 0)[:, None], -normal, normal)  # face the ray
    primitive = torch.where(miss, torch.full_like(primitive, -1), primitive)
    return Hits(t=t, normal=normal, primitive=primitive)


def cast_rays_analytic(layout_tensors: LayoutTensors, origins: torch.Tensor, directions: torch.Tensor) -> Hits:
    """First hits of rays (N, 3) + (N, 3) against a layout; t in units of |direction|."""
    hits = [
        _first_hits(origins[i:i + _CHUNK], directions[i:i + _CHUNK], layout_tensors)
        for i in range(0, origins.shape[0], _CHUNK)
    ]
    return Hits(
        t=torch.cat([h.t for h in hits]),
        normal=torch.cat([h.normal for h in hits]),
        primitive=torch.cat([h.primitive for h in hits]),
    )

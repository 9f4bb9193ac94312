"""Ground truth on a manifold: the closed-form conditional densities of the geodesic path and the exact
marginal field of a finite data set.

Push the uniform source along geodesics towards one data point y with κ_t = t: x_t = exp_{x_0}(t log_{x_0} y)
is the point at distance (1 - t) d(x_0, y) from y on the geodesic from y through x_0, so the map x_0 -> x_t
shrinks the space towards y by the factor 1 - t in geodesic polar coordinates about y. Its density, with
s = 1 - t and r = d(x, y):

    sphere: p_t(x | y) = sin(r / s) / (s sin r) / (4π)   for r < s π,   0 beyond   (→ 1 / (4π s²) at r = 0)
    torus:  p_t(x | y) = 1 / (2π s)²   inside the wrapped box |wrap(x - y)_j| < s π (j = 1, 2),   0 outside

(on the sphere the area element is sin r dr dφ: the radius r0 = r / s of the source is squeezed to r). The
marginal p_t(x) = (1/N) Σ_i p_t(x | x^(i)) and the marginal field is the weighted average of the conditional
velocities u_t(x | x^(i)) = log_x(x^(i)) / (1 - t):

    u_t(x) = Σ_i p_t(x | x^(i)) log_x(x^(i)) / ((1 - t) Σ_i p_t(x | x^(i))).

**Where every weight is 0** (x outside every support: on the sphere the caps of radius (1 - t)π around the
data points leave an uncovered region for t > 0, on the torus the boxes of side 2π(1 - t)), p_t(x) = 0: no
probability mass is there and the flow of the source never passes there, so the field is not defined by the
data. These functions return u_t(x) = 0 there (drawn as no arrow), and `marginal_density` tells you where
(p_t(x) = 0). The log map is only evaluated where its weight is positive (never at an antipodal pair: there
r = π >= (1 - t)π).

These formulas hold for κ_t = t (the default `GeodesicPath`); t must lie in [0, 1) (at t = 1 every
conditional density is a point mass).

Source: Chen & Lipman 2024, "Flow Matching on General Geometries", sec. 3.2 and eq. (8) (marginal field as a
weighted average of conditional fields); the densities follow from the change of variables in geodesic polar
coordinates (do Carmo 1992, ch. 3) and are checked by Monte Carlo in tests/test_manifolds_exact.py.

Taught in notebook 12 (`notebooks/12_curved_spaces.ipynb`).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..checks import check_time
from .spaces import Manifold, Sphere, get_space, wrap

__all__ = ["conditional_density", "marginal_density", "marginal_velocity"]


def _time(t, batch: int, like: Tensor) -> Tensor:
    t = check_time(t, batch, like=like)
    if (t >= 1).any():
        raise ValueError("the exact densities and field need t < 1: at t = 1 every conditional density is a point "
                         "mass at its data point (use t = 0.999 for the end of the path)")
    return t.double()


def _density(space: Manifold, x: Tensor, y: Tensor, t: Tensor) -> Tensor:
    """p_t(x | y) in float64 for broadcastable x (..., dim), y (..., dim) and t of the leading shape."""
    s = 1 - t
    if isinstance(space, Sphere):
        r = space._distance(x, y)
        inside = r < s * math.pi
        ratio = torch.sin(r / s) / (s * torch.sin(r).clamp_min(1e-300))
        p = torch.where(r < 1e-7, 1 / s ** 2, ratio) / (4 * math.pi)
        return torch.where(inside, p, torch.zeros_like(p))
    inside = (wrap(x - y).abs() < (s * math.pi)[..., None]).all(dim=-1)
    p = 1 / (2 * math.pi * s) ** 2
    return torch.where(inside, p.expand(inside.shape), torch.zeros(inside.shape, dtype=torch.float64, device=x.device))


def conditional_density(space: Manifold | str, x: Tensor, y: Tensor, t) -> Tensor:
    """p_t(x | y): the density (w.r.t. area) of the uniform source pushed along geodesics towards y, at x.

    Args:
        space: `Sphere()`, `FlatTorus()`, "sphere" or "torus".
        x: points (B, dim). y: one data point per row (B, dim). t: (B,) or one number in [0, 1).

    Returns:
        float64 tensor (B,), >= 0; integrates to 1 over the space (area 4π or (2π)²).

    Raises:
        ValueError: points off the space, shapes that differ, t outside [0, 1) (t = 1 is a point mass).
    """
    space = get_space(space)
    x, y = space._pair(x, y, "x", "y")
    t = _time(t, x.shape[0], x)
    return _density(space, x.double(), y.double(), t)


def _weights(space, x, data, t):
    space = get_space(space)
    x = space.check_point(x, "x")
    data = space.check_point(data, "data")
    t = _time(t, x.shape[0], x)
    xd, dd = x.double()[:, None, :], data.double()[None, :, :]
    w = _density(space, xd.expand(-1, len(data), -1), dd.expand(len(x), -1, -1), t[:, None])   # (B, N)
    return space, x, data, t, w


def marginal_density(space: Manifold | str, x: Tensor, data: Tensor, t) -> Tensor:
    """p_t(x) = (1/N) Σ_i p_t(x | x^(i)) for a finite data set, float64 (B,).

    Args:
        space: the space. x: points (B, dim). data: the data set x^(i) (N, dim). t: (B,) or a number in [0, 1).

    Raises:
        ValueError: as `conditional_density`.
    """
    return _weights(space, x, data, t)[-1].mean(dim=1)


def marginal_velocity(space: Manifold | str, x: Tensor, data: Tensor, t) -> Tensor:
    """The exact marginal field u_t(x) of the geodesic path (κ_t = t) for a finite data set, (B, dim).

    u_t(x) = Σ_i w_i log_x(x^(i)) / (1 - t) with w_i = p_t(x | x^(i)) / Σ_j p_t(x | x^(j)); 0 where every
    weight is 0 (p_t(x) = 0: no mass there, see the module docstring). Tangent at x, in x's dtype.

    Args:
        space: the space. x: points (B, dim). data: the data set x^(i) (N, dim). t: (B,) or a number in [0, 1).

    Raises:
        ValueError: as `conditional_density`.
    """
    space, x, data, t, w = _weights(space, x, data, t)
    total = w.sum(dim=1, keepdim=True)
    w = w / total.clamp_min(1e-300)
    xd = x.double()[:, None, :].expand(-1, len(data), -1)
    logs = space._log(xd, data.double()[None].expand(len(x), -1, -1))   # (B, N, dim); 0 at antipodes (weight 0)
    u = (w[..., None] * logs).sum(dim=1) / (1 - t)[:, None]
    return torch.where(total > 0, u, torch.zeros_like(u)).to(x.dtype)

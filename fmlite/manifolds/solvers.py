"""Sampling on a manifold: fixed-step integration of dx/dt = v(x, t) that stays on the space.

    euler     x <- exp_x(h P_x v(x, t))                                             1 NFE/step, order 1
    midpoint  m = exp_x(h/2 P_x v(x, t)),  x <- exp_x(h P_x v(m, t + h/2))          2 NFE/step, order 2
    naive     the flat Euler step in the ambient coordinates, pulled back onto the space:
              sphere x <- (x + h v) / |x + h v|;  torus: each angle's point (cos θ, sin θ) on its circle
              steps by h θ' (-sin θ, cos θ) and is renormalised, i.e. θ <- θ + arctan(h θ')   1 NFE/step

The naive step x + h v leaves the sphere by sqrt(1 + h²|v|²) - 1; renormalised, it travels arctan(h|v|)
instead of h|v|, so it lags behind the Riemannian step by h|v| - arctan(h|v|) ≈ (h|v|)³/3 per step.
(On the midpoint step P_x v(m) stands for the parallel transport of v(m) back to x; they differ at O(h),
which moves the step by O(h³): the method stays of order 2.)

Sources: Chen & Lipman 2024, "Flow Matching on General Geometries", sec. 3.3 (sampling with a Riemannian
ODE solver: the Euler step through the exponential map); Hairer, Lubich & Wanner, "Geometric Numerical
Integration" (2006), sec. IV.4 (projection methods) and IV.8 (Lie-group / exponential-map integrators).

Taught in notebook 12 (`notebooks/12_curved_spaces.ipynb`).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..checks import call_velocity, check_count, check_time
from ..solvers import Solution
from .spaces import FlatTorus, Manifold, get_space

__all__ = ["integrate_manifold", "MANIFOLD_METHODS"]


def _euler(space, v, x, t, h):
    return space._exp(x, h * space._project(x, v(x, t)))


def _midpoint(space, v, x, t, h):
    m = space._exp(x, 0.5 * h * space._project(x, v(x, t)))
    return space._exp(x, h * space._project(x, v(m, t + 0.5 * h)))


def _naive(space, v, x, t, h):
    if isinstance(space, FlatTorus):
        return space._exp(x, torch.atan(h * v(x, t)))
    y = x + h * v(x, t)
    return y / y.norm(dim=-1, keepdim=True)


#: method name -> (one step, velocity evaluations per step)
MANIFOLD_METHODS = {"euler": (_euler, 1), "midpoint": (_midpoint, 2), "naive": (_naive, 1)}


def integrate_manifold(space: Manifold | str, velocity: Callable[[Tensor, Tensor], Tensor], x_0: Tensor, steps: int,
                       method: str = "euler", t_start: float = 0.0, t_end: float = 1.0,
                       return_trajectory: bool = False) -> Solution:
    """Integrate dx/dt = velocity(x, t) on `space` from t_start to t_end with `steps` equal steps.

    Args:
        space: `Sphere()`, `FlatTorus()`, "sphere" or "torus".
        velocity: callable (x (B, dim), t (B,)) -> (B, dim), e.g. a `ManifoldMLP` or
            `lambda x, t: marginal_velocity(space, x, data, t)`; projected onto the tangent plane at each use.
        x_0: start points (B, dim) on the space (uniform samples at t_start = 0).
        steps: whole number >= 1. method: "euler", "midpoint" or "naive" (see the module docstring).
        t_start, t_end: times in [0, 1]; t_end < t_start runs backwards.
        return_trajectory: keep every state, (steps + 1, B, dim).

    Returns:
        `fmlite.solvers.Solution(x, trajectory, times, nfe)`; every state lies on the space.

    Raises:
        ValueError: unknown method (lists the valid ones), steps not a whole number >= 1, a time outside
            [0, 1], x_0 off the space (`check_point`), a velocity of the wrong shape (`call_velocity`).
        TypeError: velocity is not callable, or space is not a space.
    """
    space = get_space(space)
    if method not in MANIFOLD_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(MANIFOLD_METHODS)}")
    steps = check_count(steps, "steps")
    for value in (t_start, t_end):
        check_time(value, 1)
    if not callable(velocity):
        raise TypeError(f"velocity must be a callable (x, t) -> v such as a model, got {type(velocity).__name__}")
    x = space.check_point(x_0, "x_0")
    step, per_step = MANIFOLD_METHODS[method]
    times = torch.linspace(float(t_start), float(t_end), steps + 1, dtype=torch.float64)
    h = (float(t_end) - float(t_start)) / steps
    lo, hi = min(t_start, t_end), max(t_start, t_end)
    batch = x.shape[0]

    def v(y: Tensor, t: float) -> Tensor:
        t = min(max(t, lo), hi)
        return call_velocity(velocity, y, torch.full((batch,), t, dtype=y.dtype, device=y.device))

    trajectory = [x] if return_trajectory else None
    with torch.no_grad():
        for k in range(steps):
            x = step(space, v, x, float(times[k]), h)
            if return_trajectory:
                trajectory.append(x)
    return Solution(x=x, trajectory=torch.stack(trajectory) if return_trajectory else None, times=times,
                    nfe=steps * per_step)

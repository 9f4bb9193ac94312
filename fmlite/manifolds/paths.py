"""The geodesic conditional path on a manifold and its conditional target velocity.

With x_0 ~ uniform on the space (the source, t = 0) and x_1 a data point (t = 1):

    x_t = exp_{x_0}(κ_t log_{x_0} x_1),                           (Chen & Lipman 2024, eq. (10) with (14))
    u_t(x_t | x_1) = d x_t / dt = κ'_t / (1 - κ_t) log_{x_t}(x_1)   (for κ_t = t: log_{x_t}(x_1) / (1 - t))

x_t runs along the shortest geodesic from x_0 to x_1, a fraction κ_t of the way, so the remaining way
log_{x_t}(x_1) has length (1 - κ_t) d(x_0, x_1) and the speed is κ'_t d(x_0, x_1). `sample` computes u_t as
κ'_t times the geodesic's velocity d/ds exp_{x_0}(s log_{x_0} x_1) at s = κ_t (the same vector, finite at
t = 1 too); `target_velocity` is the log form above. κ_t is a scalar schedule of `fmlite.schedules`
(a `Schedule`: callable with `derivative`), κ_0 = 0 and κ_1 = 1; by default κ_t = t.

Source: Chen & Lipman 2024, "Flow Matching on General Geometries", sec. 3.2, eq. (10), (14) and (16)
(geodesic conditional flow and its velocity); the same κ-notation as the discrete mixture path.

Taught in notebook 12 (`notebooks/12_curved_spaces.ipynb`).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..checks import broadcast_time, check_time
from ..paths import PathSample
from ..schedules import Schedule, Sigma
from .spaces import Manifold, get_space

__all__ = ["GeodesicPath", "LINEAR_KAPPA"]


def _identity(t: Tensor) -> Tensor:
    return t


def _one(t: Tensor) -> Tensor:
    return torch.ones_like(t)


#: κ_t = t, κ'_t = 1: the default schedule (a `fmlite.schedules.Sigma` with its closed-form derivative).
LINEAR_KAPPA = Sigma(_identity, derivative=_one, name="kappa_t = t")


class GeodesicPath:
    """x_t = exp_{x_0}(κ_t log_{x_0} x_1) on `space`, with its target velocity.

    Args:
        space: `Sphere()`, `FlatTorus()` or their names "sphere", "torus".
        kappa: a `fmlite.schedules.Schedule` giving κ_t (B,) and `derivative` κ'_t, with κ_0 = 0, κ_1 = 1
            (e.g. `fmlite.schedules.Sigma(lambda t: t ** 2, derivative=lambda t: 2 * t)`); default κ_t = t.

    Raises:
        TypeError: space is not a space, or kappa is not a `Schedule`.
        ValueError: unknown space name, or κ_0 != 0 or κ_1 != 1.
    """

    def __init__(self, space: Manifold | str = "sphere", kappa: Schedule | None = None):
        self.space = get_space(space)
        kappa = LINEAR_KAPPA if kappa is None else kappa
        if not isinstance(kappa, Schedule):
            raise TypeError(f"kappa must be a fmlite.schedules.Schedule (e.g. Sigma(fn, derivative=...)), got "
                            f"{type(kappa).__name__}")
        ends = kappa(torch.tensor([0.0, 1.0], dtype=torch.float64))
        if abs(float(ends[0])) > 1e-6 or abs(float(ends[1]) - 1) > 1e-6:
            raise ValueError(f"kappa must run from kappa_0 = 0 (the source) to kappa_1 = 1 (the data), got "
                             f"kappa_0 = {float(ends[0]):.4g}, kappa_1 = {float(ends[1]):.4g}")
        self.kappa = kappa

    def _inputs(self, x_0, x_1, t) -> tuple[Tensor, Tensor, Tensor]:
        x_0, x_1 = self.space._pair(x_0, x_1, "x_0", "x_1")
        return x_0, x_1, check_time(t, x_0.shape[0], like=x_0)

    def interpolate(self, x_0: Tensor, x_1: Tensor, t) -> Tensor:
        """x_t = exp_{x_0}(κ_t log_{x_0} x_1), shape (B, dim).

        Args:
            x_0: source points (B, dim) on the space. x_1: data points (B, dim). t: (B,) or one number in [0, 1].

        Raises:
            ValueError: points off the space (see the space's `check_point`), shapes that differ, t outside
                [0, 1], or (sphere) an antipodal pair x_0 = -x_1, where no geodesic is singled out.
        """
        x_0, x_1, t = self._inputs(x_0, x_1, t)
        return self._interpolate(x_0, self.space.log_map(x_0, x_1), t)

    def _interpolate(self, x_0, v, t):
        return self.space._exp(x_0, broadcast_time(self.kappa(t), x_0) * v)

    def sample(self, x_0: Tensor, x_1: Tensor, t) -> PathSample:
        """x_t and the conditional target velocity u_t = κ'_t / (1 - κ_t) log_{x_t}(x_1), as a `PathSample`
        (t, x_0, x_1, eps = zeros (no noise on this path), x_t, u_t), each (B, dim) except t (B,).

        u_t is tangent at x_t and has length κ'_t d(x_0, x_1); it is computed as κ'_t d/ds exp_{x_0}(s v)
        at s = κ_t, v = log_{x_0} x_1, which equals the log form for κ_t < 1 and stays finite at t = 1.

        Raises:
            ValueError: as `interpolate`.
        """
        x_0, x_1, t = self._inputs(x_0, x_1, t)
        return self._sample(x_0, x_1, t, self.space.log_map(x_0, x_1))

    def _sample(self, x_0: Tensor, x_1: Tensor, t: Tensor, v: Tensor | None = None) -> PathSample:
        """`sample` without checks, for the training loss (x_0 drawn on the space, x_1 checked by the caller,
        t (B,) from `sample_time`). An exactly antipodal pair (probability 0) gets v = 0 there: x_t = x_0, u_t = 0."""
        v = self.space._log(x_0, x_1) if v is None else v
        k = broadcast_time(self.kappa(t), x_0)
        x_t = self.space._exp(x_0, k * v)
        u_t = broadcast_time(self.kappa.derivative(t), x_0) * self.space._geodesic_velocity(x_0, v, k)
        return PathSample(t=t, x_0=x_0, x_1=x_1, eps=torch.zeros_like(x_0), x_t=x_t, u_t=u_t)

    def target_velocity(self, x_t: Tensor, x_1: Tensor, t) -> Tensor:
        """u_t(x_t | x_1) = κ'_t / (1 - κ_t) log_{x_t}(x_1), shape (B, dim), for t with κ_t < 1.

        Raises:
            ValueError: points off the space, t outside [0, 1] or with κ_t = 1 (t = 1: the target is 0/0
                there; use `sample`, whose form is finite), or (sphere) x_t antipodal to x_1.
        """
        x_t, x_1 = self.space._pair(x_t, x_1, "x_t", "x_1")
        t = check_time(t, x_t.shape[0], like=x_t)
        k = self.kappa(t)
        if (k >= 1).any():
            raise ValueError("target_velocity needs kappa_t < 1 (t < 1): at t = 1 the form "
                             "kappa'/(1 - kappa) log_{x_t}(x_1) is 0/0; use path.sample(x_0, x_1, t) for u_t there")
        coef = self.kappa.derivative(t) / (1 - k)
        return broadcast_time(coef, x_t) * self.space.log_map(x_t, x_1)

    def __repr__(self) -> str:
        return f"GeodesicPath({self.space!r}, kappa={self.kappa!r})"

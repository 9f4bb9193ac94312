"""Fixed-step ODE integration of dx/dt = v(x, t): how samples are drawn from a flow.

Forwards (t_start = 0 -> t_end = 1) turns noise into data; backwards
(t_end < t_start) turns data into noise. Methods and their order of accuracy
(global error ~ h^order, h the step size):

    euler    x + h v(x, t)                                   order 1, 1 NFE/step
    midpoint x + h v(x + h/2 v(x, t), t + h/2)               order 2, 2 NFE/step
    heun     x + h/2 (k1 + v(x + h k1, t + h)), k1 = v(x, t)   order 2, 2 NFE/step
    rk4      classical Runge-Kutta                           order 4, 4 NFE/step

NFE = number of function (velocity) evaluations, the cost measure of a sampler.
`sample_sde` draws the same marginals p_t with an SDE (Euler-Maruyama), the score taken from the
velocity by `fmlite.scores`.
Source: Hairer, Norsett & Wanner, "Solving Ordinary Differential Equations I" (1993),
sec. II.1; Chen et al. 2018 (neural ODEs); Lipman et al. 2023, sec. 6 (sampling).

Taught in notebook 04 (`notebooks/04_sampling.ipynb`); `sample_sde` in notebook 08
(`notebooks/08_likelihoods_and_diffusion.ipynb`).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Union

import torch
from torch import Tensor

from .checks import (broadcast_time, call_velocity, check_batch, check_count, check_finite, check_path, check_returned,
                     check_time)
from .paths import LinearPath, Path
from .scores import velocity_to_score

__all__ = ["integrate", "sample_sde", "Solution", "METHODS"]

Velocity = Callable[[Tensor, Tensor], Tensor]


def _euler(v, x, t, h):
    return x + h * v(x, t)


def _midpoint(v, x, t, h):
    return x + h * v(x + 0.5 * h * v(x, t), t + 0.5 * h)


def _heun(v, x, t, h):
    k1 = v(x, t)
    return x + 0.5 * h * (k1 + v(x + h * k1, t + h))


def _rk4(v, x, t, h):
    k1 = v(x, t)
    k2 = v(x + 0.5 * h * k1, t + 0.5 * h)
    k3 = v(x + 0.5 * h * k2, t + 0.5 * h)
    k4 = v(x + h * k3, t + h)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


#: method name -> (one step, velocity evaluations per step, order)
METHODS = {"euler": (_euler, 1, 1), "midpoint": (_midpoint, 2, 2), "heun": (_heun, 2, 2), "rk4": (_rk4, 4, 4)}


@dataclass
class Solution:
    """Result of `integrate`.

    Attributes:
        x: the state at t_end, shape (B, *D).
        trajectory: states at every time, (steps + 1, B, *D), or None if not requested.
        times: the time grid, (steps + 1,), from t_start to t_end.
        nfe: number of velocity evaluations used (steps x evaluations per step).
    """

    x: Tensor
    trajectory: Tensor | None
    times: Tensor
    nfe: int


def integrate(velocity: Velocity, x_0: Tensor, steps: int, method: str = "euler", t_start: float = 0.0,
              t_end: float = 1.0, return_trajectory: bool = False, grad: bool = False) -> Solution:
    """Integrate dx/dt = velocity(x, t) from t_start to t_end with `steps` equal steps.

    Args:
        velocity: callable (x (B, *D), t (B,)) -> (B, *D), e.g. a trained model or
            `lambda x, t: marginal_velocity(x, t, data, path)`.
        x_0: the state at t_start, (B, *D) (noise when integrating forwards from 0). Its
            floating dtype is kept (a float64 field integrates in float64; an nn.Module
            converts its input to its own dtype); integer x_0 is converted to float32.
        steps: a whole number >= 1 (see `fmlite.checks.check_count`); step size
            h = (t_end - t_start) / steps.
        method: "euler", "midpoint", "heun" or "rk4".
        t_start, t_end: times in [0, 1]; t_end < t_start integrates backwards (data -> noise).
        return_trajectory: keep every state, (steps + 1, B, *D).
        grad: keep the autograd graph (default: run under torch.no_grad()).

    Returns:
        Solution(x, trajectory, times, nfe).

    Raises:
        ValueError: unknown method (lists the valid ones), steps not a whole number >= 1,
            a time outside [0, 1], x_0 not a tensor (a list or numpy array: use torch.as_tensor),
            1-d, an empty batch or holding NaN/inf (`fmlite.checks.check_batch`), a velocity of the
            wrong shape, or one that fails to broadcast t (B,) against x (`fmlite.checks.call_velocity`).
        TypeError: velocity is not callable.

    A velocity that produces NaN or inf gives such states: the solution is returned as computed (a
    diverged trajectory is worth plotting), and everything that measures it refuses it with "did
    sampling diverge?" (`fmlite.metrics`, `reflow_pairs`, `log_likelihood`, `sample_sde`).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    steps = check_count(steps, "steps")
    for value in (t_start, t_end):
        check_time(value, 1)  # a clear message for a time outside [0, 1] or not a number
    t_start, t_end = float(t_start), float(t_end)
    if not callable(velocity):
        raise TypeError(f"velocity must be a callable (x, t) -> v such as a model, got {type(velocity).__name__}")
    x_0 = check_batch(x_0, "x_0", owner="integrate")   # integer x_0 becomes float32: times need a floating state
    step, per_step, _ = METHODS[method]
    times = torch.linspace(t_start, t_end, steps + 1, dtype=torch.float64)
    h = (t_end - t_start) / steps
    batch = x_0.shape[0]
    lo, hi = min(t_start, t_end), max(t_start, t_end)

    def v(x: Tensor, t: float) -> Tensor:
        t = min(max(t, lo), hi)  # only rounding (|error| < 1e-15) can push t past the end points
        return call_velocity(velocity, x, torch.full((batch,), t, dtype=x.dtype, device=x.device))

    with torch.set_grad_enabled(grad):
        x = x_0
        trajectory = [x] if return_trajectory else None
        for k in range(steps):
            x = step(v, x, float(times[k]), h)
            if return_trajectory:
                trajectory.append(x)
    return Solution(x=x, trajectory=torch.stack(trajectory) if return_trajectory else None, times=times,
                    nfe=steps * per_step)


# ----------------------------------------------------------------------------- SDE sampling
def sample_sde(velocity: Callable[[Tensor, Tensor], Tensor], x_0: Tensor, steps: int,
               g: Union[float, Callable[[Tensor], Tensor]] = 0.5, *, path: Path | None = None,
               score: Callable[[Tensor, Tensor], Tensor] | None = None, generator: torch.Generator | None = None,
               return_trajectory: bool = False) -> Solution:
    """Euler-Maruyama for dx = [v(x, t) + g(t)^2 / 2 * score(x, t)] dt + g(t) dW from t = 0 to 1.

    For any g(t) >= 0 this SDE, started from p_0, has the marginals p_t of the ODE dx = v dt
    (the Fokker-Planck equation gets +g^2/2 (lap p - div(p grad log p)) = 0); g = 0 is the ODE
    with Euler steps. With the score taken from the velocity (straight path: (t v - x) / (1 - t)),
    the default g(t) = g0 sqrt(1 - t) keeps g^2 * score = g0^2 (t v - x) finite as t -> 1. Steps are
    taken at t_k = k / steps, k < steps, so t = 1 itself is never evaluated.

    Args:
        velocity: callable (x (B, *D), t (B,)) -> (B, *D), noise (t = 0) -> data (t = 1).
        x_0: samples of p_0 (standard normal), (B, *D).
        steps: number of steps >= 1 (one velocity evaluation each).
        g: g0 >= 0 (meaning g(t) = g0 sqrt(1 - t)) or a callable t (B,) -> g(t) (B,) >= 0.
        path: the path the velocity was trained on, for the score conversion (default LinearPath()).
        score: a callable (x, t) -> score to use instead of the one implied by the velocity.
        generator: torch.Generator for the Brownian increments (reproducible samples).
        return_trajectory: keep every state, (steps + 1, B, *D).

    Returns:
        `fmlite.solvers.Solution(x, trajectory, times, nfe)` with x the samples at t = 1.

    Raises:
        ValueError: steps not a whole number >= 1 (`fmlite.checks.check_count`), g0 negative or not a
            finite number, g(t) negative, not finite or of another shape than (B,) (or a single number),
            x_0 not a tensor, 1-d, an empty batch or NaN/inf (`fmlite.checks.check_batch`), a velocity
            or score of the wrong shape or that fails to broadcast t (`fmlite.checks.call_velocity`),
            or samples that became NaN or inf (sampling diverged: the message says so).
        TypeError: velocity or score is not callable, or path is not a `fmlite.paths.Path`.

    Sources: Song et al. 2021, eq. (6) and (13) and sec. 4.1 (Euler-Maruyama); Albergo, Boffi &
    Vanden-Eijnden 2023, Theorem 2.21 (forward SDE of an interpolant with any diffusion).
    """
    steps = check_count(steps, "steps")
    if not callable(velocity):
        raise TypeError(f"sample_sde: velocity must be a callable (x, t) -> v such as a model, got "
                        f"{type(velocity).__name__}")
    if score is not None and not callable(score):
        raise TypeError(f"sample_sde: score must be None or a callable (x, t) -> score, got {type(score).__name__}")
    x_0 = check_batch(x_0, "x_0", owner="sample_sde")
    if not callable(g):
        if isinstance(g, bool) or not isinstance(g, numbers.Real) or not (math.isfinite(g) and g >= 0):
            raise ValueError(f"g0 must be a finite number >= 0 (or a callable t -> g(t)), got {g!r}")
        g0 = float(g)
        g_fn = lambda t: g0 * torch.sqrt(1 - t)  # noqa: E731
    else:
        g_fn = g
    path = path if path is not None else LinearPath()
    check_path(path, "sample_sde")
    times = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    h = 1.0 / steps
    batch = x_0.shape[0]
    with torch.no_grad():
        x = x_0
        trajectory = [x] if return_trajectory else None
        for k in range(steps):
            t = torch.full((batch,), float(times[k]), dtype=x.dtype, device=x.device)
            v = call_velocity(velocity, x, t)
            check_finite(v, f"velocity(x, t) at t = {float(times[k]):.4g}", "did sampling diverge? check the model, "
                         "lower g, or use more steps")
            gt = check_returned(g_fn(t), (batch,), f"g(t) called on t of shape ({batch},)",
                                "one value per time, or a single number", scalar=True)
            gt = gt.to(dtype=x.dtype, device=x.device).expand(batch)
            if (gt < 0).any() or not torch.isfinite(gt).all():
                raise ValueError(f"g(t) must be finite and >= 0, got {gt.min().item():.4g} at t = {float(times[k]):.4g}")
            drift = v
            if (gt > 0).any():
                if score is not None:
                    s = call_velocity(score, x, t, "score(x, t)")
                else:
                    s = velocity_to_score(v, x, t, path)
                drift = v + 0.5 * broadcast_time(gt ** 2, x) * s
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            x = x + h * drift + math.sqrt(h) * broadcast_time(gt, x) * noise
            if return_trajectory:
                trajectory.append(x)
    check_finite(x, "sample_sde's samples", "the velocity (or score) produced NaN or inf along the way: did "
                 "sampling diverge? check the model, lower g, or use more steps")
    return Solution(x=x, trajectory=torch.stack(trajectory) if return_trajectory else None, times=times, nfe=steps)

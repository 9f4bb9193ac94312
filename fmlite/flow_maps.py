"""Flow maps and average velocities: one network call from time s to time t.

The flow map psi_{t<-s}(x) is where the ODE dx/dtau = u_tau(x), started at x at time s, is at time t;
one-step sampling is x_1 = psi_{1<-0}(x_0). The average velocity is

    u_bar(x, s, t) = (psi_{t<-s}(x) - x) / (t - s),      u_bar(x, s, s) = u_s(x),

and a k-step sampler jumps x_{t_{i+1}} = x_{t_i} + (t_{i+1} - t_i) u_bar(x_{t_i}, t_i, t_{i+1}).
A flow-map network is called model(x, s, t) and returns u_bar (`fmlite.models.FlowMapMLP`).

MeanFlow identity (our time: t = 0 noise, t = 1 data, s <= t). Along a trajectory x_s the end point
psi_{t<-s}(x_s) does not move, so d/ds [(t - s) u_bar(x_s, s, t)] = -u_s(x_s), which gives

    u_bar(x_s, s, t) = u_s(x_s) + (t - s) (d_s u_bar + (grad_x u_bar) u_s(x_s)),

the derivative being one forward-mode JVP of model(x, s, t) with tangent (u_s, 1, 0). Geng et al. 2025
("Mean Flows for One-step Generative Modeling", eq. (6) and Alg. 1) and Meta's `flow_matching` example
`2d_mean_flow.ipynb` run time the other way (z_t = (1 - t) data + t noise, the model called (z_t, r, t) with
r <= t): with tau = 1 - time their target u - (t - r) d/dt u_bar, tangent (u, 0, 1), is this one; the
derivative moves their later time t, our earlier time s, and the sign of (t - s) flips with it.
Their logit-normal(-0.4, 1) times are logit-normal(+0.4, 1) here. Training replaces the marginal
u_s(x_s) by the conditional u_s(x_s | z) and stops the gradient through the target
(`fmlite.flow_map_losses.MeanFlowLoss`, which also holds the distillation loss).

Distillation: regress model(x_s, s, t) on the average velocity of a trained velocity field, computed with
an accurate solver: the flow map is regressed on the teacher's ODE solution, as in knowledge distillation of a
sampler (Luhman & Luhman 2021); Boffi, Albergo & Vanden-Eijnden 2024 ("Flow map matching") and 2025 ("How to
build a consistency model") derive the Lagrangian and Eulerian distillation losses that avoid the solver.

Taught in notebook 09 (`notebooks/09_flow_maps.ipynb`).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .checks import broadcast_time, call_velocity, check_batch, check_count, check_time, model_dtype, network_input
from .solvers import METHODS, Solution, integrate

__all__ = ["flow_map", "average_velocity", "meanflow_target", "sample_flow_map"]

def _inputs(velocity, x, s, t, steps, method, owner):
    if not callable(velocity):
        raise TypeError(f"{owner}: velocity must be a callable (x, t) -> v such as a model, got "
                        f"{type(velocity).__name__}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    steps = check_count(steps, "steps")
    x = check_batch(x, "x", owner=owner)
    return x, check_time(s, x.shape[0], like=x), check_time(t, x.shape[0], like=x), steps


def flow_map(velocity, x: Tensor, s, t, steps: int = 100, method: str = "rk4") -> Tensor:
    """psi_{t<-s}(x): integrate dx/dtau = velocity(x, tau) from tau = s to tau = t, every sample its own (s, t).

    Each sample runs on its own interval with `steps` equal steps, written in the rescaled time
    r in [0, 1], tau = s + r (t - s), dx/dr = (t - s) velocity(x, tau) (`fmlite.solvers.integrate`).

    Args:
        velocity: callable (x (B, *D), tau (B,)) -> (B, *D), e.g. a trained model or
            `lambda x, t: marginal_velocity(x, t, data, path)`.
        x: starting points at time s, (B, *D) (integer x is used as floats).
        s, t: start and end times in [0, 1]: numbers or (B,) tensors; t < s integrates backwards,
            t == s returns x.
        steps: whole number >= 1 of steps per interval. method: "euler", "midpoint", "heun" or "rk4".

    Returns:
        psi_{t<-s}(x), (B, *D) in x's dtype, without autograd graph. Error ~ (|t - s| / steps)^order.

    Raises:
        ValueError: unknown method, steps not a whole number >= 1, x not a (B, *D) tensor, empty or NaN/inf
            (`fmlite.checks.check_batch`), times outside [0, 1] or not one per sample, a velocity of the wrong
            shape (`fmlite.checks.call_velocity`). TypeError: velocity not callable.

    Source: Boffi, Albergo & Vanden-Eijnden 2024, "Flow map matching" (the two-time flow map X_{s,t}, sec. 2).
    """
    x, s, t, steps = _inputs(velocity, x, s, t, steps, method, "flow_map")
    length = t - s
    lo, hi = torch.minimum(s, t), torch.maximum(s, t)

    def rescaled(y: Tensor, r: Tensor) -> Tensor:
        tau = torch.minimum(torch.maximum(s + r * length, lo), hi)  # only rounding can leave [lo, hi]
        return broadcast_time(length, y) * call_velocity(velocity, y, tau)

    return integrate(rescaled, x, steps, method).x


def average_velocity(velocity, x: Tensor, s, t, steps: int = 100, method: str = "rk4") -> Tensor:
    """u_bar(x, s, t) = (psi_{t<-s}(x) - x) / (t - s), and velocity(x, s) for samples with t == s.

    Args and Raises: as `flow_map` (s and t per sample; t < s is allowed: the average over [t, s]).

    Returns:
        (B, *D) in x's dtype, without autograd graph.

    Source: Geng et al. 2025, sec. 3 (the average velocity, defined over [r, t]), with our time direction.
    """
    x, s, t, steps = _inputs(velocity, x, s, t, steps, method, "average_velocity")
    equal = s == t
    out = torch.empty_like(x)
    with torch.no_grad():
        if (~equal).any():
            moving = ~equal
            psi = flow_map(velocity, x[moving], s[moving], t[moving], steps, method)
            out[moving] = (psi - x[moving]) / broadcast_time(t[moving] - s[moving], psi)
        if equal.any():
            out[equal] = call_velocity(velocity, x[equal], s[equal]).to(out.dtype)
    return out


def meanflow_target(model: nn.Module, x_s: Tensor, s, t, u_s: Tensor) -> tuple[Tensor, Tensor]:
    """The MeanFlow prediction and target: (u_bar_theta(x_s, s, t), u_s + (t - s) d/ds u_bar_theta, stop-grad).

    d/ds u_bar = d_s u_bar + (grad_x u_bar) u_s is one `torch.func.jvp` of model(x, s, t) at (x_s, s, t) with
    tangent (u_s, 1, 0); the same call returns the prediction, which keeps its gradient path.

    Args:
        model: a flow-map network called model(x, s, t) -> u_bar (B, *D) (e.g. `fmlite.models.FlowMapMLP`).
        x_s: points at time s, (B, *D), floating point (converted to the model's dtype).
        s, t: times in [0, 1], numbers or (B,) tensors (the identity holds for any order; training uses s <= t).
        u_s: the velocity at (x_s, s), (B, *D): the conditional u_s(x_s | z) in training, the marginal in the
            identity.

    Returns:
        (prediction (B, *D) with gradient path to the parameters, target (B, *D) detached).

    Raises:
        ValueError: x_s or u_s not floating tensors or of different shapes, x_s without a batch dimension,
            times outside [0, 1] or not one per sample; the model's own input errors.

    Source: Geng et al. 2025, eq. (6) (the MeanFlow identity), sec. 3 and Alg. 1 (JVP, stop-gradient target).
    """
    dtype = model_dtype(model)
    x_s = network_input(x_s, dtype, "x_s", "meanflow_target")
    u_s = network_input(u_s, dtype, "u_s", "meanflow_target")
    if x_s.dim() < 2 or u_s.shape != x_s.shape:
        raise ValueError(f"meanflow_target needs x_s of shape (B, *D) and u_s of the same shape, got "
                         f"{tuple(x_s.shape)} and {tuple(u_s.shape)}")
    s, t = check_time(s, x_s.shape[0], like=x_s), check_time(t, x_s.shape[0], like=x_s)
    u_bar, du_ds = torch.func.jvp(model, (x_s, s, t), (u_s.detach(), torch.ones_like(s), torch.zeros_like(t)))
    return u_bar, (u_s + broadcast_time(t - s, x_s) * du_ds).detach()


def _call_flow_map(model, x: Tensor, s: Tensor, t: Tensor) -> Tensor:
    try:
        return model(x, s, t)
    except TypeError as err:
        if "positional" not in str(err):
            raise
        raise TypeError(f"a flow-map network is called model(x, s, t) with two times ({err}); a velocity network "
                        "model(x, t) is sampled with fmlite.solvers.integrate") from err


def sample_flow_map(model, x_0: Tensor, steps: int, return_trajectory: bool = False) -> Solution:
    """k-step flow-map sampling: x_{i+1} = x_i + (t_{i+1} - t_i) u_bar(x_i, t_i, t_{i+1}), t_i = i / k, 0 -> 1.

    Args:
        model: a flow-map network (or callable) model(x (B, *D), s (B,), t (B,)) -> u_bar (B, *D).
        x_0: noise at t = 0, (B, *D). steps: k, a whole number >= 1 (one model call each).
        return_trajectory: keep every state, (k + 1, B, *D).

    Returns:
        `fmlite.solvers.Solution(x, trajectory, times, nfe=k)`; times (k + 1,) float64 from 0 to 1. Runs
        under torch.no_grad().

    Raises:
        ValueError: steps not a whole number >= 1, x_0 not a (B, *D) tensor, empty or NaN/inf, or a model
            output of another shape than x_0. TypeError: model not callable, or a velocity model(x, t) that
            takes one time (the message points to `fmlite.solvers.integrate`).

    Source: Geng et al. 2025 (one-step sampling z_0 = z_1 - u(z_1, 0, 1), few-step sampling); Boffi et al. 2024
    (multi-step sampling with a flow map).
    """
    if not callable(model):
        raise TypeError(f"sample_flow_map: model must be a callable (x, s, t) -> u_bar, got {type(model).__name__}")
    steps = check_count(steps, "steps")
    x = check_batch(x_0, "x_0", owner="sample_flow_map")
    times = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    trajectory = [x] if return_trajectory else None
    with torch.no_grad():
        for i in range(steps):
            s = torch.full((x.shape[0],), float(times[i]), dtype=x.dtype, device=x.device)
            t = torch.full_like(s, float(times[i + 1]))
            u_bar = call_velocity(lambda y, _: _call_flow_map(model, y, s, t), x, s, "model(x, s, t)")
            x = x + (t - s)[0] * u_bar
            if return_trajectory:
                trajectory.append(x)
    return Solution(x=x, trajectory=torch.stack(trajectory) if return_trajectory else None, times=times, nfe=steps)

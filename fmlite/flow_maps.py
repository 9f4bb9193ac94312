"""Flow maps and average velocities: one network call from time s to time t (MeanFlow, distillation).

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
u_s(x_s) by the conditional u_s(x_s | z) and stops the gradient through the target.

Distillation: regress model(x_s, s, t) on the average velocity of a trained velocity field, computed with
an accurate solver: the flow map is regressed on the teacher's ODE solution, as in knowledge distillation of a
sampler (Luhman & Luhman 2021); Boffi, Albergo & Vanden-Eijnden 2024 ("Flow map matching") and 2025 ("How to
build a consistency model") derive the Lagrangian and Eulerian distillation losses that avoid the solver.

Taught in notebook 09 (`notebooks/09_flow_maps.ipynb`).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from .batches import Batch
from .checks import broadcast_time, call_velocity, check_batch, check_count, check_time, model_dtype, network_input
from .paths import LinearPath, Path
from .solvers import METHODS, Solution, integrate

__all__ = ["flow_map", "average_velocity", "meanflow_target", "sample_time_pairs", "MeanFlowLoss",
           "distillation_pairs", "DistillationLoss", "sample_flow_map", "TIME_SAMPLINGS", "WEIGHTINGS"]

#: How (s, t) pairs are drawn (`sample_time_pairs`) and how the MeanFlow loss weights its samples.
TIME_SAMPLINGS = ("uniform", "logit_normal")
WEIGHTINGS = ("none", "adaptive")


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


def _real(value, name: str, low: float, high: float = math.inf, open_low: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or value > high or (open_low and value == low):
        where = f"{'>' if open_low else '>='} {low}" + ("" if high == math.inf else f" and <= {high}")
        raise ValueError(f"{name} must be a finite number {where}, got {value!r}")
    return float(value)


def sample_time_pairs(batch: int, time_sampling: str = "logit_normal", time_mean: float = 0.4,
                      time_std: float = 1.0, equal_share: float = 0.75, device=None,
                      dtype=None) -> tuple[Tensor, Tensor]:
    """Draw (s, t) with s <= t: two times a, b per sample, b = a for round(equal_share * batch) random samples,
    then s = min(a, b), t = max(a, b).

    Args:
        batch: whole number >= 1. time_sampling: "uniform" (U(0, 1)) or "logit_normal"
            (sigmoid(N(time_mean, time_std^2)), Esser et al. 2024, sec. 3.1). equal_share: in [0, 1].

    Returns:
        (s, t), each (batch,) in [0, 1] (open (0, 1) for logit-normal), s <= t, drawn from torch's global
        generator.

    Raises:
        ValueError: batch not a whole number >= 1, unknown time_sampling, time_std <= 0, a mean that is not
            finite, equal_share outside [0, 1].

    Source: Geng et al. 2025, ablations of the time sampler and of the share of r = t (logit-normal(-0.4, 1)
    in their reversed time); Meta's `2d_mean_flow.ipynb` at 835f27b (logit-normal(-0.4, 1), 75 %).
    """
    batch = check_count(batch, "batch")
    if time_sampling not in TIME_SAMPLINGS:
        raise ValueError(f"unknown time_sampling {time_sampling!r}; choose one of {list(TIME_SAMPLINGS)}")
    mean, std = _real(time_mean, "time_mean", -math.inf), _real(time_std, "time_std", 0.0, open_low=True)
    share = _real(equal_share, "equal_share", 0.0, 1.0)
    if time_sampling == "uniform":
        a, b = torch.rand(2, batch, device=device, dtype=dtype)
    else:
        a, b = torch.sigmoid(mean + std * torch.randn(2, batch, device=device, dtype=dtype))
    equal = torch.randperm(batch, device=device)[:round(share * batch)]
    b[equal] = a[equal]
    return torch.minimum(a, b), torch.maximum(a, b)


class _PairLoss:
    """The (s, t) draw and the checks shared by the MeanFlow and the distillation loss."""

    tokens: ClassVar[bool] = False

    def _setup(self):
        if self.path is None:
            self.path = LinearPath()
        if not isinstance(self.path, Path):
            raise TypeError(f"{type(self).__name__}: path must be a fmlite.paths.Path such as LinearPath(), got "
                            f"{type(self.path).__name__}")
        sample_time_pairs(1, self.time_sampling, self.time_mean, self.time_std, self.equal_share)  # checks them

    def _draw(self, model: nn.Module, batch: Batch):
        x_1 = network_input(batch.x_1, model_dtype(model), "x_1", type(self).__name__)
        x_0 = torch.randn_like(x_1)
        s, t = sample_time_pairs(x_1.shape[0], self.time_sampling, self.time_mean, self.time_std,
                                 self.equal_share, device=x_1.device, dtype=x_1.dtype)
        return self.path.sample(x_0, x_1, s), s, t


@dataclass
class MeanFlowLoss(_PairLoss):
    """The MeanFlow loss as a `fmlite.losses.Loss`: mean_i w_i |u_bar_theta(x_s, s, t) - sg(target)|^2.

    Per call: x_0 ~ N(0, I) beside the data x_1 (B, *D); (s, t) by `sample_time_pairs`; x_s and the conditional
    u_s(x_s | z) from `path.sample(x_0, x_1, s)`; prediction and target by `meanflow_target`. |.|^2 sums over
    the data dimensions. Use it as `train(FlowMapMLP(), None, sample_data, steps, loss=MeanFlowLoss())`.

    Args:
        path: a `fmlite.paths.Path` (default None: `LinearPath()`, u_s = x_1 - x_0).
        time_sampling, time_mean, time_std, equal_share: the (s, t) draw (`sample_time_pairs`); the defaults are
            the paper's logit-normal(-0.4, 1) and Meta's 75 % of pairs with s = t, in our time direction.
        weighting: "adaptive" (w_i = 1 / (|err_i|^2 + adaptive_c), detached: Geng et al. 2025's adaptive loss
            weighting with power p = 1, per sample; Meta's example divides the batch mean instead) or "none".
        adaptive_c: > 0, keeps the weight finite when a sample's error vanishes.

    Returns (of a call): a scalar with gradient path to the model's parameters.

    Raises:
        ValueError (on construction): unknown time_sampling or weighting, time_std or adaptive_c <= 0,
            equal_share outside [0, 1]; TypeError: path is not a `fmlite.paths.Path`. On a call, as
            `meanflow_target` (integer data is refused by `network_input`).

    Source: Geng et al. 2025, "Mean Flows for One-step Generative Modeling", sec. 3 (loss), Alg. 1.
    """

    path: Path | None = None
    time_sampling: str = "logit_normal"
    time_mean: float = 0.4
    time_std: float = 1.0
    equal_share: float = 0.75
    weighting: str = "adaptive"
    adaptive_c: float = 1e-3

    def __post_init__(self):
        self._setup()
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {self.weighting!r}; choose one of {list(WEIGHTINGS)}")
        self.adaptive_c = _real(self.adaptive_c, "adaptive_c", 0.0, open_low=True)

    def __call__(self, model: nn.Module, batch: Batch) -> Tensor:
        sample, s, t = self._draw(model, batch)
        u_bar, target = meanflow_target(model, sample.x_t, s, t, sample.u_t)
        err = ((u_bar - target) ** 2).flatten(1).sum(1)
        if self.weighting == "adaptive":
            err = err / (err.detach() + self.adaptive_c)
        return err.mean()


def distillation_pairs(velocity, x_s: Tensor, s, t, steps: int = 16, method: str = "rk4") -> Tensor:
    """The teacher's flow map psi_{t<-s}(x_s) for distillation: `flow_map` of a trained velocity field.

    Args:
        velocity: the teacher, a velocity field (x, t) -> (B, *D) such as a trained `fmlite.models.MLP`.
        x_s: (B, *D) points at time s. s, t: times in [0, 1] (numbers or (B,)). steps, method: the solver
            (RK4 with 16 steps per interval by default, 64 teacher calls).

    Returns:
        (B, *D) targets, without autograd graph; the average-velocity target is (psi - x_s) / (t - s).

    Raises:
        as `flow_map`.

    Source: Luhman & Luhman 2021 (regressing a one-step student on a teacher's ODE solutions); Boffi, Albergo
    & Vanden-Eijnden 2024, "Flow map matching" (distillation of a pre-trained velocity into a flow map).
    """
    with torch.no_grad():
        return flow_map(velocity, x_s, s, t, steps, method)


@dataclass
class DistillationLoss(_PairLoss):
    """Distil a velocity field into a flow map: mean_i |u_bar_theta(x_s, s, t) - u_bar_teacher(x_s, s, t)|^2.

    Per call: x_s = path.sample(x_0, x_1, s).x_t with x_0 ~ N(0, I) and (s, t) from `sample_time_pairs`; the
    target is `average_velocity(teacher, x_s, s, t, steps, method)` ((psi - x_s) / (t - s), the teacher
    itself where s = t), computed without gradient. Regressing u_bar rather than psi keeps short intervals
    from being weighted by (t - s)^2.

    Args:
        teacher: a trained velocity field (x, t) -> (B, *D), e.g. `load_pretrained("moons_independent")`.
        path: `fmlite.paths.Path` that places x_s (default `LinearPath()`, the teacher's training path).
        steps, method: the teacher's solver per interval (default RK4, 8 steps: 32 teacher calls per batch).
        time_sampling, time_mean, time_std, equal_share: as `sample_time_pairs` (default uniform, 25 %).

    Raises:
        TypeError: teacher not callable, path not a Path. ValueError: bad steps, method or time options; on
        a call, as `average_velocity` and the model's own checks.

    Source: Luhman & Luhman 2021 (regression on the teacher's solutions); Boffi, Albergo & Vanden-Eijnden 2024,
    "Flow map matching" (flow-map distillation; their Lagrangian and Eulerian losses avoid the solver).
    """

    teacher: object
    path: Path | None = None
    steps: int = 8
    method: str = "rk4"
    time_sampling: str = "uniform"
    time_mean: float = 0.0
    time_std: float = 1.0
    equal_share: float = 0.25

    def __post_init__(self):
        if not callable(self.teacher):
            raise TypeError(f"DistillationLoss: teacher must be a velocity field (x, t) -> v such as a trained "
                            f"MLP, got {type(self.teacher).__name__}")
        self._setup()
        self.steps = check_count(self.steps, "steps")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {list(METHODS)}")

    def __call__(self, model: nn.Module, batch: Batch) -> Tensor:
        sample, s, t = self._draw(model, batch)
        target = average_velocity(self.teacher, sample.x_t, s, t, self.steps, self.method)
        return ((model(sample.x_t, s, t) - target) ** 2).flatten(1).sum(1).mean()


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

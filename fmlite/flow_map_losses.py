"""Losses that train a flow-map network model(x, s, t) (`fmlite.models.FlowMapMLP`) through
`fmlite.train.train(model, None, sample_data, steps, loss=...)`: MeanFlow from scratch and distillation
from a trained velocity field, over (s, t) pairs drawn by `sample_time_pairs`.

MeanFlow (Geng et al. 2025, "Mean Flows for One-step Generative Modeling", eq. (6) and Alg. 1) regresses
model(x_s, s, t) on the stop-gradient target of `fmlite.flow_maps.meanflow_target`, with the conditional velocity
u_s(x_s | z) of the path in place of the marginal one; the derivation, and the sign against Meta's reversed
time, are in `fmlite.flow_maps`. Distillation regresses it on the average velocity of a trained velocity field
computed with an accurate solver (Luhman & Luhman 2021; Boffi, Albergo & Vanden-Eijnden 2024, "Flow map
matching").

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
from .checks import check_count, model_dtype, network_input
from .flow_maps import average_velocity, flow_map, meanflow_target
from .paths import LinearPath, Path
from .solvers import METHODS

__all__ = ["sample_time_pairs", "MeanFlowLoss", "distillation_pairs", "DistillationLoss", "TIME_SAMPLINGS",
           "WEIGHTINGS"]

#: How (s, t) pairs are drawn (`sample_time_pairs`) and how the MeanFlow loss weights its samples.
TIME_SAMPLINGS = ("uniform", "logit_normal")
WEIGHTINGS = ("none", "adaptive")


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

"""The mixture path of discrete flow matching and its schedules kappa_t (probability a token is already data).

One position at a time, independently, x_t^i = x_1^i with probability kappa_t and x_t^i = x_0^i otherwise:

    p_t(x^i | x_0, x_1) = kappa_t delta(x^i = x_1^i) + (1 - kappa_t) delta(x^i = x_0^i),   kappa_0 = 0, kappa_1 = 1,

so the marginal of one position is p_t(x^i) = kappa_t p_1(x^i) + (1 - kappa_t) p_0(x^i).
Sampled with uniforms u (B, d) in [0, 1) that can be passed in: x_t = where(u < kappa_t, x_1, x_0).
Gat et al. 2024, "Discrete Flow Matching", eq. (8); Lipman et al. 2024, "Flow Matching Guide and Code",
eq. (7.21) (mixture path); Campbell et al. 2024 use kappa_t = t.

kappa_t is a scalar schedule of t with its derivative, exactly like sigma(t): the schedules here are
`fmlite.schedules.Schedule` objects (call, `derivative`), and any `Schedule` (e.g. `Sigma(fn)` with
kappa(0) = 0, kappa(1) = 1, non-decreasing) is accepted after `check_kappa`.
"linear": kappa_t = t; "quadratic": kappa_t = t^2 (Meta's `PolynomialConvexScheduler(n=2)`).

Taught in notebook 10 (`notebooks/10_discrete_flows.ipynb`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import check_count, check_time
from ..schedules import Schedule, _as_time
from .tokens import MaskSource, UniformSource, check_tokens

__all__ = ["LinearKappa", "PowerKappa", "KAPPA_SCHEDULES", "kappa_schedule", "check_kappa", "MixturePath",
           "DiscretePathSample"]


class LinearKappa(Schedule):
    """kappa_t = t, kappa'_t = 1 (Campbell et al. 2024; Gat et al. 2024, sec. 5). Called on t (B,) or a number."""

    name = "linear"

    def __call__(self, t: Tensor | float) -> Tensor:
        return _as_time(t).clone()

    def derivative(self, t: Tensor | float) -> Tensor:
        return torch.ones_like(_as_time(t))

    def __repr__(self) -> str:
        return "LinearKappa()"


class PowerKappa(Schedule):
    """kappa_t = t^n, kappa'_t = n t^(n-1); n = 2 is the "quadratic" schedule of Meta's 2-D example.

    Source: Gat et al. 2024, sec. 5 (polynomial schedulers); Meta's `PolynomialConvexScheduler(n)`.

    Raises:
        ValueError: n not a whole number >= 1.
    """

    def __init__(self, n: int = 2):
        self.n = check_count(n, "n (the power of kappa_t = t^n)")
        self.name = {1: "linear", 2: "quadratic"}.get(self.n, f"power {self.n}")

    def __call__(self, t: Tensor | float) -> Tensor:
        return _as_time(t) ** self.n

    def derivative(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        return self.n * t ** (self.n - 1)

    def __repr__(self) -> str:
        return f"PowerKappa({self.n})"


#: The built-in kappa schedules by name (the explorer's menu).
KAPPA_SCHEDULES = {"linear": LinearKappa, "quadratic": lambda: PowerKappa(2)}


def kappa_schedule(name: str) -> Schedule:
    """The built-in kappa schedule called name ("linear" or "quadratic").

    Raises:
        ValueError: unknown name (lists the valid ones).
    """
    if name not in KAPPA_SCHEDULES:
        raise ValueError(f"unknown kappa schedule {name!r}; choose one of {list(KAPPA_SCHEDULES)}")
    return KAPPA_SCHEDULES[name]()


def check_kappa(kappa) -> Schedule:
    """A kappa schedule (a name or a `fmlite.schedules.Schedule`), checked on a grid of 201 times.

    Returns:
        the schedule.

    Raises:
        TypeError: neither a name nor a Schedule.
        ValueError: unknown name; kappa(0) != 0 or kappa(1) != 1 (tolerance 1e-6); kappa decreasing anywhere
            on the grid; kappa or kappa' not finite, or kappa' < 0, inside (0, 1).
    """
    if isinstance(kappa, str):
        return kappa_schedule(kappa)
    if not isinstance(kappa, Schedule):
        raise TypeError(f"kappa must be a name {list(KAPPA_SCHEDULES)} or a fmlite Schedule (e.g. "
                        f"fmlite.schedules.Sigma(lambda t: t ** 3)), got {type(kappa).__name__}")
    t = torch.linspace(0, 1, 201, dtype=torch.float64)
    k = kappa(t).double()
    dk = kappa.derivative(t[1:-1]).double()
    if not (torch.isfinite(k).all() and torch.isfinite(dk).all()):
        raise ValueError(f"kappa schedule {kappa!r} is not finite on [0, 1]")
    if abs(float(k[0])) > 1e-6 or abs(float(k[-1]) - 1) > 1e-6:
        raise ValueError(f"kappa must increase from 0 at t = 0 to 1 at t = 1, got kappa(0) = {float(k[0]):.4g}, "
                         f"kappa(1) = {float(k[-1]):.4g}")
    if (k.diff() < -1e-9).any() or (dk < -1e-9).any():
        where = float(t[1:][k.diff() < -1e-9][0]) if (k.diff() < -1e-9).any() else float(t[1:-1][dk < -1e-9][0])
        raise ValueError(f"kappa must increase from 0 to 1 (it is a probability that only grows), but {kappa!r} "
                         f"decreases near t = {where:.3g}")
    return kappa


@dataclass
class DiscretePathSample:
    """One draw of the mixture path (`MixturePath.sample`).

    Attributes:
        t: (B,) times. x_0: (B, d) source tokens. x_1: (B, d) data tokens. x_t: (B, d) tokens at time t.
        kappa_t: (B,) the schedule at t.
    """

    t: Tensor
    x_0: Tensor
    x_1: Tensor
    x_t: Tensor
    kappa_t: Tensor


class MixturePath:
    """The mixture path p_t(x^i | x_0, x_1) = kappa_t delta(x_1^i) + (1 - kappa_t) delta(x_0^i), per position.

    Args:
        source: a `MaskSource` or `UniformSource` (its vocab_size is the path's K).
        kappa: "linear", "quadratic" or a `fmlite.schedules.Schedule` (see `check_kappa`).

    Attributes: source, kappa, vocab_size (K), mask_token (K or None).

    Raises:
        TypeError: source not a MaskSource or UniformSource, or kappa of a wrong type.
        ValueError: a kappa that does not increase from 0 to 1 (`check_kappa`).

    Source: Gat et al. 2024, eq. (8); Lipman et al. 2024, eq. (7.21).
    """

    def __init__(self, source, kappa="linear"):
        if not isinstance(source, (MaskSource, UniformSource)):
            raise TypeError(f"source must be MaskSource(K) or UniformSource(K), got {type(source).__name__}")
        self.source, self.kappa = source, check_kappa(kappa)
        self.vocab_size, self.mask_token = source.vocab_size, source.mask_token

    def __repr__(self) -> str:
        return f"MixturePath({self.source!r}, {self.kappa!r})"

    def sample(self, x_1: Tensor, t, x_0: Tensor | None = None, u: Tensor | None = None,
               generator: torch.Generator | None = None) -> DiscretePathSample:
        """Draw x_t = where(u < kappa_t, x_1, x_0), every position its own uniform.

        Args:
            x_1: data tokens, int64 (B, d) in 0..K-1.
            t: a number or (B,) times in [0, 1].
            x_0: source tokens (B, d) (ids in 0..K-1, or K for the mask source); default a draw of the source.
            u: uniforms (B, d) in [0, 1); default torch.rand (with `generator`).
            generator: for the default x_0 and u.

        Returns:
            DiscretePathSample(t, x_0, x_1, x_t, kappa_t): x_t int64 (B, d); kappa_t (B,) float32.

        Raises:
            ValueError: tokens out of range or not integers (`check_tokens`), x_0 of another shape than x_1,
                t outside [0, 1] or of the wrong shape, u not floating, of the wrong shape or outside [0, 1).
        """
        x_1 = check_tokens(x_1, self.vocab_size, None, "x_1", "MixturePath.sample (data tokens never hold the mask)")
        t = check_time(t, x_1.shape[0]).float()
        if x_0 is None:
            x_0 = self.source.sample(max(1, len(x_1)), x_1.shape[1], generator)[:len(x_1)]
        x_0 = check_tokens(x_0, self.vocab_size, self.mask_token, "x_0", "MixturePath.sample")
        if x_0.shape != x_1.shape:
            raise ValueError(f"MixturePath.sample: x_0 {tuple(x_0.shape)} and x_1 {tuple(x_1.shape)} differ in shape")
        u = torch.rand(x_1.shape, generator=generator) if u is None else check_uniforms(u, x_1.shape, "u")
        kappa_t = self.kappa(t).float()
        x_t = torch.where(u.to(x_1.device) < kappa_t[:, None], x_1, x_0)
        return DiscretePathSample(t=t, x_0=x_0, x_1=x_1, x_t=x_t, kappa_t=kappa_t)


def check_uniforms(u, shape, name: str = "u") -> Tensor:
    """Uniforms passed in: a floating tensor of exactly `shape` with values in [0, 1).

    Raises:
        ValueError: not a floating tensor, another shape, or a value outside [0, 1) (NaN included).
    """
    if not isinstance(u, Tensor) or not u.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor of uniforms in [0, 1) of shape {tuple(shape)}, got "
                         f"{type(u).__name__ if not isinstance(u, Tensor) else u.dtype}")
    if tuple(u.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} (one uniform per token), got {tuple(u.shape)}")
    if u.numel() and not bool(((u >= 0) & (u < 1)).all()):
        raise ValueError(f"{name} must lie in [0, 1) (draw it with torch.rand), got values in "
                         f"[{float(u.min()):.4g}, {float(u.max()):.4g}]")
    return u

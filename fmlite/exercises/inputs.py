"""Inputs for the checkers: times covering a formula's whole domain, the "one time for the whole
batch" variants every checker rejects, and stand-in networks and fields that refuse bad input with
the same checks as `fmlite.models` (`fmlite.checks`), plus a swapped-argument detector.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..checks import check_flat_input, check_time, network_input
from .framework import SIZES, Mismatch, Sizes

__all__ = ["domain_times", "Sizes", "SIZES", "ONE_TIME", "one_time_variants", "lopsided_sigma", "StandInField",
           "TinyField"]


# ----------------------------------------------------------------------------- inputs
def domain_times(n: int, lo: float = 0.0, hi: float = 1.0, seed: int = 0) -> Tensor:
    """n >= 5 distinct float64 times covering [lo, hi]: both ends, a point within 0.01 of each end, the rest
    spread between, shuffled (so no row shares its time and order carries no sign) with an inner time first
    (so t[0] used for every row is not an end, where some formulas vanish)."""
    inner = torch.linspace(lo + 0.15 * (hi - lo), hi - 0.2 * (hi - lo), n - 4, dtype=torch.float64)
    ends = torch.tensor([lo, lo + 0.01, hi - 0.01, hi], dtype=torch.float64)
    rest = torch.cat([inner[1:], ends])
    return torch.cat([inner[:1], rest[torch.randperm(n - 1, generator=torch.Generator().manual_seed(seed))]])


def lopsided_sigma():
    """The schedule sigma(t) = 0.5 t (1 - t)^2 with its closed-form derivative 0.5 (1 - t)(1 - 3t): zero at both
    ends but not symmetric about t = 1/2, so an answer that uses sigma(1 - t), or -sigma'(1 - t), is caught.
    Values in [0, 2/27] on [0, 1]; called on t (B,) it returns (B,). Used by the checkers of notebooks 01 and 05."""
    from ..schedules import Sigma
    return Sigma(lambda t: 0.5 * t * (1 - t) ** 2, lambda t: 0.5 * (1 - t) * (1 - 3 * t), name="0.5 t (1 - t)^2")


#: The message for an answer that used one time for the whole batch.
ONE_TIME = ("every sample has its own time t[i], but you used one time for the whole batch (t[0], t.mean(), "
            "a Python number...); keep t as a (B,) tensor and broadcast it, e.g. t[:, None]")


def one_time_variants(fn: Callable[[Tensor], Tensor], t: Tensor) -> list[tuple[str, Tensor]]:
    """[(ONE_TIME, fn(t with every entry set to one of t's values or its mean)), ...] for `reject_known`.

    The ends of the range (t's smallest and largest value) are left out: there a formula often forgets one of its
    inputs (the score at t = 0 is -x, v ignored), and an answer that forgets it would be told the wrong slip."""
    lo, hi = float(t.min()), float(t.max())
    values = [float(v) for v in t if lo < float(v) < hi] + [float(t.mean()), float(t.median())]
    return [(ONE_TIME, fn(torch.full_like(t, v))) for v in values]


# ----------------------------------------------------------------------------- stand-in networks and fields
def _check_inputs(x, t, dim: int, owner: str, what: str) -> Tensor:
    """The input checks of fmlite.models (the same functions), plus swapped-argument detection."""
    if isinstance(t, Tensor) and t.dim() == 2 and (not isinstance(x, Tensor) or x.dim() <= 1):
        raise Mismatch(f"{what} was called as {what}(t, x): the points come first, {what}(x, t), with x of "
                       "shape (B, D) and t of shape (B,)")
    if not isinstance(x, Tensor):
        raise Mismatch(f"{what}(x, t) needs x as a tensor of shape (B, {dim}), got {type(x).__name__}")
    try:
        # network_input refuses integer x exactly as the networks do; a floating x keeps its dtype here,
        # because the checks compare in float64 near the ends of the time range.
        network_input(x, x.dtype if x.is_floating_point() else torch.float64, owner=owner)
        check_flat_input(x, dim, owner)
        return check_time(t, x.shape[0], like=x)
    except ValueError as e:
        raise Mismatch(f"{what}(x, t) refused its input, as a network of fmlite.models would: {e}") from None


class StandInField:
    """A velocity field velocity(x, t) for the checks: x (B, dim), t (B,) or a number in [0, 1].

    Args:
        fn: (x, t) -> velocity, t already checked and of shape (B,).
        strict: also demand a tensor t of shape (B,), as a trained model is called in the samplers.

    Raises (on call): Mismatch for swapped arguments or input `fmlite.models` would refuse.
    """

    def __init__(self, fn: Callable[[Tensor, Tensor], Tensor], dim: int = 2, strict: bool = False):
        self.fn, self.dim, self.strict = fn, dim, strict

    def __call__(self, x, t):
        if self.strict and isinstance(x, Tensor) and x.dim() == 2 and (
                not isinstance(t, Tensor) or t.shape != (x.shape[0],)):
            got_t = f"a tensor of shape {tuple(t.shape)}" if isinstance(t, Tensor) else f"a {type(t).__name__}"
            raise Mismatch(f"call velocity(x, t) with t a tensor of shape (B,) = ({x.shape[0]},), one time per "
                           f"point, as a trained model is called: t = torch.full((B,), k * h); you passed {got_t}")
        t = _check_inputs(x, t, self.dim, f"velocity(dim={self.dim})", "velocity")
        return self.fn(x, t)


class TinyField(torch.nn.Module):
    """A fixed, differentiable float64 network v(x, t) = x A + t b + c (no random weights) that refuses the
    input `fmlite.models.MLP` refuses: x (B, dim), t (B,) or a number in [0, 1]. `times` holds the t of every
    call, so that a checker can tell a student who drew their own t."""

    def __init__(self, dim: int = 2):
        super().__init__()
        self.dim, self.times = dim, []
        i = torch.arange(dim, dtype=torch.float64)
        self.A = torch.nn.Parameter(0.6 * torch.cos(1.0 + i[:, None] + 2.3 * i[None, :]))
        self.b = torch.nn.Parameter(torch.cos(0.7 + 1.9 * i) * 2)
        self.c = torch.nn.Parameter(0.3 * torch.sin(1.1 + i))

    def forward(self, x, t):
        t = _check_inputs(x, t, self.dim, f"MLP(dim={self.dim})", "model")
        self.times.append(t.detach().clone())
        return x.to(self.A.dtype) @ self.A + t[:, None] * self.b + self.c

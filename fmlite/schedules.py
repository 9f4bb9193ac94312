"""Noise schedules sigma(t) >= 0 of stochastic interpolants, with sigma'(t) and sigma sigma'(t).

x_t = alpha_t x_1 + beta_t x_0 + sigma(t) eps (see `fmlite.paths`). Each schedule maps
t (B,) in [0, 1] to sigma(t) (B,); `derivative` gives sigma'(t) and `variance_rate` gives
sigma(t) sigma'(t) = (1/2) d sigma^2 / dt, which stays finite where sigma' does not
(the Brownian bridge at t = 0 and t = 1). Supported scales: [0, SIGMA_MAX].
`SIGMA_SCHEDULES` / `sigma_schedule(name, scale)` are the registry used by the explorers.

Sources: Tong et al. 2024, "Improving and generalizing flow-based generative models with
minibatch optimal transport", Table 1 (constant sigma, Brownian bridge); Albergo, Boffi &
Vanden-Eijnden 2023, "Stochastic Interpolants", eq. (2.1) (sigma = their gamma).

Taught in notebook 05 (`notebooks/05_noise_and_sigma.ipynb`); their public home is `fmlite.paths`.
"""
from __future__ import annotations

import math
from typing import Callable, Union

import torch
from torch import Tensor

from .checks import SIGMA_MAX, check_returned

__all__ = ["Schedule", "ConstantSigma", "BridgeSigma", "SineSigma", "Sigma", "as_schedule",
           "SIGMA_SCHEDULES", "sigma_schedule"]


def _as_time(t: Tensor | float) -> Tensor:
    """t as a floating tensor for a schedule: a plain number (0.5, or 0) becomes a 0-d tensor of the default
    dtype, an integer tensor a floating one; a floating tensor is passed through as it is."""
    if isinstance(t, Tensor) and t.is_floating_point():
        return t
    return torch.as_tensor(t, dtype=torch.get_default_dtype())


class Schedule:
    """A noise scale sigma(t) >= 0 of a stochastic interpolant, with its derivative.

    Call it on t of shape (B,) to get sigma(t) of shape (B,), or on one number (sigma(0.5)) to get a 0-d
    tensor; `derivative(t)` gives
    sigma'(t) and `variance_rate(t)` gives sigma(t) sigma'(t) = (1/2) d sigma^2 / dt, which
    the exact marginal field needs and which stays finite where sigma' does not (the
    Brownian bridge at t = 0 and t = 1). Subclasses give closed forms; `Sigma(fn)` wraps
    any callable and differentiates it with autograd.

    Supported range: 0 <= sigma(t) <= `fmlite.checks.SIGMA_MAX` (1e6); beyond it float32
    x_t cannot resolve data of scale 1, and the paths refuse such values.
    """

    #: True when sigma(t) is 0 for every t (then no eps needs to be drawn).
    is_zero: bool = False

    def __call__(self, t: Tensor | float) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, t: Tensor | float) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def variance_rate(self, t: Tensor | float) -> Tensor:
        """sigma(t) sigma'(t) = (1/2) d sigma(t)^2 / dt, shape (B,) like t."""
        return self(t) * self.derivative(t)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({getattr(self, 'scale', '')})"


class ConstantSigma(Schedule):
    """sigma(t) = scale for all t; sigma'(t) = 0.

    With the linear path this is the path of conditional flow matching (I-CFM) in
    Tong et al. 2024, Table 1. The interpolant does not hit x_0 and x_1 exactly
    unless scale = 0.

    Raises:
        ValueError: scale is negative or not finite.
    """

    def __init__(self, scale: float = 0.0):
        self.scale = _check_scale(scale)
        self.is_zero = self.scale == 0.0

    def __call__(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        return torch.full_like(t, self.scale)

    def derivative(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        return torch.zeros_like(t)

    def variance_rate(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        return torch.zeros_like(t)


class BridgeSigma(Schedule):
    """Brownian-bridge noise sigma(t) = scale * sqrt(t (1 - t)).

    sigma'(t) = scale * (1 - 2t) / (2 sqrt(t (1 - t))) is infinite at t = 0 and t = 1,
    so draw training times from the open interval (0, 1) (the default sampler of
    `fmlite.train.flow_matching_loss` does). sigma(t) sigma'(t) = scale^2 (1 - 2t) / 2 is
    finite everywhere, so the exact marginal field exists at t = 0 too.
    Source: Tong et al. 2024, Table 1 (SB-CFM).

    Raises:
        ValueError: scale is negative or not finite.
    """

    def __init__(self, scale: float = 1.0):
        self.scale = _check_scale(scale)
        self.is_zero = self.scale == 0.0

    def __call__(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        return self.scale * torch.sqrt(t * (1 - t))

    def derivative(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        if self.is_zero:
            return torch.zeros_like(t)
        return self.scale * (1 - 2 * t) / (2 * torch.sqrt(t * (1 - t)))

    def variance_rate(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        return self.scale ** 2 * (1 - 2 * t) / 2


class SineSigma(Schedule):
    """sigma(t) = scale * sin(pi t), zero at both ends; sigma'(t) = scale * pi * cos(pi t).

    A smooth alternative to the bridge whose derivative stays finite on [0, 1]
    (Albergo, Boffi & Vanden-Eijnden 2023 use gamma(t) = sqrt(a t (1 - t)); this is
    its smooth cousin).

    Raises:
        ValueError: scale is negative or not finite.
    """

    def __init__(self, scale: float = 1.0):
        self.scale = _check_scale(scale)
        self.is_zero = self.scale == 0.0

    def __call__(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        # sin(pi t) = sin(pi min(t, 1 - t)), exactly 0 at t = 1 too (float sin(pi) is 1.2e-16, and the
        # exact field divides sigma sigma' by s_t^2 = sigma(1)^2 there)
        return self.scale * torch.sin(math.pi * torch.minimum(t, 1 - t))

    def derivative(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        return self.scale * math.pi * torch.cos(math.pi * t)

    def variance_rate(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        return self(t) * self.scale * math.pi * torch.cos(math.pi * t)


class Sigma(Schedule):
    """Any noise schedule sigma(t) given as a callable, e.g. `Sigma(lambda t: 0.5 * t * (1 - t))`.

    Args:
        fn: elementwise callable mapping t (B,) to sigma(t) (B,) with torch operations.
        derivative: optional callable for sigma'(t); by default autograd differentiates fn.
        zero_at_ends: if True, check that sigma(0) = sigma(1) = 0 (needed for the
            interpolant to start exactly at x_0 and end exactly at x_1).
        name: a label used in plots and error messages.

    Raises:
        TypeError: fn (or derivative) is not callable.
        ValueError: zero_at_ends is True and sigma(0) or sigma(1) is not 0; when called, fn (or
            derivative) returns another shape than t (nothing is broadcast: a (B, 1) result is refused)
            or no tensor; when differentiated by autograd, fn cuts the gradient (t.detach(), .item(),
            numpy): checked once against a central difference, the message says to write sigma with
            torch operations or pass derivative=.
    """

    def __init__(self, fn: Callable[[Tensor], Tensor], derivative: Callable[[Tensor], Tensor] | None = None,
                 *, zero_at_ends: bool = False, name: str | None = None):
        if not callable(fn):
            raise TypeError(f"Sigma(fn) needs a callable t -> sigma(t), got {type(fn).__name__}")
        if derivative is not None and not callable(derivative):
            raise TypeError(f"Sigma(derivative=...) needs a callable t -> sigma'(t), got {type(derivative).__name__}")
        self.fn, self._derivative = fn, derivative
        self._gradient_checked = derivative is not None
        self.name = name or getattr(fn, "__name__", "sigma")
        if zero_at_ends:
            ends = self(torch.tensor([0.0, 1.0]))
            if not torch.allclose(ends, torch.zeros(2), atol=1e-6):
                raise ValueError(
                    f"sigma schedule {self.name!r} must be 0 at t = 0 and t = 1 so that x_t hits x_0 and x_1 "
                    f"exactly, got sigma(0) = {ends[0].item():.4g}, sigma(1) = {ends[1].item():.4g}; "
                    "multiply it by t * (1 - t) or use zero_at_ends=False")

    def __call__(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        out = check_returned(self.fn(t), t.shape, f"the sigma function {self.name!r} called on t of shape "
                             f"{tuple(t.shape)}", "the shape of t, one value per time, or a single number",
                             scalar=True)
        return out.to(dtype=t.dtype, device=t.device).expand(t.shape)

    def derivative(self, t: Tensor | float) -> Tensor:
        t = _as_time(t)
        if self._derivative is not None:
            out = check_returned(self._derivative(t), t.shape, f"the derivative= of Sigma({self.name}) called on t "
                                 f"of shape {tuple(t.shape)}", "the shape of t, one value per time, or a single "
                                 "number", scalar=True)
            return out.to(dtype=t.dtype, device=t.device).expand(t.shape)
        with torch.enable_grad():
            s = t.detach().clone().requires_grad_(True)
            try:
                value = self(s)
            except RuntimeError as e:   # e.g. t.numpy() on a tensor that requires grad
                raise ValueError(f"Sigma({self.name}): autograd cannot differentiate the sigma function ({e}); "
                                 "write sigma with torch operations on t, or pass derivative=") from e
            if not value.requires_grad:  # fn does not depend on t, or cuts the gradient (t.detach(), .item())
                self._check_gradient(t)
                return torch.zeros_like(t)
            (grad,) = torch.autograd.grad(value.sum(), s)
        self._check_gradient(t)
        return grad

    #: Probe times of the one-off check that autograd sees the whole sigma function (none of them special).
    _PROBES = (0.2137, 0.4171, 0.6329, 0.8513)

    def _check_gradient(self, like: Tensor) -> None:
        """Compare autograd's sigma'(t) with a central difference once per schedule: a function that cuts the
        gradient (t.detach(), .item(), numpy) would silently get sigma' = 0 and a wrong target u_t.
        The probes live on the device of `like` (float64 where the device has it); a function that cannot
        be evaluated on them is not checked (it is then called only on the times it was written for)."""
        if self._gradient_checked:
            return
        dtype = torch.float32 if like.device.type == "mps" else torch.float64
        t = torch.tensor(self._PROBES, dtype=dtype, device=like.device)
        h = 1e-4 if dtype == torch.float64 else 1e-2
        try:
            with torch.no_grad():
                hi, lo, mid = self(t + h).double(), self(t - h).double(), self(t).double()
            with torch.enable_grad():
                s = t.clone().requires_grad_(True)
                value = self(s)
                auto = (torch.autograd.grad(value.sum(), s)[0].double() if value.requires_grad
                        else torch.zeros_like(mid))
        except Exception:   # noqa: BLE001 - e.g. a function written for one batch size: nothing to compare
            self._gradient_checked = True
            return
        numeric = (hi - lo) / (2 * h)
        scale = 1e-2 * (1 + numeric.abs() + mid.abs())   # room for a float32 function's rounding
        if torch.isfinite(numeric).all() and ((auto - numeric).abs() > scale).any():
            k = int(((auto - numeric).abs() - scale).argmax())
            raise ValueError(
                f"Sigma({self.name}): autograd gives sigma'({self._PROBES[k]}) = {auto[k].item():.4g} but sigma "
                f"changes at rate {numeric[k].item():.4g} there: the function cuts the gradient (t.detach(), "
                ".item(), numpy or a Python float), so u_t would be wrong; write sigma with torch operations "
                "on t, or pass derivative=")
        self._gradient_checked = True

    def variance_rate(self, t: Tensor | float) -> Tensor:
        """sigma sigma' = (1/2) d sigma^2 / dt; where sigma' is not finite (sqrt at 0, e.g.
        sqrt(t (1 - t)) at t = 0), a one-sided three-point difference of sigma^2 in float64
        (step 1e-4, exact for quadratic sigma^2) into [0, 1] takes its place."""
        t = _as_time(t)
        rate = self(t) * self.derivative(t)
        bad = ~torch.isfinite(rate)
        if bad.any():
            tb = t[bad].double()
            h = torch.where(tb > 0.5, -1e-4, 1e-4).double()  # step into [0, 1]
            f0, f1, f2 = (self(tb + k * h) ** 2 for k in range(3))
            rate = rate.clone()
            rate[bad] = ((-3 * f0 + 4 * f1 - f2) / (4 * h)).to(rate.dtype)
        return rate

    def __repr__(self) -> str:
        return f"Sigma({self.name})"


def _check_scale(scale: float) -> float:
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"a sigma scale must be a finite number >= 0 and <= {SIGMA_MAX:g}, got {scale!r}") from None
    if not 0 <= scale <= SIGMA_MAX:  # also refuses NaN
        raise ValueError(f"a sigma scale must be a finite number >= 0 and <= {SIGMA_MAX:g} (the supported range: "
                         f"beyond it float32 x_t loses the data in rounding), got {scale:g}")
    return scale


def as_schedule(sigma: Union[float, Schedule]) -> Schedule:
    """Turn a number into `ConstantSigma(number)`; pass a `Schedule` through.

    Raises:
        TypeError: sigma is neither a number nor a Schedule.
    """
    if isinstance(sigma, Schedule):
        return sigma
    if isinstance(sigma, (int, float)):
        return ConstantSigma(sigma)
    raise TypeError(f"sigma must be a number or a Schedule (ConstantSigma, BridgeSigma, SineSigma, Sigma), "
                    f"got {type(sigma).__name__}")


#: The built-in sigma(t) schedules by name: name -> class taking the scale (the explorers' menus use it).
SIGMA_SCHEDULES = {"constant": ConstantSigma, "bridge": BridgeSigma, "sine": SineSigma}


def sigma_schedule(name: str, scale: float) -> Schedule:
    """The built-in sigma(t) schedule called name ("constant", "bridge" or "sine") with the given scale.

    Raises:
        ValueError: unknown name (the message lists the valid ones), or a bad scale (negative, not finite).
    """
    if name not in SIGMA_SCHEDULES:
        raise ValueError(f"unknown sigma schedule {name!r}; choose one of {list(SIGMA_SCHEDULES)}")
    return SIGMA_SCHEDULES[name](scale)

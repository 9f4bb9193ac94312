"""Probability paths (interpolants) x_t = alpha_t x_1 + beta_t x_0 + sigma(t) eps.

Time runs from the source to the data: t = 0 is noise (x_0), t = 1 is data (x_1).
A path draws x_t and its *conditional* target velocity

    u_t = d x_t / dt = alpha'_t x_1 + beta'_t x_0 + sigma'(t) eps.

The sigma'(t) eps term is part of the target whenever sigma(t) is not constant;
dropping it (taking u_t = x_1 - x_0 for a stochastic interpolant) is a known
pitfall that this module does not repeat.

Sources: Lipman et al. 2023, "Flow Matching for Generative Modeling", eq. (20)-(23);
Liu et al. 2022, "Flow Straight and Fast" (rectified flow, the linear path);
Albergo & Vanden-Eijnden 2023, "Building Normalizing Flows with Stochastic
Interpolants", and Albergo, Boffi & Vanden-Eijnden 2023, "Stochastic
Interpolants", eq. (2.1) (sigma = their gamma); Tong et al. 2024, "Improving and
generalizing flow-based generative models with minibatch optimal transport",
Table 1 (constant sigma and the Brownian bridge sigma).

Taught in notebook 01 (`notebooks/01_interpolation_paths.ipynb`); sigma schedules and the cosine path in
notebook 05 (`notebooks/05_noise_and_sigma.ipynb`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import torch
from torch import Tensor

from .checks import SIGMA_MAX, broadcast_time, check_batch, check_time
from .schedules import (SIGMA_SCHEDULES, BridgeSigma, ConstantSigma, Schedule, Sigma, SineSigma,  # noqa: F401
                        as_schedule, sigma_schedule)

__all__ = [
    "Schedule", "ConstantSigma", "BridgeSigma", "SineSigma", "Sigma", "SIGMA_SCHEDULES", "sigma_schedule",
    "PathSample", "Path", "LinearPath", "CosinePath",
]


# ----------------------------------------------------------------------------- paths
@dataclass
class PathSample:
    """One batch drawn from a path. All tensors have shape (B, *D) except t (B,)."""

    t: Tensor
    x_0: Tensor
    x_1: Tensor
    eps: Tensor
    x_t: Tensor
    u_t: Tensor


class Path:
    """An interpolant x_t = alpha_t x_1 + beta_t x_0 + sigma(t) eps between noise and data.

    Subclasses define alpha, beta and their derivatives with alpha_0 = 0, alpha_1 = 1,
    beta_0 = 1, beta_1 = 0.

    Args:
        sigma: a number (constant sigma) or a `Schedule`.
    """

    def __init__(self, sigma: Union[float, Schedule] = 0.0):
        self.sigma = as_schedule(sigma)

    def alpha(self, t: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def beta(self, t: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def alpha_derivative(self, t: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def beta_derivative(self, t: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def coefficients(self, t: Tensor, derivatives: bool = True) -> dict[str, Tensor]:
        """alpha_t, beta_t, sigma_t (and d_alpha_t, d_beta_t, d_sigma_t) at t (B,), each of shape (B,).

        Raises:
            ValueError: t is invalid (see `check_time`) or the sigma schedule gives NaN,
                an infinite value (or derivative, if asked for) or a value above
                `fmlite.checks.SIGMA_MAX` at some t.
        """
        return self._coefficients(check_time(t), derivatives)

    def _coefficients(self, t: Tensor, derivatives: bool = True) -> dict[str, Tensor]:
        """`coefficients` for a t already checked by `check_time` (sample and interpolate check it once)."""
        c = {"alpha_t": self.alpha(t), "beta_t": self.beta(t), "sigma_t": self.sigma(t)}
        if derivatives:
            c.update(d_alpha_t=self.alpha_derivative(t), d_beta_t=self.beta_derivative(t),
                     d_sigma_t=self.sigma.derivative(t))
        self._check_sigma(t, c)
        return c

    def field_coefficients(self, t: Tensor) -> dict[str, Tensor]:
        """What the marginal field needs at t (B,): alpha_t, beta_t, sigma_t, d_alpha_t, d_beta_t and
        sigma_d_sigma_t = sigma(t) sigma'(t) (finite for the bridge at t = 0 and 1, unlike sigma'(t)).

        Raises:
            ValueError: as `coefficients`, for sigma(t) and sigma(t) sigma'(t).
        """
        t = check_time(t)
        c = {"alpha_t": self.alpha(t), "beta_t": self.beta(t), "sigma_t": self.sigma(t),
             "d_alpha_t": self.alpha_derivative(t), "d_beta_t": self.beta_derivative(t),
             "sigma_d_sigma_t": self.sigma.variance_rate(t)}
        self._check_sigma(t, c)
        return c

    def _check_sigma(self, t: Tensor, c: dict[str, Tensor]) -> None:
        if self.sigma.is_zero:   # sigma(t) = sigma'(t) = 0 everywhere: nothing can be infinite or too large
            return
        names = {"sigma_t": "sigma(t)", "d_sigma_t": "sigma'(t)", "sigma_d_sigma_t": "sigma(t) sigma'(t)"}
        for key, what in names.items():
            bad = ~torch.isfinite(c[key]) if key in c else torch.zeros_like(t, dtype=torch.bool)
            if bad.any():
                raise ValueError(
                    f"{what} of {self.sigma!r} is {c[key][bad][0].item()} at t = {t[bad][0].item():.6g}; "
                    "a schedule must be finite on the times you use (BridgeSigma's derivative is infinite "
                    "at t = 0 and t = 1: draw t from the open interval (0, 1), or call path.interpolate "
                    "for x_t alone)")
        big = c["sigma_t"].abs() > SIGMA_MAX
        if big.any():
            raise ValueError(f"sigma(t) of {self.sigma!r} is {c['sigma_t'][big][0].item():.4g} at t = "
                             f"{t[big][0].item():.6g}, above the supported {SIGMA_MAX:g} (float32 x_t would "
                             "lose the data in rounding); scale the schedule down")

    def _inputs_and_noise(self, x_0, x_1, eps, finite: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """Checked x_0, x_1 (B, *D) and eps: the given eps checked, or, when eps is None, a new draw
        torch.randn_like(x_0) from torch's global generator (zeros, and no draw, when sigma is identically 0).
        ValueError on shapes, non-tensors or (with finite=True) NaN/inf (`fmlite.checks.check_batch`)."""
        x_0 = check_batch(x_0, "x_0", finite=finite)
        x_1 = check_batch(x_1, "x_1", finite=finite)
        if x_0.shape != x_1.shape:
            raise ValueError(f"x_0 and x_1 must have the same shape (B, *D), got {tuple(x_0.shape)} "
                             f"and {tuple(x_1.shape)}; pair one noise sample with each data sample")
        if eps is None:
            return x_0, x_1, torch.zeros_like(x_0) if self.sigma.is_zero else torch.randn_like(x_0)
        eps = check_batch(eps, "eps", finite=finite)
        if eps.shape != x_0.shape:
            raise ValueError(f"eps must have the shape of x_0 {tuple(x_0.shape)}, got {tuple(eps.shape)}")
        return x_0, x_1, eps

    def interpolate(self, x_0: Tensor, x_1: Tensor, t, eps: Tensor | None = None) -> Tensor:
        """x_t = alpha_t x_1 + beta_t x_0 + sigma(t) eps alone (no velocity), e.g. for plots.

        Unlike `sample`, this works at t = 0 and t = 1 for the Brownian bridge, whose
        sigma'(t) is infinite there. Arguments, shapes and errors as in `sample`.
        """
        x_0, x_1, eps = self._inputs_and_noise(x_0, x_1, eps)
        t = check_time(t, x_0.shape[0], like=x_0)
        c = {k: broadcast_time(v, x_0) for k, v in self._coefficients(t, derivatives=False).items()}
        return c["alpha_t"] * x_1 + c["beta_t"] * x_0 + c["sigma_t"] * eps

    def sample(self, x_0: Tensor, x_1: Tensor, t, eps: Tensor | None = None) -> PathSample:
        """Draw x_t and the conditional (per-sample) target velocity u_t = u_t(x_t | z), z = (x_0, x_1, eps).

            x_t = alpha_t x_1 + beta_t x_0 + sigma(t) eps
            u_t = alpha'_t x_1 + beta'_t x_0 + sigma'(t) eps      (the sigma'(t) eps term is required)

        Args:
            x_0: source (noise) samples, shape (B, *D).
            x_1: data samples, shape (B, *D), same shape as x_0.
            t: times in [0, 1], shape (B,) or a single number.
            eps: standard-normal noise (B, *D); drawn with torch's global generator if
                None and sigma is not identically 0 (zeros otherwise).

        Returns:
            PathSample with fields t, x_0, x_1, eps, x_t, u_t.

        Raises:
            ValueError: x_0, x_1 (and eps) differ in shape, are not tensors (a list or numpy array:
                use torch.as_tensor), have no batch dimension, an empty batch or NaN/inf values
                (`fmlite.checks.check_batch`; integer tensors are used as floats), t is invalid,
                or the schedule (or its derivative) is not finite at t. NaN or inf in x_0 or x_1 is not
                scanned for here (this runs at every training step): it gives NaN in x_t and u_t, and
                `fmlite.train.train` stops with TrainingDiverged naming the step and "the data contains
                NaN"; `interpolate` refuses it.
        """
        x_0, x_1, eps = self._inputs_and_noise(x_0, x_1, eps, finite=False)  # training hot path: O(1) checks
        t = check_time(t, x_0.shape[0], like=x_0)
        c = {k: broadcast_time(v, x_0) for k, v in self._coefficients(t).items()}
        x_t = c["alpha_t"] * x_1 + c["beta_t"] * x_0 + c["sigma_t"] * eps
        u_t = c["d_alpha_t"] * x_1 + c["d_beta_t"] * x_0 + c["d_sigma_t"] * eps
        return PathSample(t=t, x_0=x_0, x_1=x_1, eps=eps, x_t=x_t, u_t=u_t)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sigma={self.sigma!r})"


class LinearPath(Path):
    """The straight path alpha_t = t, beta_t = 1 - t (rectified flow / optimal-transport path).

    u_t = x_1 - x_0 + sigma'(t) eps. Sources: Liu et al. 2022, eq. (1); Lipman et al.
    2023, eq. (22) with sigma_min = 0; Tong et al. 2024, Table 1 with sigma(t).

    Args:
        sigma: a number (constant sigma) or a `Schedule`.
    """

    def alpha(self, t):
        return t

    def beta(self, t):
        return 1 - t

    def alpha_derivative(self, t):
        return torch.ones_like(t)

    def beta_derivative(self, t):
        return -torch.ones_like(t)


class CosinePath(Path):
    """The trigonometric path alpha_t = sin(pi t / 2), beta_t = cos(pi t / 2).

    alpha_t^2 + beta_t^2 = 1: the variance of x_t stays 1 for unit-variance data.
    Source: Albergo & Vanden-Eijnden 2023, eq. (2.16) (trigonometric interpolant);
    Nichol & Dhariwal 2021 (cosine schedule).

    Args:
        sigma: a number (constant sigma) or a `Schedule`.
    """


    # cos(pi t / 2) is written sin(pi (1 - t) / 2) so that beta_1 = 0 exactly in floating point.
    def alpha(self, t):
        return torch.sin(0.5 * math.pi * t)

    def beta(self, t):
        return torch.sin(0.5 * math.pi * (1 - t))

    def alpha_derivative(self, t):
        return 0.5 * math.pi * torch.sin(0.5 * math.pi * (1 - t))

    def beta_derivative(self, t):
        return -0.5 * math.pi * torch.sin(0.5 * math.pi * t)

"""Velocity <-> score <-> x0_hat <-> x1_hat for affine Gaussian paths (the SDE sampler that uses them:
`fmlite.solvers.sample_sde`).

Setting: x_t = alpha_t x_1 + beta_t x_0 + sigma_t eps with x_0, eps ~ N(0, I) independent of x_1
(independent pairing). Put z = beta_t x_0 + sigma_t eps ~ N(0, s^2 I), s^2 = beta_t^2 + sigma_t^2,
gain_t = beta_t beta'_t + sigma_t sigma'_t = (s^2)' / 2 (the gain g_t of notebook 05; not the kappa_t
of discrete mixture paths, nor the diffusion g(t) of `sample_sde`). Gaussian conditioning and Tweedie's formula give

    score(x) = grad log p_t(x) = -E[z | x_t = x] / s^2 = (alpha_t x1_hat - x) / s^2
    x0_hat   = E[x_0 | x_t = x] = beta_t E[z | x] / s^2 = -beta_t * score
    u_t(x)   = alpha'_t x1_hat + gain_t / s^2 * (x - alpha_t x1_hat)

so all four are affine in one another at fixed (x, t). With D_t = alpha'_t s^2 - alpha_t gain_t
(= -(alpha_t^3 / 2) d/dt (s^2 / alpha_t^2): zero only where the signal-to-noise ratio stops changing):

    score    = (alpha_t u - alpha'_t x) / D_t             singular where D_t = 0 (t = 1 if s_1 = 0)
    u        = (alpha'_t x + D_t score) / alpha_t          singular at alpha_t = 0 (t = 0)
    x0_hat   = -beta_t score;  score = -x0_hat / beta_t    the latter singular at beta_t = 0 (t = 1)
    x1_hat   = (x + s^2 score) / alpha_t;  score = (alpha_t x1_hat - x) / s^2
    x1_hat   = (s^2 u - gain_t x) / D_t;    u = (D_t x1_hat + gain_t x) / s^2

Straight path (alpha_t = t, beta_t = 1 - t, sigma = 0): D_t = 1 - t and score = (t u - x) / (1 - t).
Applied to a *trained* velocity these give the model's implied score, x0_hat and x1_hat.

Sources: Efron 2011, "Tweedie's formula and selection bias"; Song et al. 2021, "Score-Based
Generative Modeling through SDEs", eq. (6) and (13); Albergo, Boffi & Vanden-Eijnden 2023,
"Stochastic Interpolants", sec. 2.2-2.3 (velocity/score relation, SDEs with any diffusion g);
Lipman et al. 2023, sec. 4.1 (affine Gaussian paths).

Taught in notebook 08 (`notebooks/08_likelihoods_and_diffusion.ipynb`).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .checks import broadcast_time, call_velocity, check_batch, check_path, check_time, float_dtype
from .paths import Path

__all__ = ["path_coefficients", "convert", "velocity_to_score", "score_to_velocity", "score_to_x0_hat",
           "x0_hat_to_score", "velocity_to_x1_hat", "score_from_velocity", "QUANTITIES"]

QUANTITIES = ("velocity", "score", "x0_hat", "x1_hat")
#: |denominator| at or below this is treated as singular (coefficients are of order 1 in float64).
SINGULAR = 1e-12


def path_coefficients(path: Path, t) -> dict[str, Tensor]:
    """float64 alpha_t, beta_t, s2_t = beta_t^2 + sigma_t^2, d_alpha_t, d_beta_t, gain_t, D_t at t (B,).

    gain_t = beta_t beta'_t + sigma_t sigma'_t (the gain g_t of notebook 05), with sigma_t sigma'_t from the
    schedule's `variance_rate(t)` (via `Path.field_coefficients`; finite where sigma' is not, e.g. the
    Brownian bridge at t = 0, 1). D_t = alpha'_t s2_t - alpha_t gain_t. Each entry has shape (B,).

    Raises:
        ValueError: t invalid, path is None (pass LinearPath()), or sigma_t sigma'_t is not finite at some t.
        TypeError: path is not a `fmlite.paths.Path`.
    """
    check_path(path, "path_coefficients")
    t = check_time(t).double()
    c = path.field_coefficients(t)  # sigma sigma' from the schedule's variance_rate: finite for the bridge
    a, b, s = c["alpha_t"], c["beta_t"], c["sigma_t"]
    da, db, sds = c["d_alpha_t"], c["d_beta_t"], c["sigma_d_sigma_t"]
    s2 = b ** 2 + s ** 2
    gain = b * db + sds
    return {"alpha_t": a, "beta_t": b, "s2_t": s2, "d_alpha_t": da, "d_beta_t": db, "gain_t": gain,
            "D_t": da * s2 - a * gain}


def _table(c):
    """(source, target) -> (coefficient of source, coefficient of x, denominator, what is zero when singular)."""
    a, b, s2, da, gain, d = c["alpha_t"], c["beta_t"], c["s2_t"], c["d_alpha_t"], c["gain_t"], c["D_t"]
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    return {
        ("velocity", "score"): (a, -da, d, "D_t = alpha'_t s_t^2 - alpha_t gain_t"),
        ("velocity", "x0_hat"): (-a * b, b * da, d, "D_t = alpha'_t s_t^2 - alpha_t gain_t"),
        ("velocity", "x1_hat"): (s2, -gain, d, "D_t = alpha'_t s_t^2 - alpha_t gain_t"),
        ("score", "velocity"): (d, da, a, "alpha_t"),
        ("score", "x0_hat"): (-b, zero, one, ""),
        ("score", "x1_hat"): (s2, one, a, "alpha_t"),
        ("x0_hat", "score"): (-one, zero, b, "beta_t"),
        ("x0_hat", "velocity"): (-d, b * da, a * b, "alpha_t beta_t"),
        ("x0_hat", "x1_hat"): (-s2, b, a * b, "alpha_t beta_t"),
        ("x1_hat", "score"): (a, -one, s2, "s_t^2 = beta_t^2 + sigma_t^2"),
        ("x1_hat", "x0_hat"): (-a * b, b, s2, "s_t^2 = beta_t^2 + sigma_t^2"),
        ("x1_hat", "velocity"): (d, gain, s2, "s_t^2 = beta_t^2 + sigma_t^2"),
    }


def convert(value: Tensor, x: Tensor, t, path: Path, source: str, target: str) -> Tensor:
    """Turn one of velocity, score, x0_hat, x1_hat at (x, t) into another (formulas in the module docstring).

    Args:
        value: the known quantity at x, (B, *D). x: the points x_t, (B, *D).
        t: times in [0, 1], (B,) or a number. path: a `fmlite.paths.Path` (x_0 ~ N(0, I) assumed).
        source, target: each one of "velocity", "score", "x0_hat", "x1_hat".

    Returns:
        Tensor (B, *D) in the dtype of x (computed in float64); integer x and value are computed as
        floats and come back in torch's default floating dtype (never truncated to integers).
        source == target returns value itself (as a float tensor if it was an integer one).

    Raises:
        ValueError: unknown names, shapes differ, value or x not a tensor (a list or numpy array:
            use torch.as_tensor), 1-d, an empty batch or NaN/inf (`fmlite.checks.check_batch`), bad t,
            path None, or the conversion is singular at some t (its denominator, named in the message,
            is 0 there: e.g. velocity -> score at t = 1 when s_1 = 0, score -> velocity at t = 0,
            x0_hat -> score at t = 1).
        TypeError: path is not a `fmlite.paths.Path`.
    """
    for name in (source, target):
        if name not in QUANTITIES:
            raise ValueError(f"unknown quantity {name!r}; choose from {list(QUANTITIES)}")
    value, x = check_batch(value, source, owner="convert"), check_batch(x, "x", owner="convert")
    check_path(path, "convert")
    if value.shape != x.shape:
        raise ValueError(f"value and x must have the same shape (B, *D), got {tuple(value.shape)} and {tuple(x.shape)}")
    if source == target:
        return value
    t = check_time(t, x.shape[0], like=x)
    c = path_coefficients(path, t)
    m_value, m_x, den, what = _table(c)[(source, target)]
    bad = ~(den.abs() > SINGULAR)
    if bad.any():
        raise ValueError(f"{source} -> {target} is singular at t = {t[bad][0].item():.6g} on {path!r}: it divides by "
                         f"{what}, which is 0 there; evaluate at other times")
    xd = x.double()
    out = (broadcast_time(m_value, xd) * value.double() + broadcast_time(m_x, xd) * xd) / broadcast_time(den, xd)
    return out.to(float_dtype(x))


def velocity_to_score(velocity: Tensor, x: Tensor, t, path: Path) -> Tensor:
    """score = (alpha_t u - alpha'_t x) / D_t; straight path: (t u - x) / (1 - t). See `convert`."""
    return convert(velocity, x, t, path, "velocity", "score")


def score_to_velocity(score: Tensor, x: Tensor, t, path: Path) -> Tensor:
    """u = (alpha'_t x + D_t score) / alpha_t (singular at alpha_t = 0, t = 0). See `convert`."""
    return convert(score, x, t, path, "score", "velocity")


def score_to_x0_hat(score: Tensor, x: Tensor, t, path: Path) -> Tensor:
    """x0_hat = -beta_t score (Tweedie; a diffusion model's noise prediction). See `convert`."""
    return convert(score, x, t, path, "score", "x0_hat")


def x0_hat_to_score(x0_hat: Tensor, x: Tensor, t, path: Path) -> Tensor:
    """score = -x0_hat / beta_t (singular at beta_t = 0, t = 1). See `convert`."""
    return convert(x0_hat, x, t, path, "x0_hat", "score")


def velocity_to_x1_hat(velocity: Tensor, x: Tensor, t, path: Path) -> Tensor:
    """x1_hat = (s_t^2 u - gain_t x) / D_t; straight path, sigma = 0: x + (1 - t) u. See `convert`."""
    return convert(velocity, x, t, path, "velocity", "x1_hat")


def score_from_velocity(velocity: Callable[[Tensor, Tensor], Tensor], path: Path):
    """The score implied by a velocity field: a callable (x, t) -> velocity_to_score(velocity(x, t), x, t, path).

    Raises:
        TypeError: velocity is not callable, or path is not a `fmlite.paths.Path`.
        ValueError: path is None; on call, as `convert` (x is checked before the velocity sees it).
    """
    if not callable(velocity):
        raise TypeError(f"score_from_velocity needs a callable velocity (x, t) -> v, got {type(velocity).__name__}")
    check_path(path, "score_from_velocity")

    def score(x, t):
        x = check_batch(x, "x", owner="score_from_velocity")
        return velocity_to_score(call_velocity(velocity, x, check_time(t, x.shape[0], like=x)), x, t, path)
    return score


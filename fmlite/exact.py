"""The exact marginal velocity and density of a path towards a finite data set.

Setting: x_0 ~ N(0, I), eps ~ N(0, I), x_1 uniform over N data points x^(1)..x^(N) (the rows of `data`).
Given x_1 = x^(i), x_t = alpha_t x^(i) + z with z = beta_t x_0 + sigma_t eps ~ N(0, s_t^2 I),
s_t^2 = beta_t^2 + sigma_t^2. So p_t is a mixture of N Gaussians

    p_t(x) = (1/N) sum_i N(x; alpha_t x^(i), s_t^2 I),

the posterior over data points is w_i(x) = softmax_i(-|x - alpha_t x^(i)|^2 / (2 s_t^2)), and
(Gaussian conditioning, E[beta'_t x_0 + sigma'_t eps | z] = (beta_t beta'_t + sigma_t sigma'_t) / s_t^2 * z)

    u_t(x) = E[u_t(x_t | z) | x_t = x]          (u_t(x_t | z) the per-sample target, z = (x_0, x_1, eps))
           = alpha'_t x1_hat(x) + (beta_t beta'_t + sigma_t sigma'_t) / s_t^2 * (x - alpha_t x1_hat(x)),
    x1_hat(x) = E[x_1 | x_t = x] = sum_i w_i(x) x^(i).

Only sigma_t sigma'_t = (1/2) d sigma_t^2 / dt enters (`Schedule.variance_rate`), never
sigma'_t alone: for the Brownian bridge sigma'_t is infinite at t = 0 but sigma_t sigma'_t =
s^2 (1 - 2t) / 2 is finite, so the field exists on all of [0, 1] and a solver can start at t = 0.
`log_density` and `posterior_weights` use no derivative at all.

`naive_marginal_velocity` is the same conditioning without the sigma'_t eps term: the field a
network learns from the naive target alpha'_t x_1 + beta'_t x_0; the two differ by
(sigma_t sigma'_t / s_t^2) (x - alpha_t ybar(x)).

This is the field that the flow matching loss is minimised by (Lipman et al. 2023,
Theorem 1 and eq. (8)); integrating it reproduces the data set: it memorises.

At t = 1 on a path with sigma(1) = 0 we have s_1 = 0: x_t = x_1 and x_0, eps are
independent of x_t, so the conditional expectation is u_1(x) = alpha'_1 * x^(i*), with
x^(i*) the data point nearest to x (the s -> 0 limit of the posterior). It is finite but
not the limit along a trajectory: the field is discontinuous at t = 1. The same
convention holds for the bridge, whose sigma(1) = 0 too.
Computation runs in float64 with log-sum-exp weights, so no NaN or inf at t = 0 or 1.

Inputs: integer x or data are converted to floating point (the result is float32 then,
otherwise the dtype of x); NaN or infinite values in x or data are refused; an empty batch
x (0, *D) gives an empty result (the one documented exception to `fmlite.checks.check_batch`'s
rule: the field of no points is no points); data needs at least one point; path=None is refused
(pass LinearPath()); finite values so large (about 1e154 and above) that squared distances overflow
float64 are refused with a message saying so. sigma(t) may be at most
`fmlite.checks.SIGMA_MAX` (1e6): there s_t^2 <= 1e12 + 1 and float64 keeps every
distance and log density finite.

Taught in notebook 02 (`notebooks/02_vector_fields.ipynb`); the naive field in notebook 05
(`notebooks/05_noise_and_sigma.ipynb`). Gaussian-mixture data: `fmlite.gaussian_mixture`.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .checks import check_batch, check_no_overflow, check_path, check_time
from .paths import Path

__all__ = ["marginal_velocity", "naive_marginal_velocity", "log_density", "posterior_weights"]


#: Largest number of float64 entries in a (rows, N, D) temporary; bigger batches are split
#: into chunks of rows so memory stays near 128 MB whatever the batch size.
CHUNK_ELEMENTS = 2**24


def _check_inputs(x, data, path) -> tuple[Tensor, Tensor]:
    """Shapes, finiteness and a floating dtype for the points x (B, *D) and the data (N, *D); a path."""
    for name, value in (("x", x), ("data", data)):
        if not isinstance(value, Tensor):
            raise ValueError(f"{name} must be a torch tensor, got {type(value).__name__}; use torch.as_tensor")
    if data.dim() < 2 or data.shape[0] == 0:
        raise ValueError(f"data must have shape (N, *D) with N >= 1 points, got {tuple(data.shape)}")
    if x.dim() < 2 or x.shape[1:] != data.shape[1:]:
        raise ValueError(f"x must have shape (B, *D) = (B, {', '.join(map(str, data.shape[1:]))}) to match data "
                         f"{tuple(data.shape)}, got {tuple(x.shape)}")
    x = check_batch(x, "x", empty=True)   # integer x becomes floating: never round a velocity to integers
    data = check_batch(data, "data")
    check_path(path, "the exact field")
    return x, data


def _chunks(fn, x: Tensor, t, data: Tensor, path: Path):
    """Apply fn(x, t, data, path) to row chunks of x if the batch is large; None if no split is needed."""
    rows = max(1, CHUNK_ELEMENTS // max(1, data[0].numel() * len(data)))
    if x.shape[0] <= rows:
        return None
    t = check_time(t, x.shape[0], like=x)
    return torch.cat([fn(x[i:i + rows], t[i:i + rows], data, path) for i in range(0, x.shape[0], rows)])


class _Prepared(NamedTuple):
    """What every exact quantity starts from, all float64 on x's device (B points, N data points, D = numel)."""

    t: Tensor          # checked times (B,), in x's dtype
    c: dict            # path coefficients at t, float64 (B,) each (with sigma sigma' when prepared for the field)
    xf: Tensor         # the points flattened, (B, D)
    yf: Tensor         # the data flattened, (N, D)
    s2: Tensor         # s_t^2 = beta_t^2 + sigma_t^2, (B,)
    d2: Tensor         # squared distances |x - alpha_t x^(i)|^2, (B, N)


def _prepare(x: Tensor, t, data: Tensor, path: Path, field: bool = False) -> _Prepared:
    """Check t and compute `_Prepared` for points x (B, *D) and data (N, *D); ValueError on bad t or overflow."""
    t = check_time(t, x.shape[0], like=x)
    # float64 throughout; the field needs sigma sigma' only, the density and weights no derivative
    c = path.field_coefficients(t.double()) if field else path.coefficients(t.double(), derivatives=False)
    xf = x.reshape(x.shape[0], data[0].numel()).double()
    yf = data.reshape(data.shape[0], -1).double().to(x.device)
    s2 = c["beta_t"] ** 2 + c["sigma_t"] ** 2  # (B,)
    # squared distances |x - alpha_t x^(i)|^2 = |x|^2 - 2 alpha_t x.x^(i) + alpha_t^2 |x^(i)|^2, (B, N), by one
    # matrix product (float64: the cancellation costs about 1e-16 of |x|^2, far below the softmax's resolution)
    a = c["alpha_t"][:, None]
    d2 = (xf * xf).sum(1, keepdim=True) - 2 * a * (xf @ yf.T) + a ** 2 * (yf * yf).sum(1)[None, :]
    check_no_overflow(d2, "the squared distances |x - alpha_t x^(i)|^2", xf, yf)
    return _Prepared(t, c, xf, yf, s2, d2)


def posterior_weights(x: Tensor, t, data: Tensor, path: Path) -> Tensor:
    """Posterior w_i(x) = P(x_1 = x^(i) | x_t = x) over the data points.

    Args:
        x: points (B, *D). t: times in [0, 1], (B,) or a number.
        data: the data set (N, *D). path: a `fmlite.paths.Path`.

    Returns:
        Tensor (B, N) in float64, rows summing to 1. Where s_t = 0 (t = 1, sigma(1) = 0)
        each row is one-hot on the nearest data point (ties split evenly).

    Raises:
        ValueError: shapes do not match, t is invalid, x or data holds NaN or inf, or data is empty.
    """
    x, data = _check_inputs(x, data, path)
    split = _chunks(posterior_weights, x, t, data, path)
    if split is not None:
        return split
    p = _prepare(x, t, data, path)
    return _weights(p.s2, p.d2)


def _weights(s2: Tensor, d2: Tensor) -> Tensor:
    tiny = s2 <= 0
    logits = -d2 / (2 * torch.where(tiny, torch.ones_like(s2), s2))[:, None]
    w = torch.softmax(logits, dim=1)
    if tiny.any():  # out of place, so the field stays differentiable in x (likelihoods need its divergence)
        nearest = (d2 == d2.min(dim=1, keepdim=True).values).double()
        w = torch.where(tiny[:, None], nearest / nearest.sum(dim=1, keepdim=True), w)
    return w


def marginal_velocity(x: Tensor, t, data: Tensor, path: Path) -> Tensor:
    """Exact marginal velocity u_t(x) = E[u_t | x_t = x] for x_0 ~ N(0, I), x_1 ~ Uniform(data).

    Works for any path in `fmlite.paths`, including sigma(t) != 0 (see the module
    docstring for the formula, the Gaussian-conditioning step and the t = 1 convention).

    Args:
        x: points (B, *D) at which to evaluate the field.
        t: times in [0, 1], shape (B,) or a single number.
        data: the finite data set (N, *D); large batches are split so temporaries stay
            near `CHUNK_ELEMENTS` float64 numbers.
        path: a `fmlite.paths.Path`, e.g. `LinearPath()`.

    Returns:
        Tensor (B, *D) with the dtype of x, finite for every t in [0, 1].

    Raises:
        ValueError: shapes do not match, t is invalid, x or data holds NaN or inf, data is
            empty, or sigma(t) or sigma(t) sigma'(t) is not finite (or above SIGMA_MAX) at t.

    Source: Lipman et al. 2023, eq. (8); the closed form for a finite data set as in
    Bertrand, Gagneux, Massias & Emonet 2025, "On the closed-form of flow matching".
    """
    x, data = _check_inputs(x, data, path)
    split = _chunks(marginal_velocity, x, t, data, path)
    if split is not None:
        return split
    return _field(x, t, data, path, noise_term=True)


def _field(x: Tensor, t, data: Tensor, path: Path, noise_term: bool) -> Tensor:
    """alpha'_t ybar + ((beta_t beta'_t + [sigma_t sigma'_t]) / s_t^2) (x - alpha_t ybar), 0 gain where s_t = 0."""
    p = _prepare(x, t, data, path, field=True)
    c, xf, s2 = p.c, p.xf, p.s2
    w = _weights(s2, p.d2)
    x1_hat = w @ p.yf  # (B, D)
    tiny = s2 <= 0
    rate = c["beta_t"] * c["d_beta_t"] + (c["sigma_d_sigma_t"] if noise_term else 0.0)
    gain = rate / torch.where(tiny, torch.ones_like(s2), s2)
    gain = torch.where(tiny, torch.zeros_like(gain), gain)
    u = c["d_alpha_t"][:, None] * x1_hat + gain[:, None] * (xf - c["alpha_t"][:, None] * x1_hat)
    return u.to(x.dtype).reshape(x.shape)


def naive_marginal_velocity(x: Tensor, t, data: Tensor, path: Path) -> Tensor:
    """The field learned from the naive target alpha'_t x_1 + beta'_t x_0, which drops sigma'(t) eps.

    A network trained on the target x_1 - x_0 of the linear path (the pitfall of COURSE.md) while
    x_t = alpha_t x_1 + beta_t x_0 + sigma(t) eps learns E[alpha'_t x_1 + beta'_t x_0 | x_t = x].
    Given x_1 = y_i, z = x_t - alpha_t y_i = beta_t x_0 + sigma_t eps ~ N(0, s_t^2 I) with
    s_t^2 = beta_t^2 + sigma_t^2, and Gaussian conditioning gives E[x_0 | z] = (beta_t / s_t^2) z. So

        naive(x) = alpha'_t ybar(x) + (beta_t beta'_t / s_t^2) (x - alpha_t ybar(x)),

    with ybar(x) = E[x_1 | x_t = x] the posterior mean (`posterior_weights` @ data), and

        marginal_velocity(x) - naive(x) = (sigma_t sigma'_t / s_t^2) (x - alpha_t ybar(x)),

    the missing E[sigma'(t) eps | x_t = x]. The two agree for every x exactly when sigma' = 0 at t
    (a constant sigma). No sigma'(t) enters at all, so it is finite on [0, 1] for every schedule;
    at s_t = 0 (t = 1, sigma(1) = 0) it uses the convention of `marginal_velocity`.

    Args:
        x: points (B, *D). t: times in [0, 1], (B,) or a number.
        data: the finite data set (N, *D). path: a `fmlite.paths.Path`.

    Returns:
        Tensor (B, *D) with the dtype of x.

    Raises:
        ValueError: as `marginal_velocity`.

    Source: the Gaussian conditioning of `marginal_velocity` without the eps term; the pitfall is the
    target x_1 - x_0 used with a time-dependent sigma(t) (Tong et al. 2024 use x_1 - x_0 + sigma'(t) eps).
    """
    x, data = _check_inputs(x, data, path)
    split = _chunks(naive_marginal_velocity, x, t, data, path)
    if split is not None:
        return split
    return _field(x, t, data, path, noise_term=False)


def log_density(x: Tensor, t, data: Tensor, path: Path) -> Tensor:
    """Exact log p_t(x) of the Gaussian mixture (1/N) sum_i N(x; alpha_t x^(i), s_t^2 I).

    Args:
        x: points (B, *D). t: times in [0, 1], (B,) or a number.
        data: the finite data set (N, *D). path: a `fmlite.paths.Path`.

    Returns:
        Tensor (B,) of log densities (natural log, per unit volume of R^D), dtype of x.

    Raises:
        ValueError: shapes do not match, t is invalid, x or data holds NaN or inf, data is
            empty, or s_t = 0 (t = 1 on a path with
            sigma(1) = 0), where p_1 is a sum of point masses and has no density.
    """
    x, data = _check_inputs(x, data, path)
    split = _chunks(log_density, x, t, data, path)
    if split is not None:
        return split
    p = _prepare(x, t, data, path)
    t, xf, s2, d2 = p.t, p.xf, p.s2, p.d2
    if (s2 <= 0).any():
        bad = t[s2 <= 0][0].item()
        raise ValueError(f"p_t has no density at t = {bad:.6g}: beta_t = sigma_t = 0 there, so p_t is the data's "
                         "point masses; evaluate at t < 1 or use a path with sigma(1) > 0")
    dim = xf.shape[1]
    n = d2.shape[1]
    logp = torch.logsumexp(-d2 / (2 * s2[:, None]), dim=1) - math.log(n) - 0.5 * dim * torch.log(2 * math.pi * s2)
    return logp.to(x.dtype)

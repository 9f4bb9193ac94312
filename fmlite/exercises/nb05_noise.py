"""Notebook 05 (noise and sigma(t)): where the flow starts, and the gap the naive target leaves in the field.

Worked solutions beside their checkers. The schedules tried include asymmetric ones
(σ(t) = 0.3 + 0.5 t, so σ(1) cannot pass for σ(0); σ(t) = 0.5 t (1 − t)², so σ(1 − t) cannot
pass for σ(t)); inputs are float64 with one time per sample, and every answer is called with the sizes
`SIZES` (B = 7 points, D = 2 coordinates, N = 4 data points, then 5, 3 and 6).
"""
from __future__ import annotations

import torch

from .compare import check_dtype, compare, reject_known, reject_where_finite
from .framework import Mismatch, call_untouched, register
from .inputs import SIZES, domain_times, lopsided_sigma, one_time_variants


def start_noise(x_0, sigma):
    """The points of p_0 made from standard-normal x_0 (B, D): at t = 0, x_t = x_0 + sigma(0) eps is
    N(0, (1 + sigma(0)^2) I), so scale x_0 by sqrt(1 + sigma(0)^2). sigma is a schedule (callable on t (B,)).
    Restates the package's `fmlite.widgets.start_noise` (tests/exercises/test_nb05.py compares the two)."""
    s0 = sigma(torch.zeros(1, dtype=x_0.dtype))[0]  # sigma(0), a number
    return x_0 * torch.sqrt(1 + s0 ** 2)


def _check_start_noise(answer):
    """Domain: t = 0 only (the start); schedules with sigma(0) = 0, 0.5, 1.5 and an asymmetric 0.3 + 0.5 t, each
    with x_0 float64 of shape (7, 2), then (5, 3) (`SIZES`)."""
    from ..paths import ConstantSigma, Sigma, SineSigma
    for sigma in (ConstantSigma(0.5), Sigma(lambda t: 0.3 + 0.5 * t, name="0.3 + 0.5 t"), ConstantSigma(1.5),
                  SineSigma(1.0)):
        for B, D, _, _ in SIZES:
            _check_start_noise_once(answer, sigma, B, D)
    return "with a constant σ the flow starts from N(0, (1 + σ²) I), not from N(0, I)."


def _check_start_noise_once(answer, sigma, B, D):
    x_0 = torch.randn(B, D, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    got = call_untouched(answer, x_0, sigma, names=("x_0",))
    expected = start_noise(x_0, sigma)
    s0 = float(sigma(torch.zeros(1, dtype=torch.float64))[0])
    s1 = float(sigma(torch.ones(1, dtype=torch.float64))[0])
    sh = float(sigma(torch.full((1,), 0.5, dtype=torch.float64))[0])
    where = f" (for the schedule {sigma!r}, σ(0) = {s0:g}; {B} points in {D}-d)"
    check_dtype(got, torch.float64, "the starting points", where)
    reject_known(got, [
        ("the points are unchanged: with σ(0) > 0, x_t at t = 0 is x_0 + σ(0) ε, wider than N(0, I); "
         "scale x_0 by √(1 + σ(0)²)", x_0),
        ("you scaled by 1 + σ(0)², the variance; the standard deviation is √(1 + σ(0)²)",
         x_0 * (1 + s0 ** 2)),
        ("you scaled by 1 + σ(0); standard deviations do not add, variances do: √(1 + σ(0)²)", x_0 * (1 + s0)),
        ("you shifted the points by σ(0); the noise widens p_0, it does not move it: x_0 √(1 + σ(0)²)",
         x_0 + s0),
        ("you scaled by σ(0) alone; x_0 itself has variance 1 too: √(1 + σ(0)²)", x_0 * s0),
        ("you divided by √(1 + σ(0)²); p_0 is wider than N(0, I), so multiply", x_0 / (1 + s0 ** 2) ** 0.5),
        ("you used σ(1); the flow starts at t = 0 (noise), so use σ(0)", x_0 * (1 + s1 ** 2) ** 0.5),
        ("you used σ at t = 0.5; the flow starts at t = 0, so use σ(0)", x_0 * (1 + sh ** 2) ** 0.5),
        ("you scaled by √(1 + σ(0)); the variance added is σ(0)², so √(1 + σ(0)²)", x_0 * (1 + s0) ** 0.5),
    ], expected, where)
    compare(got, expected, "the starting points", where)


register("05.start_noise", "the starting points of p_0 when σ(0) > 0", start_noise, _check_start_noise)


def naive_field_gap(x, t, data, path):
    """The correct exact field minus the field of the naive target (without sigma'(t) eps):
    (sigma_t sigma'_t / (beta_t^2 + sigma_t^2)) (x - alpha_t xbar), xbar = E[x_1 | x_t = x].

    x (B, D), t (B,), data (N, D), path a fmlite.paths.Path; returns (B, D).
    """
    from ..exact import posterior_weights
    c = path.field_coefficients(t)             # alpha_t, beta_t, sigma_t, sigma_d_sigma_t, ... each (B,)
    x1_bar = posterior_weights(x, t, data, path) @ data      # posterior mean of x_1, (B, D)
    gain = c["sigma_d_sigma_t"] / (c["beta_t"] ** 2 + c["sigma_t"] ** 2)
    return gain[:, None] * (x - c["alpha_t"][:, None] * x1_bar)


def _paths():
    """(path, hi): the largest time tried; t = 1 is left out where beta_1 = sigma(1) = 0 (the formula is 0 / 0
    there, the exact fields set the gap to 0)."""
    from ..paths import BridgeSigma, ConstantSigma, CosinePath, LinearPath, SineSigma
    asym = lopsided_sigma()
    return [(LinearPath(asym), 0.99), (LinearPath(BridgeSigma(0.8)), 0.99), (CosinePath(SineSigma(0.7)), 0.99),
            (LinearPath(ConstantSigma(0.5)), 1.0)]


def _check_naive_field_gap(answer):
    """Domain: t in [0, 0.99] (both fields are finite, the bridge at t = 0 included), [0, 1] for constant σ;
    float64, one t per sample; every path with (B, D, N) = (7, 2, 4), then (5, 3, 6) (`SIZES`)."""
    for path, hi in _paths():
        for B, D, N, _ in SIZES:
            _check_naive_field_gap_once(answer, path, hi, B, D, N)
    return ("the gap vanishes where σ' = 0 (a constant σ) and grows with σσ'; it is the mean of σ'(t) ε "
            "given x_t, which the naive target leaves out.")


def _check_naive_field_gap_once(answer, path, hi, B, D, N):
    from ..exact import posterior_weights
    g = torch.Generator().manual_seed(7)
    x = 1.5 * torch.randn(B, D, generator=g, dtype=torch.float64)
    data = torch.randn(N, D, generator=g, dtype=torch.float64) + torch.tensor([1.0, -0.5, 0.3][:D], dtype=torch.float64)
    t = domain_times(B, 0.0, hi, seed=8)
    got = call_untouched(answer, x, t, data, path, names=("x", "t", "data"))
    expected = naive_field_gap(x, t, data, path)
    c = path.field_coefficients(t)
    a, b, s, ss = (c[k][:, None] for k in ("alpha_t", "beta_t", "sigma_t", "sigma_d_sigma_t"))
    bb = (c["beta_t"] * c["d_beta_t"])[:, None]
    xbar = posterior_weights(x, t, data, path) @ data
    s2 = b ** 2 + s ** 2
    where = f" (for the path {path!r}, {B} points in {D}-d, each with its own t in [0, {hi:g}]; N = {N} data points)"
    check_dtype(got, torch.float64, "the gap", where)
    mistakes = [
        ("the gap has the wrong sign: correct minus naive is + (σσ' / (β² + σ²)) (x − α x̄)",
         -ss / s2 * (x - a * xbar)),
        ("x̄ must be scaled by α_t: the noise part of x_t is x − α_t x_1, so use x − α_t x̄",
         ss / s2 * (x - xbar)),
        ("you used the plain mean of the data; x̄ is the posterior mean E[x_1 | x_t = x] "
         "(posterior_weights @ data)", ss / s2 * (x - a * data.mean(0))),
        ("you divided by β_t² only; the noise x_t − α_t x_1 = β_t x_0 + σ_t ε has variance β_t² + σ_t²",
         ss / b ** 2 * (x - a * xbar)),
        ("you divided by σ_t² only; the noise x_t − α_t x_1 = β_t x_0 + σ_t ε has variance β_t² + σ_t²",
         ss / s ** 2 * (x - a * xbar)),
        ("you divided by the standard deviation √(β² + σ²); Gaussian conditioning divides by the variance",
         ss / s2.sqrt() * (x - a * xbar)),
        ("you used (ββ' + σσ') / (β² + σ²): that is the whole correct gain; the gap is the σσ' part only",
         (bb + ss) / s2 * (x - a * xbar)),
        ("you used ββ' / (β² + σ²): that is what the naive field keeps; the gap is the σσ' part",
         bb / s2 * (x - a * xbar)),
        ("time runs the wrong way: t = 0 is noise, t = 1 is data; you evaluated the gap at 1 − t",
         naive_field_gap(x, 1 - t, data, path)),
        ("you forgot the factor σ_t σ'_t (sigma_d_sigma_t)", (x - a * xbar) / s2),
        ("you returned x − α_t x̄ without the gain σσ' / (β² + σ²)", x - a * xbar),
    ]
    # a slip that divides by zero somewhere (β² alone, σ² alone, 1 − t) is named by the rows where it is finite
    reject_where_finite(got, mistakes, where, expected=expected)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and not torch.isfinite(got).all():
        rows = ~torch.isfinite(got.detach()).reshape(B, -1).all(1)
        bad = sorted({round(float(v), 3) for v in t[rows]})
        d_sigma = path.sigma.derivative(t)
        hint = ("use sigma_d_sigma_t (σσ'), which stays finite where σ' does not"
                if not torch.isfinite(d_sigma[rows]).any() else
                "check each division: β_t² + σ_t² stays positive on these times")
        raise Mismatch(f"the gap is NaN or inf at t = {bad}, where the formula is finite; {hint}{where}")
    reject_known(got, mistakes + one_time_variants(lambda r: naive_field_gap(x, r, data, path), t), expected, where)
    compare(got, expected, "the gap", where, t=t)


register("05.naive_field_gap", "the correct minus the naive exact field", naive_field_gap, _check_naive_field_gap)

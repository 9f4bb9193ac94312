"""Notebook 01 (interpolation paths): the stochastic interpolant x_t and its target velocity u_t.

Worked solutions beside their checkers. The schedules tried include an asymmetric one,
σ(t) = 0.5 t (1 − t)² (σ(0.2) = 0.064, σ(0.8) = 0.016), so that σ(1 − t) cannot pass for σ(t).
"""
from __future__ import annotations

import torch

from .compare import compare, reject_known
from .framework import call_untouched, register
from .inputs import SIZES, domain_times, lopsided_sigma, one_time_variants


def _inputs(seed: int, B: int, D: int):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(B, D, generator=g, dtype=torch.float64) for _ in range(3))


def _calls():
    """(schedule, lo, hi, B, D) for every call: each schedule once with each of the sizes `SIZES`."""
    return [(sigma, lo, hi, B, D) for sigma, lo, hi in _schedules() for B, D, _, _ in SIZES]


def _schedules():
    """(schedule, lo, hi): the time domain on which each schedule's x_t and u_t are finite."""
    from ..paths import BridgeSigma, ConstantSigma, SineSigma
    asym = lopsided_sigma()
    return [(asym, 0.0, 1.0), (SineSigma(0.5), 0.0, 1.0), (ConstantSigma(0.5), 0.0, 1.0),
            (ConstantSigma(0.0), 0.0, 1.0), (BridgeSigma(0.8), 0.01, 0.99)]


def stochastic_interpolant(x_0, x_1, t, eps, sigma):
    """x_t = (1 - t) x_0 + t x_1 + sigma(t) eps: the straight path from noise to data, blurred by sigma(t).

    x_0, x_1, eps have shape (B, 2), t has shape (B,); sigma is a schedule such as
    fmlite.paths.BridgeSigma(0.5), and sigma(t) has shape (B,).
    """
    sigma_t = sigma(t)[:, None]  # (B, 1): broadcasts against (B, 2)
    t = t[:, None]
    return (1 - t) * x_0 + t * x_1 + sigma_t * eps


def _check_stochastic_interpolant(answer):
    """Domain: t in [0, 1] (both ends) for every schedule; the bridge, whose σ' is infinite at the ends, is
    tried on [0.01, 0.99] only for σ'-based mistakes to stay finite. Float64, one t per sample, each schedule
    with each of the sizes `SIZES` ((B, D) = (7, 2), then (5, 3))."""
    for sigma, lo, hi, B, D in _calls():
        x_0, x_1, eps = _inputs(0, B, D)
        t = domain_times(B, 0.0, 1.0, seed=3)
        got = call_untouched(answer, x_0, x_1, t, eps, sigma, names=("x_0", "x_1", "t", "eps"))
        expected = stochastic_interpolant(x_0, x_1, t, eps, sigma)
        tt, s, s_flip = t[:, None], sigma(t)[:, None], sigma(1 - t)[:, None]
        ds = sigma.derivative(t.clamp(lo, hi))[:, None]
        line = (1 - tt) * x_0 + tt * x_1
        where = f" (for the schedule {sigma!r}, {B} samples in {D}-d, each with its own t in [0, 1])"
        reject_known(got, [
            ("x_0 and x_1 are swapped: t = 0 is the noise x_0 and t = 1 is the data x_1, "
             "so x_t = (1 − t) x_0 + t x_1 + σ(t) ε", tt * x_0 + (1 - tt) * x_1 + s * eps),
            ("x_t is missing the noise term σ(t) ε", line),
            ("you used σ'(t) (sigma.derivative); x_t needs σ(t) ε, the derivative belongs in u_t", line + ds * eps),
            ("σ(t) is the standard deviation of the extra noise: multiply ε by σ(t), not by σ(t)² (a variance)",
             line + s ** 2 * eps),
            ("σ(t) is already the standard deviation: multiply ε by σ(t), not by its square root",
             line + s.sqrt() * eps),
            ("you evaluated σ at 1 − t; the noise scale at time t is σ(t) (time is not flipped)", line + s_flip * eps),
            ("the noise term has the wrong sign: + σ(t) ε", line - s * eps),
            ("you returned the data x_1 itself; x_t = (1 − t) x_0 + t x_1 + σ(t) ε", x_1),
            ("σ(t) ε is added once, not scaled by (1 − t): x_t = (1 − t) x_0 + t x_1 + σ(t) ε",
             line + (1 - tt) * s * eps),
        ] + one_time_variants(lambda r: stochastic_interpolant(x_0, x_1, r, eps, sigma), t)
          + one_time_variants(lambda r: line + sigma(r)[:, None] * eps, t), expected, where)
        compare(got, expected, "x_t", where, t=t)
    return ("x_t hits x_0 at t = 0 and x_1 at t = 1 exactly when σ(0) = σ(1) = 0 (bridge, sine), "
            "never with a constant σ > 0.")


register("01.stochastic_interpolant", "the stochastic interpolant x_t with σ(t)", stochastic_interpolant,
         _check_stochastic_interpolant)


def target_velocity(x_0, x_1, t, eps, sigma):
    """The conditional target u_t = d x_t / dt = x_1 - x_0 + sigma'(t) eps of the stochastic interpolant
    x_t = (1 - t) x_0 + t x_1 + sigma(t) eps (shapes as in stochastic_interpolant)."""
    d_sigma_t = sigma.derivative(t)[:, None]  # sigma'(t), (B, 1)
    return x_1 - x_0 + d_sigma_t * eps


def _check_target_velocity(answer):
    """Domain: where σ'(t) is finite: t in [0, 1] for the asymmetric, sine and constant schedules,
    [0.01, 0.99] for the bridge (σ' is infinite at its ends). Float64, one t per sample, each schedule with each
    of the sizes `SIZES`."""
    for sigma, lo, hi, B, D in _calls():
        x_0, x_1, eps = _inputs(1, B, D)
        t = domain_times(B, lo, hi, seed=4)
        got = call_untouched(answer, x_0, x_1, t, eps, sigma, names=("x_0", "x_1", "t", "eps"))
        expected = target_velocity(x_0, x_1, t, eps, sigma)
        tt, s, ds = t[:, None], sigma(t)[:, None], sigma.derivative(t)[:, None]
        ds_flip = sigma.derivative(1 - t)[:, None]
        where = f" (for the schedule {sigma!r}, {B} samples in {D}-d, each with its own t in [{lo:g}, {hi:g}])"
        reject_known(got, [
            ("you returned x_1 − x_0, the target for a constant σ only; here σ changes with t, so x_t also "
             "moves with the noise: add σ'(t) ε (sigma.derivative(t))", x_1 - x_0),
            ("you added σ(t) ε, but the time derivative of σ(t) ε is σ'(t) ε (sigma.derivative(t))",
             x_1 - x_0 + s * eps),
            ("x_1 − x_0 is flipped: the path runs from the noise x_0 to the data x_1", x_0 - x_1 + ds * eps),
            ("the σ'(t) ε term has the wrong sign", x_1 - x_0 - ds * eps),
            ("you evaluated σ' at 1 − t; the target at time t uses σ'(t) (time is not flipped)",
             x_1 - x_0 + ds_flip * eps),
            ("you evaluated σ' at 1 − t and flipped its sign (a chain rule for flipped time); use σ'(t)",
             x_1 - x_0 - ds_flip * eps),
            ("you returned x_t, the position; u_t is its time derivative x_1 − x_0 + σ'(t) ε",
             (1 - tt) * x_0 + tt * x_1 + s * eps),
            ("σ'(t) ε is not scaled by σ(t): u_t = x_1 − x_0 + σ'(t) ε", x_1 - x_0 + s * ds * eps),
            ("you returned the data x_1; the target is the velocity x_1 − x_0 + σ'(t) ε", x_1),
        ] + one_time_variants(lambda r: target_velocity(x_0, x_1, r, eps, sigma), t), expected, where)
        compare(got, expected, "u_t", where, t=t)
    return "u_t = x_1 − x_0 + σ'(t) ε is the time derivative of x_t, noise term included."


register("01.target_velocity", "the target velocity u_t, σ'(t) ε included", target_velocity,
         _check_target_velocity)

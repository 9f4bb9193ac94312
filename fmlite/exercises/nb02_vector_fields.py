"""Notebook 02 (vector fields): conditional velocity, posterior weights, the average (marginal) velocity.

The setting: the straight path x_t = (1 - t) x_0 + t x_1 with sigma = 0, x_0 ~ N(0, I), x_1 uniform
over a small data set y_1..y_N (an (N, D) tensor), times t < 1. Worked solutions beside checkers.
"""
from __future__ import annotations

import torch

from .compare import compare, reject_known
from .framework import Mismatch, call_untouched, register
from .inputs import SIZES, domain_times, one_time_variants

T_MAX = 0.999      # the formulas divide by 1 - t: every t in [0, 0.999] is tried, float64


def _inputs(seed: int, B: int, D: int, N: int):
    """Points x = x_t (B, D) on straight paths towards a small data set (N, D), each with its own t (float64)."""
    g = torch.Generator().manual_seed(seed)
    data = 1.5 * torch.randn(N, D, generator=g, dtype=torch.float64)
    x_0 = torch.randn(B, D, generator=g, dtype=torch.float64)
    x_1 = data[torch.arange(B) % N]
    t = domain_times(B, 0.0, T_MAX, seed=seed)
    x = (1 - t[:, None]) * x_0 + t[:, None] * x_1
    # near t = 1 a point on a path has one-hot weights whatever the formula: put those points between two data
    # points instead, (1 - t)^2 off the midpoint, where the weights stay far from one-hot and depend on 1 - t
    late = t > 0.9
    midpoint = t[:, None] * (data[0] + data[1]) / 2
    x[late] = (midpoint + (1 - t[:, None]) ** 2 * torch.randn(B, D, generator=g, dtype=torch.float64))[late]
    return x, x_0, x_1, t, data


def conditional_velocity(x, x_1, t):
    """The velocity at x (time t < 1) of the straight path that reaches the data point x_1 at t = 1:
    the distance still to go, x_1 - x, divided by the time left, 1 - t. Shapes: x, x_1 (B, D), t (B,)."""
    return (x_1 - x) / (1 - t)[:, None]


def _check_conditional_velocity(answer):
    """Domain: t in [0, 0.999] (1 - t is divided by), float64 points each with its own t, batch
    size and dimension (B, D) = (7, 2), then (5, 3) (`SIZES`)."""
    for B, D, N, _ in SIZES:
        _check_conditional_velocity_once(answer, B, D, N)
    return "on the straight path (x = x_t) it equals x_1 − x_0 at every t: constant speed, straight line."


def _check_conditional_velocity_once(answer, B, D, N):
    x, x_0, x_1, t, _ = _inputs(2, B, D, N)
    got = call_untouched(answer, x, x_1, t, names=("x", "x_1", "t"))
    expected = conditional_velocity(x, x_1, t)
    tt = t[:, None]
    where = f" ({B} points in {D}-d, each with its own t in [0, {T_MAX:g}])"
    reject_known(got, [
        ("you returned x_1 − x, the distance still to go; divide it by the time left, 1 − t", x_1 - x),
        ("divide by the time left, 1 − t, not by t", (x_1 - x) / tt.clamp(min=1e-3)),
        ("divide by the time left, 1 − t, not multiply", (x_1 - x) * (1 - tt)),
        ("divide by the time left 1 − t once, not by (1 − t)²", (x_1 - x) / (1 - tt) ** 2),
        ("you clamped the time left 1 − t; near t = 1 it is small and the speed large, and no clamp is needed "
         "for t < 1", (x_1 - x) / (1 - tt).clamp(min=0.05)),
        ("you returned the data point x_1; the velocity is (x_1 − x) / (1 − t)", x_1),
        ("the velocity is (x_1 − x) / (1 − t), from x towards x_1, not x_1 / (1 − t)", x_1 / (1 - tt)),
        ("time runs the wrong way: the time left is 1 − t, so divide by 1 − t, not by 1 + t", (x_1 - x) / (1 + tt)),
    ] + one_time_variants(lambda s: conditional_velocity(x, x_1, s), t), expected, where)
    compare(got, expected, "u_t", where, t=t)


register("02.conditional_velocity", "the conditional velocity towards one data point", conditional_velocity,
         _check_conditional_velocity)


def posterior_weights(x, t, data):
    """w_i(x) = P(x_1 = x^(i) | x_t = x) for every data point x^(i) (the rows of data, (N, D)); x (B, D), t (B,).

    Given x_1 = x^(i), x_t = t x^(i) + (1 - t) x_0 is Gaussian with mean t x^(i) and standard deviation
    1 - t, so by Bayes' rule (uniform prior) w_i(x) is proportional to exp(-|x - t x^(i)|^2 / (2 (1 - t)^2)).
    Returns (B, N), each row summing to 1. Restates `fmlite.exact.posterior_weights` for LinearPath() (sigma = 0;
    tests/exercises/test_nb02.py compares the two).
    """
    d2 = ((x[:, None, :] - t[:, None, None] * data[None, :, :]) ** 2).sum(-1)  # (B, N) squared distances
    return torch.softmax(-d2 / (2 * (1 - t)[:, None] ** 2), dim=1)  # softmax = exp, then normalise each row


def _weights(x, t, data, centre=None, var=None, sign=-1.0):
    tt = t[:, None]
    centre = tt[:, :, None] * data[None] if centre is None else centre
    var = (1 - tt) ** 2 if var is None else var
    return torch.softmax(sign * ((x[:, None, :] - centre) ** 2).sum(-1) / (2 * var), dim=1)


def _check_posterior_weights(answer):
    """Domain: t in [0, 0.999] (the variance (1 - t)² must stay positive), float64 points; (B, D, N) = (7, 2, 4),
    then (5, 3, 6) (`SIZES`)."""
    for B, D, N, _ in SIZES:
        _check_posterior_weights_once(answer, B, D, N)
    return "near t = 1 each row becomes one-hot: x_t already knows which data point it is heading to."


def _check_posterior_weights_once(answer, B, D, N):
    x, _, _, t, data = _inputs(3, B, D, N)
    got = call_untouched(answer, x, t, data, names=("x", "t", "data"))
    expected = posterior_weights(x, t, data)
    where = f" ({B} points in {D}-d, each with its own t in [0, {T_MAX:g}]; N = {N} data points)"
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and torch.isfinite(got).all():
        sums = got.detach().double().sum(dim=1)
        if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
            raise Mismatch(f"each row of weights must sum to 1 (one probability per data point), got row sums "
                           f"{[round(float(v), 3) for v in sums]}; normalise over the data points, e.g. "
                           "torch.softmax(logits, dim=1)")
    tt = t[:, None]
    reject_known(got, [
        ("compare x with t x^(i), not with x^(i): at time t the paths towards x^(i) are centred at t x^(i)",
         _weights(x, t, data, centre=data[None])),
        ("the noise left in x_t is (1 − t) x_0, whose variance is (1 − t)², not 1 − t (that is the standard "
         "deviation)", _weights(x, t, data, var=1 - tt)),
        ("the sign of the exponent is flipped: nearer data points must get larger weights",
         _weights(x, t, data, sign=1.0)),
        ("the Gaussian exponent is −|x − t x^(i)|² / (2 (1 − t)²): you left out the 2",
         _weights(x, t, data, var=(1 - tt) ** 2 / 2)),
        ("time runs the wrong way: centre t x^(i) with standard deviation 1 − t, not (1 − t) x^(i) and t",
         _weights(x, t, data, centre=(1 - tt)[:, :, None] * data[None], var=tt.clamp(min=1e-3) ** 2)),
        ("these are the uniform prior weights 1/N: use the distances to t x^(i) (Bayes' rule)",
         torch.full_like(expected, 1.0 / N)),
        ("the exponent uses the squared distance |x − t x^(i)|², not the distance itself",
         torch.softmax(-((x[:, None, :] - tt[:, :, None] * data[None]) ** 2).sum(-1).sqrt() / (2 * (1 - tt) ** 2),
                       dim=1)),
    ] + one_time_variants(lambda s: posterior_weights(x, s, data), t), expected, where)
    compare(got, expected, "the weight matrix", where + " (expected one row per point x, one column per data point)",
            t=t)


register("02.posterior_weights", "posterior weights over a small data set", posterior_weights,
         _check_posterior_weights)


def average_velocity(x, t, data):
    """The marginal velocity u_t(x) = sum_i w_i(x) (x^(i) - x) / (1 - t): the conditional velocities towards
    every data point x^(i), averaged with the posterior weights w_i(x). x (B, D), t (B,), data (N, D)."""
    d2 = ((x[:, None, :] - t[:, None, None] * data[None, :, :]) ** 2).sum(-1)  # (B, N)
    w = torch.softmax(-d2 / (2 * (1 - t)[:, None] ** 2), dim=1)  # posterior weights, (B, N)
    u_i = (data[None, :, :] - x[:, None, :]) / (1 - t)[:, None, None]  # conditional velocities, (B, N, D)
    return (w[:, :, None] * u_i).sum(dim=1)


def _check_average_velocity(answer):
    """Domain: t in [0, 0.999] (1 - t is divided by), float64 points; (B, D, N) = (7, 2, 4), then (5, 3, 6)
    (`SIZES`)."""
    for B, D, N, _ in SIZES:
        _check_average_velocity_once(answer, B, D, N)
    return "the wind at x is the weighted average of where every stalk through x is told to go."


def _check_average_velocity_once(answer, B, D, N):
    x, _, _, t, data = _inputs(4, B, D, N)
    got = call_untouched(answer, x, t, data, names=("x", "t", "data"))
    expected = average_velocity(x, t, data)
    tt = t[:, None]
    w = posterior_weights(x, t, data)
    to_go = data[None] - x[:, None]  # (B, N, D)
    where = f" ({B} points in {D}-d, each with its own t in [0, {T_MAX:g}]; N = {N} data points)"
    reject_known(got, [
        ("you averaged over all data points equally; weight each one by w_i(x) = P(x_1 = x^(i) | x_t = x)",
         to_go.mean(dim=1) / (1 - tt)),
        ("you averaged the distances x^(i) − x; divide them by the time left, 1 − t, to get velocities",
         (w[:, :, None] * to_go).sum(dim=1)),
        ("the velocity points from x towards the data: x^(i) − x, not x − x^(i)", -expected),
        ("this is E[x_1 | x_t = x], the denoised point; the velocity is (E[x_1 | x_t = x] − x) / (1 − t)",
         w @ data if w.dim() == 2 else w),
        ("the weights compare x with t x^(i), not with x^(i)", (_weights(x, t, data, centre=data[None])[:, :, None]
                                                           * to_go).sum(1) / (1 - tt)),
        ("the weights use the variance (1 − t)², not 1 − t",
         (_weights(x, t, data, var=1 - tt)[:, :, None] * to_go).sum(1) / (1 - tt)),
        ("divide by the time left, 1 − t, not by t", (w[:, :, None] * to_go).sum(dim=1) / tt.clamp(min=1e-3)),
        ("you took the velocity towards the most likely data point only; average over all of them with the "
         "weights", to_go[torch.arange(B), w.argmax(dim=1)] / (1 - tt)),
    ] + one_time_variants(lambda s: average_velocity(x, s, data), t), expected, where)
    compare(got, expected, "u_t(x)", where, t=t)


register("02.average_velocity", "the average (marginal) velocity as a weighted average", average_velocity,
         _check_average_velocity)

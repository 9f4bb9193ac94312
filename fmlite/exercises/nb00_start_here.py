"""Notebook 00 (start here): x_t on the straight path, and one Euler step. Worked solutions beside checkers."""
from __future__ import annotations

import torch

from .compare import compare, reject_known
from .framework import call_untouched, register
from .inputs import ONE_TIME, SIZES, StandInField, domain_times, one_time_variants


def _batch(seed: int, B: int, D: int):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, D, generator=g, dtype=torch.float64),
            torch.randn(B, D, generator=g, dtype=torch.float64))


def interpolate(x_0, x_1, t):
    """x_t on the straight line from noise x_0 (t = 0) to data x_1 (t = 1); t has shape (B,)."""
    t = t[:, None]
    return (1 - t) * x_0 + t * x_1


def _check_interpolate(answer):
    """Domain: t in [0, 1], both ends included; float64 batches of the sizes `SIZES` ((7, 2), then (5, 3)),
    each sample with its own t."""
    for B, D, _, _ in SIZES:
        _check_interpolate_once(answer, B, D)
    return "x_t starts at the noise (t = 0) and ends at the data (t = 1)."


def _check_interpolate_once(answer, B, D):
    x_0, x_1 = _batch(0, B, D)
    t = domain_times(B)
    got = call_untouched(answer, x_0, x_1, t, names=("x_0", "x_1", "t"))
    expected = interpolate(x_0, x_1, t)
    tt = t[:, None]
    where = f" ({B} samples in {D}-d, each with its own t in [0, 1])"
    reject_known(got, [
        ("you returned the data x_1 itself; x_t moves from the noise x_0 (t = 0) to the data x_1 (t = 1): "
         "x_t = (1 − t) x_0 + t x_1", x_1),
        ("you returned the noise x_0 itself; x_t = (1 − t) x_0 + t x_1 moves to the data as t grows", x_0),
        ("x_t runs backwards: t = 0 is the noise x_0 and t = 1 the data x_1, so x_t = (1 − t) x_0 + t x_1, "
         "not t x_0 + (1 − t) x_1", tt * x_0 + (1 - tt) * x_1),
        ("x_1 − x_0 is the velocity of the path, not its position x_t = (1 − t) x_0 + t x_1", x_1 - x_0),
        ("the two weights must add up to 1: x_t = (1 − t) x_0 + t x_1, not x_0 + t x_1", x_0 + tt * x_1),
        ("this is the midpoint (x_0 + x_1) / 2 for every t; weight the ends by 1 − t and t", (x_0 + x_1) / 2),
        ("t x_1 alone forgets the noise: x_t = (1 − t) x_0 + t x_1", tt * x_1),
        ("x_0 carries the weight 1 − t, not −t: x_t = (1 − t) x_0 + t x_1", -tt * x_0 + tt * x_1),
    ] + one_time_variants(lambda s: interpolate(x_0, x_1, s), t), expected, where)
    compare(got, expected, "x_t", where, t=t)


register("00.interpolate", "x_t on the straight path", interpolate, _check_interpolate)


def euler_step(x, t, h, velocity):
    """One Euler step of dx/dt = velocity(x, t): move along the arrow for a time h."""
    return x + h * velocity(x, t)


def _rotation(x, t):
    """A rotation-like test field in any dimension D >= 2 (in 2-d the quarter turn (-x_2, x_1)), faster with t."""
    return torch.cat([-x[:, -1:], x[:, :-1]], dim=1) * (1 + t[:, None]) + 0.4 * torch.sin(3 * t)[:, None]


def _check_euler_step(answer):
    """Domain: t in [0, 1 − h] (the step must end by t = 1), for h = 0.1 on 7 float64 points in 2-d and h = 0.02
    on 5 in 3-d (`SIZES`), each with its own t; the field refuses the input `fmlite.models.MLP` refuses
    (velocity(t, x), t of shape (B, 1))."""
    for (B, D, _, _), h in zip(SIZES, (0.1, 0.02)):
        x, _ = _batch(1, B, D)
        field = StandInField(_rotation, dim=D)
        t = domain_times(B, 0.0, 1.0 - h, seed=2)
        got = call_untouched(answer, x, t, h, field, names=("x", "t"))
        expected = euler_step(x, t, h, _rotation)
        v = _rotation(x, t)
        where = f" (h = {h}, {B} points in {D}-d, each with its own t in [0, {1 - h:g}])"
        reject_known(got, [
            (f"you moved by the whole velocity v(x, t); multiply it by the step size h (h = {h} here): "
             "x + h v(x, t)", x + v),
            ("you returned only the displacement h v(x, t); add it to the current position x", h * v),
            ("you stepped against the arrow: Euler moves along the velocity, x + h v(x, t), not x − h v(x, t)",
             x - h * v),
            ("you evaluated the velocity at the end of the step, t + h; Euler uses the slope where the step "
             "starts, v(x, t)", x + h * _rotation(x, t + h)),
            ("time runs the wrong way: evaluate v(x, t), not v(x, 1 − t)", x + h * _rotation(x, 1 - t)),
            ("you returned the velocity v(x, t), not the new position x + h v(x, t)", v),
            ("you divided by the step size: x + h v(x, t), not x + v(x, t) / h", x + v / h),
            ("the step size is h, not h²: x + h v(x, t)", x + h * h * v),
        ] + [(ONE_TIME, x + h * vv) for _, vv in one_time_variants(lambda s: _rotation(x, s), t)], expected, where)
        compare(got, expected, "the new x", where, t=t)
    return "x + h v(x, t): follow the wind for a short time h."


register("00.euler_step", "one Euler step", euler_step, _check_euler_step)

"""Notebook 04 (sampling): an Euler sampler that keeps the trajectory, and one RK4 step.

Worked solutions beside checkers. Each answer is called with the sizes `SIZES`: batch 7, steps 5, dimension 2,
then batch 5, steps 8, dimension 3, pairwise different, so a trajectory stacked on the wrong axis has the wrong
shape and no size can be written into the answer.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .compare import compare, reject_known
from .framework import Mismatch, call, call_untouched, register
from .inputs import ONE_TIME, SIZES, StandInField, domain_times, one_time_variants


def _field(x, t):
    """A smooth, time-dependent, nonlinear test field in any dimension D >= 2; t of shape (B,)."""
    t = t[:, None]
    rot = torch.cat([-x[:, -1:], x[:, :-1]], dim=1)   # in 2-d the quarter turn (-x_2, x_1)
    return (1 + t) * rot + 0.5 * torch.sin(x) - 0.3 * t


def _points(seed: int, B: int, D: int):
    return torch.randn(B, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def rk4_step(x, t, h, velocity):
    """One classical Runge-Kutta (RK4) step of dx/dt = velocity(x, t) from time t (a tensor (B,)) to t + h."""
    k1 = velocity(x, t)                          # slope at the start
    k2 = velocity(x + 0.5 * h * k1, t + 0.5 * h)  # slope at the middle, using k1
    k3 = velocity(x + 0.5 * h * k2, t + 0.5 * h)  # slope at the middle again, using k2
    k4 = velocity(x + h * k3, t + h)              # slope at the end, using k3
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _rk4(x, t, h, v, times=(0.0, 0.5, 0.5, 1.0), weights=(1, 2, 2, 1), reach=(0.5, 0.5, 1.0), k3_from_k1=False):
    k1 = v(x, t + times[0] * h)
    k2 = v(x + reach[0] * h * k1, t + times[1] * h)
    k3 = v(x + reach[1] * h * (k1 if k3_from_k1 else k2), t + times[2] * h)
    k4 = v(x + reach[2] * h * k3, t + times[3] * h)
    return x + h * sum(w * k for w, k in zip(weights, (k1, k2, k3, k4))) / sum(weights), (k1, k2, k3, k4)


def _check_rk4_step(answer):
    """Domain: t in [0, 1 − h] (the step ends by t = 1) for h = 0.1 on 7 float64 points in 2-d and h = 0.25 on 5
    in 3-d (`SIZES`), each with its own t; the field refuses what fmlite.models.MLP refuses (velocity(t, x), t of
    shape (B, 1)). Compared in float64 to 1e-9, so another fourth-order rule (Kutta's 3/8 rule) is told apart
    from the classical RK4."""
    for (B, D, _, _), h in zip(SIZES, (0.1, 0.25)):
        x = _points(5, B, D)
        field = StandInField(_field, dim=D)
        t = domain_times(B, 0.0, 1.0 - h, seed=6)
        got = call_untouched(answer, x, t, h, field, names=("x", "t"))
        expected, (k1, k2, k3, k4) = _rk4(x, t, h, _field)
        where = f" (h = {h}, {B} points in {D}-d, each with its own t in [0, {1 - h:g}])"
        reject_known(got, [
            ("this is one Euler step x + h k1; RK4 combines four slopes k1..k4", x + h * k1),
            ("this is the midpoint method x + h k2; RK4 combines four slopes k1..k4", x + h * k2),
            ("the weights of the slopes are 1, 2, 2, 1 (divided by 6), not all equal",
             _rk4(x, t, h, _field, weights=(1, 1, 1, 1))[0]),
            ("you forgot the step size: x + h/6 (k1 + 2 k2 + 2 k3 + k4)", x + (k1 + 2 * k2 + 2 * k3 + k4) / 6),
            ("the slopes are evaluated at the wrong times: k2 and k3 belong at t + h/2, k4 at t + h",
             _rk4(x, t, h, _field, times=(0, 0, 0, 0))[0]),
            ("k4 is the slope at x + h k3 (a full step), k2 and k3 at half steps x + h/2 k1 and x + h/2 k2",
             _rk4(x, t, h, _field, reach=(0.5, 0.5, 0.5))[0]),
            ("k2 and k3 are taken half a step ahead, x + h/2 k, not a full step",
             _rk4(x, t, h, _field, reach=(1.0, 1.0, 1.0))[0]),
            ("k3 is built from k1, so it just repeats k2: take the second half step with the newer slope, "
             "k3 = v(x + h/2 k2, t + h/2)", _rk4(x, t, h, _field, k3_from_k1=True)[0]),
            ("you stepped against the slopes: x + h/6 (k1 + 2 k2 + 2 k3 + k4), not x − ...",
             x - h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)),
            ("the weights are divided by 6 (1 + 2 + 2 + 1), not by 4", x + h / 4 * (k1 + 2 * k2 + 2 * k3 + k4)),
            ("you returned only the increment h/6 (k1 + 2 k2 + 2 k3 + k4); add it to x",
             h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)),
            ("time runs the wrong way: the slopes are taken at t, t + h/2, t + h/2, t + h, not at 1 − t ...",
             _rk4(x, t, h, lambda y, s: _field(y, 1 - s))[0]),
        ] + [(ONE_TIME, _rk4(x, s, h, _field)[0]) for _, s in one_time_variants(lambda s: s, t)], expected, where)
        q1 = k1
        q2 = _field(x + h * q1 / 3, t + h / 3)
        q3 = _field(x + h * (q2 - q1 / 3), t + 2 * h / 3)
        q4 = _field(x + h * (q1 - q2 + q3), t + h)
        reject_known(got, [("this is Kutta's 3/8 rule, also fourth order; the exercise asks for the classical RK4: "
                            "slopes at t, t + h/2, t + h/2, t + h with weights 1, 2, 2, 1 (divided by 6)",
                            x + h / 8 * (q1 + 3 * q2 + 3 * q3 + q4))], expected, where, atol=1e-9)
        compare(got, expected, "the new x", where, atol=1e-9, rtol=1e-9, t=t)  # float64: other rules differ
    return "four slopes per step, and an error that shrinks like h⁴."


register("04.rk4_step", "one Runge-Kutta (RK4) step", rk4_step, _check_rk4_step)


def euler_sampler(velocity, x_0, steps):
    """Euler's method from t = 0 (noise x_0) to t = 1 in `steps` equal steps; returns every state as one
    tensor (steps + 1, B, D): x_0 first, the sample last."""
    h = 1.0 / steps
    x, states = x_0, [x_0]
    for k in range(steps):
        t = torch.full((x.shape[0],), k * h, dtype=x.dtype)  # the time at the START of step k, in x's dtype
        x = x + h * velocity(x, t)
        states.append(x)
    return torch.stack(states)


def _euler(x_0, steps, t_of, h=None):
    h = 1.0 / steps if h is None else h
    states = [x_0]
    for k in range(steps):
        states.append(states[-1] + h * _field(states[-1], torch.full((len(x_0),), t_of(k, 1.0 / steps),
                                                                     dtype=x_0.dtype)))
    return torch.stack(states)


def _check_euler_sampler(answer):
    """Domain: the whole time range, t = 0, 0.2, ..., 0.8 at the steps' starts (5 steps) for 7 float64 points in
    2-d, then t = 0, 0.125, ..., 0.875 (8 steps) for 5 points in 3-d (`SIZES`); the field demands t as a tensor (B,)
    as a trained model is called."""
    for B, D, _, STEPS in SIZES:
        _check_euler_sampler_once(answer, B, D, STEPS)
    return "steps + 1 states from the noise to the sample, one velocity evaluation per step."


def _check_euler_sampler_once(answer, B, D, STEPS):
    x_0 = _points(6, B, D)
    start = x_0.clone()
    got = call(answer, StandInField(_field, dim=D, strict=True), start, STEPS)
    expected = euler_sampler(_field, x_0, STEPS)
    shape = tuple(expected.shape)
    if not torch.equal(start, x_0):
        raise Mismatch("your sampler changed the starting noise x_0 in place (`x += ...` or `x.add_(...)` on "
                       "x = x_0): write x = x + h * velocity(x, t), which makes a new tensor each step")
    if isinstance(got, (list, tuple)):
        raise Mismatch(f"return one tensor of shape (steps + 1, B, D) = {shape}: torch.stack(states), not a "
                       f"{type(got).__name__}")
    if isinstance(got, Tensor) and got.shape == expected.shape[1:]:
        raise Mismatch(f"you returned only the final state {tuple(got.shape)}; return every state, "
                       f"shape (steps + 1, B, D) = {shape}")
    if isinstance(got, Tensor) and got.dim() == 3 and tuple(got.shape) == (B, STEPS + 1, D):
        raise Mismatch(f"your trajectory is stacked along the wrong axis: shape {tuple(got.shape)} is (B, steps + 1, "
                       f"D); stack the states along a new first axis, torch.stack(states) (dim=0), to get {shape}")
    if isinstance(got, Tensor) and got.dim() == 3 and got.shape[1:] == x_0.shape and got.shape[0] != STEPS + 1:
        n = got.shape[0]
        first = ("the starting noise x_0 is missing" if n == STEPS and not torch.allclose(got[0].double(), x_0)
                 else "one state per step, plus x_0 first")
        raise Mismatch(f"your trajectory has {n} states, it needs steps + 1 = {STEPS + 1} ({first}); "
                       f"loop for k in range(steps)")
    if isinstance(got, Tensor) and got.shape == expected.shape:
        if (got[1:] - got[-1]).abs().max() == 0 and STEPS > 1:
            raise Mismatch("all your states are the same tensor: `x += h * ...` changes x in place, so every "
                           "entry of the list is one object; write x = x + h * velocity(x, t)")
        if not torch.allclose(got[0].detach().double(), x_0):
            raise Mismatch("the first state must be the starting noise x_0 (t = 0)")
    h = 1.0 / STEPS
    reject_known(got, [
        ("you evaluate the velocity at the end of each step, t = (k + 1) h; Euler uses the start, t = k h",
         _euler(x_0, STEPS, lambda k, h: (k + 1) * h)),
        ("time runs the wrong way: sampling goes from t = 0 (noise) to t = 1 (data), t = k h",
         _euler(x_0, STEPS, lambda k, h: 1 - k * h)),
        ("the time at step k is k h = k / steps, not k (or k / (steps - 1))",
         _euler(x_0, STEPS, lambda k, h: k / (STEPS - 1))),
        ("the step size is h = 1 / steps, not 1 / (steps + 1)", _euler(x_0, STEPS, lambda k, h: k / (STEPS + 1), 1 / (STEPS + 1))),
        ("the step size is h = 1 / steps, not 1 / (steps − 1)", _euler(x_0, STEPS, lambda k, h: k / (STEPS - 1), 1 / (STEPS - 1))),
        ("you stepped against the velocity: x + h v(x, t)", _euler(x_0, STEPS, lambda k, h: k * h, -h)),
        ("you forgot the step size: x + h v(x, t), h = 1 / steps", _euler(x_0, STEPS, lambda k, h: k * h, 1.0)),
        ("you evaluate the velocity always at t = 0; the time at step k is t = k h",
         _euler(x_0, STEPS, lambda k, h: 0.0)),
    ], expected)
    if isinstance(got, Tensor) and got.shape == expected.shape:
        for k in range(1, STEPS + 1):
            compare(got[k], expected[k], f"state {k}", f" (after step {k}, t = {k * h:.2f})")
    compare(got, expected, "the trajectory", f" ({STEPS} steps, {B} points in {D}-d)")


register("04.euler_sampler", "an Euler sampler that keeps the trajectory", euler_sampler, _check_euler_sampler)

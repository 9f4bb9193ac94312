"""Notebook 08 (likelihoods and diffusion): Hutchinson's divergence estimate, and the score from a velocity.

Worked solutions beside checkers. Every answer is called with the sizes `SIZES`, (B, D) = (7, 2), then (5, 3):
batch and dimension differ, so a time of shape (B,) that is not broadcast with t[:, None] fails loudly, a sum
over the wrong axis has the wrong shape, and no size can be written into the answer.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .compare import check_dtype, compare, reject_known, reject_where_finite
from .framework import Mismatch, call, call_untouched, register
from .inputs import ONE_TIME, SIZES, StandInField, domain_times, one_time_variants

_W = torch.tensor([[0.7, -0.4, 0.2], [0.3, 0.9, -0.5], [-0.6, 0.1, 0.8]], dtype=torch.float64)


def _field(x, t):
    """A smooth, nonlinear, time-dependent test field with a non-symmetric Jacobian, x (B, D) with D = 2 or 3;
    t of shape (B,)."""
    t, d = t[:, None], x.shape[1]
    return torch.tanh(x @ _W[:d, :d]) * (1 + t) + 0.5 * x.roll(1, dims=1) ** 2 * (1 - t) - t * x


def _jacobians(x, t):
    """dv/dx per sample, (B, D, D), by autograd in float64 (the oracle)."""
    return torch.stack([torch.autograd.functional.jacobian(lambda y: _field(y[None], t[i:i + 1])[0], x[i])
                        for i in range(len(x))])


def _data(seed: int, B: int, D: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, D, generator=g, dtype=torch.float64)


# ----------------------------------------------------------------------------- 08.hutchinson
def hutchinson(velocity, x, t, z):
    """Hutchinson's estimate z^T (dv/dx) z of div v(x, t), one probe z (B, D) per sample; returns (B,)."""
    x = x.detach().requires_grad_(True)        # a fresh leaf, so autograd can differentiate v with respect to x
    v = velocity(x, t)                          # (B, D)
    (zJ,) = torch.autograd.grad(v, x, grad_outputs=z)   # z^T (dv/dx), one backward pass, (B, D)
    return (zJ * z).sum(dim=1)                  # z^T (dv/dx) z, summed over the coordinates, (B,)


def _check_hutchinson(answer):
    """Domain: the whole time range [0, 1] (both ends included), float64 points each with its own t: 7 in 2-d with
    Gaussian probes, then 5 in 3-d with Rademacher probes (`SIZES`). The field refuses what fmlite.models.MLP
    refuses (velocity(t, x), t of shape (B, 1)). Compared in float64 with z^T J z from the full Jacobian J =
    dv/dx (autograd)."""
    for (B, D, _, _), seed, kind in zip(SIZES, (11, 12), ("Gaussian", "Rademacher")):
        x, t = _data(seed, B, D), domain_times(B, seed=seed)
        g = torch.Generator().manual_seed(seed + 100)
        z = torch.randn(B, D, generator=g, dtype=torch.float64)
        if kind == "Rademacher":
            z = torch.randint(0, 2, (B, D), generator=g).double() * 2 - 1
        x_in, z_in = x.clone(), z.clone()
        got = call(answer, StandInField(_field, dim=D), x_in, t, z_in)
        if not (torch.equal(x_in, x) and torch.equal(z_in, z)):
            raise Mismatch("your function changed x or z in place; leave the inputs alone")
        J = _jacobians(x, t)
        one = torch.ones_like(z)
        quad = lambda a, b: torch.einsum("bi,bij,bj->b", a, J, b)  # noqa: E731 - a^T J b per sample
        expected = quad(z, z)
        where = f" ({kind} probes, {B} points in {D}-d, each with its own t in [0, 1])"
        if isinstance(got, Tensor) and got.shape == (B, D):
            raise Mismatch(f"your estimate has shape {tuple(got.shape)}: sum z * (z^T dv/dx) over the coordinates "
                           f"(dim=1) to get one number per point, shape ({B},)")
        if isinstance(got, Tensor) and got.shape == (D,):
            raise Mismatch(f"your estimate has shape ({D},), one number per coordinate: you summed over the batch "
                           f"(dim=0); sum over the coordinates (dim=1) to get one number per point, shape ({B},)")
        check_dtype(got, torch.float64, "the estimate", where)
        again = call(answer, StandInField(_field, dim=D), x.clone(), t, z.clone())
        if isinstance(got, Tensor) and isinstance(again, Tensor) and again.shape == got.shape and not torch.allclose(
                again.detach().double(), got.detach().double(), atol=1e-12, rtol=1e-12):
            raise Mismatch("two calls with the same z gave different estimates: you drew your own probes; use the "
                           "probe z given, on both sides: z^T (dv/dx) z" + where)
        if isinstance(got, Tensor) and got.numel() == 1:
            raise Mismatch(f"return one estimate per point, shape ({B},): you summed or averaged over the batch too")
        mistakes = [
            ("this is the exact divergence trace(dv/dx); Hutchinson's estimate is z^T (dv/dx) z with the given probe z",
             torch.diagonal(J, dim1=1, dim2=2).sum(1)),
            ("you summed z^T (dv/dx) over the coordinates without multiplying by z again: z^T (dv/dx) z",
             quad(z, one)),
            ("you used an all-ones vector on one side (v.sum() or grad_outputs=ones): both sides need z",
             quad(one, z)),
            ("you used all-ones vectors instead of the probe z: 1^T (dv/dx) 1", quad(one, one)),
            ("z^T v is the velocity seen along z, not a derivative: differentiate v with respect to x",
             (_field(x, t) * z).sum(1)),
            ("the estimate has the wrong sign: z^T (dv/dx) z, not minus it (the minus sign belongs in "
             "d/dt log p_t = -div v, not in the divergence)", -expected),
            ("sum over the coordinates, not the mean: z^T (dv/dx) z = sum_i z_i (z^T dv/dx)_i", expected / D),
            ("you squared the probe before the product: the estimate is z^T (dv/dx) z, with z itself",
             quad(z * z, z * z)),
            ("time runs the wrong way: evaluate the velocity at t, not at 1 - t",
             torch.einsum("bi,bij,bj->b", z, _jacobians(x, 1 - t), z)),
        ] + [(ONE_TIME, torch.einsum("bi,bij,bj->b", z, _jacobians(x, s), z))
             for _, s in one_time_variants(lambda s: s, t)]
        reject_known(got, mistakes, expected, where)
        compare(got, expected, "the estimate", where, atol=1e-9, rtol=1e-9, t=t)
    return "one backward pass gives an unbiased estimate of the divergence; average probes to cut its variance."


register("08.hutchinson", "Hutchinson's divergence estimate", hutchinson, _check_hutchinson)


# ----------------------------------------------------------------------------- 08.score_from_velocity
def score_from_velocity(v, x, t):
    """The score grad log p_t(x) from the velocity v = u_t(x) on the straight path (alpha_t = t,
    beta_t = 1 - t, sigma = 0): (t v - x) / (1 - t), for t in [0, 1); v, x (B, D), t (B,)."""
    t = t[:, None]                   # (B, 1): one time per row
    x0_hat = x - t * v               # E[x_0 | x_t = x], since x1_hat = x + (1 - t) v and x = t x1_hat + (1 - t) x0_hat
    return -x0_hat / (1 - t)         # Tweedie: score = -x0_hat / beta_t


def _check_score_from_velocity(answer):
    """Domain: t in [0, 0.999] (t = 1 is singular: it divides by 1 - t), both ends of it, 0.01 and 0.989 included,
    float64 points each with its own t, 7 in 2-d, then 5 in 3-d (`SIZES`); v, x and t must be left unchanged.
    Oracle: the closed form (t v - x) / (1 - t)."""
    for B, D, _, _ in SIZES:
        _check_score_once(answer, B, D)
    return "the velocity already contains the score; it blows up like 1/(1 - t) near the data."


def _check_score_once(answer, B, D):
    x = _data(21, B, D)
    v = _data(22, B, D)
    t = domain_times(B, 0.0, 0.999, seed=23)
    got = call_untouched(answer, v, x, t, names=("v", "x", "t"))
    expected = score_from_velocity(v, x, t)
    T = t[:, None]
    where = f" ({B} points in {D}-d, each with its own t in [0, 0.999])"
    check_dtype(got, torch.float64, "the score", where)
    mistakes = [
        ("the score has the wrong sign: (t v - x) / (1 - t), not (x - t v) / (1 - t)", (x - T * v) / (1 - T)),
        ("this is x0_hat = x - t v, the noise prediction; the score is -x0_hat / (1 - t)", x - T * v),
        ("you forgot to divide by beta_t = 1 - t: score = (t v - x) / (1 - t)", T * v - x),
        ("you divided by alpha_t = t; on the straight path the score divides by beta_t = 1 - t",
         (T * v - x) / T),
        ("v is multiplied by t: score = (t v - x) / (1 - t), not (v - x) / (1 - t)", (v - x) / (1 - T)),
        ("this is x1_hat = x + (1 - t) v, the data prediction, not the score", x + (1 - T) * v),
        ("you divided by (1 - t)^2 = s_t^2 but used x0_hat; either -x0_hat / (1 - t) or (t x1_hat - x) / (1 - t)^2",
         (T * v - x) / (1 - T) ** 2),
        ("you dropped alpha_t = t in (alpha_t x1_hat - x) / (1 - t)^2: that gives v / (1 - t)", v / (1 - T)),
        ("time runs the wrong way: t = 0 is noise, t = 1 is data; you used 1 - t for t",
         ((1 - T) * v - x) / T),
        ("you swapped v and x: score = (t v - x) / (1 - t)", (T * x - v) / (1 - T)),
        ("your score ignores the velocity v: -x is the score of pure noise (t = 0) only; for t > 0 the velocity "
         "tells where x is heading, score = (t v - x) / (1 - t)", -x),
        ("your score ignores the velocity v: -x / (1 - t) leaves out t v; score = (t v - x) / (1 - t)",
         -x / (1 - T)),
    ] + one_time_variants(lambda s: (s[:, None] * v - x) / (1 - s[:, None]), t)
    reject_where_finite(got, mistakes, where)   # dividing by t is infinite at t = 0: name it from the other rows
    reject_known(got, mistakes, expected, where)
    reject_known(got, [("you rounded t to float32 (t.float()): keep it float64; near t = 1 the rounding of 1 - t is "
                        "amplified", (T.float() * v - x) / (1 - T.float()))], expected, where, atol=1e-9)
    if isinstance(got, Tensor) and got.shape == expected.shape:
        bad = ~torch.isclose(got.detach().double(), expected, atol=1e-9, rtol=1e-9).all(1)
        if bad.any() and (t[bad] > 0.95).all():
            raise Mismatch(f"your score is right except near t = 1 (wrong at t = {[round(float(s), 3) for s in t[bad]]}"
                           "): do not clamp 1 - t or add an epsilon to it; the score really grows like 1 / (1 - t)"
                           + where)
    compare(got, expected, "the score", where, atol=1e-9, rtol=1e-9, t=t)


register("08.score_from_velocity", "the score from a velocity (straight path)", score_from_velocity,
         _check_score_from_velocity)

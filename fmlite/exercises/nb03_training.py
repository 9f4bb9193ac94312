"""Notebook 03 (training): the flow matching loss of a batch, and the loss floor. Worked solutions beside checkers.

The setting: the straight path x_t = (1 - t) x_0 + t x_1 (sigma = 0), target u_t = x_1 - x_0, |.|^2
summed over the coordinates and averaged over the batch, as in fmlite.train.flow_matching_loss.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .compare import as_number, check_gradient_path, reject_known
from .framework import Mismatch, call, call_untouched, register
from .inputs import ONE_TIME, SIZES, TinyField, domain_times, one_time_variants

FLOOR_SIZES = ((400, 2, 6), (300, 3, 5))   # 03.loss_floor: (batch, dimension, data-set size) of its two calls
_AXES = ("you summed over the batch (dim 0) and averaged over the coordinates; it is the other way round: "
         "sum the squares over the coordinates (dim=1), then average over the batch")


def _part(d: int) -> str:
    return "half" if d == 2 else f"1/{d} of"


def _sq(v, u):
    return ((v - u) ** 2).sum(dim=1).mean()


def fm_loss(model, x_0, x_1, t):
    """The flow matching loss of one batch on the straight path: mean over the batch of |v_theta(x_t, t) - u_t|^2,
    with x_t = (1 - t) x_0 + t x_1 and target u_t = x_1 - x_0. x_0, x_1 (B, D), t (B,); returns a 0-d tensor."""
    x_t = (1 - t[:, None]) * x_0 + t[:, None] * x_1      # the point on the straight path at time t
    u_t = x_1 - x_0                                     # its velocity: the conditional target
    return ((model(x_t, t) - u_t) ** 2).sum(dim=1).mean()  # |.|^2 over coordinates, mean over the batch


def _written_in(total, batch: int, batches) -> list:
    """[(message, total / b)] for the batch sizes b of the other calls: a sum divided by a number written into the
    answer instead of the batch size (`.sum() / 7` in place of `.mean()`)."""
    return [(f"you divided the sum by {b}, a batch size written into your code; the check uses batches of "
             f"{' and '.join(map(str, batches))}: average over the batch with .mean()", total / b)
            for b in batches if b != batch]


def _written_in_dim(expected, dim: int, dims) -> list:
    """[(message, the mean over the coordinates times d)] for the dimensions d of the other calls: F.mse_loss
    (a mean over the coordinates too) multiplied by a dimension written into the answer (`* 2`)."""
    return [(f"you averaged over the coordinates and multiplied by {d}, a dimension written into your code; the "
             f"check uses {' and '.join(map(str, dims))} coordinates: sum the squares over the coordinates (dim=1)",
             expected / dim * d) for d in dims if d != dim]


def _close_number(value: float, expected, what: str, recheck: str) -> None:
    """Raise Mismatch unless a scalar answer equals the expected one to 1e-4 (relative above 1)."""
    expected = float(expected)
    if abs(value - expected) > 1e-4 * max(1.0, abs(expected)):
        raise Mismatch(f"your {what} is {value:.6g} but the expected value is {expected:.6g} on the test batch "
                       f"(off by {abs(value / expected - 1):.2%}, far more than rounding): recheck {recheck}")


def _check_fm_loss(answer):
    """Domain: t in [0, 1] (both ends), float64 samples each with its own t, (B, D) = (7, 2), then (5, 3)
    (`SIZES`). The model is a fixed float64 stand-in that refuses what fmlite.models.MLP refuses (model(t, x),
    t of shape (B, 1)); loss.backward() must give its parameters the worked solution's gradients."""
    for B, D, _, _ in SIZES:
        _check_fm_loss_once(answer, B, D)
    return "this is exactly fmlite.train.flow_matching_loss on the straight path."


def _check_fm_loss_once(answer, B, D):
    model = TinyField(D)
    g = torch.Generator().manual_seed(3)
    x_0, x_1 = (torch.randn(B, D, generator=g, dtype=torch.float64) for _ in range(2))
    t = domain_times(B, seed=5)
    got = call_untouched(answer, model, x_0, x_1, t, names=("model", "x_0", "x_1", "t"))
    called_at = list(model.times)
    if not isinstance(got, Tensor):
        raise Mismatch(f"return the loss as a torch tensor, not a {type(got).__name__} (no .item()), so that "
                       "loss.backward() can train the model")
    value = as_number(got, "the loss", x_0.dtype)
    if not got.requires_grad:
        raise Mismatch("your loss carries no gradient, so training could not use it: compute it from "
                       "model(x_t, t) without torch.no_grad() or .detach()")
    with torch.no_grad():
        tt = t[:, None]
        x_t, u_t = (1 - tt) * x_0 + tt * x_1, x_1 - x_0
        v = model(x_t, t)
        expected = fm_loss(model, x_0, x_1, t)
        reject_known(value, [
            (f"your loss is {_part(D)} the expected value: sum the squares over the {D} coordinates (‖·‖² is "
             "a sum) and average over the batch only; F.mse_loss averages over the coordinates too", expected / D),
            (f"your loss is {B} times too large: average over the batch (.mean()), don't sum",
             ((v - u_t) ** 2).sum()),
            ("your loss is the mean of ‖v − u_t‖, not of its square ‖v − u_t‖²", (v - u_t).norm(dim=1).mean()),
            (_AXES, ((v - u_t) ** 2).sum(dim=0).mean()),
            ("the target has the wrong sign: the velocity points from the noise to the data, u_t = x_1 − x_0",
             _sq(v, -u_t)),
            ("x_t runs the wrong way in time: at t = 0 it must be the noise x_0 and at t = 1 the data x_1, "
             "x_t = (1 − t) x_0 + t x_1", _sq(model(tt * x_0 + (1 - tt) * x_1, t), u_t)),
            ("the target is the velocity x_1 − x_0, not the data point x_1", _sq(v, x_1)),
            ("evaluate the model at x_t, the point on the path, not at the noise x_0", _sq(model(x_0, t), u_t)),
            ("evaluate the model at x_t, the point on the path, not at the data x_1", _sq(model(x_1, t), u_t)),
            ("the model is called at time t, not 1 − t (t = 0 is noise, t = 1 is data)", _sq(model(x_t, 1 - t), u_t)),
            ("the loss compares the model with the target u_t = x_1 − x_0, not with x_t", _sq(v, x_t)),
            ("the loss is ‖v − u_t‖² (a square), not its square root over the batch",
             ((v - u_t) ** 2).sum(dim=1).mean().sqrt()),
        ] + _written_in(((v - u_t) ** 2).sum(), B, [size.B for size in SIZES])
          + _written_in_dim(expected, D, [size.D for size in SIZES]) + one_time_variants(lambda s: _sq(model((1 - s[:, None]) * x_0 + s[:, None] * x_1, s), u_t), t)
          + [(f"{m} (in the model call only)", w) for m, w in one_time_variants(lambda s: _sq(model(x_t, s), u_t), t)],
          expected)
    if not any(s.shape == t.shape and torch.allclose(s.to(t.dtype), t) for s in called_at):
        raise Mismatch("the model was never called at the times t that were given: use that t, one time per sample, "
                       "for x_t and in model(x_t, t); don't draw your own t inside the loss (the check gives each "
                       "sample its own time)")
    _close_number(value, expected, "loss", "x_t, u_t and the average")
    check_gradient_path(got, model, fm_loss(model, x_0, x_1, t))


register("03.fm_loss", "the flow matching loss of a batch", fm_loss, _check_fm_loss)


def loss_floor(x_0, x_1, t, data):
    """Monte-Carlo estimate of the loss floor E|u_t - u_t(x_t)|^2 on the straight path: how far the conditional
    target x_1 - x_0 scatters around the exact marginal field u_t(x_t) = E[u_t | x_t] of the finite data set
    (`fmlite.exact.marginal_velocity`). x_0, x_1 (B, D), t (B,), data (N, D); returns a 0-d tensor."""
    from ..exact import marginal_velocity
    from ..paths import LinearPath

    x_t = (1 - t[:, None]) * x_0 + t[:, None] * x_1
    u_t = x_1 - x_0                                                   # what each sample is told to do
    u_marginal = marginal_velocity(x_t, t, data, LinearPath())       # the best any model can do at x_t
    return ((u_t - u_marginal) ** 2).sum(dim=1).mean()


def _check_loss_floor(answer):
    """Domain: t in [0, 0.99] (the marginal field is tried near both ends too), float64 samples: 400 in 2-d from
    a data set of N = 6 points, then 300 in 3-d from N = 5 (`FLOOR_SIZES`)."""
    for B_FLOOR, D, N_FLOOR in FLOOR_SIZES:
        _check_loss_floor_once(answer, B_FLOOR, D, N_FLOOR)
    return "no network can get its loss below this number on these data."


def _check_loss_floor_once(answer, B_FLOOR, D, N_FLOOR):
    from ..exact import marginal_velocity
    from ..paths import LinearPath

    g = torch.Generator().manual_seed(4)
    data = 1.5 * torch.randn(N_FLOOR, D, generator=g, dtype=torch.float64)
    x_1 = data[torch.randint(0, N_FLOOR, (B_FLOOR,), generator=g)]
    x_0 = torch.randn(B_FLOOR, D, generator=g, dtype=torch.float64)
    t = torch.rand(B_FLOOR, generator=g, dtype=torch.float64) * 0.99
    t[:6] = domain_times(6, 0.0, 0.99)
    value = as_number(call(answer, x_0, x_1, t, data), "the floor", x_0.dtype)
    path = LinearPath()
    tt = t[:, None]
    x_t, u_t = (1 - tt) * x_0 + tt * x_1, x_1 - x_0
    u_m = marginal_velocity(x_t, t, data, path)
    expected = _sq(u_t, u_m)
    reject_known(value, [
        (f"your floor is {_part(D)} the expected value: sum the squares over the {D} coordinates and "
         "average over the batch only", expected / D),
        ("your floor is the mean of ‖u_t − u_t(x_t)‖, not of its square", (u_t - u_m).norm(dim=1).mean()),
        (_AXES, ((u_t - u_m) ** 2).sum(dim=0).mean()),
        ("this is E‖u_t‖², the loss of the field v = 0; subtract the marginal field u_t(x_t) from the "
         "target first", (u_t ** 2).sum(dim=1).mean()),
        ("this is E‖u_t(x_t)‖², the size of the marginal field; the floor is how far the target u_t "
         "scatters around it, E‖u_t − u_t(x_t)‖²", (u_m ** 2).sum(dim=1).mean()),
        ("evaluate the marginal field at x_t, where the sample is at time t, not at the noise x_0",
         _sq(u_t, marginal_velocity(x_0, t, data, path))),
        ("evaluate the marginal field at x_t, where the sample is at time t, not at the data x_1",
         _sq(u_t, marginal_velocity(x_1, t, data, path))),
        ("the target has the wrong sign: u_t = x_1 − x_0 (from the noise to the data)", _sq(-u_t, u_m)),
        (f"average over the batch (.mean()), don't sum: your floor is {B_FLOOR} times too large",
         ((u_t - u_m) ** 2).sum()),
        (f"you passed the batch x_1 ({B_FLOOR} rows, repeats included) as the data set; the marginal field "
         f"averages over the N = {N_FLOOR} points of `data`", _sq(u_t, marginal_velocity(x_t, t, x_1, path))),
        ("the marginal field is taken at time t, not 1 − t", _sq(u_t, marginal_velocity(x_t, 1 - t, data, path))),
    ] + _written_in(((u_t - u_m) ** 2).sum(), B_FLOOR, [b for b, _, _ in FLOOR_SIZES])
      + _written_in_dim(expected, D, [d for _, d, _ in FLOOR_SIZES]) + [
        ("x_t runs the wrong way in time: x_t = (1 − t) x_0 + t x_1",
         _sq(u_t, marginal_velocity(tt * x_0 + (1 - tt) * x_1, t, data, path))),
    ] + [(ONE_TIME, _sq(u_t, marginal_velocity(x_t, torch.full_like(t, float(v)), data, path)))
         for v in (t[0], t.mean(), t.median())], expected)
    _close_number(value, expected, "floor", "x_t, the target u_t, the data set and the average")


register("03.loss_floor", "the loss floor E|u_t - u_t(x_t)|^2", loss_floor, _check_loss_floor)

"""Notebook 07 (images): x_t for a batch of images (the time broadcast), and classifier-free guidance.

Worked solutions beside checkers.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .compare import compare, reject_known
from .framework import IMAGE_BROADCAST_HINT, Mismatch, call, call_untouched, register
from .inputs import SIZES, domain_times, one_time_variants


def interpolate_images(x_0, x_1, t):
    """x_t = t x_1 + (1 - t) x_0 for images (B, C, H, W): t (B,) becomes (B, 1, 1, 1) to broadcast per image."""
    t = t[:, None, None, None]
    return t * x_1 + (1 - t) * x_0


def _images(batch: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 1, 8, 8, generator=g, dtype=torch.float64),
            torch.randn(batch, 1, 8, 8, generator=g, dtype=torch.float64))


def _check_interpolate_images(answer):
    """Domain: t in [0, 1] (both ends), float64 images of 1 x 8 x 8, each with its own t; batches of 5 and of 8
    (8 images of 8 x 8 pixels: a wrong broadcast then runs without an error and must still be caught)."""
    for batch in (5, 8):
        x_0, x_1 = _images(batch, 70 + batch)
        t = domain_times(batch, seed=batch)
        got = call_untouched(answer, x_0, x_1, t, names=("x_0", "x_1", "t"))
        expected = interpolate_images(x_0, x_1, t)
        where = f" ({batch} images, each with its own t in [0, 1])"
        tt = t[:, None, None, None]
        spread = [] if batch != 8 else [  # t of shape (8,) or (8, 1) broadcasts silently against 8 x 8 pixels
            (f"with {batch} images of 8 x 8 pixels your t was spread along the rows of every image instead of one "
             f"time per image: {IMAGE_BROADCAST_HINT}", t[:, None] * x_1 + (1 - t[:, None]) * x_0),
            (f"with {batch} images of 8 x 8 pixels your t was spread along the columns of every image instead of "
             f"one time per image: {IMAGE_BROADCAST_HINT}", t * x_1 + (1 - t) * x_0)]
        reject_known(got, spread + [
            ("x_t runs backwards: at t = 0 it should be the noise x_0 and at t = 1 the image x_1, "
             "x_t = t x_1 + (1 − t) x_0", tt * x_0 + (1 - tt) * x_1),
            ("you returned the image x_1 itself; x_t = t x_1 + (1 − t) x_0", x_1),
            ("you returned the noise x_0 itself; x_t = t x_1 + (1 − t) x_0", x_0),
            ("the two weights must add up to 1: x_t = t x_1 + (1 − t) x_0, not t x_1 + x_0", tt * x_1 + x_0),
            ("x_1 − x_0 is the velocity, not the point x_t = t x_1 + (1 − t) x_0", x_1 - x_0),
            ("this is the average image (x_0 + x_1) / 2 for every t", (x_0 + x_1) / 2),
        ] + one_time_variants(lambda s: interpolate_images(x_0, x_1, s), t), expected, where)
        compare(got, expected, "x_t", where, t=t)
    return "t[:, None, None, None] gives every image its own time: x_t = t x_1 + (1 - t) x_0, pixel by pixel."


register("07.interpolate_images", "x_t for a batch of images (the time broadcast)", interpolate_images,
         _check_interpolate_images)


def guided(model, x, t, y, w):
    """Classifier-free guided velocity v(x, t, null) + w (v(x, t, y) - v(x, t, null)); w = 1 is plain conditional."""
    v_cond = model(x, t, y)
    v_uncond = model(x, t, torch.full_like(y, model.null_label))
    return v_uncond + w * (v_cond - v_uncond)


def _guidance_model():
    from ..models import ConvNet

    class _StandIn(ConvNet):
        """The real ConvNet (its own input checks), plus a clear message for model(t, x, y)."""

        def forward(self, x, t, y=None):
            if isinstance(x, Tensor) and isinstance(t, Tensor) and x.dim() <= 1 and t.dim() == 4:
                raise Mismatch("the model was called as model(t, x, y): the images come first, model(x, t, y)")
            return super().forward(x, t, y)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        model = _StandIn(width=16, blocks=1, num_classes=10)  # width 8: GroupNorm erases the labels
        torch.nn.init.normal_(model.conv_out[-1].weight, std=0.3)  # not the zero start: outputs must differ
    return model.eval()


def _check_guided(answer):
    """Domain: t in [0, 1] (both ends), images of 1 x 8 x 8 each with its own t and label, guidance weights
    w = 3, 1, 0, 0.5, -0.5 for a batch of 7 images, then 3, 0.5 for a batch of 5 (`SIZES`); the model is the
    course's ConvNet (float32, so compared with atol 1e-5)."""
    model = _guidance_model()
    for (B, _, _, _), labels, weights in zip(SIZES, ([0, 1, 3, 3, 7, 9, 2], [4, 8, 8, 0, 6]),
                                             ((3.0, 1.0, 0.0, 0.5, -0.5), (3.0, 0.5))):
        _check_guided_once(answer, model, B, torch.tensor(labels), weights)
    return "w = 0 unconditional, w = 1 conditional, w > 1 pushes past it: sharper, less varied samples."


def _check_guided_once(answer, model, B, y, weights):
    g = torch.Generator().manual_seed(72)
    x = torch.randn(B, 1, 8, 8, generator=g)
    t = domain_times(B, seed=7).float()
    null = torch.full_like(y, model.null_label)
    with torch.no_grad():
        v_c, v_u = model(x, t, y), model(x, t, null)
        one_time = [(m, model(x, s, y), model(x, s, null)) for m, s in one_time_variants(lambda s: s, t)]
        for w in weights:  # w = 3 first: there every known mistake differs from the others
            got = call_untouched(answer, model, x, t, y, w, names=("model", "x", "t", "y"))
            expected = v_u + w * (v_c - v_u)
            reject_known(got, [
                ("the conditional v(x, t, y) whatever w is: scale the difference v_cond - v_uncond by w", v_c),
                ("the unconditional v(x, t, null) whatever w is: add w (v(x, t, y) - v(x, t, null))", v_u),
                ("the (1 + w) form of Ho & Salimans 2022; in this course w = 1 is plain conditional sampling, so "
                 "use v_uncond + w (v_cond - v_uncond)", v_u + (1 + w) * (v_c - v_u)),
                ("conditional and unconditional velocities swapped: start from v(x, t, null) and move w times "
                 "towards v(x, t, y)", v_c + w * (v_u - v_c)),
                ("only the guidance direction w (v_cond - v_uncond): add it to v(x, t, null)", w * (v_c - v_u)),
                ("label 0 is a digit, not \"no label\": the unconditional velocity uses y = model.null_label",
                 model(x, t, torch.zeros_like(y)) + w * (v_c - model(x, t, torch.zeros_like(y)))),
                ("w scales the difference, not the conditional velocity alone: v_uncond + w (v_cond - v_uncond)",
                 v_u + w * v_c),
                ("you moved away from the conditional velocity: v_uncond + w (v_cond - v_uncond), not "
                 "v_uncond - w (v_cond - v_uncond)", v_u - w * (v_c - v_u)),
            ] + [(m, u + w * (c - u)) for m, c, u in one_time], expected, f" at w = {w:g} ({B} images)", atol=1e-5)
            name = {1.0: " (w = 1 should give the conditional v(x, t, y))",
                    0.0: " (w = 0 should give the unconditional v(x, t, null), with y = model.null_label)"}
            compare(got, expected, "the guided velocity", name.get(w, f" at w = {w:g} (expected v(x, t, null) + "
                    f"{w:g} (v(x, t, y) - v(x, t, null)) with null = model.null_label)"), atol=1e-5, t=t)


register("07.guided", "classifier-free guidance", guided, _check_guided)


def drop_labels(y, p, null_label, u):
    """Label dropout for classifier-free guidance: replace label i by `null_label` where u[i] < p, so each label
    is dropped with probability p (u uniform in [0, 1)). y int64 (B,), p in [0, 1], u (B,); returns new labels (B,)
    and leaves y unchanged. Source: Ho & Salimans 2022, Alg. 1 (p_uncond). Restates `fmlite.train.drop_labels`
    (same arguments; tests/exercises/test_nb07.py compares the two)."""
    return torch.where(u < p, torch.full_like(y, null_label), y)


def _check_drop_labels(answer):
    """Domain: p in [0, 1] (both ends, and asymmetric p = 0.2, 0.7), batches of 13, 9, 7 and 6 labels, "no label"
    tokens 10 and 3 (so 10 cannot be hard-coded), u drawn uniform in [0, 1) with no value equal to p; one batch lacks
    the top two classes (so y.max() + 1 is not the token)."""
    cases = ((13, 0.2, 10, 81), (9, 0.7, 3, 82), (7, 0.0, 10, 83), (6, 1.0, 10, 84))
    for batch, p, null, seed in cases:
        g = torch.Generator().manual_seed(seed)
        y = torch.randint(0, null - 2 * (seed == 81), (batch,), generator=g)   # at 81 the top classes are absent
        u = torch.rand(batch, generator=g, dtype=torch.float64)
        y_given = y.clone()
        where = f" (p = {p:g}, {batch} labels, null_label = {null})"
        u_given = u.clone()
        got = call(answer, y_given, p, null, u_given)
        if not torch.equal(u_given, u):
            raise Mismatch("you changed the uniform numbers u in place (`u -= p`, `u.sub_(...)`); compare without "
                           "changing them: u < p" + where)
        if not torch.equal(y_given, y):
            raise Mismatch("you changed the caller's labels y in place; return new labels (torch.where makes a "
                           "new tensor) so the data set keeps its labels" + where)
        if not isinstance(got, Tensor):
            raise Mismatch(f"return the new labels as a tensor, got {type(got).__name__}{where}")
        if got.dtype == torch.bool:
            raise Mismatch("you returned the mask of dropped labels; return the labels themselves, with "
                           "null_label where the mask is True: torch.where(u < p, null, y)" + where)
        if got.shape == y.shape and got.dtype != torch.int64:
            raise Mismatch(f"labels must stay integers (int64) for the label embedding, got {got.dtype}{where}")
        again = call(answer, y.clone(), p, null, u)
        if isinstance(again, Tensor) and again.shape == got.shape and not torch.equal(again, got):
            raise Mismatch("two calls with the same u gave different labels: you drew your own random numbers; "
                           "use the uniform numbers u given (drop where u < p)" + where)
        expected = drop_labels(y, p, null, u)
        nulls = torch.full_like(y, null)
        first = torch.arange(batch) < round(p * batch)
        reject_known(got, ([("you hard-coded p = 0.2; use the argument p: drop where u < p",
                             torch.where(u < 0.2, nulls, y))] if p != 0.2 else []) + [
            ("you dropped each label with probability 1 − p (u > p), not p: with p = 0.2 the model would see "
             "\"no label\" 80 % of the time and hardly learn the conditional field; drop where u < p",
             torch.where(u > p, nulls, y)),
            ("no label was dropped: replace y by null_label where u < p", y),
            ("you dropped every label: drop only where u < p (a fraction p of them)", nulls),
            ("label 0 is a digit, not \"no label\": put null_label (model.null_label) where u < p",
             torch.where(u < p, torch.zeros_like(y), y)),
            ("you hard-coded the token 10 of the digits model: use the argument null_label",
             torch.where(u < p, torch.full_like(y, 10), y)),
            ("the \"no label\" token is null_label (one past the last class), not -1",
             torch.where(u < p, torch.full_like(y, -1), y)),
            ("you dropped where u > 1 − p: that also has probability p, but the rule asked for is u < p",
             torch.where(u > 1 - p, nulls, y)),
            ("you dropped the first p·B labels of the batch: drop each label on its own, where u[i] < p",
             torch.where(first, nulls, y)),
            ("you dropped where u < 1 − p, with probability 1 − p instead of p: drop where u < p",
             torch.where(u < 1 - p, nulls, y)),
            ("the token is the argument null_label, not one past the largest label in the batch (y.max() + 1): a "
             "batch need not hold every class", torch.where(u < p, y.max() + 1, y)),
            ("null_label − 1 is the last digit class; the \"no label\" token is null_label itself",
             torch.where(u < p, nulls - 1, y)),
        ], expected, where)
        if got.shape == y.shape and ((got == y) | (got == null)).all() and not torch.equal(got, expected):
            raise Mismatch("you replaced labels by null_label, but not the ones where u < p: drop exactly where the "
                           "given u is below p (torch.where(u < p, null_label, y))" + where)
        compare(got.double(), expected.double(), "the labels", where)
    return "Each label becomes null_label with probability p (u < p): p = 0.2 keeps 80 % of the labels."


register("07.drop_labels", "label dropout for classifier-free guidance", drop_labels, _check_drop_labels)

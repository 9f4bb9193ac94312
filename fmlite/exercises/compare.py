"""Comparing an exercise's answer with the truth, with a diagnosis a student can act on.

`compare` names a wrong shape, NaN, a flipped sign or a constant factor; `known_mistake` / `reject_known`
name a known wrong formula the answer equals; `check_dtype` and `as_number` check the kind of answer (one dtype
rule: keep the inputs' dtype), `check_gradient_path` that a loss trains the model.
Each raises `fmlite.exercises.framework.Mismatch` with the message the student sees.
"""
from __future__ import annotations

import numbers

import torch
from torch import Tensor

from .framework import Mismatch

__all__ = ["compare", "known_mistake", "check_dtype", "reject_known", "reject_where_finite", "as_number",
           "check_gradient_path"]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def check_dtype(got, dtype: torch.dtype, name: str = "", where: str = "") -> None:
    """The one dtype rule of every checker: a floating-point tensor answer keeps the dtype of the inputs (float64
    in the checkers). Raises Mismatch, naming both dtypes, if it does not; anything else passes unchanged."""
    if isinstance(got, Tensor) and got.is_floating_point() and got.dtype != dtype:
        raise Mismatch(f"your answer returned {_dtype_name(got.dtype)} for {_dtype_name(dtype)} inputs: keep the "
                       f"inputs' dtype (no .float(); make new tensors with dtype=x.dtype), so nothing is "
                       f"rounded{where}")


def _near_ends(got: Tensor, expected: Tensor, t: Tensor, name: str, where: str, atol: float, rtol: float) -> None:
    """Mismatch if the rows of `got` are right except at times near the ends of t's range (a clamped t)."""
    if t.dim() != 1 or len(t) != len(expected) or len(t) < 3:
        return
    ok = torch.isclose(got, expected, atol=atol, rtol=rtol).reshape(len(t), -1).all(1)
    lo, hi = float(t.min()), float(t.max())
    near = (t - lo <= 0.05 * (hi - lo)) | (hi - t <= 0.05 * (hi - lo))
    if ok.any() and not ok.all() and near[~ok].all():
        bad = sorted({round(float(v), 3) for v in t[~ok]})
        raise Mismatch(f"{name} is right except near the ends of the time range (wrong at t = {bad}): the formula "
                       f"holds on the whole range [{lo:g}, {hi:g}], ends included; do not clamp t (or 1 − t) or add "
                       f"an epsilon to it{where}")


def compare(got, expected: Tensor, name: str, where: str = "", atol: float = 1e-4, rtol: float = 1e-4,
            t: Tensor | None = None) -> None:
    """Compare a tensor answer with the expected one (float64 in the checkers); raise Mismatch with a diagnosis:
    not a tensor, wrong shape, another floating dtype than the expected one (`check_dtype`), NaN, flipped sign,
    a constant factor, and, given the times t (B,) of the rows, an answer right everywhere but near the ends of
    the time range (a clamped t)."""
    if not isinstance(got, Tensor):
        raise Mismatch(f"{name} should be a torch tensor, got {type(got).__name__}")
    if got.shape != expected.shape:
        raise Mismatch(f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}{where}")
    if expected.is_floating_point():
        check_dtype(got, expected.dtype, name, where)
    got = got.detach().to(expected.dtype)
    if not torch.isfinite(got).all():
        raise Mismatch(f"{name} contains NaN or inf{where}")
    if torch.allclose(got, expected, atol=atol, rtol=rtol):
        return
    if t is not None:
        _near_ends(got, expected, t, name, where, atol, rtol)
    if torch.allclose(-got, expected, atol=atol, rtol=rtol):
        raise Mismatch(f"{name} has the wrong sign{where}")
    denom = (got * got).sum()
    if denom > 0:
        c = float((got * expected).sum() / denom)
        if c != 0 and abs(1 / c - 1) > 0.01 and torch.allclose(c * got, expected, atol=atol, rtol=rtol):
            sign = "has the wrong sign and " if c < 0 else ""
            raise Mismatch(f"{name} {sign}is {abs(1 / c):.4g} times the expected value{where}")
    err = (got - expected).abs().max().item()
    raise Mismatch(f"{name} differs from the expected value by up to {err:.3g}{where}")


def _as_tensor(value):
    if isinstance(value, Tensor):
        return value.detach().double()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float64)
    return None


def known_mistake(got, mistakes, expected=None, atol: float = 1e-4) -> str | None:
    """The message of the first known wrong answer that `got` equals, or None.

    Args:
        got: the student's answer: a tensor, or a number (a float or a one-element tensor) for scalar answers.
        mistakes: [(message, wrong value), ...], each value a tensor or a number.
        expected: the right answer; a wrong value that equals it (or is not finite) is skipped, so a correct
            answer is never reported as a mistake.
    """
    g = _as_tensor(got)
    if g is None:
        return None
    e = _as_tensor(expected) if expected is not None else None
    for message, wrong in mistakes:
        w = _as_tensor(wrong)
        if w is None or not torch.isfinite(w).all():
            continue
        if w.numel() == 1 and g.numel() == 1:
            gg, w = g.reshape(()), w.reshape(())
            ee = e.reshape(()) if e is not None and e.numel() == 1 else None
        elif g.shape == w.shape:
            gg, ee = g, (e if e is not None and e.shape == w.shape else None)
        else:
            continue
        rtol = min(atol, 1e-4)
        if ee is not None and torch.allclose(w, ee, atol=atol, rtol=rtol):
            continue
        if torch.isfinite(gg).all() and torch.allclose(gg, w, atol=atol, rtol=rtol):
            return message
    return None


def reject_known(got, mistakes, expected=None, where: str = "", atol: float = 1e-4) -> None:
    """Raise Mismatch(message + where) if `got` is one of the known wrong answers (see `known_mistake`)."""
    message = known_mistake(got, mistakes, expected, atol)
    if message:
        raise Mismatch(message + where)


def reject_where_finite(got, mistakes, where: str = "", atol: float = 1e-6, expected=None) -> None:
    """Name a wrong answer that is infinite or NaN on some rows (e.g. 0 / 0 at an end of the time range) by the rows
    where it is finite: the student's answer may be inf there too, or finite if they guarded the division.
    mistakes: [(message, wrong value (B, ...)), ...]; rows are along dimension 0. With `expected`, a wrong value
    that equals it on its finite rows is skipped (there it cannot be told from the right answer)."""
    if not isinstance(got, Tensor):
        return
    got = got.detach().double()
    for message, wrong in mistakes:
        if wrong.shape != got.shape:
            continue
        rows = torch.isfinite(wrong.reshape(len(wrong), -1)).all(1)
        if rows.all() or not rows.any():
            continue
        if expected is not None and torch.allclose(wrong[rows], expected[rows].double(), atol=atol, rtol=atol):
            continue
        if torch.isfinite(got[rows]).all() and torch.allclose(got[rows], wrong[rows], atol=atol, rtol=atol):
            raise Mismatch(message + where)


def as_number(got, name: str, dtype: torch.dtype | None = None) -> float:
    """A scalar answer (0-d tensor, one-element tensor or float) as a float, with a clear message otherwise;
    with `dtype` (the inputs' dtype) a floating tensor in another dtype is refused (`check_dtype`)."""
    if dtype is not None:
        check_dtype(got, dtype, name)
    if isinstance(got, Tensor):
        if got.numel() != 1:
            raise Mismatch(f"{name} should be one number, got a tensor of shape {tuple(got.shape)}: "
                           "average over the batch (and sum over the coordinates)")
        got = got.detach().reshape(())
    if not isinstance(got, (Tensor, numbers.Real)):
        raise Mismatch(f"{name} should be a number (a 0-d tensor), got {type(got).__name__}")
    value = float(got)
    if value != value or value in (float("inf"), float("-inf")):
        raise Mismatch(f"{name} is {value}")
    return value


def check_gradient_path(loss: Tensor, model: torch.nn.Module, expected: Tensor, name: str = "loss") -> None:
    """The rule for every answer that training differentiates: `loss.backward()` must give each parameter of the
    stand-in `model` the gradient that the worked solution's `expected` (a scalar built from the same model)
    gives it. Raises Mismatch if no parameter gets a gradient (`.detach()`, `torch.no_grad()`, a faked
    `.requires_grad_()`) or if the gradients differ (to 1e-6, float64). Leaves every `.grad` as it found it."""
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [p.grad for p in params]
    for p in params:
        p.grad = None
    try:
        if loss.requires_grad:
            loss.backward(retain_graph=True)
        got = [p.grad for p in params]
    finally:
        for p, g in zip(params, saved):
            p.grad = g
    if all(g is None or not g.any() for g in got):
        raise Mismatch(f"after {name}.backward() no parameter of the model has a gradient, so training could not "
                       f"change it: compute the {name} from model(x_t, t) as it is, without .detach(), "
                       "torch.no_grad() or .requires_grad_() (which only hides the cut)")
    want = torch.autograd.grad(expected, params, allow_unused=True)
    for p, g, w in zip(params, got, want):
        g = torch.zeros_like(p) if g is None else g
        w = torch.zeros_like(p) if w is None else w
        if not torch.allclose(g.double(), w.double(), atol=1e-6, rtol=1e-6):
            raise Mismatch(f"your {name} has the right value, but its gradient with respect to the model's "
                           f"parameters differs from the worked solution's (by up to {(g - w).abs().max():.3g}): "
                           "every term must depend on the model only through model(x_t, t)")

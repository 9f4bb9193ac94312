"""Comparing an exercise's answer with the truth, with a diagnosis a student can act on.

`compare` names a wrong shape, NaN, a flipped sign or a constant factor; `known_mistake` / `reject_known`
name a known wrong formula the answer equals; `check_dtype` and `as_number` check the kind of answer.
Each raises `fmlite.exercises.framework.Mismatch` with the message the student sees.
"""
from __future__ import annotations

import numbers

import torch
from torch import Tensor

from .framework import Mismatch

__all__ = ["compare", "known_mistake", "check_dtype", "reject_known", "reject_where_finite", "as_number"]


def check_dtype(got, dtype: torch.dtype, name: str, where: str = "") -> None:
    """Mismatch if a floating-point tensor answer is not in `dtype`, the dtype of the inputs (float64 in checkers)."""
    if isinstance(got, Tensor) and got.is_floating_point() and got.dtype != dtype:
        raise Mismatch(f"{name} is {got.dtype}, but the inputs are {dtype}: keep their dtype (no .float()), "
                       f"so nothing is rounded{where}")


def compare(got, expected: Tensor, name: str, where: str = "", atol: float = 1e-4, rtol: float = 1e-4) -> None:
    """Compare a tensor answer with the expected one (in the expected dtype, float64 in the checkers);
    raise Mismatch with a diagnosis: not a tensor, wrong shape, NaN, flipped sign, a constant factor."""
    if not isinstance(got, Tensor):
        raise Mismatch(f"{name} should be a torch tensor, got {type(got).__name__}")
    if got.shape != expected.shape:
        raise Mismatch(f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}{where}")
    got = got.detach().to(expected.dtype)
    if not torch.isfinite(got).all():
        raise Mismatch(f"{name} contains NaN or inf{where}")
    if torch.allclose(got, expected, atol=atol, rtol=rtol):
        return
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


def reject_where_finite(got, mistakes, where: str = "", atol: float = 1e-6) -> None:
    """Name a wrong answer that is infinite or NaN on some rows (e.g. 0 / 0 at an end of the time range) by the rows
    where it is finite: the student's answer may be inf there too, or finite if they guarded the division.
    mistakes: [(message, wrong value (B, ...)), ...]; rows are along dimension 0."""
    if not isinstance(got, Tensor):
        return
    got = got.detach().double()
    for message, wrong in mistakes:
        if wrong.shape != got.shape:
            continue
        rows = torch.isfinite(wrong.reshape(len(wrong), -1)).all(1)
        if rows.all() or not rows.any():
            continue
        if torch.isfinite(got[rows]).all() and torch.allclose(got[rows], wrong[rows], atol=atol, rtol=atol):
            raise Mismatch(message + where)


def as_number(got, name: str) -> float:
    """A scalar answer (0-d tensor, one-element tensor or float) as a float, with a clear message otherwise."""
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

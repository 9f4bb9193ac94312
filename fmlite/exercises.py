"""Exercises with automatic checks, and their worked solutions, in one place.

Each exercise has a key such as "00.interpolate", a worked solution (a plain
function, the single source of truth) and a checker that compares a student's
function with it on fixed inputs and explains what is wrong ("u_t has the wrong
sign at t = 0.30"). In a notebook:

    def interpolate(x_0, x_1, t):
        ...  # your code
    check("00.interpolate", interpolate)       # prints a verdict, never raises

Before the student writes anything (the function returns None or raises
NotImplementedError) the check prints "not solved yet", so notebooks still run top
to bottom. Instructors see a worked solution with `show_solution(key)`; the test
suite runs every solution through its checker and against independent oracles.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

__all__ = ["check", "show_solution", "solution", "EXERCISES", "Mismatch", "NotSolved", "compare"]


class NotSolved(Exception):
    """The answer is still the unfilled template."""


class Mismatch(Exception):
    """The answer runs but is wrong; the message says how."""


@dataclass
class Exercise:
    key: str
    title: str
    solution: Callable
    checker: Callable[[Callable], str]  # raises NotSolved / Mismatch, or returns a success note


#: All exercises by key ("NN.name", NN = notebook number).
EXERCISES: dict[str, Exercise] = {}


def register(key: str, title: str, solution: Callable, checker: Callable[[Callable], str]) -> None:
    """Add an exercise (used by the definitions at the bottom of this module)."""
    if key in EXERCISES:
        raise ValueError(f"exercise {key!r} is defined twice")
    EXERCISES[key] = Exercise(key, title, solution, checker)


def _get(key: str) -> Exercise:
    if key not in EXERCISES:
        raise KeyError(f"unknown exercise {key!r}; known: {sorted(EXERCISES)}")
    return EXERCISES[key]


def check(key: str, answer: Callable) -> bool:
    """Check a student's answer to exercise `key`; print a verdict and return True if correct.

    Never raises for a wrong answer: errors inside the student's code are reported as
    a message, so "Run all" always reaches the end of the notebook.

    Raises:
        KeyError: unknown exercise key (a typo in the notebook, not the student's fault).
    """
    ex = _get(key)
    try:
        note = ex.checker(answer)
    except NotSolved as e:
        print(f"[{key}] not solved yet: {e or 'fill in the function above and run this cell again.'}")
        return False
    except Mismatch as e:
        print(f"[{key}] not quite: {e}")
        return False
    except Exception as e:  # the student's code crashed: say where, not a traceback wall
        print(f"[{key}] your code raised {type(e).__name__}: {e}")
        return False
    print(f"[{key}] correct! {note}".rstrip())
    return True


def solution(key: str) -> Callable:
    """The worked solution of exercise `key` as a function."""
    return _get(key).solution


def show_solution(key: str) -> None:
    """Print the source of the worked solution of exercise `key` (for instructors)."""
    print(inspect.getsource(_get(key).solution))


def _call(answer: Callable, *args):
    """Call the student's function; None or NotImplementedError means not solved yet."""
    try:
        out = answer(*args)
    except NotImplementedError:
        raise NotSolved() from None
    if out is None or out is Ellipsis:
        raise NotSolved()
    return out


def compare(got, expected: Tensor, name: str, where: str = "", atol: float = 1e-4) -> None:
    """Compare a tensor answer with the expected one; raise Mismatch with a diagnosis.

    Detects a non-tensor, a wrong shape, NaN, a flipped sign and a constant factor.
    """
    if not isinstance(got, Tensor):
        raise Mismatch(f"{name} should be a torch tensor, got {type(got).__name__}")
    if got.shape != expected.shape:
        raise Mismatch(f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}{where}")
    got = got.detach().to(expected.dtype)
    if not torch.isfinite(got).all():
        raise Mismatch(f"{name} contains NaN or inf{where}")
    if torch.allclose(got, expected, atol=atol, rtol=1e-4):
        return
    if torch.allclose(-got, expected, atol=atol, rtol=1e-4):
        raise Mismatch(f"{name} has the wrong sign{where}")
    denom = (got * got).sum()
    if denom > 0:
        c = float((got * expected).sum() / denom)
        if torch.allclose(c * got, expected, atol=atol, rtol=1e-4):
            raise Mismatch(f"{name} is off by a factor of {1 / c:.3g}{where}")
    err = (got - expected).abs().max().item()
    raise Mismatch(f"{name} differs from the expected value by up to {err:.3g}{where}")


def _fixed_batch(shape=(6, 2), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


# ============================================================================ notebook 00
def interpolate(x_0, x_1, t):
    """x_t on the straight line from noise x_0 (t = 0) to data x_1 (t = 1); t has shape (B,)."""
    t = t[:, None]
    return (1 - t) * x_0 + t * x_1


def _check_interpolate(answer):
    x_0, x_1 = _fixed_batch()
    for t_value in (0.0, 0.3, 1.0):
        t = torch.full((6,), t_value)
        compare(_call(answer, x_0, x_1, t), interpolate(x_0, x_1, t), "x_t", f" at t = {t_value:.2f}")
    t = torch.linspace(0, 1, 6)
    compare(_call(answer, x_0, x_1, t), interpolate(x_0, x_1, t), "x_t", " when every sample has its own t")
    return "x_t starts at the noise (t = 0) and ends at the data (t = 1)."


register("00.interpolate", "x_t on the straight path", interpolate, _check_interpolate)


def euler_step(x, t, h, velocity):
    """One Euler step of dx/dt = velocity(x, t): move along the arrow for a time h."""
    return x + h * velocity(x, t)


def _check_euler_step(answer):
    x, _ = _fixed_batch()
    field = lambda x, t: torch.stack([-x[:, 1], x[:, 0]], dim=1) * (1 + t[:, None])  # noqa: E731
    for t_value, h in ((0.0, 0.1), (0.5, 0.25)):
        t = torch.full((6,), t_value)
        compare(_call(answer, x, t, h, field), euler_step(x, t, h, field), "the new x",
                f" at t = {t_value:.2f} with h = {h}")
    return "x + h v(x, t): follow the wind for a short time h."


register("00.euler_step", "one Euler step", euler_step, _check_euler_step)

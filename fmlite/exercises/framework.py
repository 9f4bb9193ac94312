"""The machinery every exercise shares: registry, verdicts, one guarded call (comparing: `.compare`).

A checker is a function `checker(answer) -> note` that calls the student's function with
`call`, raises `NotSolved` or `Mismatch` (with a diagnosis), or returns a short success note.
The rules every checker keeps, each written once:

- float64 inputs with one time per sample spread over the whole allowed domain, ends included where the formula
  is defined (`fmlite.exercises.inputs.domain_times`); `compare(..., t=t)` names an answer that is right except
  near the ends (a clamped t);
- one call per entry of `SIZES` (re-exported by `fmlite.exercises.inputs`), whose batch sizes, dimensions, data-set sizes and step
  counts differ, so a size written into the answer fails (`call` then says so: `FIXED_SIZE`);
- one dtype rule: a floating answer keeps the inputs' dtype (`compare.check_dtype`, inside `compare`);
- a loss keeps its gradient path to the model (`compare.check_gradient_path`);
- stand-in networks and fields (`fmlite.exercises.inputs`) refuse bad input with the very checks of
  `fmlite.models` (`fmlite.checks.check_flat_input`, `fmlite.checks.check_time`).

So a right answer written plainly passes and a wrong one cannot hide.
"""
from __future__ import annotations

import ast
import re
import inspect
import textwrap
from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from ..paths import SIGMA_SCHEDULES, Sigma

__all__ = ["check", "passes", "verdict", "show_solution", "solution", "EXERCISES", "Mismatch", "NotSolved",
           "register", "call", "call_untouched", "FIXED_SIZE", "SIZES", "Sizes", "IMAGE_BROADCAST_HINT"]


class Sizes(NamedTuple):
    """The sizes of one call: batch B, dimension D, data-set size N, number of steps K; B, D, N, K and K + 1 (the
    states of a trajectory) pairwise different."""
    B: int
    D: int
    N: int
    K: int


#: Every checker calls the answer once per entry, in this order: the batch sizes, dimensions, data-set sizes and
#: step counts differ between the calls, and within a call the four differ from each other, so a size written
#: into the answer (t.reshape(7, 1), torch.zeros(7, 2)) or taken from the wrong axis fails. (Re-exported by
#: `fmlite.exercises.inputs`, beside the other inputs.)
SIZES = (Sizes(B=7, D=2, N=4, K=5), Sizes(B=5, D=3, N=6, K=8))


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


#: All exercises by key ("NN.name", NN = notebook number, name = the function the student fills in).
EXERCISES: dict[str, Exercise] = {}


def register(key: str, title: str, solution: Callable, checker: Callable[[Callable], str]) -> None:
    """Add an exercise (each notebook module registers its own). Raises ValueError for a duplicate key."""
    if key in EXERCISES:
        raise ValueError(f"exercise {key!r} is defined twice")
    EXERCISES[key] = Exercise(key, title, solution, checker)


def _get(key: str) -> Exercise:
    if key not in EXERCISES:
        raise KeyError(f"unknown exercise {key!r}; known: {sorted(EXERCISES)}")
    return EXERCISES[key]


def verdict(key: str, answer: Callable) -> tuple[bool, str]:
    """Run the checker of exercise `key` on `answer`; return (correct, message). Never raises for a wrong
    answer: errors inside the student's code become the message.

    Raises:
        KeyError: unknown exercise key (a typo in the notebook, not the student's fault).
    """
    ex = _get(key)
    try:
        note = ex.checker(answer)
    except NotSolved as e:
        return False, f"[{key}] not solved yet: {str(e) or 'fill in the function above and run this cell again.'}"
    except Mismatch as e:
        return False, f"[{key}] not quite: {e}"
    except Exception as e:  # the student's code crashed: say what, not a traceback wall
        return False, f"[{key}] your code raised {type(e).__name__}: {e}"
    return True, f"[{key}] correct! {note}".rstrip()


def passes(key: str, answer: Callable) -> bool:
    """True if `answer` solves exercise `key` (silent; for tests)."""
    return verdict(key, answer)[0]


def check(key: str, answer: Callable) -> None:
    """Check a student's answer to exercise `key` and print the verdict.

    Returns None on purpose, so a notebook cell ending in `check(...)` shows only the message
    (nbval does not honour a trailing ";"). Use `passes` for a bool. Raises KeyError for an unknown key.
    """
    print(verdict(key, answer)[1])


def solution(key: str) -> Callable:
    """The worked solution of exercise `key` as a function."""
    return _get(key).solution


def show_solution(key: str) -> None:
    """Print the source of the worked solution of exercise `key` (for instructors)."""
    print(inspect.getsource(_get(key).solution))


# ----------------------------------------------------------------------------- calling the answer
def _function_node(answer: Callable):
    """The ast node (FunctionDef or Lambda) of the student's function, or None if its source cannot be read."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(answer)))
    except (OSError, TypeError, SyntaxError):
        return None
    return next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda))), None)


def _is_template(answer: Callable) -> bool:
    """True if the function still holds the template line (`return None`, `return ...`, `pass`, `...`, or
    `raise NotImplementedError`), or its source cannot be read."""
    fn = _function_node(answer)
    if fn is None:
        return True
    if isinstance(fn, ast.Lambda):
        return isinstance(fn.body, ast.Constant) and fn.body.value in (None, Ellipsis)
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if not body or all(isinstance(s, ast.Pass) for s in body):
        return True
    for node in ast.walk(fn):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant) and node.value.value in (None, ...):
            return True
        if isinstance(node, ast.Raise) and "NotImplementedError" in ast.dump(node):
            return True
    return False


def _filled_in(answer: Callable) -> bool:
    """True if the function's body holds statements besides the template's (`return None`, `pass`, `...`,
    `raise NotImplementedError`, a docstring): the student wrote code but kept the template's return."""
    fn = _function_node(answer)
    if not isinstance(fn, ast.FunctionDef):
        return False

    def template_line(stmt) -> bool:
        if isinstance(stmt, ast.Expr):       # a docstring or `...`
            return isinstance(stmt.value, ast.Constant)
        if isinstance(stmt, ast.Return):     # `return None`, `return ...`, `return`
            return stmt.value is None or isinstance(stmt.value, ast.Constant)
        return isinstance(stmt, (ast.Pass, ast.Raise))
    return not all(template_line(stmt) for stmt in fn.body)


class _FailedShapes(torch.overrides.TorchFunctionMode):
    """Records the tensor shapes of the first torch operation that raises (to aim the broadcasting hint)."""

    def __init__(self):
        super().__init__()
        self.shapes = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        try:
            return func(*args, **(kwargs or {}))
        except RuntimeError:
            if self.shapes is None:
                self.shapes = [tuple(a.shape) for a in args if isinstance(a, Tensor)]
            raise


#: The hint for code that works for one size only: every checker calls the answer with several sizes.
FIXED_SIZE = ("your code works for one batch size only ({e}): the check calls it with batches of different sizes "
              "(and different dimensions); take every size from the inputs (t[:, None], t.reshape(-1, 1), "
              "x.shape[0]), never a number such as 7")


def _fixed_size(e: Exception, args) -> bool:
    """True if the error names a batch size of another call (`SIZES`): a reshape to it ("shape '[7, 1]' is
    invalid for input of size 5") or a tensor of that size meeting this call's batch ("tensor a (5) must match the
    size of tensor b (7)"). This call's batch size is the leading size of its first tensor argument."""
    batch = next((a.shape[0] for a in args if isinstance(a, Tensor) and a.dim() > 0), None)
    others = {size.B for size in SIZES} - {batch}
    text = str(e)
    if "is invalid for input of size" in text:
        shape = text[text.find("[") + 1:text.find("]")]
        return any(int(n) in others for n in shape.replace(" ", "").split(",") if n.lstrip("-").isdigit())
    sizes = {int(n) for n in re.findall(r"\((\d+)\)", text)}
    return batch in sizes and bool(sizes & others)


#: What to do with t (B,) against images (B, C, H, W): said on a broadcasting error and by notebook 07's checker.
IMAGE_BROADCAST_HINT = ("t has shape (B,) but the images have shape (B, C, H, W): reshape it to (B, 1, 1, 1) "
                        "with t[:, None, None, None] (or t.view(-1, 1, 1, 1)) so that each image gets its own time")


def _broadcast_hint(e: Exception, shapes) -> str:
    if any(len(s) == 4 for s in shapes):
        return f"the shapes do not broadcast ({e}): {IMAGE_BROADCAST_HINT}"
    flat = [s for s in shapes if len(s) == 2]
    if flat and any(len(s) == 3 for s in shapes):  # (B, 1) or (B, N) against (B, N, D)
        if flat[0][1] == 1:
            return (f"the shapes do not broadcast ({e}): t[:, None], of shape (B, 1), meets a (B, N, D) tensor "
                    "of all (point, data point) pairs; there use t[:, None, None], of shape (B, 1, 1)")
        return (f"the shapes do not broadcast ({e}): a (B, N) tensor such as the weights meets a (B, N, D) "
                "tensor; give it a last axis of size 1, w[:, :, None], of shape (B, N, 1)")
    return (f"the shapes do not broadcast ({e}); t has shape (B,): use t[:, None], of shape (B, 1), to combine "
            "it with points of shape (B, D) (one time per row) or with a (B, N) tensor; the same holds for every "
            "per-sample value of shape (B,), such as sigma(t), sigma.derivative(t) or a path coefficient")


#: The noise schedules' class names, as Python's TypeError quotes them ('Sigma' and 'Tensor').
_SCHEDULES = tuple(f"'{cls.__name__}'" for cls in (Sigma, *SIGMA_SCHEDULES.values()))


def call(answer: Callable, *args):
    """Call the student's function. A template (None, `...`, NotImplementedError) is NotSolved; a filled-in
    body that returns None is told it forgot `return`; a broadcasting error gets a hint about t's shape (or,
    when two batch sizes meet, about a hard-coded size, as does a reshape to a fixed size), and arithmetic on a
    noise schedule itself (`sigma * eps`) a hint to call it. Checkers call every answer with each of
    `fmlite.exercises.inputs.SIZES`, so a size written into the answer fails on one of them."""
    recorder = _FailedShapes()
    try:
        with recorder:
            out = answer(*args)
    except NotImplementedError:
        raise NotSolved() from None
    except RuntimeError as e:
        if _fixed_size(e, args):   # a reshape to, or a tensor of, another call's batch size
            raise Mismatch(FIXED_SIZE.format(e=e)) from None
        if "must match the size" in str(e):
            raise Mismatch(_broadcast_hint(e, recorder.shapes or [])) from None
        raise
    except TypeError as e:
        if any(name in str(e) for name in _SCHEDULES):
            raise Mismatch(f"sigma is a schedule, not a tensor ({e}): call it, sigma(t), for σ(t) of shape (B,), "
                           "and sigma.derivative(t) for σ'(t)") from None
        raise
    if out is Ellipsis or (out is None and _is_template(answer)):
        if _filled_in(answer):
            raise NotSolved("your function still ends with the template's `return None` (or `...`): return your "
                            "result instead, then run this cell again")
        raise NotSolved()
    if out is None:
        raise Mismatch("your function returned None: did you forget `return`?")
    return out


def call_untouched(answer: Callable, *args, names: tuple[str, ...]):
    """`call` with copies of the tensor arguments (named `names`, in order); Mismatch if the answer changed one
    in place (`x *= ...`, `x.sub_(...)`), which would corrupt the caller's tensor."""
    given = [a.clone() if isinstance(a, Tensor) else a for a in args]
    out = call(answer, *given)
    for name, a, g in zip(names, args, given):
        if isinstance(a, Tensor) and not (g.shape == a.shape and torch.equal(g, a)):
            raise Mismatch(f"your function changed its input {name} in place (`{name} *= ...`, `{name}.sub_(...)`, "
                           f"`{name}[...] = ...`): the caller still needs it; compute a new tensor instead")
    return out

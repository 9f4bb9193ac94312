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

__all__ = ["check", "passes", "verdict", "show_solution", "solution", "EXERCISES", "Mismatch", "NotSolved", "compare",
           "known_mistake"]


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


def verdict(key: str, answer: Callable) -> tuple[bool, str]:
    """Run the checker of exercise `key` on `answer`; return (correct, message). Never raises for
    a wrong answer: errors inside the student's code become the message.

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

    Returns None on purpose, so a notebook cell ending in `check(...)` shows only the
    message (nbval does not honour a trailing ";"). Use `passes` for a bool.

    Raises:
        KeyError: unknown exercise key.
    """
    print(verdict(key, answer)[1])


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
            raise Mismatch(f"{name} is {1 / c:.3g} times the expected value{where}")
    err = (got - expected).abs().max().item()
    raise Mismatch(f"{name} differs from the expected value by up to {err:.3g}{where}")


def known_mistake(got, mistakes, expected: Tensor | None = None, atol: float = 1e-4) -> str | None:
    """The message of the first known wrong answer that `got` equals, or None.

    Args:
        got: the student's answer (anything; only tensors are compared).
        mistakes: [(message, wrong tensor), ...].
        expected: the right answer; a wrong answer that happens to equal it (or is not
            finite) is skipped, so a correct answer is never reported as a mistake.
    """
    if not isinstance(got, Tensor):
        return None
    for message, wrong in mistakes:
        if got.shape != wrong.shape or not torch.isfinite(wrong).all():
            continue
        if expected is not None and torch.allclose(wrong, expected.to(wrong.dtype), atol=atol, rtol=1e-4):
            continue
        if torch.allclose(got.detach().to(wrong.dtype), wrong, atol=atol, rtol=1e-4):
            return message
    return None


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
        try:
            got = _call(answer, x_0, x_1, t)
        except RuntimeError as e:
            if "size of tensor" in str(e) or "must match" in str(e):
                raise Mismatch("t has shape (B,) and x_0 has shape (B, 2): write t[:, None] (shape (B, 1)) "
                               "so t broadcasts over the two coordinates") from None
            raise
        if t_value != 0.3 and known_mistake(got, [("backwards", interpolate(x_1, x_0, t))], interpolate(x_0, x_1, t)):
            raise Mismatch(f"x_t runs backwards: at t = {t_value:.0f} it should be "
                           f"{'the noise x_0' if t_value == 0 else 'the data x_1'}; "
                           "t = 0 is noise and t = 1 is data (you swapped x_0 and x_1)")
        compare(got, interpolate(x_0, x_1, t), "x_t", f" at t = {t_value:.2f}")
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
        got = _call(answer, x, t, h, field)
        message = known_mistake(got, [
            (f"you moved by the whole velocity v(x, t); multiply it by the step size h (h = {h} here): x + h v(x, t)",
             x + field(x, t)),
            ("you returned only the displacement h v(x, t); add it to the current position x", h * field(x, t)),
        ], euler_step(x, t, h, field))
        if message:
            raise Mismatch(message)
        compare(got, euler_step(x, t, h, field), "the new x", f" at t = {t_value:.2f} with h = {h}")
    return "x + h v(x, t): follow the wind for a short time h."


register("00.euler_step", "one Euler step", euler_step, _check_euler_step)


# ============================================================================ notebook 07
def interpolate_images(x_0, x_1, t):
    """x_t = t x_1 + (1 - t) x_0 for images (B, C, H, W): t (B,) becomes (B, 1, 1, 1) to broadcast per image."""
    t = t[:, None, None, None]
    return t * x_1 + (1 - t) * x_0


def _images(batch: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 1, 8, 8, generator=g), torch.randn(batch, 1, 8, 8, generator=g)


_BROADCAST_HINT = ("t has shape (B,) but the images have shape (B, C, H, W): reshape it to (B, 1, 1, 1) with "
                   "t[:, None, None, None] (or t.view(-1, 1, 1, 1)) so that each image gets its own time")


def _call_images(answer, x_0, x_1, t):
    try:
        return _call(answer, x_0, x_1, t)
    except RuntimeError as e:
        if "size of tensor" in str(e) or "broadcast" in str(e):
            raise Mismatch(_BROADCAST_HINT + f" (PyTorch said: {e})") from None
        raise


def _check_interpolate_images(answer):
    x_0, x_1 = _images(5, 70)
    for t_value, end, name in ((0.0, x_0, "the noise x_0"), (1.0, x_1, "the image x_1")):
        got = _call_images(answer, x_0, x_1, torch.full((5,), t_value))
        compare(got, end, "x_t", f" at t = {t_value:.0f} (x_t should be {name})")
    for batch in (5, 8):  # 8 images of 8 x 8 pixels: a wrong broadcast runs without an error
        x_0, x_1 = _images(batch, 71)
        t = torch.linspace(0.1, 0.9, batch)
        got = _call_images(answer, x_0, x_1, t)
        expected = interpolate_images(x_0, x_1, t)
        if isinstance(got, Tensor) and got.shape == expected.shape and not torch.allclose(got, expected, atol=1e-5):
            for wrong, axis in ((t[:, None], "rows"), (t, "columns")):
                if torch.allclose(got, wrong * x_1 + (1 - wrong) * x_0, atol=1e-5):
                    raise Mismatch(f"with {batch} images of 8 x 8 pixels your t was spread along the {axis} of "
                                   f"every image instead of one time per image: {_BROADCAST_HINT}")
        compare(got, expected, "x_t", f" when each of {batch} images has its own t")
    return "t[:, None, None, None] gives every image its own time: x_t = t x_1 + (1 - t) x_0, pixel by pixel."


register("07.interpolate_images", "x_t for a batch of images (the time broadcast)", interpolate_images,
         _check_interpolate_images)


def guided(model, x, t, y, w):
    """Classifier-free guided velocity v(x, t, null) + w (v(x, t, y) - v(x, t, null)); w = 1 is plain conditional."""
    v_cond = model(x, t, y)
    v_uncond = model(x, t, torch.full_like(y, model.null_label))
    return v_uncond + w * (v_cond - v_uncond)


def _guidance_model():
    from .models import ConvNet
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        model = ConvNet(width=16, blocks=1, num_classes=10)  # width 8: GroupNorm erases the labels
        torch.nn.init.normal_(model.conv_out[-1].weight, std=0.3)  # not the zero start: outputs must differ
    return model.eval()


def _check_guided(answer):
    model = _guidance_model()
    g = torch.Generator().manual_seed(72)
    x, t, y = torch.randn(6, 1, 8, 8, generator=g), torch.rand(6, generator=g), torch.tensor([0, 1, 3, 3, 7, 9])
    with torch.no_grad():
        v_c, v_u = model(x, t, y), model(x, t, torch.full_like(y, model.null_label))
        for w in (1.0, 3.0, 0.0, 0.5):
            got = _call(answer, model, x, t, y, w)
            expected = v_u + w * (v_c - v_u)
            if isinstance(got, Tensor) and got.shape == expected.shape and not torch.allclose(got, expected,
                                                                                                atol=1e-5):
                wrong = {"the conditional v(x, t, y) whatever w is: scale the difference v_cond - v_uncond "
                         "by w": v_c,
                         "the (1 + w) form of Ho & Salimans 2022; in this course w = 1 is plain conditional "
                         "sampling, so use v_uncond + w (v_cond - v_uncond)": v_u + (1 + w) * (v_c - v_u),
                         "conditional and unconditional velocities swapped: start from v(x, t, null) and move "
                         "w times towards v(x, t, y)": v_c + w * (v_u - v_c)}
                for message, value in wrong.items():
                    if torch.allclose(got, value, atol=1e-5):
                        raise Mismatch(f"at w = {w:g} your velocity is {message}")
            name = {1.0: " (w = 1 should give the conditional v(x, t, y))",
                    0.0: " (w = 0 should give the unconditional v(x, t, null), with y = model.null_label)"}
            compare(got, expected, "the guided velocity", name.get(w, f" at w = {w:g} (expected v(x, t, null) + "
                    f"{w:g} (v(x, t, y) - v(x, t, null)) with null = model.null_label)"), atol=1e-5)
    return "w = 0 unconditional, w = 1 conditional, w > 1 pushes past it: sharper, less varied samples."


register("07.guided_velocity", "classifier-free guidance", guided, _check_guided)


# ============================================================================ notebook 01
# Helpers of notebooks 01-02 carry the suffix _0102 so that they cannot clash with other sections' names,
# and checkers fetch solutions with solution(key), never through a module-level name another section might reuse.
def _known_mistake_0102(got, expected: Tensor, mistakes, where: str, atol: float = 1e-4) -> None:
    """Raise Mismatch("at ...: message") if got matches one of the known wrong answers [(message, value), ...]
    that differ from the expected one (see `known_mistake`)."""
    message = known_mistake(got, mistakes, expected, atol)
    if message:
        raise Mismatch(f"{where.strip()}: {message}")


class _FailedShapes0102(torch.overrides.TorchFunctionMode):
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


def _call_0102(answer, *args):
    """_call, with a hint when t of shape (B,) was not reshaped to broadcast against points (B, D), or
    against a (B, N, D) tensor of all (point, data point) pairs."""
    recorder = _FailedShapes0102()
    try:
        with recorder:
            return _call(answer, *args)
    except RuntimeError as e:
        if "must match the size" in str(e):
            shapes = recorder.shapes or []
            flat = [s for s in shapes if len(s) == 2]
            if flat and any(len(s) == 3 for s in shapes):  # (B, 1) or (B, N) against (B, N, D)
                if flat[0][1] == 1:
                    raise Mismatch(f"the shapes do not broadcast ({e}): t[:, None], of shape (B, 1), meets a "
                                   "(B, N, D) tensor of all (point, data point) pairs; there use t[:, None, None], "
                                   "of shape (B, 1, 1)") from None
                raise Mismatch(f"the shapes do not broadcast ({e}): a (B, N) tensor such as the weights meets a "
                               "(B, N, D) tensor; give it a last axis of size 1, w[:, :, None], of shape "
                               "(B, N, 1)") from None
            raise Mismatch(f"the shapes do not broadcast ({e}); t has shape (B,): use t[:, None], of shape "
                           "(B, 1), to combine it with points of shape (B, D) or a (B, N) tensor") from None
        raise


def _inputs_0102(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)


def stochastic_interpolant(x_0, x_1, t, eps, sigma):
    """x_t = (1 - t) x_0 + t x_1 + sigma(t) eps: the straight path from noise to data, blurred by sigma(t).

    x_0, x_1, eps have shape (B, 2), t has shape (B,); sigma is a schedule such as
    fmlite.paths.BridgeSigma(0.5), and sigma(t) has shape (B,).
    """
    sigma_t = sigma(t)[:, None]  # (B, 1): broadcasts against (B, 2)
    t = t[:, None]
    return (1 - t) * x_0 + t * x_1 + sigma_t * eps


def _check_stochastic_interpolant(answer):
    from .paths import BridgeSigma, ConstantSigma, SineSigma
    right = solution("01.stochastic_interpolant")
    x_0, x_1, eps = _inputs_0102()
    # SineSigma first: its sigma and sigma' are both non-zero at t = 0.3, so each mistake is told apart there
    cases = [(ConstantSigma(0.0), 0.3)] + [(s, v) for s in (SineSigma(0.5), ConstantSigma(0.5), BridgeSigma(0.8))
                                           for v in (0.0, 0.3, 0.7, 1.0)]
    for sigma, t_value in cases:
        t = torch.full((6,), t_value)
        got = _call_0102(answer, x_0, x_1, t, eps, sigma)
        expected = right(x_0, x_1, t, eps, sigma)
        where = f" at t = {t_value:.2f} with {sigma!r}"
        line = (1 - t_value) * x_0 + t_value * x_1
        s, ds = sigma(t)[:, None], sigma.derivative(t)[:, None]
        _known_mistake_0102(got, expected, [
            ("x_0 and x_1 are swapped: t = 0 is the noise x_0 and t = 1 is the data x_1, "
             "so x_t = (1 − t) x_0 + t x_1 + σ(t) ε", t_value * x_0 + (1 - t_value) * x_1 + s * eps),
            ("x_t is missing the noise term σ(t) ε", line),
            ("you used σ'(t) (sigma.derivative); x_t needs σ(t) ε, the derivative belongs in u_t", line + ds * eps),
            ("σ(t) is the standard deviation of the extra noise: multiply ε by σ(t), not by σ(t)²",
             line + s ** 2 * eps),
        ], where)
        compare(got, expected, "x_t", where)
    t = torch.linspace(0.0, 1.0, 6)
    sigma = SineSigma(0.5)
    compare(_call_0102(answer, x_0, x_1, t, eps, sigma), right(x_0, x_1, t, eps, sigma), "x_t",
            f" when every sample has its own t (t = 0, 0.2, ..., 1) with {sigma!r}")
    return ("x_t hits x_0 at t = 0 and x_1 at t = 1 exactly when σ(0) = σ(1) = 0 (bridge, sine), "
            "never with a constant σ > 0.")


register("01.stochastic_interpolant", "the stochastic interpolant x_t with σ(t)", stochastic_interpolant,
         _check_stochastic_interpolant)


def target_velocity(x_0, x_1, t, eps, sigma):
    """The conditional target u_t = d x_t / dt = x_1 - x_0 + sigma'(t) eps of the stochastic interpolant
    x_t = (1 - t) x_0 + t x_1 + sigma(t) eps (shapes as in stochastic_interpolant)."""
    d_sigma_t = sigma.derivative(t)[:, None]  # sigma'(t), (B, 1)
    return x_1 - x_0 + d_sigma_t * eps


def _check_target_velocity(answer):
    from .paths import BridgeSigma, ConstantSigma, SineSigma
    right = solution("01.target_velocity")
    x_0, x_1, eps = _inputs_0102(seed=1)
    cases = [(ConstantSigma(0.5), 0.3)] + [(s, v) for s in (SineSigma(0.5), BridgeSigma(0.8)) for v in (0.2, 0.7)]
    for sigma, t_value in cases:
        t = torch.full((6,), t_value)
        got = _call_0102(answer, x_0, x_1, t, eps, sigma)
        expected = right(x_0, x_1, t, eps, sigma)
        s, ds = sigma(t)[:, None], sigma.derivative(t)[:, None]
        where = f" at t = {t_value:.2f} with {sigma!r} (σ'(t) = {float(ds[0]):.3f})"
        _known_mistake_0102(got, expected, [
            ("you returned x_1 − x_0, the target for a constant σ only; here σ changes with t, so x_t also "
             "moves with the noise: add σ'(t) ε (sigma.derivative(t))", x_1 - x_0),
            ("you added σ(t) ε, but the time derivative of σ(t) ε is σ'(t) ε (sigma.derivative(t))",
             x_1 - x_0 + s * eps),
            ("x_1 − x_0 is flipped: the path runs from the noise x_0 to the data x_1", x_0 - x_1 + ds * eps),
            ("the σ'(t) ε term has the wrong sign", x_1 - x_0 - ds * eps),
        ], where)
        compare(got, expected, "u_t", where)
    t = torch.linspace(0.1, 0.9, 6)
    sigma = BridgeSigma(0.8)
    compare(_call_0102(answer, x_0, x_1, t, eps, sigma), right(x_0, x_1, t, eps, sigma), "u_t",
            f" when every sample has its own t with {sigma!r}")
    return "u_t = x_1 − x_0 + σ'(t) ε is the time derivative of x_t, noise term included."


register("01.target_velocity", "the target velocity u_t, σ'(t) ε included", target_velocity,
         _check_target_velocity)


# ============================================================================ notebook 02
# The setting of these exercises: the straight path x_t = (1 - t) x_0 + t x_1 with sigma = 0,
# x_0 ~ N(0, I), x_1 uniform over a small data set y_1..y_N (an (N, D) tensor), times t < 1.
def conditional_velocity(x, x_1, t):
    """The velocity at x (time t < 1) of the straight path that reaches the data point x_1 at t = 1:
    the distance still to go, x_1 - x, divided by the time left, 1 - t. Shapes: x, x_1 (B, D), t (B,)."""
    return (x_1 - x) / (1 - t)[:, None]


def _inputs_02_0102(t_value: float, n_data: int = 4, seed: int = 2):
    """Points x = x_t on straight paths towards a small data set (so the posterior is not degenerate)."""
    g = torch.Generator().manual_seed(seed)
    data = 1.5 * torch.randn(n_data, 2, generator=g)
    x_0 = torch.randn(6, 2, generator=g)
    x_1 = data[torch.arange(6) % n_data]
    return (1 - t_value) * x_0 + t_value * x_1, x_0, x_1, data


def _check_conditional_velocity(answer):
    right = solution("02.conditional_velocity")
    for t_value in (0.0, 0.3, 0.8):
        x, x_0, x_1, _ = _inputs_02_0102(t_value)
        t = torch.full((6,), t_value)
        got = _call_0102(answer, x, x_1, t)
        expected = right(x, x_1, t)
        where = f" at t = {t_value:.2f}"
        _known_mistake_0102(got, expected, [
            ("you returned x_1 − x, the distance still to go; divide it by the time left, 1 − t", x_1 - x),
            ("divide by the time left, 1 − t, not by t", (x_1 - x) / max(t_value, 1e-3)),
        ], where)
        compare(got, expected, "u_t", where)
    _, x_0, x_1, _ = _inputs_02_0102(0.5)
    t = torch.linspace(0.0, 0.9, 6)
    x = (1 - t)[:, None] * x_0 + t[:, None] * x_1
    compare(_call_0102(answer, x, x_1, t), right(x, x_1, t), "u_t", " when every sample has its own t")
    return "on the straight path (x = x_t) it equals x_1 − x_0 at every t: constant speed, straight line."


register("02.conditional_velocity", "the conditional velocity towards one data point", conditional_velocity,
         _check_conditional_velocity)


def posterior_weights(x, t, data):
    """w_i(x) = P(x_1 = y_i | x_t = x) for every data point y_i (the rows of data, (N, D)); x (B, D), t (B,).

    Given x_1 = y_i, x_t = t y_i + (1 - t) x_0 is Gaussian with mean t y_i and standard deviation
    1 - t, so by Bayes' rule (uniform prior) w_i(x) is proportional to exp(-|x - t y_i|^2 / (2 (1 - t)^2)).
    Returns (B, N), each row summing to 1.
    """
    d2 = ((x[:, None, :] - t[:, None, None] * data[None, :, :]) ** 2).sum(-1)  # (B, N) squared distances
    return torch.softmax(-d2 / (2 * (1 - t)[:, None] ** 2), dim=1)  # softmax = exp, then normalise each row


def _check_posterior_weights(answer):
    right = solution("02.posterior_weights")
    for t_value in (0.0, 0.4, 0.8):
        x, _, _, data = _inputs_02_0102(t_value)
        t = torch.full((6,), t_value)
        got = _call_0102(answer, x, t, data)
        expected = right(x, t, data)
        where = f" at t = {t_value:.2f}"
        if isinstance(got, Tensor) and got.shape == expected.shape and torch.isfinite(got).all():
            sums = got.detach().double().sum(dim=1)
            if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
                raise Mismatch(f"at t = {t_value:.2f}: each row of weights must sum to 1 (one probability per "
                               f"data point), got row sums {[round(float(v), 3) for v in sums]}; normalise over "
                               "the data points, e.g. torch.softmax(logits, dim=1)")
        d2_plain = ((x[:, None, :] - data[None]) ** 2).sum(-1)
        d2 = ((x[:, None, :] - t_value * data[None]) ** 2).sum(-1)
        _known_mistake_0102(got, expected, [
            ("compare x with t y_i, not with y_i: at time t the paths towards y_i are centred at t y_i",
             torch.softmax(-d2_plain / (2 * (1 - t_value) ** 2), dim=1)),
            ("the noise left in x_t is (1 − t) x_0, whose variance is (1 − t)², not 1 − t",
             torch.softmax(-d2 / (2 * (1 - t_value)), dim=1)),
            ("the sign of the exponent is flipped: nearer data points must get larger weights",
             torch.softmax(d2 / (2 * (1 - t_value) ** 2), dim=1)),
        ], where)
        compare(got, expected, "the weight matrix",
                where + " (expected one row per point x, one column per data point)")
    return "near t = 1 each row becomes one-hot: x_t already knows which data point it is heading to."


register("02.posterior_weights", "posterior weights over a small data set", posterior_weights,
         _check_posterior_weights)


def average_velocity(x, t, data):
    """The marginal velocity u_t(x) = sum_i w_i(x) (y_i - x) / (1 - t): the conditional velocities towards
    every data point y_i, averaged with the posterior weights w_i(x). x (B, D), t (B,), data (N, D)."""
    d2 = ((x[:, None, :] - t[:, None, None] * data[None, :, :]) ** 2).sum(-1)  # (B, N)
    w = torch.softmax(-d2 / (2 * (1 - t)[:, None] ** 2), dim=1)  # posterior weights, (B, N)
    u_i = (data[None, :, :] - x[:, None, :]) / (1 - t)[:, None, None]  # conditional velocities, (B, N, D)
    return (w[:, :, None] * u_i).sum(dim=1)


def _check_average_velocity(answer):
    right = solution("02.marginal_velocity")
    for t_value in (0.0, 0.4, 0.8):
        x, _, _, data = _inputs_02_0102(t_value)
        t = torch.full((6,), t_value)
        got = _call_0102(answer, x, t, data)
        expected = right(x, t, data)
        where = f" at t = {t_value:.2f}"
        w = solution("02.posterior_weights")(x, t, data)
        _known_mistake_0102(got, expected, [
            ("you averaged over all data points equally; weight each one by w_i(x) = P(x_1 = y_i | x_t = x)",
             (data[None] - x[:, None]).mean(dim=1) / (1 - t_value)),
            ("you averaged the distances y_i − x; divide them by the time left, 1 − t, to get velocities",
             (w[:, :, None] * (data[None] - x[:, None])).sum(dim=1)),
        ], where)
        compare(got, expected, "u_t(x)", where)
    return "the wind at x is the weighted average of where every stalk through x is told to go."


register("02.marginal_velocity", "the marginal velocity as a weighted average", average_velocity,
         _check_average_velocity)


# ============================================================================ notebook 03
# The setting: the straight path x_t = (1 - t) x_0 + t x_1 (sigma = 0), target u_t = x_1 - x_0,
# |.|^2 summed over the coordinates and averaged over the batch, as in fmlite.train.flow_matching_loss.
class _TinyField(torch.nn.Module):
    """A fixed, differentiable velocity field v(x, t) = x A + t b + c for the checks (no random weights)."""

    def __init__(self):
        super().__init__()
        self.A = torch.nn.Parameter(torch.tensor([[0.5, -0.3], [0.8, 0.2]]))
        self.b = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        self.c = torch.nn.Parameter(torch.tensor([0.3, 0.1]))

    def forward(self, x, t):
        t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1)
        return x @ self.A + t * self.b + self.c


def _known_mistake_0304(got: float, mistakes, where: str = "") -> None:
    """Raise Mismatch with the message of the first (message, value) whose value matches the answer."""
    for message, value in mistakes:
        if abs(got - float(value)) <= 1e-4 * max(1.0, abs(float(value))):
            raise Mismatch(message + where)


def _known_mistake_tensor_0304(got, mistakes, where: str = "") -> None:
    """Raise Mismatch with the first message whose tensor matches the answer (see `known_mistake`)."""
    message = known_mistake(got, mistakes, atol=1e-5)
    if message:
        raise Mismatch(message + where)


def _as_number(got, name: str) -> float:
    """A scalar answer (0-d tensor, one-element tensor or float) as a float, with a clear message otherwise."""
    if isinstance(got, Tensor):
        if got.numel() != 1:
            raise Mismatch(f"{name} should be one number, got a tensor of shape {tuple(got.shape)}: "
                           "average over the batch (and sum over the coordinates)")
        got = got.detach().reshape(())
    import numbers
    if not isinstance(got, (Tensor, numbers.Real)):
        raise Mismatch(f"{name} should be a number (a 0-d tensor), got {type(got).__name__}")
    value = float(got)
    if value != value or value in (float("inf"), float("-inf")):
        raise Mismatch(f"{name} is {value}")
    return value


def fm_loss(model, x_0, x_1, t):
    """The flow matching loss of one batch on the straight path: mean over the batch of |v_theta(x_t, t) - u_t|^2,
    with x_t = (1 - t) x_0 + t x_1 and target u_t = x_1 - x_0. x_0, x_1 (B, D), t (B,); returns a 0-d tensor."""
    x_t = (1 - t[:, None]) * x_0 + t[:, None] * x_1      # the point on the straight path at time t
    u_t = x_1 - x_0                                     # its velocity: the conditional target
    return ((model(x_t, t) - u_t) ** 2).sum(dim=1).mean()  # |.|^2 over coordinates, mean over the batch


def _check_fm_loss(answer):
    model = _TinyField()
    x_0, x_1 = _fixed_batch((8, 2), seed=3)
    t = torch.linspace(0.05, 0.95, 8)
    calls = []  # the shapes of the arguments of every model call, to spot model(t, x_t)
    hook = model.register_forward_pre_hook(
        lambda module, args: calls.append([tuple(getattr(a, "shape", ())) for a in args]))
    try:
        got = _call(answer, model, x_0, x_1, t)
    except RuntimeError as e:
        if calls and len(calls[-1]) == 2 and len(calls[-1][0]) <= 1 and len(calls[-1][1]) == 2:
            raise Mismatch(f"the model was called as model(t, x) and failed ({e}): call model(x_t, t), x first: "
                           "the points (B, 2), then the times (B,)") from None
        raise
    finally:
        hook.remove()
    if not isinstance(got, Tensor):
        raise Mismatch(f"return the loss as a torch tensor, not a {type(got).__name__} (no .item()), so that "
                       "loss.backward() can train the model")
    value = _as_number(got, "the loss")
    if not got.requires_grad:
        raise Mismatch("your loss carries no gradient, so training could not use it: compute it from "
                       "model(x_t, t) without torch.no_grad() or .detach()")
    with torch.no_grad():
        tt = t[:, None]
        x_t, u_t = (1 - tt) * x_0 + tt * x_1, x_1 - x_0
        v = model(x_t, t)
        sq = ((v - u_t) ** 2).sum(dim=1)
        expected = sq.mean()
        x_flip = tt * x_0 + (1 - tt) * x_1
        _known_mistake_0304(value, [
            ("your loss is half the expected value: sum the squares over the 2 coordinates (‖·‖² is a sum) "
             "and average over the batch only; F.mse_loss averages over the coordinates too",
             expected / 2),
            (f"your loss is {len(t)} times too large: average over the batch (.mean()), don't sum",
             sq.sum()),
            ("your loss is the mean of ‖v − u_t‖, not of its square ‖v − u_t‖²", (v - u_t).norm(dim=1).mean()),
            ("the target has the wrong sign: the velocity points from the noise to the data, u_t = x_1 − x_0",
             ((v + u_t) ** 2).sum(dim=1).mean()),
            ("x_t runs the wrong way in time: at t = 0 it must be the noise x_0 and at t = 1 the data x_1, "
             "x_t = (1 − t) x_0 + t x_1",
             ((model(x_flip, t) - u_t) ** 2).sum(dim=1).mean()),
            ("the target is the velocity x_1 − x_0, not the data point x_1", ((v - x_1) ** 2).sum(dim=1).mean()),
            ("evaluate the model at x_t, the point on the path, not at the noise x_0",
             ((model(x_0, t) - u_t) ** 2).sum(dim=1).mean()),
            ("evaluate the model at x_t, the point on the path, not at the data x_1",
             ((model(x_1, t) - u_t) ** 2).sum(dim=1).mean()),
        ])
    if abs(value - float(expected)) > 1e-4 * max(1.0, abs(float(expected))):
        raise Mismatch(f"your loss is {value:.5g}, expected {float(expected):.5g} on the test batch")
    return "this is exactly fmlite.train.flow_matching_loss on the straight path."


register("03.fm_loss", "the flow matching loss of a batch", fm_loss, _check_fm_loss)


def loss_floor(x_0, x_1, t, data):
    """Monte-Carlo estimate of the loss floor E|u_t - u_t(x_t)|^2 on the straight path: how far the conditional
    target x_1 - x_0 scatters around the exact marginal field u_t(x_t) = E[u_t | x_t] of the finite data set
    (`fmlite.exact.marginal_velocity`). x_0, x_1 (B, D), t (B,), data (N, D); returns a 0-d tensor."""
    from .exact import marginal_velocity
    from .paths import LinearPath

    x_t = (1 - t[:, None]) * x_0 + t[:, None] * x_1
    u_t = x_1 - x_0                                                   # what each sample is told to do
    u_marginal = marginal_velocity(x_t, t, data, LinearPath())       # the best any model can do at x_t
    return ((u_t - u_marginal) ** 2).sum(dim=1).mean()


def _inputs_03_floor(n: int = 400, seed: int = 4):
    g = torch.Generator().manual_seed(seed)
    data = 1.5 * torch.randn(6, 2, generator=g)
    x_1 = data[torch.randint(0, len(data), (n,), generator=g)]
    x_0 = torch.randn(n, 2, generator=g)
    t = torch.rand(n, generator=g) * 0.98
    return x_0, x_1, t, data


def _check_loss_floor(answer):
    from .exact import marginal_velocity
    from .paths import LinearPath

    x_0, x_1, t, data = _inputs_03_floor()
    value = _as_number(_call(answer, x_0, x_1, t, data), "the floor")
    tt = t[:, None]
    x_t, u_t = (1 - tt) * x_0 + tt * x_1, x_1 - x_0
    u_m = marginal_velocity(x_t, t, data, LinearPath())
    sq = ((u_t - u_m) ** 2).sum(dim=1)
    expected = sq.mean()
    _known_mistake_0304(value, [
        ("your floor is half the expected value: sum the squares over the 2 coordinates and average over "
         "the batch only", expected / 2),
        ("your floor is the mean of ‖u_t − u_t(x_t)‖, not of its square", (u_t - u_m).norm(dim=1).mean()),
        ("this is E‖u_t‖², the loss of the field v = 0; subtract the marginal field u_t(x_t) from the "
         "target first", (u_t ** 2).sum(dim=1).mean()),
        ("this is E‖u_t(x_t)‖², the size of the marginal field; the floor is how far the target u_t "
         "scatters around it, E‖u_t − u_t(x_t)‖²", (u_m ** 2).sum(dim=1).mean()),
        ("evaluate the marginal field at x_t, where the sample is at time t, not at the noise x_0",
         ((u_t - marginal_velocity(x_0, t, data, LinearPath())) ** 2).sum(dim=1).mean()),
        ("evaluate the marginal field at x_t, where the sample is at time t, not at the data x_1",
         ((u_t - marginal_velocity(x_1, t, data, LinearPath())) ** 2).sum(dim=1).mean()),
        ("the target has the wrong sign: u_t = x_1 − x_0 (from the noise to the data)",
         ((-u_t - u_m) ** 2).sum(dim=1).mean()),
        (f"average over the batch (.mean()), don't sum: your floor is {len(t)} times too large", sq.sum()),
    ])
    if abs(value - float(expected)) > 1e-4 * max(1.0, abs(float(expected))):
        raise Mismatch(f"your floor is {value:.5g}, expected {float(expected):.5g} on the test batch")
    return "no network can get its loss below this number on these data."


register("03.loss_floor", "the loss floor E|u_t - u_t(x_t)|^2", loss_floor, _check_loss_floor)


# ============================================================================ notebook 04
def _field_04(x, t):
    """A smooth, time-dependent, nonlinear test field; t may be a number or a tensor (B,)."""
    t = torch.as_tensor(t, dtype=x.dtype)
    t = t.reshape(-1, 1) if t.dim() else t
    rot = torch.stack([-x[:, 1], x[:, 0]], dim=1)
    return (1 + t) * rot + 0.5 * torch.sin(x) - 0.3 * t


def rk4_step(x, t, h, velocity):
    """One classical Runge-Kutta (RK4) step of dx/dt = velocity(x, t) from time t (a tensor (B,)) to t + h."""
    k1 = velocity(x, t)                          # slope at the start
    k2 = velocity(x + 0.5 * h * k1, t + 0.5 * h)  # slope at the middle, using k1
    k3 = velocity(x + 0.5 * h * k2, t + 0.5 * h)  # slope at the middle again, using k2
    k4 = velocity(x + h * k3, t + h)              # slope at the end, using k3
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _check_rk4_step(answer):
    x, _ = _fixed_batch((6, 2), seed=5)
    v = _field_04
    for t_value, h in ((0.0, 0.1), (0.4, 0.25)):
        t = torch.full((6,), t_value)
        got = _call(answer, x, t, h, v)
        expected = rk4_step(x, t, h, v)
        where = f" (at t = {t_value:.2f} with h = {h})"
        k1 = v(x, t)
        k2 = v(x + 0.5 * h * k1, t + 0.5 * h)
        k3 = v(x + 0.5 * h * k2, t + 0.5 * h)
        k4 = v(x + h * k3, t + h)
        s1 = v(x, t)                       # the same four slopes, all (wrongly) at time t
        s2 = v(x + 0.5 * h * s1, t)
        s3 = v(x + 0.5 * h * s2, t)
        s4 = v(x + h * s3, t)
        _known_mistake_tensor_0304(got, [
            ("this is one Euler step x + h k1; RK4 combines four slopes k1..k4", x + h * k1),
            ("this is the midpoint method x + h k2; RK4 combines four slopes k1..k4", x + h * k2),
            ("the weights of the slopes are 1, 2, 2, 1 (divided by 6), not all equal",
             x + h / 4 * (k1 + k2 + k3 + k4)),
            ("you forgot the step size: x + h/6 (k1 + 2 k2 + 2 k3 + k4)", x + (k1 + 2 * k2 + 2 * k3 + k4) / 6),
            ("the slopes are evaluated at the wrong times: k2 and k3 belong at t + h/2, k4 at t + h",
             x + h / 6 * (s1 + 2 * s2 + 2 * s3 + s4)),
            ("k4 is the slope at x + h k3 (a full step), k2 and k3 at half steps x + h/2 k1 and x + h/2 k2",
             x + h / 6 * (k1 + 2 * k2 + 2 * k3 + v(x + 0.5 * h * k3, t + h))),
            ("k3 is built from k1, so it just repeats k2: take the second half step with the newer slope, "
             "k3 = v(x + h/2 k2, t + h/2)", x + h / 6 * (k1 + 4 * k2 + v(x + h * k2, t + h))),
        ], where)
        compare(got, expected, "the new x", where)
    return "four slopes per step, and an error that shrinks like h⁴."


register("04.rk4_step", "one Runge-Kutta (RK4) step", rk4_step, _check_rk4_step)


def euler_sampler(velocity, x_0, steps):
    """Euler's method from t = 0 (noise x_0) to t = 1 in `steps` equal steps; returns every state as one
    tensor (steps + 1, B, D): x_0 first, the sample last."""
    h = 1.0 / steps
    x, states = x_0, [x_0]
    for k in range(steps):
        t = torch.full((x.shape[0],), k * h)  # the time at the START of step k
        x = x + h * velocity(x, t)
        states.append(x)
    return torch.stack(states)


def _check_euler_sampler(answer):
    x_0, _ = _fixed_batch((6, 2), seed=6)
    v = _field_04
    steps = 5

    def velocity(x, t):  # the field, called as a trained model would be: t must be a tensor (B,)
        if not isinstance(t, Tensor) or t.shape != (x.shape[0],):
            got_t = f"a tensor of shape {tuple(t.shape)}" if isinstance(t, Tensor) else f"a {type(t).__name__}"
            raise Mismatch(f"call velocity(x, t) with t a tensor of shape (B,) = ({x.shape[0]},), one time per "
                           f"point, as the exercise asks: t = torch.full((B,), k * h); you passed {got_t}")
        return v(x, t)

    got = _call(answer, velocity, x_0, steps)
    expected = euler_sampler(v, x_0, steps)
    if isinstance(got, (list, tuple)):
        raise Mismatch("return one tensor of shape (steps + 1, B, D): torch.stack(states), not a "
                       f"{type(got).__name__}")
    if isinstance(got, Tensor) and got.shape == expected.shape[1:]:
        raise Mismatch(f"you returned only the final state {tuple(got.shape)}; return every state, "
                       f"shape (steps + 1, B, D) = {tuple(expected.shape)}")
    if isinstance(got, Tensor) and got.dim() == 3 and got.shape[0] == steps and got.shape[1:] == x_0.shape:
        first = "the starting noise x_0 is missing" if not torch.allclose(got[0], x_0) else "one state is missing"
        raise Mismatch(f"your trajectory has {steps} states, it needs steps + 1 = {steps + 1}: {first} "
                       "(x_0 first, then the state after each step)")
    if isinstance(got, Tensor) and got.shape == expected.shape and not torch.allclose(got[0], x_0):
        raise Mismatch("the first state must be the starting noise x_0 (t = 0)")
    h = 1.0 / steps
    late, back = [x_0], [x_0]
    for k in range(steps):
        late.append(late[-1] + h * v(late[-1], torch.full((6,), (k + 1) * h)))
        back.append(back[-1] + h * v(back[-1], torch.full((6,), 1 - k * h)))
    _known_mistake_tensor_0304(got, [
        ("you evaluate the velocity at the end of each step, t = (k + 1) h; Euler uses the start, t = k h",
         torch.stack(late)),
        ("time runs the wrong way: sampling goes from t = 0 (noise) to t = 1 (data), t = k h",
         torch.stack(back)),
    ])
    if isinstance(got, Tensor) and got.shape == expected.shape:
        for k in range(1, steps + 1):
            compare(got[k], expected[k], f"state {k}", f" (after step {k}, t = {k * h:.2f})")
    compare(got, expected, "the trajectory")
    return "steps + 1 states from the noise to the sample, one velocity evaluation per step."


register("04.euler_sampler", "an Euler sampler that keeps the trajectory", euler_sampler, _check_euler_sampler)

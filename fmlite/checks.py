"""Input checks shared by every module: times, counts, per-sample broadcasting, network inputs.

One place, so that paths, exact fields, solvers, networks and the exercise stand-in
networks refuse bad input with the same words and can never drift apart.
Time runs from noise (t = 0) to data (t = 1).

The rules, each in one function here:
- a batch x (`check_batch`): a torch tensor (a list or numpy array is refused with the torch.as_tensor fix),
  batch first, real, not empty, finite; integer tensors are computed as floats (torch's default floating
  dtype) and never come back truncated; float64 stays float64 and an autograd graph is kept.
- **one meaning of a 1-d x everywhere: it is refused** (it could be B scalars or one point); write
  x[:, None] for a batch of B scalars and x[None] for one point.
- a count (`check_count`): a whole number >= 1 (or >= minimum), never rounded.
- a time (`check_time`, `check_time_value` for one slider time): in [0, 1], never clipped.
- a path (`check_path`): None is refused with "pass path=LinearPath()".
- a user callable's result (`check_returned`, `call_velocity`): exactly the expected shape; nothing is
  broadcast, and the message names the callable, the shape it returned and the one expected.
- finite inputs whose arithmetic overflows (`check_no_overflow`) are told they are too large, not NaN.
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

__all__ = ["check_time", "broadcast_time", "check_flat_input", "check_count", "network_input", "model_dtype",
           "check_labels", "check_finite", "check_batch", "check_path", "check_returned", "call_velocity",
           "check_time_value", "float_dtype", "check_no_overflow", "SIGMA_MAX"]

#: The largest noise scale sigma(t) the package supports. Beyond it, x_t = ... + sigma eps in float32
#: resolves data of scale 1 no better than sigma * 2**-24 > 0.06: the data are lost in rounding.
SIGMA_MAX = 1e6


def _show(value: Tensor) -> str:
    """A number with every digit its dtype holds (1.0000001 stays 1.0000001, never 1)."""
    value = value.detach().cpu()
    if value.dtype == torch.bfloat16:
        value = value.float()
    return str(value.numpy())


def check_time(t, batch: int | None = None, *, like: Tensor | None = None) -> Tensor:
    """Validate a time argument and return it as a tensor of shape (B,).

    Args:
        t: a float, a 0-d tensor (used for the whole batch) or a tensor of shape (B,),
            with every value in [0, 1] (0 = noise, 1 = data).
        batch: the batch size B the times must match; a scalar t is expanded to it.
        like: a tensor whose dtype and device the result takes.

    Returns:
        Tensor of shape (B,) (or the input shape if batch is None and t is 1-d).

    Raises:
        ValueError: t is not 0-d or (B,), contains NaN, or lies outside [0, 1].
    """
    if like is not None and like.is_floating_point():
        dtype = like.dtype
    elif isinstance(t, Tensor) and t.is_floating_point():
        dtype = t.dtype
    else:
        dtype = torch.get_default_dtype()
    device = like.device if like is not None else None
    if isinstance(t, bool) or (isinstance(t, Tensor) and (t.dtype == torch.bool or t.is_complex())):
        raise ValueError(f"t must be a real number or a tensor of times in [0, 1], got {t!r}")
    try:
        # checked before rounding to dtype, so that 1 + 1e-8 is refused, not rounded to 1
        raw = torch.as_tensor(t, dtype=torch.float64 if isinstance(t, float) else None, device=device)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"t must be a number or a tensor of times in [0, 1], got {type(t).__name__} {t!r}") from None
    if raw.dtype == torch.bool or raw.is_complex():
        raise ValueError(f"t must hold real numbers in [0, 1], got dtype {raw.dtype}")
    _check_range(raw)
    t = raw.to(dtype)
    if t.dim() == 0:
        t = t.expand(batch if batch is not None else 1)
    if t.dim() != 1 or (batch is not None and t.shape[0] != batch):
        want = f"({batch},)" if batch is not None else "(B,)"
        raise ValueError(
            f"t must have shape {want} (one time per sample) or be a single number, "
            f"got shape {tuple(t.shape)}; use t.reshape(-1) or t.expand({batch if batch else 'B'})")
    return t


def _check_range(t: Tensor) -> None:
    if not t.numel():
        return
    low, high = torch.aminmax(t)   # one pass; NaN anywhere makes both NaN, and the test below fails
    if float(low) >= 0 and float(high) <= 1:
        return
    if t.is_floating_point() and torch.isnan(t).any():
        raise ValueError("t contains NaN; times must be numbers in [0, 1]")
    raise ValueError(
        f"t must lie in [0, 1] (0 = noise, 1 = data), got values in "
        f"[{_show(t.min())}, {_show(t.max())}]; nothing is clipped, rescale your times")


def broadcast_time(t: Tensor, x: Tensor) -> Tensor:
    """Reshape per-sample values of shape (B,) to (B, 1, ..., 1) so they broadcast against x (B, *D)."""
    return t.reshape(t.shape[0], *([1] * (x.dim() - 1)))


def check_flat_input(x: Tensor, dim: int, owner: str = "MLP") -> None:
    """Check that a network for flat data gets x of shape (B, dim).

    Args:
        x: the network input, expected shape (B, dim).
        dim: the data dimension D the network was built for.
        owner: the network's name, used in the message (e.g. "MLP(dim=2)").

    Raises:
        ValueError: x is not 2-d or its second dimension is not dim.
    """
    if x.dim() != 2 or x.shape[1] != dim:
        fix = ("it is called as model(x, t), points first: was t passed first?" if x.dim() == 1 else
               "flatten images with x.flatten(1) or use ConvNet")
        raise ValueError(f"{owner} expects x of shape (B, {dim}), got {tuple(x.shape)}; {fix}")


def check_count(value, name: str, minimum: int = 1) -> int:
    """The one rule for counts (steps, n, batch_size, widths): an int-like number >= minimum.

    Accepts Python and numpy integers, integer 0-d tensors and whole floats such as 3.0.

    Returns:
        The count as a Python int.

    Raises:
        ValueError: value is a bool, a string, NaN, inf, a fraction such as 2.5, or below minimum.
    """
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex() and value.dtype != torch.bool:
        value = value.item()
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
    if ok and not isinstance(value, numbers.Integral):
        ok = math.isfinite(float(value)) and float(value).is_integer()
    want = "a positive integer (a whole number >= 1)" if minimum == 1 else f"a whole number >= {minimum}"
    if not ok:
        raise ValueError(f"{name} must be {want}, got {type(value).__name__} {value!r}"
                         + ("; convert it with int(...)" if isinstance(value, str) else "; nothing is rounded"))
    if int(value) < minimum:
        raise ValueError(f"{name} must be {want}, got {int(value)}")
    return int(value)


def model_dtype(model) -> torch.dtype:
    """The floating dtype of a network's parameters (the default dtype if it has none)."""
    for p in getattr(model, "parameters", lambda: [])():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def network_input(x, dtype: torch.dtype, name: str = "x", owner: str = "the network") -> Tensor:
    """Bring a network input to the network's floating dtype.

    Floating tensors (float16, float64, ...) are converted to `dtype`; anything else is refused,
    because an integer image in 0..255 or a bool mask is not the data the network was trained on.

    Raises:
        ValueError: x is not a tensor, or its dtype is not floating (the message names the fix).
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"{owner} expects {name} as a torch tensor, got {type(x).__name__}; "
                         f"use torch.as_tensor({name}, dtype=torch.float32)")
    if not x.is_floating_point():
        raise ValueError(f"{owner} expects floating-point {name}, got dtype {x.dtype}; convert it with "
                         f"{name}.float() (and rescale images to [-1, 1], e.g. {name}.float() / 127.5 - 1 for 0..255)")
    return x.to(dtype)


def check_labels(y, batch: int, num_classes: int, owner: str = "the model") -> Tensor:
    """Validate class labels y for a batch: an int or an integer tensor (batch,) in [0, num_classes].

    num_classes itself is the "no label" token. Returns int64 labels of shape (batch,).

    Raises:
        ValueError: float, bool or complex labels (never truncated), a wrong number of labels,
            or labels outside [0, num_classes].
    """
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(f"{owner} takes integer class labels y, got dtype {y.dtype}; labels are never rounded: "
                         "convert them with y.long() if they are whole numbers")
    if y.dim() > 1 or (y.dim() == 1 and y.shape[0] != batch):
        raise ValueError(f"{owner} needs one label per sample: y of shape ({batch},) or a single int, "
                         f"got shape {tuple(y.shape)}")
    if y.numel() and (y.min() < 0 or y.max() > num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}] ({num_classes} = no label), "
                         f"got values in [{y.min().item()}, {y.max().item()}]")
    return y.long().expand(batch)


def check_finite(x: Tensor, name: str, hint: str = "remove or replace them first") -> None:
    """Raise ValueError if x holds NaN or an infinite value (the message counts them and ends with `hint`)."""
    if x.is_floating_point() or x.is_complex():
        bad = ~torch.isfinite(x)
        if bad.any():
            raise ValueError(f"{name} holds {int(bad.sum())} NaN or infinite values; {hint}")


def check_no_overflow(value: Tensor, what: str, *inputs: Tensor) -> None:
    """Refuse a quantity computed from finite inputs that overflowed (e.g. squared distances of points near
    1e200 in float64): the inputs are finite, so the message says they are too large, not NaN.

    Raises:
        ValueError: value holds NaN or inf (one pass); the message gives the largest |input| and the fix.
    """
    if not bool(torch.isfinite(value).all()):
        big = max((float(v.detach().abs().max()) for v in inputs if v.numel()), default=float("nan"))
        dtype = str(value.dtype).replace("torch.", "")
        raise ValueError(f"{what} overflowed {dtype}: the inputs are finite but as large as {big:.3g}; "
                         "rescale them (e.g. divide the data by its standard deviation)")


def float_dtype(x: Tensor) -> torch.dtype:
    """The dtype a result computed from x comes back in: x's own floating dtype (float64 stays float64),
    torch's default floating dtype for integer x (integers are never returned truncated)."""
    return x.dtype if x.is_floating_point() else torch.get_default_dtype()


def check_batch(x, name: str = "x", *, owner: str | None = None, min_dim: int = 2, empty: bool = False,
                finite: bool = True) -> Tensor:
    """The one rule for a batch of points x (B, *D): a torch tensor, batch first, real, finite, not empty.

    A 1-d x is refused everywhere in fmlite (it could be B scalars or one point): write x[:, None] for a
    batch of scalars, x[None] for one point. Integer tensors are converted to torch's default floating
    dtype (so the result is floating, never truncated to integers); floating tensors keep their dtype,
    device and autograd graph (the returned tensor is x itself then).

    Args:
        x: the input. name: its name in messages. owner: the function's name in messages.
        min_dim: fewest dimensions (2 = (B, D)). empty: accept B = 0. finite: refuse NaN and inf (one pass).

    Raises:
        ValueError: x is a list, numpy array or other non-tensor (names torch.as_tensor), None, bool or
            complex, has fewer than min_dim dimensions, an empty batch (unless empty=True), or NaN/inf.
    """
    where = f"{owner}: " if owner else ""
    if not isinstance(x, Tensor):
        got = "None" if x is None else type(x).__name__
        raise ValueError(f"{where}{name} must be a torch tensor of shape (B, *D), got {got}; convert it with "
                         f"torch.as_tensor({name}, dtype=torch.float32)")
    if x.dtype == torch.bool or x.is_complex():
        raise ValueError(f"{where}{name} must hold real numbers, got dtype {x.dtype}; convert it with {name}.float()")
    if x.dim() < min_dim:
        fix = ("write x[:, None] for a batch of B scalars, or x[None] for one point" if x.dim() == 1 else
               f"give {name} a batch dimension first")
        want = "(B, *D)" if min_dim == 2 else f"at least {min_dim} dimensions"
        raise ValueError(f"{where}{name} must have shape {want} with a batch dimension first, "
                         f"got {tuple(x.shape)}; {fix}")
    if not empty and x.shape[0] == 0:
        raise ValueError(f"{where}{name} is an empty batch (shape {tuple(x.shape)}); give at least one point")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())  # computed in floating point, never truncated back to integers
    if finite:
        check_finite(x, f"{where}{name}")
    return x


def check_path(path, owner: str = "this function"):
    """Refuse a missing or wrong path with the fix; return it.

    Raises:
        ValueError: path is None. TypeError: path is not a `fmlite.paths.Path`.
    """
    if path is None:
        raise ValueError(f"{owner} needs a path: pass path=LinearPath() (from fmlite.paths) or the path the "
                         "data or model belong to")
    # fmlite.paths.Path by its class (paths imports this module, so it is not imported here)
    if not any(c.__name__ == "Path" and c.__module__ == "fmlite.paths" for c in type(path).__mro__):
        raise TypeError(f"{owner} needs a fmlite.paths.Path such as LinearPath() or CosinePath(), got "
                        f"{type(path).__name__}")
    return path


def check_returned(out, shape: tuple, what: str, expected: str, scalar: bool = False) -> Tensor:
    """Check the result of a user callable: a tensor of exactly `shape` (or 0-d if scalar is True).

    Nothing is broadcast silently: a (B, 1) where (B,) is expected is refused, with the callable named.

    Args:
        out: what the callable returned. shape: the expected shape. what: the call, e.g. "g(t)".
        expected: the expected shape in words, e.g. "(B,), one value per time".

    Raises:
        ValueError: out is not a tensor (or a number, if scalar) or has another shape.
    """
    if scalar and not isinstance(out, Tensor) and isinstance(out, numbers.Real) and not isinstance(out, bool):
        return torch.as_tensor(out)
    if not isinstance(out, Tensor):
        raise ValueError(f"{what} must return a torch tensor of shape {expected}, got {type(out).__name__}; "
                         "write it with torch operations")
    if tuple(out.shape) != tuple(shape) and not (scalar and out.dim() == 0):
        raise ValueError(f"{what} returned shape {tuple(out.shape)}, expected {tuple(shape)} ({expected}); "
                         "nothing is broadcast for you: reshape its result")
    return out


def call_velocity(velocity, x: Tensor, t: Tensor, what: str = "velocity(x, t)") -> Tensor:
    """velocity(x, t) with the two mistakes a user field makes turned into clear messages.

    Raises:
        ValueError: the field fails to broadcast t (B,) against x (B, *D), or returns another shape than x.
    """
    try:
        out = velocity(x, t)
    except RuntimeError as e:
        if "must match the size" not in str(e) and "expand" not in str(e):
            raise
        raise ValueError(f"{what} failed to broadcast ({e}): it gets x of shape {tuple(x.shape)} and t of "
                         f"shape ({x.shape[0]},), one time per sample; combine them with t[:, None]") from e
    if not isinstance(out, Tensor) or out.shape != x.shape:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"{what} must return the shape of x {tuple(x.shape)}, got {got}")
    return out


def check_time_value(t, name: str = "t") -> float:
    """One time in [0, 1] as a float (for sliders and drawing helpers): nothing is clipped.

    Raises:
        ValueError: t is not a single real number in [0, 1] (NaN, 7.0, a string, ...).
    """
    if isinstance(t, Tensor) and t.numel() != 1:
        raise ValueError(f"{name} must be a single time in [0, 1], got a tensor of shape {tuple(t.shape)}")
    value = check_time(t.reshape(()) if isinstance(t, Tensor) else t, 1, like=torch.empty(0, dtype=torch.float64))
    return float(value[0])

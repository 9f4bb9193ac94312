"""Input checks shared by every module: times, counts, per-sample broadcasting, network inputs.

One place, so that paths, exact fields, solvers, networks and the exercise stand-in
networks refuse bad input with the same words and can never drift apart.
Time runs from noise (t = 0) to data (t = 1).
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

__all__ = ["check_time", "broadcast_time", "check_flat_input", "check_count", "network_input", "model_dtype",
           "check_labels", "check_finite", "SIGMA_MAX"]

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


def check_finite(x: Tensor, name: str) -> None:
    """Raise ValueError if x holds NaN or an infinite value (the message counts them)."""
    if x.is_floating_point() or x.is_complex():
        bad = ~torch.isfinite(x)
        if bad.any():
            raise ValueError(f"{name} holds {int(bad.sum())} NaN or infinite values; remove or replace them first")

"""Input checks shared by every module: times, per-sample broadcasting, network inputs.

One place, so that paths, exact fields, solvers, networks and the exercise stand-in
networks refuse bad input with the same words and can never drift apart.
Time runs from noise (t = 0) to data (t = 1).
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["check_time", "broadcast_time", "check_flat_input"]


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
    t = torch.as_tensor(t, dtype=dtype, device=device)
    if t.dim() == 0:
        t = t.expand(batch if batch is not None else 1)
    if t.dim() != 1 or (batch is not None and t.shape[0] != batch):
        want = f"({batch},)" if batch is not None else "(B,)"
        raise ValueError(
            f"t must have shape {want} (one time per sample) or be a single number, "
            f"got shape {tuple(t.shape)}; use t.reshape(-1) or t.expand({batch if batch else 'B'})")
    if torch.isnan(t).any():
        raise ValueError("t contains NaN; times must be numbers in [0, 1]")
    if t.numel() and (t.min() < 0 or t.max() > 1):
        raise ValueError(
            f"t must lie in [0, 1] (0 = noise, 1 = data), got values in "
            f"[{t.min().item():.4g}, {t.max().item():.4g}]; nothing is clipped, rescale your times")
    return t


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
        raise ValueError(f"{owner} expects x of shape (B, {dim}), got {tuple(x.shape)}; "
                         "flatten images with x.flatten(1) or use ConvNet")

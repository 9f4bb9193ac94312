"""Couplings: how noise samples x_0 are paired with data samples x_1 in a batch.

- `independent`: x_0 and x_1 drawn independently, paired as they come (the
  product coupling of plain flow matching, Lipman et al. 2023).
- `minibatch_ot`: re-pair the batch by an exact optimal assignment under squared
  Euclidean cost (Tong et al. 2024, "Improving and generalizing flow-based generative
  models with minibatch optimal transport", Alg. 1; Pooladian et al. 2023,
  "Multisample flow matching"). Paths cross less, so the learned flow is straighter.

Both return a re-paired (x_0, x_1) of the same shapes; the OT coupling permutes
x_1, so no point is duplicated or dropped.

Taught in notebook 06 (`notebooks/06_straight_paths.ipynb`).
"""
from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from .checks import check_batch, check_no_overflow

__all__ = ["independent", "minibatch_ot", "COUPLINGS"]


def _check_pair(x_0: Tensor, x_1: Tensor, owner: str) -> None:
    """Both batches through `fmlite.checks.check_batch` (tensors, batch first, not empty, finite), same shape.
    The tensors themselves are returned unchanged (an integer batch stays integer: a coupling only re-pairs)."""
    check_batch(x_0, "x_0", owner=owner)
    check_batch(x_1, "x_1", owner=owner)
    if x_0.shape != x_1.shape:
        raise ValueError(f"x_0 and x_1 must have the same shape (B, *D), got {tuple(x_0.shape)} and "
                         f"{tuple(x_1.shape)}; draw as many noise samples as data samples")


def independent(x_0: Tensor, x_1: Tensor) -> tuple[Tensor, Tensor]:
    """The independent coupling: pair x_0[i] with x_1[i] as drawn.

    Samples drawn independently from the source and the data are already a draw
    from the product coupling, so this returns its inputs unchanged.

    Args:
        x_0: noise (B, *D). x_1: data (B, *D).

    Returns:
        (x_0, x_1), unchanged.

    Raises:
        ValueError: shapes differ, or x_0 or x_1 is not a tensor (a list or numpy array: use
            torch.as_tensor), 1-d, an empty batch or holds NaN/inf (`fmlite.checks.check_batch`).
    """
    _check_pair(x_0, x_1, "independent")
    return x_0, x_1


def minibatch_ot(x_0: Tensor, x_1: Tensor) -> tuple[Tensor, Tensor]:
    """Mini-batch optimal-transport coupling: an exact assignment minimising sum |x_0[i] - x_1[j]|^2.

    Solved with `scipy.optimize.linear_sum_assignment` (Hungarian-type algorithm,
    O(B^3)), so the pairing is a permutation.

    Args:
        x_0: noise (B, *D). x_1: data (B, *D); images are compared as flat vectors.

    Returns:
        (x_0, x_1[perm]) where perm is the optimal permutation.

    Raises:
        ValueError: as `independent`; or the cost matrix overflows (values near 1e154: rescale).

    Source: Tong et al. 2024, Alg. 1 (exact OT rather than Sinkhorn).
    """
    _check_pair(x_0, x_1, "minibatch_ot")
    cost = torch.cdist(x_0.reshape(len(x_0), -1).double(), x_1.reshape(len(x_1), -1).double()) ** 2
    check_no_overflow(cost, "minibatch_ot: the squared distances between x_0 and x_1", x_0, x_1)
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    perm = torch.as_tensor(cols[rows.argsort()], device=x_1.device)
    return x_0, x_1[perm]


#: Couplings by name, for `fmlite.train` and the explorers.
COUPLINGS = {"independent": independent, "minibatch_ot": minibatch_ot}

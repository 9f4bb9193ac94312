"""Training batches drawn from a pool: one call of the data sampler serves many optimiser steps.

Drawing 256 moons points costs about as much as a fifth of a training step of a small MLP; most of
it is the per-call overhead of the sampler (scikit-learn, numpy, conversion). `BatchPool` calls
`sample_data` once for a pool of many batches, checks the pool once, moves it to the device once,
and hands out consecutive slices of it; when the pool runs out it draws a fresh one.

The pool holds at most `POOL_ELEMENTS` numbers (4 MB in float32), at most `POOL_BATCHES` batches,
and never more batches than the steps still to take. The very first call asks for one batch, which
tells the element count per sample.

Data is floating point (converted to the model's dtype), or int64 token ids when the loss asks for
tokens (`tokens=True`, discrete flows).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from .checks import check_labels, model_dtype, network_input

__all__ = ["Batch", "BatchPool", "POOL_ELEMENTS", "POOL_BATCHES"]

#: Most numbers one pool holds (2**20 float32 numbers = 4 MB): 64 batches of 256 moons points, 64 of 128 digits.
POOL_ELEMENTS = 2 ** 20
#: Most batches one pool holds.
POOL_BATCHES = 64


@dataclass
class Batch:
    """One training batch, what a loss receives (`fmlite.losses.Loss`).

    Attributes:
        x_1: data (B, *D) on the training device: floating point in the model's dtype, or int64
            token ids (B, d) for a loss with `tokens = True`.
        y: int64 class labels (B,) in [0, num_classes] (num_classes = no label, after label dropout),
            or None for unlabelled data.
    """

    x_1: Tensor
    y: Tensor | None = None


class BatchPool:
    """Consecutive batches (x_1, y) sliced from pools drawn by `sample_data(n)`, n a multiple of batch_size.

    Args:
        sample_data: callable n -> data (n, *D) or (data (n, *D), labels (n,) or one int). It is
            called with pool sizes (1 to `POOL_BATCHES` times batch_size), not with batch_size, and
            must return exactly n samples.
        batch_size: samples per batch (>= 1).
        model: the network; its dtype, `num_classes` and `null_label` decide how the data is checked.
        device: where the pool is moved.
        owner: who is asking, for error messages.
        tokens: True: the data must be integer token ids, handed out as int64 (any integer dtype
            is converted; floating or bool data is refused). False (default): floating data,
            converted to the model's dtype (integer data is refused).

    Call `next(steps_left)` -> (x_1 (batch_size, *D) in the model's dtype (int64 for tokens) on device,
    labels (batch_size,) int64 or None): a fresh pool is drawn when the current one is used up.

    Raises (from `next`, once per pool):
        ValueError: data not a floating tensor (integer images must be converted and rescaled), or
            with `tokens`, not an integer tensor; a number of samples other than n, labels for a
            model without `num_classes`, or labels that `fmlite.checks.check_labels` refuses.
    """

    def __init__(self, sample_data: Callable, batch_size: int, model, device, owner: str = "train",
                 tokens: bool = False):
        self.sample_data, self.batch_size, self.model, self.device, self.owner, self.tokens = (
            sample_data, batch_size, model, device, owner, tokens)
        self.dtype = model_dtype(model)
        self.per_sample: int | None = None   # numbers per sample, known after the first pool
        self.x_1: Tensor | None = None
        self.y: Tensor | None = None
        self.offset = 0

    def pool_batches(self, steps_left: int) -> int:
        """How many batches the next pool holds (>= 1): one at first, then as many as the budget allows."""
        if self.per_sample is None:
            return 1
        budget = max(1, POOL_ELEMENTS // max(1, self.per_sample * self.batch_size))
        return max(1, min(POOL_BATCHES, budget, steps_left))

    def _draw(self, steps_left: int) -> None:
        n = self.pool_batches(steps_left) * self.batch_size
        pool = self.sample_data(n)
        x_1, y = (pool if isinstance(pool, (tuple, list)) else (pool, None))
        where = f"{self.owner} (data x_1 from sample_data)"
        x_1 = _tokens(x_1, where) if self.tokens else network_input(x_1, self.dtype, "x_1", where)
        if x_1.dim() < 1 or x_1.shape[0] != n:
            raise ValueError(f"sample_data({n}) returned {tuple(x_1.shape)}; it must return exactly {n} samples "
                             f"({self.owner} draws pools of whole batches of {self.batch_size}, not single batches)")
        if y is not None:
            if not getattr(self.model, "num_classes", None):
                raise ValueError(f"sample_data returns (data, labels), but this {type(self.model).__name__} takes "
                                 "no labels (it has no num_classes); return the data alone, or train a "
                                 "class-conditional model such as ConvNet(num_classes=10)")
            y = check_labels(y, n, self.model.null_label, f"{self.owner} (labels from sample_data)").to(self.device)
        self.x_1, self.y, self.offset = x_1.to(self.device), y, 0
        self.per_sample = max(1, x_1[0].numel())

    def next(self, steps_left: int = 1) -> tuple[Tensor, Tensor | None]:
        """The next batch (x_1, y); `steps_left` (>= 1) caps the size of a fresh pool."""
        if self.x_1 is None or self.offset + self.batch_size > len(self.x_1):
            self._draw(steps_left)
        i, self.offset = self.offset, self.offset + self.batch_size
        return self.x_1[i:self.offset], (None if self.y is None else self.y[i:self.offset])


def _tokens(x, owner: str) -> Tensor:
    """Integer token ids as int64; floating, bool or complex data (or no tensor) is refused."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{owner} expects token ids x_1 as a torch tensor, got {type(x).__name__}; "
                         "use torch.as_tensor(x_1, dtype=torch.long)")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f"{owner}: this loss trains on integer token ids, got dtype {x.dtype}; "
                         "token ids are never rounded: convert whole numbers with x_1.long()")
    return x.long()

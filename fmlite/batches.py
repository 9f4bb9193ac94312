"""Training batches drawn from a pool: one call of the data sampler serves many optimiser steps.

Drawing 256 moons points costs about as much as a fifth of a training step of a small MLP; most of
it is the per-call overhead of the sampler (scikit-learn, numpy, conversion). `BatchPool` calls
`sample_data` once for a pool of many batches, checks the pool once, moves it to the device once,
and hands out consecutive slices of it; when the pool runs out it draws a fresh one.

The pool holds at most `POOL_ELEMENTS` numbers (4 MB in float32), at most `POOL_BATCHES` batches,
and never more batches than the steps still to take. The very first call asks for one batch, which
tells the element count per sample.
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor

from .checks import check_labels, model_dtype, network_input

__all__ = ["BatchPool", "POOL_ELEMENTS", "POOL_BATCHES"]

#: Most numbers one pool holds (2**20 float32 numbers = 4 MB): 64 batches of 256 moons points, 64 of 128 digits.
POOL_ELEMENTS = 2 ** 20
#: Most batches one pool holds.
POOL_BATCHES = 64


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

    Call `next(steps_left)` -> (x_1 (batch_size, *D) in the model's dtype on device, labels (batch_size,)
    int64 or None): a fresh pool is drawn when the current one is used up.

    Raises (from `next`, once per pool):
        ValueError: data not a floating tensor (integer images must be converted and rescaled), a
            number of samples other than n, labels for a model without `num_classes`, or labels
            that `fmlite.checks.check_labels` refuses.
    """

    def __init__(self, sample_data: Callable, batch_size: int, model, device, owner: str = "train"):
        self.sample_data, self.batch_size, self.model, self.device, self.owner = (
            sample_data, batch_size, model, device, owner)
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
        x_1 = network_input(x_1, self.dtype, "x_1", f"{self.owner} (data x_1 from sample_data)")
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

"""Reflow (rectified flow): pair each noise point with where a trained flow carries it, and train again.

A flow trained with independent pairing maps noise x_0 to a sample ODE(x_0). Its paths curve, but the
pairing (x_0, ODE(x_0)) it defines is deterministic and crosses less than independent pairs. Training a
new flow on straight lines between these pairs gives a flow with the same end distribution and
straighter paths, so that few Euler steps suffice (Liu, Gong & Liu 2022, "Flow Straight and Fast",
Alg. 1, "reflow"; straightness falls with every reflow, their Theorem 3.7).

    x_0, x_1 = reflow_pairs(model, torch.randn(20000, 2), steps=50, method="rk4")
    pairs = PairedData(x_0, x_1)
    history = train(MLP(), LinearPath(), pairs, steps=3000, coupling=pairs.coupling)

Taught in notebook 06 (`notebooks/06_straight_paths.ipynb`).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .checks import check_batch, check_count
from .solvers import METHODS, integrate

__all__ = ["reflow_pairs", "PairedData"]


def reflow_pairs(velocity, x_0: Tensor, steps: int = 50, method: str = "rk4",
                 batch_size: int = 4096) -> tuple[Tensor, Tensor]:
    """The reflow coupling of a trained flow: (x_0, ODE(x_0)), integrated from t = 0 to t = 1.

    Args:
        velocity: v(x, t) with x (B, *D) and t (B,), e.g. a trained model.
        x_0: noise (N, *D) (standard normal for a flow from N(0, I)).
        steps, method: how to solve the ODE (`fmlite.solvers.integrate`); the pairs are only as good as
            this solution, so use an accurate solver (the default, RK4 with 50 steps, is 200 NFE).
        batch_size: points integrated at once (memory only; the result does not depend on it).

    Returns:
        (x_0, x_1): x_0 unchanged and x_1 = ODE(x_0), both (N, *D), without autograd history.

    Raises:
        ValueError: unknown method, steps or batch_size not a whole number >= 1, x_0 not a tensor (a list
            or numpy array: use torch.as_tensor), 1-d, an empty batch or NaN/inf (`fmlite.checks.check_batch`;
            integer x_0 is used as float32), or a velocity of the wrong shape (from `integrate`); NaN or
            inf in the result.

    Source: Liu, Gong & Liu 2022, Alg. 1 (the pairs Z_0, Z_1 = ODE[v](Z_0) of a reflow step).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    steps, batch_size = check_count(steps, "steps"), check_count(batch_size, "batch_size")
    x_0 = check_batch(x_0, "x_0", owner="reflow_pairs")
    x_1 = torch.cat([integrate(velocity, chunk, steps, method).x for chunk in x_0.split(batch_size)])
    if not torch.isfinite(x_1).all():
        raise ValueError("the flow produced NaN or inf (did sampling diverge?); check the model (or use more steps)")
    return x_0.detach(), x_1.detach()


class PairedData:
    """Fixed pairs (x_0[i], x_1[i]) as data for `fmlite.train.train`: draw x_1 and keep each partner.

    `train` draws x_1 = sample_data(n) (a pool of several batches) and fresh noise; calling this object
    draws n random pairs (with replacement) and returns their x_1, and each `coupling(noise, x_1)` then
    replaces the fresh noise by the partners x_0 of the next consecutive batch of that draw, in order
    (as `train` slices its pool):

        pairs = PairedData(x_0, x_1)
        train(model, LinearPath(), pairs, steps, coupling=pairs.coupling)

    Args:
        x_0, x_1: paired points (N, *D) of the same shape, e.g. from `reflow_pairs`.

    Raises:
        ValueError: shapes differ, or x_0 or x_1 is not a tensor, 1-d, empty or holds NaN/inf
            (`fmlite.checks.check_batch`); on `coupling`, a batch that is not
            the next slice of the draw (call the object first, as `train` does).
    """

    def __init__(self, x_0: Tensor, x_1: Tensor):
        x_0, x_1 = check_batch(x_0, "x_0", owner="PairedData"), check_batch(x_1, "x_1", owner="PairedData")
        if x_0.shape != x_1.shape:
            raise ValueError(f"x_0 and x_1 must be tensors of the same shape (N, *D), got {tuple(x_0.shape)} and "
                             f"{tuple(x_1.shape)}")
        self.x_0, self.x_1 = x_0.detach(), x_1.detach()
        self._last: Tensor | None = None
        self._used = 0   # how many of the last draw's pairs `coupling` has handed out

    def __len__(self) -> int:
        return len(self.x_0)

    def __call__(self, n: int) -> Tensor:
        self._last, self._used = torch.randint(0, len(self.x_0), (check_count(n, "n"),)), 0
        return self.x_1[self._last]

    def coupling(self, x_0: Tensor, x_1: Tensor) -> tuple[Tensor, Tensor]:
        """(partners of the next batch of the last draw, x_1): a coupling for `train` that ignores the fresh noise x_0."""
        idx = None if self._last is None else self._last[self._used:self._used + len(x_1)]
        if idx is None or len(idx) != len(x_1):
            raise ValueError("PairedData.coupling pairs the batch just drawn by calling the object; pass the object "
                             "itself as sample_data to train, with coupling=pairs.coupling")
        self._used += len(x_1)
        return self.x_0[idx].to(device=x_1.device, dtype=x_1.dtype), x_1

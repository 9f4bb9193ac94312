"""The exact posterior p_{1|t}(x_1^i | x_t) of a finite data set on the mixture path: the discrete ground truth.

For data points x^(1), ..., x^(N) (equally likely) and the mixture path (`fmlite.discrete.paths`),
Bayes' rule with independent positions gives

    p_{1|t}(x_1^i = k | x_t) = sum_n w_n 1[x^(n)_i = k],
    w_n  propto  prod_j ( kappa_t 1[x_t^j = x^(n)_j] + (1 - kappa_t) p_0(x_t^j) ),

computed in log space (Gat et al. 2024, "Discrete Flow Matching", sec. 4 and App. A; Lipman et al. 2024,
"Flow Matching Guide and Code", eq. (7.36); the discrete twin of `fmlite.exact.posterior_weights`).

**When every weight is 0.** A factor is 0 when x_t^j is a real token that disagrees with x^(n)_j and
p_0(x_t^j) = 0 (the mask source), or at kappa_t = 1 off the data. Such a state has probability 0 under
p_t, yet a sampler with a finite step reaches it: tokens revealed in the same step are drawn
independently and can come from different data points, and then no data point agrees with x_t. The
posterior is then undefined; this module falls back to the data points that agree with x_t at the
most positions (fewest zero factors), weighted by the product of their non-zero factors. Whenever some
weight is positive this is exactly the formula above; `all_weights_zero` says which states fell back.

Taught in notebook 10 (`notebooks/10_discrete_flows.ipynb`).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_time
from .paths import MixturePath
from .tokens import check_tokens

__all__ = ["data_weights", "exact_posterior", "all_weights_zero", "ExactPosterior", "in_data"]


def _check(x_t, t, data, path, owner):
    if not isinstance(path, MixturePath):
        raise TypeError(f"{owner} needs path=MixturePath(source, kappa), got {type(path).__name__}")
    data = check_tokens(data, path.vocab_size, None, "data", owner + " (data points never hold the mask)")
    if len(data) == 0:
        raise ValueError(f"{owner}: data is empty; give at least one data point")
    x_t = check_tokens(x_t, path.vocab_size, path.mask_token, "x_t", owner)
    if x_t.shape[1] != data.shape[1]:
        raise ValueError(f"{owner}: x_t has {x_t.shape[1]} tokens per sequence, data {data.shape[1]}")
    t = check_time(t, x_t.shape[0], like=torch.zeros((), dtype=torch.float64))
    return x_t, t, data


def _log_weights(x_t, t, data, path):
    """(log w (B, N) unnormalised with the fallback, number of zero factors of the best data point (B,))."""
    kappa = path.kappa(t).double()[:, None, None]                          # (B, 1, 1)
    p0 = path.source.prob(x_t).double()[:, None, :]                        # (B, 1, d)
    agree = (x_t[:, None, :] == data[None, :, :]).double()                 # (B, N, d)
    factor = kappa * agree + (1 - kappa) * p0
    zero = factor <= 0
    zeros = zero.sum(-1)                                                   # (B, N) zero factors per data point
    log_nonzero = torch.where(zero, torch.zeros_like(factor), factor.clamp_min(1e-300).log()).sum(-1)
    fewest = zeros.min(1).values                                           # (B,)
    log_w = torch.where(zeros == fewest[:, None], log_nonzero, torch.full_like(log_nonzero, -float("inf")))
    return log_w, fewest


def data_weights(x_t: Tensor, t, data: Tensor, path: MixturePath) -> Tensor:
    """The posterior weights w_n = P(x_1 = x^(n) | x_t) of the N data points, float64 (B, N), rows sum to 1.

    Args:
        x_t: int64 (B, d) tokens (0..K-1, and K for the mask source). t: a number or (B,) in [0, 1].
        data: int64 (N, d) in 0..K-1, N >= 1. path: the `MixturePath` (source and kappa).

    Raises:
        ValueError: tokens out of range or not integers, lengths that differ, empty data, bad t.
        TypeError: path not a MixturePath.
    """
    x_t, t, data = _check(x_t, t, data, path, "data_weights")
    log_w, _ = _log_weights(x_t, t, data, path)
    return log_w.softmax(1)


def all_weights_zero(x_t: Tensor, t, data: Tensor, path: MixturePath) -> Tensor:
    """(B,) bool: True where no data point can have produced x_t (every weight of the formula is 0), so that
    `data_weights` and `exact_posterior` used the fallback described in the module docstring.

    Raises: as `data_weights`.
    """
    x_t, t, data = _check(x_t, t, data, path, "all_weights_zero")
    return _log_weights(x_t, t, data, path)[1] > 0


def exact_posterior(x_t: Tensor, t, data: Tensor, path: MixturePath) -> Tensor:
    """p_{1|t}(x_1^i = k | x_t) = sum_n w_n 1[x^(n)_i = k] for a finite data set: float64 (B, d, K).

    Args: as `data_weights`. Each row (b, i, :) sums to 1.

    Raises: as `data_weights`.

    Source: Gat et al. 2024, sec. 4; Lipman et al. 2024, eq. (7.36).
    """
    x_t, t, data = _check(x_t, t, data, path, "exact_posterior")
    w = _log_weights(x_t, t, data, path)[0].softmax(1)                     # (B, N)
    onehot = torch.nn.functional.one_hot(data, path.vocab_size).double()   # (N, d, K)
    return torch.einsum("bn,ndk->bdk", w, onehot)


class ExactPosterior:
    """The exact posterior of a finite data set, called like a token network: post(x_t, t) -> logits (B, d, K).

    The logits are log p_{1|t} (float64, -inf where the probability is 0), so `post(x_t, t).softmax(-1)`
    is `exact_posterior(x_t, t, data, path)`; `fmlite.discrete.sample_discrete(post, ...)` samples with it.

    Args:
        data: int64 (N, d) in 0..K-1. path: the `MixturePath`.

    Raises:
        ValueError / TypeError: as `data_weights` (data and path checked here, x_t and t on each call).
    """

    def __init__(self, data: Tensor, path: MixturePath):
        if not isinstance(path, MixturePath):
            raise TypeError(f"ExactPosterior needs path=MixturePath(source, kappa), got {type(path).__name__}")
        self.path = path
        self.data = check_tokens(data, path.vocab_size, None, "data", "ExactPosterior (data never holds the mask)")
        if len(self.data) == 0:
            raise ValueError("ExactPosterior: data is empty; give at least one data point")
        self.vocab_size, self.length, self.mask_token = path.vocab_size, self.data.shape[1], path.mask_token

    def __call__(self, x_t: Tensor, t) -> Tensor:
        return exact_posterior(x_t, t, self.data, self.path).log()


def in_data(x: Tensor, data: Tensor) -> Tensor:
    """(B,) bool: True where the sequence x[b] equals some data point (a copy of the training set).

    Raises:
        ValueError: x or data not 2-d integer tensors, or of different lengths d.
    """
    for name, v in (("x", x), ("data", data)):
        if not isinstance(v, Tensor) or v.is_floating_point() or v.dtype == torch.bool or v.dim() != 2:
            raise ValueError(f"in_data: {name} must be an integer tensor of token ids (B, d)")
    if x.shape[1] != data.shape[1]:
        raise ValueError(f"in_data: x has {x.shape[1]} tokens per sequence, data {data.shape[1]}")
    keys = {tuple(row) for row in data.tolist()}
    return torch.tensor([tuple(row) in keys for row in x.tolist()], dtype=torch.bool)

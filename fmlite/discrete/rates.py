"""The rate (probability velocity) of the mixture path: what plays the role of the velocity for tokens.

A continuous-time Markov chain moves token i of x_t to y at rate u_t^i(y, x_t); for the mixture path
(`fmlite.discrete.paths`) the rate that generates p_t, built from the posterior p_{1|t}, is

    u_t^i(y, x_t) = kappa'_t / (1 - kappa_t) [ p_{1|t}(y | x_t) - delta(y = x_t^i) ],

non-negative for y != x_t^i, and each row sums to 0 over y (probability is conserved): the discrete
twin of u_t(x) = (x1_hat - x_t) / (1 - t) on the straight path. Gat et al. 2024, "Discrete Flow
Matching", eq. (14) and Thm. 3; Lipman et al. 2024, "Flow Matching Guide and Code", eq. (7.27);
Campbell et al. 2024, eq. (9) (kappa_t = t).

Taught in notebook 10 (`notebooks/10_discrete_flows.ipynb`).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_time
from .paths import MixturePath
from .tokens import check_tokens

__all__ = ["rate", "check_posterior"]


def check_posterior(probs, x_t: Tensor, vocab_size: int, owner: str = "this function") -> Tensor:
    """Check posterior probabilities (B, d, K) for tokens x_t (B, d): finite, >= 0, each row summing to 1.

    Raises:
        ValueError: not a floating tensor, shape other than (B, d, K), a negative or non-finite entry, or a
            row whose sum is off 1 by more than 1e-3 (logits were passed: take .softmax(-1) first).
    """
    if not isinstance(probs, Tensor) or not probs.is_floating_point():
        raise ValueError(f"{owner}: the posterior must be a floating tensor of probabilities (B, d, K), got "
                         f"{type(probs).__name__ if not isinstance(probs, Tensor) else probs.dtype}")
    want = (*x_t.shape, vocab_size)
    if tuple(probs.shape) != want:
        raise ValueError(f"{owner}: the posterior must have shape {want} (B, d, K), got {tuple(probs.shape)}")
    if probs.numel() and not (torch.isfinite(probs).all() and (probs >= 0).all()
                              and ((probs.sum(-1) - 1).abs() <= 1e-3).all()):
        raise ValueError(f"{owner}: the posterior must hold probabilities (>= 0, each row summing to 1); got "
                         "something else: pass model(x_t, t).softmax(-1), not the logits")
    return probs


def rate(probs: Tensor, x_t: Tensor, t, path: MixturePath) -> Tensor:
    """u_t^i(y, x_t) = kappa'_t / (1 - kappa_t) [p_{1|t}(y | x_t) - delta(y = x_t^i)] for every y.

    Args:
        probs: the posterior p_{1|t}(. | x_t), floating (B, d, K), e.g. `model(x_t, t).softmax(-1)`.
        x_t: int64 (B, d) in 0..K-1 (0..K with the mask source).
        t: a number or (B,) in [0, 1) where kappa_t < 1 (the rate is infinite at kappa_t = 1).
        path: the `MixturePath`.

    Returns:
        (B, d, S) in probs' dtype, S = K + 1 with the mask source (last column: the mask, whose posterior
        is 0) and S = K with the uniform one. Off the diagonal >= 0; each row sums to 0.

    Raises:
        ValueError: bad tokens, posterior (`check_posterior`) or t; kappa_t = 1 (t = 1: sample up to it, the
            Euler sampler's last step draws from the posterior instead).
        TypeError: path not a MixturePath.
    """
    if not isinstance(path, MixturePath):
        raise TypeError(f"rate needs path=MixturePath(source, kappa), got {type(path).__name__}")
    x_t = check_tokens(x_t, path.vocab_size, path.mask_token, "x_t", "rate")
    probs = check_posterior(probs, x_t, path.vocab_size, "rate")
    t = check_time(t, x_t.shape[0], like=probs)
    kappa = path.kappa(t).to(probs.dtype)
    if (kappa >= 1).any():
        raise ValueError(f"rate: kappa_t = 1 at t = {float(t[kappa >= 1][0]):.4g}, where the rate "
                         "kappa'/(1 - kappa) is infinite; evaluate it at t < 1")
    coef = (path.kappa.derivative(t).to(probs.dtype) / (1 - kappa))[:, None, None]
    states = path.source.states
    p = torch.nn.functional.pad(probs, (0, states - path.vocab_size))
    return coef * (p - torch.nn.functional.one_hot(x_t, states).to(probs.dtype))

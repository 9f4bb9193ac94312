"""The loss of discrete flow matching: cross-entropy of the posterior p_{1|t}(x_1^i | x_t) a token network predicts.

    L(theta) = E_{t, x_0, x_1, x_t} [ - (1/d) sum_i log p_theta(x_1^i | x_t, t) ],

t ~ U(0, 1), x_0 ~ p_0, x_1 ~ data, x_t on the mixture path. Its minimiser is the true posterior
p_{1|t}(x_1^i | x_t) for every (x_t, t) the path visits (cross-entropy is minimised by the conditional law
of the target), the discrete twin of regressing x1_hat in notebook 08. Gat et al. 2024, "Discrete Flow
Matching", eq. (26); Lipman et al. 2024, "Flow Matching Guide and Code", eq. (7.31); Campbell et al. 2024,
eq. (12). (Meta's `MixturePathGeneralizedKL` weights each position by kappa'/(1 - kappa) and only where
x_t^i != x_1^i; same minimiser.)

Taught in notebook 10 (`notebooks/10_discrete_flows.ipynb`).
"""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from ..batches import Batch
from ..losses import sample_time
from .paths import MixturePath
from .tokens import check_tokens

__all__ = ["DiscreteFlowLoss", "posterior_cross_entropy"]


def posterior_cross_entropy(logits: Tensor, x_1: Tensor) -> Tensor:
    """Mean over batch and positions of -log softmax(logits)[x_1]: a scalar with a gradient path.

    Args:
        logits: floating (B, d, K). x_1: int64 (B, d) in 0..K-1.

    Raises:
        ValueError: logits not floating or not (B, d, K) matching x_1; x_1 not integer or out of range.
    """
    if not isinstance(logits, Tensor) or not logits.is_floating_point() or logits.dim() != 3:
        raise ValueError("posterior_cross_entropy: logits must be a floating tensor (B, d, K)")
    if not isinstance(x_1, Tensor) or x_1.is_floating_point() or x_1.dtype == torch.bool \
            or tuple(x_1.shape) != tuple(logits.shape[:2]):
        raise ValueError(f"posterior_cross_entropy: x_1 must be integer token ids of shape {tuple(logits.shape[:2])}")
    if x_1.numel() and (x_1.min() < 0 or x_1.max() >= logits.shape[2]):
        raise ValueError(f"posterior_cross_entropy: x_1 must lie in 0..{logits.shape[2] - 1}")
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), x_1.reshape(-1).long())


class DiscreteFlowLoss:
    """Discrete flow matching as a `fmlite.losses.Loss` (`tokens = True`): `train(model, None, data, steps, loss=...)`.

    Per call: t ~ U(0, 1) (`fmlite.losses.sample_time`), x_0 ~ the path's source, x_t on the mixture path
    (its own uniforms), then `posterior_cross_entropy(model(x_t, t), x_1)`.

    Args:
        path: a `MixturePath`.

    Raises:
        TypeError: path not a MixturePath. On a call, ValueError from the path's token checks (data tokens
            outside 0..K-1).
    """

    tokens: ClassVar[bool] = True

    def __init__(self, path: MixturePath):
        if not isinstance(path, MixturePath):
            raise TypeError(f"DiscreteFlowLoss needs a MixturePath, got {type(path).__name__}")
        self.path = path

    def __repr__(self) -> str:
        return f"DiscreteFlowLoss({self.path!r})"

    def __call__(self, model: nn.Module, batch: Batch) -> Tensor:
        x_1 = check_tokens(batch.x_1, self.path.vocab_size, None, "x_1", "DiscreteFlowLoss (the data)")
        t = sample_time(len(x_1), device=x_1.device)
        x_0 = self.path.source.sample(len(x_1), x_1.shape[1]).to(x_1.device)
        u = torch.rand(x_1.shape, device=x_1.device)
        x_t = torch.where(u < self.path.kappa(t)[:, None], x_1, x_0)
        return posterior_cross_entropy(model(x_t, t), x_1)

"""A small token network: logits of the posterior p_{1|t}(x_1^i | x_t) for every position, called model(x, t).

    TokenNet(vocab_size=K, length=d, mask=True):  x (B, d) int64 in 0..K (K = mask), t (B,) -> logits (B, d, K)

Each token gets an embedding of its id plus one of its position; the d embeddings are concatenated with
sinusoidal time features (`fmlite.models.SinusoidalTimeEmbedding`) and an MLP with SiLU (Swish) maps
them to d x K logits. This is the network of Meta's `2d_discrete_flow_matching` example (token
embedding, 3 hidden Swish layers) with a position embedding added; `posterior = model(x_t, t).softmax(-1)`.
The logits cover the K real tokens only (the posterior of the mask is 0 by construction).
Source: Gat et al. 2024, "Discrete Flow Matching", sec. 7 (2-D experiments); Lipman et al. 2024, sec. 7.

Inputs are checked like `fmlite.models`: int64-like token ids in range (floating ids refused, never
rounded), shape (B, length), t in [0, 1]. Registered in `fmlite.models.MODELS` so that
`fmlite.save_checkpoint` / `load_checkpoint` store and rebuild it.

Taught in notebook 10 (`notebooks/10_discrete_flows.ipynb`).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checks import check_count, check_time, model_dtype
from ..models import MODELS, SinusoidalTimeEmbedding
from .tokens import check_tokens

__all__ = ["TokenNet"]


class TokenNet(nn.Module):
    """Posterior logits (B, d, K) of the data tokens given x_t (B, d) and t (B,).

    Args:
        vocab_size: K, real tokens 0..K-1. length: d, tokens per sequence.
        mask: True if the input may hold the mask id K (mask source); False for the uniform source.
        embed: embedding width per token. hidden: width of each hidden layer. layers: hidden layers (>= 1).
        time_dim: sinusoidal time features (even, >= 2).

    Call: model(x, t) with x int64 (B, length) in 0..K-1 (0..K with mask) and t a number or (B,) in [0, 1]
    -> float logits (B, length, K) in the network's dtype.

    Raises:
        ValueError: a size not a whole number >= 1; on call, x floating/bool, not (B, length), ids out of
            range (a mask id for a network built with mask=False), or t invalid.
    """

    def __init__(self, vocab_size: int, length: int, mask: bool = True, embed: int = 32, hidden: int = 128,
                 layers: int = 3, time_dim: int = 32):
        super().__init__()
        vocab_size, length = check_count(vocab_size, "vocab_size"), check_count(length, "length")
        embed, hidden = check_count(embed, "embed"), check_count(hidden, "hidden")
        layers = check_count(layers, "layers")
        time_dim = check_count(time_dim, "time_dim", 2)
        if not isinstance(mask, bool):
            raise ValueError(f"mask must be True (mask source) or False (uniform source), got {mask!r}")
        self.config = dict(vocab_size=vocab_size, length=length, mask=mask, embed=embed, hidden=hidden,
                           layers=layers, time_dim=time_dim)
        self.vocab_size, self.length = vocab_size, length
        self.mask_token = vocab_size if mask else None
        self.tokens = nn.Embedding(vocab_size + mask, embed)
        self.positions = nn.Parameter(torch.zeros(length, embed))
        self.time_embedding = SinusoidalTimeEmbedding(time_dim)
        blocks: list[nn.Module] = [nn.Linear(length * embed + time_dim, hidden), nn.SiLU()]
        for _ in range(layers - 1):
            blocks += [nn.Linear(hidden, hidden), nn.SiLU()]
        blocks.append(nn.Linear(hidden, length * vocab_size))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor, t) -> Tensor:
        owner = f"TokenNet(vocab_size={self.vocab_size}, length={self.length}, mask={self.mask_token is not None})"
        x = check_tokens(x, self.vocab_size, self.mask_token, "x", owner)
        if x.shape[1] != self.length:
            raise ValueError(f"{owner} expects x of shape (B, {self.length}), got {tuple(x.shape)}; it is called as "
                             "model(x, t), tokens first")
        t = check_time(t, x.shape[0], like=torch.zeros((), dtype=model_dtype(self)))
        h = (self.tokens(x) + self.positions).flatten(1)
        out = self.net(torch.cat([h, self.time_embedding(t)], dim=1))
        return out.reshape(len(x), self.length, self.vocab_size)


MODELS.setdefault("TokenNet", TokenNet)

"""Tokens and the two sources of discrete flow matching: all-mask and uniform; checks; quantising points and digits.

A sequence x = (x^1, ..., x^d) holds d tokens, int64 ids from a vocabulary 0..K-1 (K = `vocab_size`),
stored as a batch `x` of shape (B, d) with token i of every sequence in `x[:, i]`. Two sources p_0
(t = 0) are used (Gat et al. 2024, "Discrete Flow Matching", sec. 2 and 5; Campbell et al. 2024,
"Generative Flows on Discrete State-Spaces", sec. 3; Lipman et al. 2024, "Flow Matching Guide and
Code", sec. 7.2):

- `MaskSource`: every token is the mask m, one extra id `mask_token = K` (never inside 0...K-1), so
  p_0(x^i) = 1[x^i = K]; the network input then has K + 1 states.
- `UniformSource`: every token uniform on 0..K-1, p_0(x^i) = 1/K.

Quantisation: 2-D points on a grid of `bins` cells per axis over [-lim, lim]^2 (two tokens per point,
as Meta's `2d_discrete_flow_matching` example), and the 8x8 digits to a few grey levels (64 tokens).

Taught in notebook 10 (`notebooks/10_discrete_flows.ipynb`).
"""
from __future__ import annotations

import numbers

import torch
from torch import Tensor

from ..checks import check_batch, check_count

__all__ = ["MaskSource", "UniformSource", "SOURCES", "make_source", "check_vocab", "check_tokens",
           "points_to_tokens", "tokens_to_points", "digits_to_tokens", "tokens_to_digits"]


def check_vocab(vocab_size, mask_token=None) -> tuple[int, int | None]:
    """Check a vocabulary size K >= 1 and an optional mask id, which must be exactly K.

    Returns:
        (K, mask_token) as ints (mask_token None when not given).

    Raises:
        ValueError: K not a whole number >= 1; a mask id inside the vocabulary 0..K-1 (it would be a
            real token), or any other id than K (the course's convention: the mask is the extra id K).
    """
    vocab_size = check_count(vocab_size, "vocab_size (K, the number of real tokens)")
    if mask_token is None:
        return vocab_size, None
    if isinstance(mask_token, bool) or not isinstance(mask_token, numbers.Integral):
        raise ValueError(f"mask_token must be the integer K = vocab_size = {vocab_size}, got {mask_token!r}")
    if 0 <= mask_token < vocab_size:
        raise ValueError(f"mask_token {mask_token} lies inside the vocabulary 0..{vocab_size - 1}: it would be a real "
                         f"token too; the mask is the extra id K = vocab_size = {vocab_size}")
    if mask_token != vocab_size:
        raise ValueError(f"mask_token must be the extra id K = vocab_size = {vocab_size}, got {mask_token}")
    return vocab_size, int(mask_token)


def check_tokens(x, vocab_size: int, mask_token: int | None = None, name: str = "x",
                 owner: str = "this function") -> Tensor:
    """Check a batch of token sequences and return it as int64 (B, d).

    Args:
        x: integer tensor (B, d) of ids in 0..K-1, or 0..K when `mask_token` = K is allowed.
        vocab_size: K. mask_token: None (no mask allowed) or K.
        name, owner: used in messages.

    Raises:
        ValueError: not a tensor; floating, bool or complex dtype (token ids are never rounded); not 2-d
            (B, d); an id below 0 or above K-1 (above K with the mask), the message says which.
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"{owner}: {name} must be a torch tensor of int64 token ids (B, d), got "
                         f"{type(x).__name__}; use torch.as_tensor({name}, dtype=torch.long)")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f"{owner}: {name} must hold integer token ids, got dtype {x.dtype}; token ids are never "
                         f"rounded: convert whole numbers with {name}.long()")
    if x.dim() != 2:
        raise ValueError(f"{owner}: {name} must have shape (B, d) (a batch of sequences of d tokens), got "
                         f"{tuple(x.shape)}; write {name}[None] for one sequence")
    top = vocab_size if mask_token is not None else vocab_size - 1
    if x.numel() and (x.min() < 0 or x.max() > top):
        what = (f"0..{vocab_size - 1} or the mask id {vocab_size}" if mask_token is not None else
                f"0..{vocab_size - 1} (vocab_size = {vocab_size}; this source has no mask token)")
        raise ValueError(f"{owner}: {name} must hold ids in {what}, got values in "
                         f"[{int(x.min())}, {int(x.max())}]")
    return x.long()


class _Source:
    name: str
    mask_token: int | None

    def __init__(self, vocab_size: int):
        self.vocab_size, _ = check_vocab(vocab_size)

    @property
    def states(self) -> int:
        """Number of ids a token can take on the path: K + 1 with the mask, K without."""
        return self.vocab_size + (self.mask_token is not None)

    def sample(self, n: int, d: int, generator: torch.Generator | None = None) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def prob(self, x: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vocab_size})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.vocab_size == other.vocab_size

    __hash__ = None


class MaskSource(_Source):
    """The all-mask source: p_0(x) = prod_i 1[x^i = K]; `mask_token` = K, `states` = K + 1.

    `sample(n, d)` -> (n, d) int64 filled with K; `prob(x)` -> (B, d) float64, 1 where x^i = K else 0.
    Source: Gat et al. 2024, sec. 5 ("masked" source); Lipman et al. 2024, sec. 7.2.

    Raises:
        ValueError: vocab_size not a whole number >= 1; `prob` of tokens outside 0..K.
    """

    name = "mask"

    def __init__(self, vocab_size: int):
        super().__init__(vocab_size)
        self.mask_token = self.vocab_size

    def sample(self, n: int, d: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.full((check_count(n, "n"), check_count(d, "d (tokens per sequence)")), self.vocab_size,
                          dtype=torch.long)

    def prob(self, x: Tensor) -> Tensor:
        x = check_tokens(x, self.vocab_size, self.mask_token, owner="MaskSource.prob")
        return (x == self.mask_token).double()


class UniformSource(_Source):
    """The uniform source: every token uniform on 0..K-1; no mask (`mask_token` None, `states` = K).

    `sample(n, d, generator)` -> (n, d) int64; `prob(x)` -> (B, d) float64 equal to 1/K.
    Source: Gat et al. 2024, sec. 5; Campbell et al. 2024, sec. 3.2 (uniform noise).

    Raises:
        ValueError: vocab_size not a whole number >= 1; `prob` of tokens outside 0..K-1.
    """

    name = "uniform"
    mask_token = None

    def sample(self, n: int, d: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randint(self.vocab_size, (check_count(n, "n"), check_count(d, "d (tokens per sequence)")),
                             generator=generator)

    def prob(self, x: Tensor) -> Tensor:
        x = check_tokens(x, self.vocab_size, None, owner="UniformSource.prob")
        return torch.full(x.shape, 1.0 / self.vocab_size, dtype=torch.float64)


#: The sources by name (the explorer's menu uses it).
SOURCES = {"mask": MaskSource, "uniform": UniformSource}


def make_source(name: str, vocab_size: int) -> MaskSource | UniformSource:
    """The source called name ("mask" or "uniform") over K = vocab_size tokens.

    Raises:
        ValueError: unknown name (lists the valid ones), or a bad vocab_size.
    """
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; choose one of {list(SOURCES)}")
    return SOURCES[name](vocab_size)


def _check_lim(lim) -> float:
    if isinstance(lim, bool) or not isinstance(lim, numbers.Real) or not 0 < float(lim) < float("inf"):
        raise ValueError(f"lim must be a finite number > 0 (the grid covers [-lim, lim]^2), got {lim!r}")
    return float(lim)


def points_to_tokens(x: Tensor, bins: int = 128, lim: float = 2.0) -> Tensor:
    """Quantise 2-D points to two tokens each: the cell index per axis on a grid of `bins` cells over [-lim, lim].

    Args:
        x: floating (B, 2) points, every coordinate inside [-lim, lim] (nothing is clipped).
        bins: cells per axis (the vocabulary size K of each token), >= 1. lim: half-width of the grid, > 0.

    Returns:
        int64 (B, 2) in 0..bins-1: floor((x + lim) / (2 lim) * bins), with x = lim put in the last cell.

    Raises:
        ValueError: x not a finite (B, 2) batch, a point outside [-lim, lim]^2 (says how far), bad bins or lim.
    """
    bins, lim = check_count(bins, "bins"), _check_lim(lim)
    x = check_batch(x, "x", owner="points_to_tokens")
    if x.dim() != 2 or x.shape[1] != 2:
        raise ValueError(f"points_to_tokens expects 2-D points (B, 2), got {tuple(x.shape)}")
    if x.numel() and x.abs().max() > lim:
        raise ValueError(f"points_to_tokens: points must lie in [-{lim:g}, {lim:g}]^2, got a coordinate of "
                         f"{float(x.abs().max()):.4g}; nothing is clipped: rescale the points or raise lim")
    cells = torch.floor((x.double() + lim) / (2 * lim) * bins).long()
    return cells.clamp_max(bins - 1)   # only x = lim exactly lands on `bins`: the last cell's closed right edge


def tokens_to_points(tokens: Tensor, bins: int = 128, lim: float = 2.0) -> Tensor:
    """The centres of the grid cells of `points_to_tokens`: float32 (B, 2) in (-lim, lim).

    Raises:
        ValueError: tokens not int64-like (B, 2) in 0..bins-1, bad bins or lim.
    """
    bins, lim = check_count(bins, "bins"), _check_lim(lim)
    tokens = check_tokens(tokens, bins, name="tokens", owner="tokens_to_points")
    if tokens.shape[1] != 2:
        raise ValueError(f"tokens_to_points expects two tokens per point (B, 2), got {tuple(tokens.shape)}")
    return ((tokens.double() + 0.5) / bins * 2 * lim - lim).float()


def digits_to_tokens(images: Tensor, levels: int = 4) -> Tensor:
    """Quantise images in [-1, 1] to `levels` grey levels, one token per pixel, row by row.

    Level k covers [-1 + 2k/levels, -1 + 2(k+1)/levels) (the top level includes 1).

    Args:
        images: floating (N, C, H, W) in [-1, 1] (e.g. `fmlite.datasets.load_digits()[0]`). levels: >= 2.

    Returns:
        int64 (N, C*H*W) in 0..levels-1 (64 tokens for the 8x8 digits).

    Raises:
        ValueError: images not a finite 4-d floating batch, values outside [-1, 1], levels < 2.
    """
    levels = check_count(levels, "levels", 2)
    if isinstance(images, Tensor) and not images.is_floating_point():
        raise ValueError(f"digits_to_tokens expects floating images in [-1, 1], got dtype {images.dtype}; "
                         "convert 8-bit pixels with x / 127.5 - 1")
    images = check_batch(images, "images", owner="digits_to_tokens", min_dim=4)
    if images.numel() and images.abs().max() > 1:
        raise ValueError(f"digits_to_tokens: pixels must lie in [-1, 1], got values in [{float(images.min()):.4g}, "
                         f"{float(images.max()):.4g}]; nothing is clipped")
    return torch.floor((images.double() + 1) / 2 * levels).long().clamp_max(levels - 1).flatten(1)


def tokens_to_digits(tokens: Tensor, levels: int = 4, size: int = 8) -> Tensor:
    """Grey levels back to images: level k -> the centre -1 + (2k + 1)/levels of its interval.

    Args:
        tokens: int64 (N, size*size) in 0..levels-1. levels: >= 2. size: image side.

    Returns:
        float32 (N, 1, size, size) in (-1, 1).

    Raises:
        ValueError: tokens not integer ids in range, or not size*size per image.
    """
    levels, size = check_count(levels, "levels", 2), check_count(size, "size")
    tokens = check_tokens(tokens, levels, name="tokens", owner="tokens_to_digits")
    if tokens.shape[1] != size * size:
        raise ValueError(f"tokens_to_digits expects {size * size} tokens per image (size {size}), "
                         f"got {tokens.shape[1]}")
    return ((2 * tokens.double() + 1) / levels - 1).float().reshape(-1, 1, size, size)

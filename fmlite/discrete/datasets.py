"""Token data sets of notebook 10: the 2-D checkerboard on a grid (two tokens per point) and quantised digits.

- `checkerboard_tokens(n)`: `fmlite.datasets.sample_2d("checkerboard")` (8 unit squares of the 4 x 4 board
  on [-2, 2]^2; Grathwohl et al. 2019) quantised by `points_to_tokens` on 128 cells per axis, as Meta's
  `2d_discrete_flow_matching` example (vocabulary 128, two tokens per point).
- `checkerboard_probabilities(bins)`: the exact law of those tokens, a (bins, bins) table (each filled
  square is bins/4 x bins/4 cells of equal mass when 4 divides bins): the reference of the total-variation
  distance in `bench/discrete.py`.
- `digit_tokens(levels)`: the 1,797 scikit-learn 8x8 digits, `digits_to_tokens` at `levels` grey levels.

Taught in notebook 10 (`notebooks/10_discrete_flows.ipynb`).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_count
from ..datasets import load_digits, sample_2d
from .tokens import digits_to_tokens, points_to_tokens

__all__ = ["checkerboard_tokens", "checkerboard_probabilities", "digit_tokens"]


def checkerboard_tokens(n: int, bins: int = 128, seed: int | None = None) -> Tensor:
    """n checkerboard points as tokens: int64 (n, 2) in 0..bins-1 (token 0: the x cell, token 1: the y cell).

    Raises:
        ValueError: n or bins not a whole number >= 1, a bad seed.
    """
    return points_to_tokens(sample_2d("checkerboard", check_count(n, "n"), seed), check_count(bins, "bins"), 2.0)


def checkerboard_probabilities(bins: int = 128) -> Tensor:
    """The exact probability of every grid cell (i, j) under the checkerboard: float64 (bins, bins), sums to 1.

    Cell i covers x in [-2 + 4i/bins, -2 + 4(i+1)/bins); the mass of a cell is the area it shares with the 8
    filled squares, divided by 8 (computed exactly from the square boundaries, for any bins).

    Raises:
        ValueError: bins not a whole number >= 1.
    """
    bins = check_count(bins, "bins")
    edges = torch.linspace(-2, 2, bins + 1, dtype=torch.float64)
    lo, hi = edges[:-1], edges[1:]
    cells = torch.zeros(bins, bins, dtype=torch.float64)
    for col in range(4):                       # column [a, a + 1) of the board
        a = -2.0 + col
        for row in range(4):
            b = -2.0 + row
            if (col + row) % 2:                # filled squares: v in [-2,-1) or [0,1), shifted up in odd columns
                continue
            wx = (torch.minimum(hi, torch.tensor(a + 1.0)) - torch.maximum(lo, torch.tensor(a))).clamp_min(0)
            wy = (torch.minimum(hi, torch.tensor(b + 1.0)) - torch.maximum(lo, torch.tensor(b))).clamp_min(0)
            cells += wx[:, None] * wy[None, :]
    return cells / cells.sum()


def digit_tokens(levels: int = 4) -> Tensor:
    """All 1,797 scikit-learn digits quantised to `levels` grey levels: int64 (1797, 64) in 0..levels-1.

    Raises:
        ValueError: levels not a whole number >= 2.
    """
    return digits_to_tokens(load_digits()[0], levels)

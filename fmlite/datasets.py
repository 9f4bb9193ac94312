"""Data for the course: 2-D toy point clouds, any word as a point cloud, 8x8 digits.

All samplers return float32 torch tensors. The 2-D sets are scaled to a common
range, roughly [-2, 2]^2 (the bulk of N(0, I) noise), so every set fits the same plot.
Toy data comes from scikit-learn (`make_moons`, `make_circles`, `make_blobs`,
`make_swiss_roll`) where it has one; the digits are scikit-learn's copy of the UCI
handwritten digits (1,797 images, shipped with scikit-learn, no download).

Taught in notebook 00 (`notebooks/00_start_here.ipynb`: the 2-D clouds, the FLOW word) and notebook 07
(`notebooks/07_images.ipynb`: the digits).
"""
from __future__ import annotations


import numpy as np
import torch
from torch import Tensor

from .checks import check_count

__all__ = ["sample_2d", "text_points", "load_digits", "DATASETS_2D"]


def _seed(seed: int | None) -> int:
    """A seed for numpy/scikit-learn: the one given, else one drawn from torch's global RNG
    (so `torch.manual_seed` alone makes everything reproducible)."""
    if seed is None:
        return int(torch.randint(0, 2**31 - 1, (1,)).item())
    return check_count(seed, "seed", 0)


def _moons(n, rng):
    from sklearn.datasets import make_moons
    x, _ = make_moons(n, noise=0.05, random_state=rng)
    return (x - [0.5, 0.25]) * 1.3


def _circles(n, rng):
    from sklearn.datasets import make_circles
    x, _ = make_circles(n, noise=0.04, factor=0.5, random_state=rng)
    return x * 1.8


def _eight_gaussians(n, rng):
    from sklearn.datasets import make_blobs
    angles = np.arange(8) * 2 * np.pi / 8
    centers = 1.6 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    sizes = np.bincount(np.random.default_rng(rng).integers(0, 8, n), minlength=8)
    x, _ = make_blobs(sizes, centers=centers, cluster_std=0.12, random_state=rng)
    return x


def _checkerboard(n, rng):
    # 8 squares of a 4 x 4 board (side 1, board [-2, 2]^2) in the checkerboard pattern
    r = np.random.default_rng(rng)
    u = r.uniform(-2, 2, size=(n, 1))
    v = r.uniform(0, 1, size=(n, 1)) + r.integers(0, 2, size=(n, 1)) * 2 - 2  # [-2,-1) or [0,1)
    v = v + (np.floor(u) % 2)  # shift every other column by one square
    return np.concatenate([u, v], axis=1)


def _spirals(n, rng):
    from sklearn.datasets import make_swiss_roll
    x, _ = make_swiss_roll(n, noise=0.3, random_state=rng)
    return (x[:, [0, 2]] - [1.6, 1.5]) / 7.0


DATASETS_2D = {
    "moons": _moons, "circles": _circles, "eight_gaussians": _eight_gaussians,
    "checkerboard": _checkerboard, "spirals": _spirals,
}


def sample_2d(name: str, n: int, seed: int | None = None) -> Tensor:
    """Draw n points of a 2-D toy data set.

    Args:
        name: one of "moons", "circles", "eight_gaussians", "checkerboard", "spirals".
        n: number of points, a whole number >= 1 (see `fmlite.checks.check_count`).
        seed: integer seed >= 0; None draws one from torch's global generator.

    Returns:
        float32 tensor (n, 2), roughly inside [-2, 2]^2.

    Raises:
        ValueError: unknown name (the message lists the valid ones), n not a whole number
            >= 1 (2.5 is refused, never rounded), or a bad seed.

    Sources: scikit-learn's make_moons / make_circles / make_blobs / make_swiss_roll;
    the checkerboard of Grathwohl et al. 2019 (FFJORD).
    """
    if name not in DATASETS_2D:
        raise ValueError(f"unknown 2-D data set {name!r}; choose one of {sorted(DATASETS_2D)} "
                         "or use text_points(text, n) for a word")
    n = check_count(n, "n (the number of points)")
    x = DATASETS_2D[name](n, _seed(seed))
    perm = np.random.default_rng(_seed(seed) + 1).permutation(len(x))  # no ordering by class
    return torch.as_tensor(x[perm], dtype=torch.float32)


_TEXT_MASKS: dict[str, np.ndarray] = {}


def _check_glyphs(text: str) -> None:
    """Raise ValueError for a character DejaVu Sans Bold has no glyph for (it would draw a placeholder box)."""
    from matplotlib import font_manager
    font = font_manager.get_font(font_manager.findfont(
        font_manager.FontProperties(family="DejaVu Sans", weight="bold"), fallback_to_default=False))
    missing = sorted({c for c in text if font.get_char_index(ord(c)) == 0})
    if missing:
        raise ValueError(f"the font (DejaVu Sans Bold) cannot draw {', '.join(map(repr, missing))} in {text!r}; "
                         "use Latin, Greek or Cyrillic letters, digits and punctuation")


def _text_mask(text: str) -> np.ndarray:
    """Render text literally (no mathtext, no LaTeX) with matplotlib (Agg, DejaVu Sans bold) to a pixel mask."""
    if text not in _TEXT_MASKS:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        _check_glyphs(text)
        fig = Figure(figsize=(max(1.0, 0.9 * len(text)), 1.4), dpi=100)
        FigureCanvasAgg(fig)
        fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=72, fontweight="bold", family="DejaVu Sans",
                 usetex=False, parse_math=False)
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        mask = rgba[..., 0] < 128
        rows, cols = np.nonzero(mask)
        if len(rows) == 0:
            raise ValueError(f"text {text!r} renders to no pixels; give visible characters")
        _TEXT_MASKS[text] = mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return _TEXT_MASKS[text]


def text_points(text: str, n: int, seed: int | None = None) -> Tensor:
    """Turn a word into a 2-D point cloud: n points uniform inside its rendered letters.

    The text is drawn literally with matplotlib (DejaVu Sans bold, shipped with
    matplotlib; "$x$" is two dollar signs around an x, never a formula), then points are
    sampled uniformly over the ink pixels with sub-pixel jitter.

    Args:
        text: the word, e.g. "FLOW" (one line).
        n: number of points, a whole number >= 1.
        seed: integer seed; None draws one from torch's global generator.

    Returns:
        float32 tensor (n, 2), centred, with the width of the word scaled to 4
        (x in [-2, 2]) and its aspect ratio kept.

    Raises:
        ValueError: empty or invisible text, more than one line, a character the font
            cannot draw (e.g. Chinese characters), or n not a whole number >= 1.
    """
    if not isinstance(text, str) or not text.strip() or "\n" in text:
        raise ValueError(f"text must be a non-empty single line, got {text!r}")
    n = check_count(n, "n (the number of points)")
    mask = _text_mask(text)
    rows, cols = np.nonzero(mask)
    rng = np.random.default_rng(_seed(seed))
    pick = rng.integers(0, len(rows), size=n)
    x = cols[pick] + rng.uniform(0, 1, n)
    y = (mask.shape[0] - rows[pick]) - rng.uniform(0, 1, n)  # image rows run downwards
    scale = 4.0 / mask.shape[1]
    pts = np.stack([(x - mask.shape[1] / 2) * scale, (y - mask.shape[0] / 2) * scale], axis=1)
    return torch.as_tensor(pts, dtype=torch.float32)


def load_digits() -> tuple[Tensor, Tensor]:
    """The scikit-learn 8x8 handwritten digits as images.

    Returns:
        images: float32 tensor (1797, 1, 8, 8), grey levels 0..16 mapped linearly to
            [-1, 1] (-1 = white background, 1 = full ink).
        labels: int64 tensor (1797,), the digit 0..9.

    Source: scikit-learn `sklearn.datasets.load_digits` (UCI ML hand-written digits,
    Alpaydin & Kaynak 1998), shipped with scikit-learn: nothing is downloaded.
    """
    from sklearn.datasets import load_digits as _load
    d = _load()
    images = torch.as_tensor(d.images, dtype=torch.float32)[:, None] / 8.0 - 1.0
    return images, torch.as_tensor(d.target, dtype=torch.int64)

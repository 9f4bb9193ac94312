"""Images: tiles, grids and labelled rows of small images.

Part of `fmlite.plotting` (see its docstring); import from `fmlite.plotting`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.axes import Axes

from .style import to_numpy


__all__ = ["tile_images", "image_grid", "image_rows", "token_images"]


def tile_images(images, ncol: int | None = None, fill: float = -1.0, pad: int = 1) -> np.ndarray:
    """Tile images (N, 1, H, W) into one array (rows (H + pad) + pad, ncol (W + pad) + pad), ncol per row
    (default: a square grid), gaps filled with `fill`. Raises: ValueError for another shape."""
    im = to_numpy(images)
    if im.ndim != 4 or im.shape[1] != 1:
        raise ValueError(f"image_grid needs images of shape (N, 1, H, W), got {im.shape}")
    n, _, h, w = im.shape
    ncol = ncol or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / ncol))
    canvas = np.full((rows * (h + pad) + pad, ncol * (w + pad) + pad), fill, dtype=float)
    for k in range(n):
        r, c = divmod(k, ncol)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = im[k, 0]
    return canvas


def image_grid(ax: Axes, images, ncol: int | None = None, vmin: float = -1.0, vmax: float = 1.0, pad: int = 1):
    """Tile images (N, 1, H, W) in [-1, 1] into one grey picture (ink dark on white), ncol images per row
    (default: a square grid)."""
    canvas = tile_images(images, ncol, vmin, pad)
    ax.imshow(canvas, cmap="gray_r", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


def image_rows(ax: Axes, images, row_labels: Sequence | None = None, col_labels: Sequence | None = None,
               vmin: float = -1.0, vmax: float = 1.0, pad: int = 1):
    """Tile a table of images (R, K, 1, H, W) in [-1, 1]: one row per group, with labels on the side and top.

    Used for one row per digit (class-conditional samples) and for trajectories as strips
    (rows = images, columns = times, e.g. `trajectory[frames].transpose(0, 1)`).

    Args:
        ax: the Axes to draw into.
        images: (R, K, 1, H, W) (a tensor or an array); ink dark on white.
        row_labels: R labels shown on the left (e.g. the digit), or None.
        col_labels: K labels shown on top (e.g. "t = 0.50"), or None.

    Raises:
        ValueError: images not of shape (R, K, 1, H, W), or label lists of the wrong length.
    """
    im = to_numpy(images)
    if im.ndim != 5 or im.shape[2] != 1:
        raise ValueError(f"image_rows needs images of shape (R, K, 1, H, W), got {im.shape}")
    r, k, _, h, w = im.shape
    for name, labels, count in (("row_labels", row_labels, r), ("col_labels", col_labels, k)):
        if labels is not None and len(labels) != count:
            raise ValueError(f"{name} needs {count} labels, got {len(labels)}")
    image_grid(ax, im.reshape(r * k, 1, h, w), ncol=k, vmin=vmin, vmax=vmax, pad=pad)
    if row_labels is not None:
        ax.set_yticks([pad + i * (h + pad) + (h - 1) / 2 for i in range(r)], [str(x) for x in row_labels])
        ax.tick_params(axis="y", length=0)
    if col_labels is not None:
        ax.set_xticks([pad + j * (w + pad) + (w - 1) / 2 for j in range(k)], [str(x) for x in col_labels])
        ax.tick_params(axis="x", length=0, labeltop=True, labelbottom=False)
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def token_images(ax: Axes, tokens, levels: int, ncol: int | None = None, size: int = 8, row_labels: Sequence | None = None,
                 col_labels: Sequence | None = None, mask_color: str = "#D55E00", pad: int = 1):
    """Tile token sequences (N, size * size) as images: grey level k of `levels` (0 white, levels - 1 black) and
    the mask id `levels` in `mask_color` (vermillion); notebook 10's digits. With row_labels / col_labels the tiles
    form a table of ncol columns (as `image_rows`).

    Raises:
        ValueError: tokens not (N, size * size) ids in 0..levels, or label lists of the wrong length.
    """
    from matplotlib.colors import to_rgb
    x = np.asarray(to_numpy(tokens))
    if x.ndim != 2 or x.shape[1] != size * size or x.min() < 0 or x.max() > levels:
        raise ValueError(f"token_images needs token ids (N, {size * size}) in 0..{levels} (the mask), got shape "
                         f"{x.shape}" + (f" and values in [{x.min()}, {x.max()}]" if x.size else ""))
    grey = 1.0 - np.minimum(x, levels - 1) / (levels - 1)                      # (N, size * size), 1 = white
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    rgb[x == levels] = to_rgb(mask_color)
    n = len(x)
    ncol = ncol or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / ncol))
    for name, labels, count in (("row_labels", row_labels, rows), ("col_labels", col_labels, ncol)):
        if labels is not None and len(labels) != count:
            raise ValueError(f"{name} needs {count} labels, got {len(labels)}")
    canvas = np.ones((rows * (size + pad) + pad, ncol * (size + pad) + pad, 3))
    for k in range(n):
        r, c = divmod(k, ncol)
        top, left = pad + r * (size + pad), pad + c * (size + pad)
        canvas[top:top + size, left:left + size] = rgb[k].reshape(size, size, 3)
    ax.imshow(canvas, interpolation="nearest")
    ax.set_xticks([] if col_labels is None else [pad + j * (size + pad) + (size - 1) / 2 for j in range(ncol)],
                  [] if col_labels is None else [str(c) for c in col_labels])
    ax.set_yticks([] if row_labels is None else [pad + i * (size + pad) + (size - 1) / 2 for i in range(rows)],
                  [] if row_labels is None else [str(r) for r in row_labels])
    ax.tick_params(length=0, labeltop=col_labels is not None, labelbottom=False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax

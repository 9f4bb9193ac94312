"""Plotting boilerplate for the course, so notebooks can show the math and hide the styling.

Every function draws into a matplotlib Axes it is given (or returns a new Figure),
never calls plt.show(), and works with a plain `matplotlib.figure.Figure`, so the
explorers in `fmlite.widgets` and the tests can use them without pyplot.
"""
from __future__ import annotations

from typing import Callable, Sequence

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

#: Colour roles used throughout the course.
COLORS = {"noise": "#8c8c8c", "data": "#1f77b4", "x_t": "#d62728", "path": "#ff7f0e", "model": "#2ca02c",
          "exact": "#9467bd"}


def lecture_style(scale: float = 1.0, dpi: int = 80) -> None:
    """Fonts and lines readable from the back of a lecture hall (and small PNGs in the notebooks).

    Args:
        scale: multiplies every font size (1.0 = 14 pt body text; use 1.3 on a projector).
        dpi: resolution of inline figures; 80 keeps committed notebooks small.
    """
    mpl.rcParams.update({
        "font.size": 14 * scale, "axes.titlesize": 15 * scale, "axes.labelsize": 14 * scale,
        "xtick.labelsize": 12 * scale, "ytick.labelsize": 12 * scale, "legend.fontsize": 12 * scale,
        "figure.titlesize": 16 * scale, "lines.linewidth": 2.0, "axes.grid": False,
        "figure.dpi": dpi, "savefig.dpi": dpi, "figure.autolayout": False, "figure.constrained_layout.use": True,
        "axes.spines.top": False, "axes.spines.right": False, "image.cmap": "viridis",
    })


def figure(ncols: int = 1, nrows: int = 1, size: float = 3.6, **kw) -> tuple[Figure, np.ndarray]:
    """A pyplot-free Figure with a grid of square panels; returns (fig, axes as a flat array)."""
    fig = Figure(figsize=(size * ncols, size * nrows), layout="constrained", **kw)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    return fig, axes


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def setup_axes(ax: Axes, lim: float = 3.0, title: str | None = None, ticks: bool = False) -> Axes:
    """Square 2-D panel [-lim, lim]^2 with equal aspect; no ticks unless asked."""
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if not ticks:
        ax.set_xticks([])
        ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax


def scatter(ax: Axes, x, color: str | None = None, s: float = 4, alpha: float = 0.6, label: str | None = None,
            **kw):
    """Scatter a point cloud x (N, 2); returns the PathCollection (update it with set_offsets)."""
    x = _np(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"scatter needs points of shape (N, 2), got {x.shape}")
    return ax.scatter(x[:, 0], x[:, 1], s=s, alpha=alpha, color=color or COLORS["data"], label=label,
                      linewidths=0, **kw)


def field_on_grid(velocity: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 21):
    """Evaluate a 2-D velocity field on an n x n grid of [-lim, lim]^2 at time t.

    Returns:
        (X, Y, U, V) numpy arrays of shape (n, n).
    """
    g = torch.linspace(-lim, lim, n)
    X, Y = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)
    with torch.no_grad():
        uv = velocity(pts, torch.full((len(pts),), float(t)))
    return _np(X), _np(Y), _np(uv[:, 0]).reshape(n, n), _np(uv[:, 1]).reshape(n, n)


def quiver(ax: Axes, velocity: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 21,
           cmap: str = "viridis", scale: float | None = None, colorbar: bool = False):
    """Arrows of a velocity field at time t, coloured by speed |u|.

    Args:
        velocity: callable (x (B, 2), t (B,)) -> (B, 2), e.g. a model or an exact field.
        scale: arrow scale (data units per arrow length unit); None = matplotlib's choice.
            Give a fixed value to compare panels.

    Returns:
        the Quiver artist (update it with set_UVC).
    """
    X, Y, U, V = field_on_grid(velocity, t, lim, n)
    speed = np.hypot(U, V)
    q = ax.quiver(X, Y, U, V, speed, cmap=cmap, scale=scale, scale_units="xy" if scale else None,
                  angles="xy", width=0.005)
    if colorbar:
        ax.figure.colorbar(q, ax=ax, shrink=0.8, label="speed |u|")
    return q


def trajectories(ax: Axes, trajectory, n: int = 50, color: str | None = None, alpha: float = 0.5, ends: bool = True):
    """Draw the first n paths of a trajectory (K + 1, B, 2) as lines, with start (grey) and end (blue) dots."""
    tr = _np(trajectory)[:, :n]
    if tr.ndim != 3 or tr.shape[2] != 2:
        raise ValueError(f"trajectories needs shape (K + 1, B, 2), got {tr.shape}")
    for i in range(tr.shape[1]):
        ax.plot(tr[:, i, 0], tr[:, i, 1], color=color or COLORS["path"], alpha=alpha, lw=1)
    if ends:
        ax.scatter(tr[0, :, 0], tr[0, :, 1], s=10, color=COLORS["noise"], zorder=3)
        ax.scatter(tr[-1, :, 0], tr[-1, :, 1], s=10, color=COLORS["data"], zorder=3)


def density(ax: Axes, log_density: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 120,
            cmap: str = "magma"):
    """Image of a density p_t(x) = exp(log_density(x, t)) on [-lim, lim]^2."""
    g = torch.linspace(-lim, lim, n, dtype=torch.float64)
    X, Y = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)
    with torch.no_grad():
        p = log_density(pts, torch.full((len(pts),), float(t), dtype=torch.float64)).exp()
    return ax.imshow(_np(p).reshape(n, n), origin="lower", extent=(-lim, lim, -lim, lim), cmap=cmap)


def schedule_curve(ax: Axes, fn: Callable[[Tensor], Tensor], t_mark: float | None = None, label: str = "σ(t)",
                   color: str | None = None):
    """Plot a schedule t -> fn(t) on [0, 1], with a dot at t_mark."""
    t = torch.linspace(0, 1, 201)
    y = _np(fn(t))
    ax.plot(_np(t), y, color=color or COLORS["x_t"], label=label)
    if t_mark is not None:
        ax.plot([t_mark], [float(fn(torch.tensor([float(t_mark)]))[0])], "o", color="k")
    ax.set_xlim(0, 1)
    ax.set_xlabel("t")


def small_multiples(draw: Callable[[Axes, float], None], values: Sequence[float], name: str = "t",
                    size: float = 3.0, fmt: str = "{:.2f}", **kw) -> Figure:
    """One panel per value: draw(ax, value) for each, titled "t = value" (the static companion of a slider).

    Returns the Figure (pyplot-free, displays inline in Jupyter).
    """
    fig, axes = figure(len(values), size=size, **kw)
    for ax, v in zip(axes, values):
        draw(ax, v)
        ax.set_title(f"{name} = {fmt.format(v)}")
    return fig


def image_grid(ax: Axes, images, nrow: int | None = None, vmin: float = -1.0, vmax: float = 1.0, pad: int = 1):
    """Tile images (N, 1, H, W) in [-1, 1] into one grey picture (ink dark on white)."""
    im = _np(images)
    if im.ndim != 4 or im.shape[1] != 1:
        raise ValueError(f"image_grid needs images of shape (N, 1, H, W), got {im.shape}")
    n, _, h, w = im.shape
    ncol = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / ncol))
    canvas = np.full((rows * (h + pad) + pad, ncol * (w + pad) + pad), vmin, dtype=float)
    for k in range(n):
        r, c = divmod(k, ncol)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = im[k, 0]
    ax.imshow(canvas, cmap="gray_r", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def loss_curve(ax: Axes, loss: Sequence[float], floor: float | None = None, window: int = 50):
    """Loss per step (faint) with a running mean, and a dashed line at the loss floor if given."""
    loss = np.asarray(loss, dtype=float)
    ax.plot(loss, color=COLORS["model"], alpha=0.25, lw=1, label="loss per step")
    if len(loss) >= window:
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(loss)), smooth, color=COLORS["model"], label=f"mean of {window}")
    if floor is not None:
        ax.axhline(floor, color="k", ls="--", lw=1.5, label=f"floor {floor:.2f}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()

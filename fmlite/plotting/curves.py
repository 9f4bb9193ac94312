"""Curves: sigma(t) schedules, loss curves, per-time profiles, quality against cost, small multiples.

Part of `fmlite.plotting` (see its docstring); import from `fmlite.plotting`.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from .style import COLORS, SOLVER_STYLE, figure, legend_below, to_numpy

__all__ = ["schedule_curve", "update_schedule_curve", "schedule_axes", "loss_curve", "time_profile", "quality_vs_nfe",
           "small_multiples"]


def schedule_curve(ax: Axes, fn: Callable[[Tensor], Tensor], t_mark: float | None = None, label: str = "σ(t)",
                   color: str | None = None):
    """Plot a schedule t -> fn(t) on [0, 1], with a dot at t_mark."""
    t = torch.linspace(0, 1, 201)
    y = to_numpy(fn(t))
    ax.plot(to_numpy(t), y, color=color or COLORS["x_t"], label=label)
    if t_mark is not None:
        ax.plot([t_mark], [float(fn(torch.tensor([float(t_mark)]))[0])], "o", color="k")
    ax.set_xlim(0, 1)
    ax.set_xlabel("t")


def update_schedule_curve(ax: Axes, fn: Callable[[Tensor], Tensor], t_mark: float | None = None) -> None:
    """Move the curve (and the dot, if drawn) of an Axes whose first lines `schedule_curve` drew to another
    schedule fn and mark t_mark, in place."""
    t = torch.linspace(0, 1, 201)
    ax.lines[0].set_ydata(to_numpy(fn(t)))
    if t_mark is not None:
        ax.lines[1].set_data([t_mark], [float(fn(torch.tensor([float(t_mark)]))[0])])


def schedule_axes(ax2: Axes, sigma: float) -> None:
    """Limits and ticks of a sigma(t) panel for scales up to sigma: fixed ticks (not ones that depend on the
    panel's size in pixels), so the layout of an explorer does not change between a fresh and an updated draw.
    sigma: the largest scale shown (>= 0; the panel reaches 1.1 max(1, sigma)). Used by notebooks 01 and 05."""
    from matplotlib.ticker import FixedLocator, MaxNLocator
    top = 1.1 * max(1.0, float(sigma))
    yticks = [v for v in MaxNLocator(nbins=4).tick_values(0, top) if 0 <= v <= top]
    if ax2.get_ylim() != (0, top):  # set only what differs: setting limits or ticks redraws the Axis
        ax2.set_ylim(0, top)
    for axis, ticks in ((ax2.yaxis, yticks), (ax2.xaxis, [0.0, 0.5, 1.0])):
        if not isinstance(axis.get_major_locator(), FixedLocator) or list(axis.get_ticklocs()) != ticks:
            axis.set_ticks(ticks)
    if ax2.get_box_aspect() != 1:
        ax2.set_box_aspect(1)


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


def time_profile(ax: Axes, t, values, bins: int = 20, **kw):
    """Mean of per-sample values (e.g. squared errors) in equal bins of t in [0, 1], drawn as a curve.

    Args:
        t: times (B,) of the samples. values: one number per sample (B,).
        bins: number of bins of [0, 1]; kw go to `ax.plot` (label, color, ls, ...).

    Returns:
        (bin centres, bin means) as numpy arrays (NaN for an empty bin).
    """
    t, values = to_numpy(t).astype(float).ravel(), to_numpy(values).astype(float).ravel()
    if t.shape != values.shape:
        raise ValueError(f"t and values need one entry per sample, got shapes {t.shape} and {values.shape}")
    idx = np.clip((t * bins).astype(int), 0, bins - 1)
    sums, counts = np.bincount(idx, values, minlength=bins), np.bincount(idx, minlength=bins)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    centres = (np.arange(bins) + 0.5) / bins
    ax.plot(centres, means, marker="o", ms=4, **kw)
    ax.set_xlim(0, 1)
    ax.set_xlabel("t")
    return centres, means


def quality_vs_nfe(ax: Axes, results: dict, ylabel: str = "energy distance", reference: float | None = None,
                   reference_label: str = "reference", noise: float | None = None, yscale: str = "log",
                   linthresh: float = 1e-3):
    """One line per solver: a quality number against the number of velocity evaluations (NFE).

    Args:
        results: method name -> (list of NFE, list of values).
        reference: optional level drawn as a dashed black line (e.g. the best the model can do).
        noise: optional half-width of a grey band around 0: the sampling noise of the metric.
        yscale: "log", "symlog" (for values that can be 0 or slightly negative, linear below
            `linthresh`) or "linear". The NFE axis is always log2.
    """
    if noise is not None:
        ax.axhspan(-noise, noise, color="0.88", zorder=0, label="sampling noise")
    for method, (nfe, values) in results.items():
        color, marker, ls = SOLVER_STYLE.get(method, (None, "o", "-"))
        ax.plot(nfe, values, marker=marker, color=color, ls=ls, label=method)
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1.5, label=reference_label)
    ax.set_xscale("log", base=2)
    if yscale == "symlog":
        ax.set_yscale("symlog", linthresh=linthresh)
    elif yscale != "linear":
        ax.set_yscale(yscale)
    ax.set_xlabel("NFE (velocity evaluations)")
    ax.set_ylabel(ylabel)
    legend_below(ax, ncol=3)


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

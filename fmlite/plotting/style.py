"""Style: the colour-blind-safe palette (Okabe-Ito), solver styles, lecture fonts, panels and axes.

Part of `fmlite.plotting` (see its docstring); import from `fmlite.plotting`.
"""
from __future__ import annotations

import os

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

__all__ = ["COLORS", "SOLVER_STYLE", "LECTURE_SCALE_VARIABLE", "lecture_scale", "lecture_style", "scale_pyplot_figure", "figure", "to_numpy", "setup_axes", "legend_below"]


#: Colour roles used throughout the course: the colour-blind-safe Okabe-Ito palette (Okabe & Ito 2008;
#: Wong 2011, Nature Methods 8:441), so no two roles differ only as red against green. Notebook text calls
#: them: noise grey, data blue, x_t red (vermillion), path orange, model green (bluish), exact purple.
COLORS = {"noise": "#8c8c8c", "data": "#0072B2", "x_t": "#D55E00", "path": "#E69F00", "model": "#009E73",
          "exact": "#CC79A7"}


#: Colour, marker and line style of each ODE solver, the same in every figure (notebooks 04 and 07):
#: the three cues differ together, so a solver reads without colour too.
SOLVER_STYLE = {"euler": ("#E69F00", "o", "-"), "midpoint": ("#56B4E9", "s", "--"), "heun": ("#009E73", "^", "-."),
                "rk4": ("#CC79A7", "D", ":")}


def legend_below(ax: Axes, ncol: int = 2, **kw):
    """A legend under the axes (outside the data, so it hides nothing), for figures with constrained layout.

    Returns:
        the Legend, or None when no artist of ax has a label.
    """
    if not ax.get_legend_handles_labels()[0]:
        return None
    below = -0.22 if ax.get_xlabel() or len(ax.get_xticks()) else -0.04   # clear of tick labels and x label
    kw = {"loc": "upper center", "bbox_to_anchor": (0.5, below), "ncol": ncol, "fontsize": "small", "markerscale": 2.5,
          "frameon": False, **kw}
    return ax.legend(**kw)


#: The lecture switch: `FMLITE_LECTURE_SCALE=1.5 jupyter lab notebooks/` (or `%env FMLITE_LECTURE_SCALE=1.5`
#: before a notebook's setup cell) scales fonts, figures, legends, explorer pictures and sliders together.
LECTURE_SCALE_VARIABLE = "FMLITE_LECTURE_SCALE"

_scale: float | None = None  # set by lecture_style(); None: read the environment variable


def _parse_scale(value, source: str) -> float:
    try:
        scale = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{source} must be a number such as 1.0 (default) or 1.5 (projector), got {value!r}; "
                         f"fix it, e.g. `%env {LECTURE_SCALE_VARIABLE}=1.5` or unset the variable") from None
    if not 0.5 <= scale <= 3.0:
        raise ValueError(f"{source} must lie in [0.5, 3.0] (1.0 = normal, 1.5 = projector), got {value!r}; "
                         f"fix it, e.g. `%env {LECTURE_SCALE_VARIABLE}=1.5` or unset the variable")
    return scale


def lecture_scale() -> float:
    """The lecture scale every figure and explorer uses: the `scale` of the last `lecture_style()` call, else
    the environment variable FMLITE_LECTURE_SCALE, else 1.0. Range [0.5, 3.0].

    Raises:
        ValueError: the environment variable is not a number in [0.5, 3.0] (the message says how to fix it).
    """
    if _scale is not None:
        return _scale
    value = os.environ.get(LECTURE_SCALE_VARIABLE, "").strip()
    return _parse_scale(value, f"the environment variable {LECTURE_SCALE_VARIABLE}") if value else 1.0


_HOOK = "fmlite.plotting.style:scale_pyplot_figure"


def scale_pyplot_figure(fig: Figure) -> None:
    """pyplot figure hook (rcParams["figure.hooks"], installed by `lecture_style` at a scale other than 1):
    a figure made with an explicit figsize (e.g. `plt.subplots(1, 2, figsize=(12, 4.5))` in a notebook) gets
    it times the lecture scale, as the default size already is, so fonts and figure grow together."""
    scale = lecture_scale()
    default = tuple(mpl.rcParams["figure.figsize"])
    size = tuple(fig.get_size_inches())
    if scale != 1.0 and not np.allclose(size, default):
        fig.set_size_inches(size[0] * scale, size[1] * scale)


def lecture_style(scale: float | None = None, dpi: int = 80) -> None:
    """Fonts and lines readable from the back of a lecture hall (and small PNGs in the notebooks).

    Every notebook's setup cell calls `lecture_style()`; the lecture switch is the environment variable
    FMLITE_LECTURE_SCALE (e.g. `FMLITE_LECTURE_SCALE=1.5 jupyter lab notebooks/`), read here, so one setting
    scales fonts, figure sizes (rcParams, `figure`, and explicit figsizes of pyplot figures through the hook
    `scale_pyplot_figure`), legends, explorer pictures and sliders.

    Args:
        scale: multiplies every font size and figure size (1.0 = 14 pt body text, 6.4 x 4.8 in figures);
            None (default) reads FMLITE_LECTURE_SCALE (1.0 when unset). An explicit value wins.
        dpi: resolution of inline figures; 80 keeps committed notebooks small.

    Raises:
        ValueError: scale (or the environment variable) is not a number in [0.5, 3.0].
    """
    global _scale
    _scale = None if scale is None else _parse_scale(scale, "lecture_style(scale=...)")
    scale = lecture_scale()
    hooks = [h for h in mpl.rcParams["figure.hooks"] if h != _HOOK] + ([_HOOK] if scale != 1.0 else [])
    mpl.rcParams.update({"figure.figsize": (6.4 * scale, 4.8 * scale), "figure.hooks": hooks,
        "font.size": 14 * scale, "axes.titlesize": 15 * scale, "axes.labelsize": 14 * scale,
        "xtick.labelsize": 12 * scale, "ytick.labelsize": 12 * scale, "legend.fontsize": 12 * scale,
        "figure.titlesize": 16 * scale, "lines.linewidth": 2.0, "axes.grid": False,
        "figure.dpi": dpi, "savefig.dpi": dpi, "figure.autolayout": False, "figure.constrained_layout.use": True,
        "axes.spines.top": False, "axes.spines.right": False, "image.cmap": "viridis",
        "axes.prop_cycle": mpl.cycler(color=["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                                             "#F0E442", "#000000"]),   # Okabe-Ito: safe for colour blindness
    })


def figure(ncols: int = 1, nrows: int = 1, size: float = 3.6, **kw) -> tuple[Figure, np.ndarray]:
    """A pyplot-free Figure with a grid of square panels of `size` inches times `lecture_scale()`;
    returns (fig, axes as a flat array)."""
    size = size * lecture_scale()
    fig = Figure(figsize=(size * ncols, size * nrows), layout="constrained", **kw)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    return fig, axes


def to_numpy(x) -> np.ndarray:
    """A tensor (any device, with or without grad) or an array-like as a numpy array."""
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def setup_axes(ax: Axes, lim: float = 3.0, title: str | None = None, ticks: bool = False) -> Axes:
    """Square 2-D panel [-lim, lim]^2 with equal aspect; no ticks unless asked."""
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("0.6")
    if not ticks:
        ax.set_xticks([])
        ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax

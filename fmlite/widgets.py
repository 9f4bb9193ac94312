"""Explorers: sliders that redraw a figure, for JupyterLab and lectures.

Each explorer is a pure drawing function `draw_*(fig, **params)` that draws the whole
figure from its parameters (tests call it directly), plus a thin ipywidgets wrapper,
`Explorer`, that redraws one pyplot-free Figure on every slider change, renders it to
PNG and swaps the bytes of a `widgets.Image` (no flicker, no output-area churn), and
states the current values in a `widgets.Label` (e.g. "t = 0.25").

Tests move the sliders programmatically: `ex.controls["t"].value = 0.7` redraws
synchronously, then `ex.image.value` holds the new PNG.
"""
from __future__ import annotations

import io
from typing import Callable

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def t_slider(value: float = 0.5, step: float = 0.01, description: str = "t", continuous_update: bool = True):
    """A slider for time t in [0, 1] (0 = noise, 1 = data)."""
    return widgets.FloatSlider(value=value, min=0.0, max=1.0, step=step, description=description,
                               continuous_update=continuous_update, readout_format=".2f")


def float_slider(description: str, value: float, min: float, max: float, step: float = 0.05,
                 continuous_update: bool = True):
    """A labelled float slider."""
    return widgets.FloatSlider(value=value, min=min, max=max, step=step, description=description,
                               continuous_update=continuous_update, readout_format=".2f")


def int_slider(description: str, value: int, min: int, max: int, step: int = 1, continuous_update: bool = False):
    """A labelled integer slider (no continuous update: integer controls usually mean recomputation)."""
    return widgets.IntSlider(value=value, min=min, max=max, step=step, description=description,
                             continuous_update=continuous_update)


def dropdown(description: str, options, value=None):
    """A labelled dropdown."""
    return widgets.Dropdown(options=options, value=value if value is not None else list(options)[0],
                            description=description)


def _format(name: str, value) -> str:
    return f"{name} = {value:.2f}" if isinstance(value, float) else f"{name} = {value}"


class Explorer:
    """Controls -> draw(fig, **values) -> PNG in an Image widget, with a Label stating the values.

    Args:
        draw: pure function draw(fig, **params) that draws everything into the empty Figure fig.
        controls: name -> ipywidgets value widget; names are draw's keyword arguments.
        figsize: size of the Figure in inches.
        dpi: resolution of the PNG.
        fixed: extra keyword arguments passed to draw unchanged (data, models, ...).

    Attributes:
        figure, image (widgets.Image), label (widgets.Label), controls, widget (the VBox to display).
        draws: how many times the figure has been drawn.

    Raises:
        TypeError: a control is not an ipywidgets value widget.
    """

    def __init__(self, draw: Callable[..., None], controls: dict, figsize=(9.0, 4.0), dpi: int = 80, **fixed):
        for name, c in controls.items():
            if not isinstance(c, widgets.ValueWidget):
                raise TypeError(f"control {name!r} must be an ipywidgets value widget, got {type(c).__name__}")
        self.draw_fn, self.controls, self.fixed, self.dpi = draw, dict(controls), fixed, dpi
        self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.image = widgets.Image(format="png", layout=widgets.Layout(width=f"{int(figsize[0] * dpi)}px"))
        self.label = widgets.Label()
        self.draws = 0
        for c in self.controls.values():
            c.observe(self._on_change, names="value")
        self.widget = widgets.VBox([widgets.HBox(list(self.controls.values())), self.label, self.image])
        self.redraw()

    @property
    def values(self) -> dict:
        """Current control values by name."""
        return {name: c.value for name, c in self.controls.items()}

    def _on_change(self, change) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Draw the figure from the current values and push the PNG to the Image widget."""
        self.figure.clear()
        self.draw_fn(self.figure, **self.values, **self.fixed)
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=self.dpi)
        self.image.value = buf.getvalue()
        self.label.value = ", ".join(_format(k, v) for k, v in self.values.items())
        self.draws += 1

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)


# ============================================================================ points moving along trajectories
def _frame(trajectory, t: float) -> int:
    k = len(trajectory) - 1
    return int(round(float(t) * k))


def draw_trajectory(fig: Figure, t: float, trajectory, target=None, trail: int = 0, lim: float = 3.0,
                    n_trails: int = 60) -> None:
    """Points of a flow at time t (nearest stored step), optionally with the target data faint behind
    and the last `trail` steps of a few paths drawn as lines.

    Args:
        fig: empty Figure to draw into.
        t: time in [0, 1] (0 = noise, 1 = data); the trajectory is assumed on a uniform grid of [0, 1].
        trajectory: (K + 1, B, 2) states, e.g. `integrate(..., return_trajectory=True).trajectory`.
        target: optional (N, 2) data cloud shown in light grey.
        trail: number of past steps drawn as lines (0 = none).
    """
    from .plotting import COLORS, _np, scatter, setup_axes
    tr = _np(trajectory)
    k = _frame(tr, t)
    ax = fig.add_subplot(1, 1, 1)
    setup_axes(ax, lim)
    if target is not None:
        scatter(ax, target, color="0.85", s=3, alpha=1.0)
    if trail > 0 and k > 0:
        lo = max(0, k - trail)
        for i in range(min(n_trails, tr.shape[1])):
            ax.plot(tr[lo:k + 1, i, 0], tr[lo:k + 1, i, 1], color=COLORS["path"], lw=1, alpha=0.6)
    scatter(ax, tr[k], color=COLORS["x_t"], s=5)
    ax.set_title(f"t = {float(t):.2f}")


def trajectory_explorer(trajectory, target=None, trail: int = 0, lim: float = 3.0, t: float = 0.0,
                        size: float = 4.5) -> Explorer:
    """Slider over t moving the points along a stored trajectory (K + 1, B, 2); see `draw_trajectory`."""
    return Explorer(draw_trajectory, {"t": t_slider(t, step=1 / (len(trajectory) - 1))}, figsize=(size, size),
                    trajectory=trajectory, target=target, trail=trail, lim=lim)

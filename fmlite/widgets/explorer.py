"""The explorer framework: slider helpers and `Explorer`, which redraws one pyplot-free
Figure per control change and shows it as PNG bytes in a `widgets.Image`.

See `fmlite.widgets` for the design; the explorers of each notebook live in their own module.
"""
from __future__ import annotations

import io
import textwrap
from typing import Callable

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


__all__ = ["Explorer", "t_slider", "float_slider", "int_slider", "dropdown"]


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
        error: the exception of the last drawing, or None when it succeeded. After a slider
            move whose drawing raises, the picture shows the message, the label states the values
            followed by "could not draw (message)", and nothing is raised (an exception in a
            widget callback would reach only JupyterLab's log console).

    Raises:
        TypeError: a control is not an ipywidgets value widget.
        Exception: whatever draw raises for the initial values (a setup error, shown in the cell).
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
        self.draws, self.error = 0, None
        self.redraw()
        if self.error is not None:
            raise self.error
        for c in self.controls.values():
            c.observe(self._on_change, names="value")
        self.widget = widgets.VBox([widgets.HBox(list(self.controls.values())), self.label, self.image])

    @property
    def values(self) -> dict:
        """Current control values by name."""
        return {name: c.value for name, c in self.controls.items()}

    def _on_change(self, change) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Draw the figure from the current values and push the PNG to the Image widget.

        If the drawing raises, the figure shows the error in plain words instead, the label
        ends in "could not draw (...)" and `self.error` holds the exception; nothing is raised.
        """
        stated = ", ".join(_format(k, v) for k, v in self.values.items())
        self.figure.clear()
        try:
            self.draw_fn(self.figure, **self.values, **self.fixed)
            png = self._png()
        except Exception as err:  # noqa: BLE001 - shown in the widget, kept in self.error
            self.error = err
            message = f"{type(err).__name__}: {err}"
            self.figure.clear()
            self.figure.text(0.5, 0.5, "could not draw this view:\n" + textwrap.fill(message, 60), ha="center",
                             va="center", wrap=True, color="#d62728")
            self.image.value = self._png()
            self.label.value = f"{stated}: could not draw ({message})"
            return
        self.error = None
        self.image.value = png
        self.label.value = stated
        self.draws += 1

    def _png(self) -> bytes:
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=self.dpi)
        return buf.getvalue()

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)

"""The explorer framework: slider helpers and `Explorer`, which redraws one pyplot-free
Figure per control change and shows it as a picture (lossless WebP) in a `widgets.Image`.

Speed (a slider move should answer in well under 0.1 s; bench/explorers.py measures it): a drawing
function may offer an in-place fast path (`Explorer(..., update=...)`): when only the controls in `cheap`
change, `update(fig, **params)` moves the existing artists instead of a redraw; `fmlite.widgets.render`
then lays out once per figure structure, redraws only what changed and encodes fast.

See `fmlite.widgets` for the design; the explorers of each notebook live in their own module.
"""
from __future__ import annotations

import textwrap
from typing import Callable

import ipywidgets as widgets
from matplotlib.figure import Figure

from ..plotting.style import lecture_scale
from .render import FigureRenderer

__all__ = ["BOX", "SLIDER_WIDTH", "Explorer", "picture_geometry", "size_control", "t_slider", "float_slider",
           "int_slider", "dropdown"]


#: The box (CSS px, at lecture scale 1) an explorer's picture is enlarged to fit: most of a JupyterLab notebook
#: area (about 1,000 px wide at a 1,280 px window) and low enough to stay on screen with its controls.
BOX = (960, 620)
#: Width of a control and of its description (CSS px at lecture scale 1): slider tracks of about 300 px.
SLIDER_WIDTH, DESCRIPTION_WIDTH = 440, 64
#: Above lecture scale 1, pictures are rendered at this many times the resolution they are shown at: sharp when
#: the browser zooms or the screen is dense. 1.5, not 2: measured at scale 1.6 on a 2-core CPU, 2x (4x the pixels)
#: put 05's and 04's explorers at 120-160 ms a move, 1.5x at 60-110 ms (bench/RESULTS.md), and a projector of
#: 1280 px shows no difference between the two.
LECTURE_SHARPNESS = 1.5


def picture_geometry(figsize, dpi: float = 80, scale: float | None = None) -> dict:
    """How an explorer shows a figure designed at `figsize` inches and `dpi`: enlarged by a zoom that fits it
    into `BOX` (never shrunk), half the zoom as more room (inches) and half as larger type (resolution).
    The lecture scale multiplies the inches (so type and lines grow against the picture) but not the width
    the picture is shown at, which stays within the notebook; above scale 1 the picture is rendered at
    `LECTURE_SHARPNESS` times the resolution it is shown at, so it stays sharp on a projector or zoomed in.

    Args:
        figsize: (width, height) in inches, > 0. dpi: design resolution. scale: lecture scale (None: `lecture_scale()`).

    Returns:
        dict with figsize (inches of the Figure), dpi (of the render), width (CSS px it is displayed at).
    Raises:
        ValueError: a non-positive size.
    """
    w, h = (float(v) for v in figsize)
    if w <= 0 or h <= 0 or dpi <= 0:
        raise ValueError(f"figsize and dpi must be positive, got figsize={figsize}, dpi={dpi}")
    scale = lecture_scale() if scale is None else float(scale)
    zoom = max(1.0, min(BOX[0] / (w * dpi), BOX[1] / (h * dpi)))
    grow = zoom ** 0.5
    sharp = LECTURE_SHARPNESS if scale > 1.0 else 1.0
    width = round(w * dpi * zoom)
    return {"figsize": (w * grow * scale, h * grow * scale), "dpi": dpi * zoom / grow / scale * sharp, "width": width}


def size_control(control, scale: float | None = None):
    """Give a control the course's width (`SLIDER_WIDTH`, description `DESCRIPTION_WIDTH`) times the lecture
    scale; returns it."""
    scale = lecture_scale() if scale is None else float(scale)
    control.layout.width = f"{round(SLIDER_WIDTH * scale)}px"
    if hasattr(control.style, "description_width"):
        control.style.description_width = f"{round(DESCRIPTION_WIDTH * scale)}px"
    return control


def t_slider(value: float = 0.5, step: float = 0.01, description: str = "t", continuous_update: bool = True,
             max: float = 1.0):
    """The time control of every explorer: a slider for t in [0, max] (0 = noise, 1 = data; max < 1 where a
    field is only a convention at t = 1), readout to 2 decimals.

    continuous_update: True (redraw while dragging) where a t move shows precomputed frames or moves artists
    in place quickly; False (redraw on release) where a move computes a field or a solve. Pass it explicitly
    only to choose False."""
    return widgets.FloatSlider(value=value, min=0.0, max=max, step=step, description=description,
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
    """Controls -> draw(fig, **values) -> a picture in an Image widget; a Label appears only when a drawing fails.

    One statement of the values on screen: the sliders' readouts and the figure's title say what is shown;
    the Label holds the same values as text (for tests and screen readers) but is displayed only to
    report an error, so it never repeats the title.

    Args:
        draw: pure function draw(fig, **params) that draws everything into the empty Figure fig.
        controls: name -> ipywidgets value widget; names are draw's keyword arguments.
        figsize: the design size of the Figure in inches (at `dpi`); the Explorer enlarges it to fit `BOX`
            and scales it by the lecture scale (see `picture_geometry`).
        dpi: the design resolution.
        update: optional fast path update(fig, **params) that brings a figure drawn by `draw` to new values
            of the `cheap` controls in place (moving artists, new titles); it must leave the same picture as
            a fresh `draw` with those values (tests check this pixel by pixel), or return False, without
            changing anything, when it cannot (the Explorer then redraws).
        cheap: names of the controls `update` handles; a change of any other control redraws.
        fixed: extra keyword arguments passed to draw (and update) unchanged (data, models, ...).

    Attributes:
        figure, image (widgets.Image), label (widgets.Label), controls, widget (the VBox to display).
        width: the CSS width (px) the picture is displayed at (at most the notebook's width).
        draws: how many times the figure has been drawn or updated.
        updates: how many of those took the in-place fast path.
        blits: how many of those updates were drawn by redrawing only what changed.
        renderer: the `fmlite.widgets.render.FigureRenderer` that turns the figure into the picture.
        error: the exception of the last drawing, or None when it succeeded. After a slider
            move whose drawing raises, the picture shows the message, the label states the values
            followed by "could not draw (message)", and nothing is raised (an exception in a
            widget callback would reach only JupyterLab's log console).

    The picture is made by `fmlite.widgets.render.FigureRenderer`: a layout reused per figure structure (so
    titles that change with a slider do not make the panels jump), after an in-place update only what changed
    redrawn, and a fast encoding.

    Raises:
        TypeError: a control is not an ipywidgets value widget.
        ValueError: a `cheap` name is not a control.
        Exception: whatever draw raises for the initial values (a setup error, shown in the cell).
    """

    def __init__(self, draw: Callable[..., None], controls: dict, figsize=(9.0, 4.0), dpi: int = 80,
                 update: Callable[..., None] | None = None, cheap=(), **fixed):
        for name, c in controls.items():
            if not isinstance(c, widgets.ValueWidget):
                raise TypeError(f"control {name!r} must be an ipywidgets value widget, got {type(c).__name__}")
        unknown = set(cheap) - set(controls)
        if unknown:
            raise ValueError(f"cheap controls {sorted(unknown)} are not among the controls {sorted(controls)}")
        self.draw_fn, self.controls, self.fixed, self.dpi = draw, dict(controls), fixed, dpi
        self.update_fn, self.cheap = update, frozenset(cheap)
        geometry = picture_geometry(figsize, dpi)
        self.width = geometry["width"]
        self.figure = Figure(figsize=geometry["figsize"], dpi=geometry["dpi"], layout="constrained")
        self.renderer = FigureRenderer(self.figure)
        self._drawn: dict | None = None  # the values of the picture on show, None after an error
        self.image = widgets.Image(format=self.renderer.format,
                                   layout=widgets.Layout(width=f"{self.width}px", max_width="100%", height="auto"))
        self.label = widgets.Label(layout=widgets.Layout(display="none"))
        self.draws, self.updates, self.error = 0, 0, None
        self.redraw()
        if self.error is not None:
            raise self.error
        for c in self.controls.values():
            size_control(c)
            c.observe(self._on_change, names="value")
        row = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([row, self.label, self.image])

    @property
    def blits(self) -> int:
        """How many updates were drawn by redrawing only what changed (`fmlite.widgets.render`)."""
        return self.renderer.blits

    @property
    def values(self) -> dict:
        """Current control values by name."""
        return {name: c.value for name, c in self.controls.items()}

    def _on_change(self, change) -> None:
        if self.values != self._drawn:  # one control may set another (a snapped slider): draw once
            self.redraw()

    def _can_update(self, values: dict) -> bool:
        if self.update_fn is None or self._drawn is None:
            return False
        changed = {k for k, v in values.items() if self._drawn.get(k) != v}
        return changed <= self.cheap

    def full_redraw(self) -> None:
        """Clear and draw from scratch with the current values (never the in-place fast path)."""
        self._drawn = None
        self.redraw()

    def redraw(self) -> None:
        """Draw the figure from the current values (in place when only `cheap` controls changed) and push
        the picture to the Image widget.

        If the drawing raises, the figure shows the error in plain words instead, the label
        ends in "could not draw (...)" and `self.error` holds the exception; nothing is raised.
        """
        values = self.values
        stated = ", ".join(_format(k, v) for k, v in values.items())
        fast = self._can_update(values)
        try:
            if fast and self.update_fn(self.figure, **values, **self.fixed) is False:
                fast = False  # the update cannot reach this picture (its artists would change): redraw
            if not fast:
                self.renderer.clear()
                self.draw_fn(self.figure, **values, **self.fixed)
            picture = self.renderer.picture(updated=fast)
        except Exception as err:  # noqa: BLE001 - shown in the widget, kept in self.error
            self.error, self._drawn = err, None
            message = f"{type(err).__name__}: {err}"
            self.renderer.clear()
            self.figure.text(0.5, 0.5, "could not draw this view:\n" + textwrap.fill(message, 60), ha="center",
                             va="center", wrap=True, color="#d62728")
            self.image.value = self.renderer.picture()
            self.label.value = f"{stated}: could not draw ({message})"
            self.label.layout.display = None   # shown: the reader needs to know why the picture is a message
            return
        self.error, self._drawn = None, values
        self.image.value = picture
        self.label.value = stated
        self.label.layout.display = "none"
        self.draws += 1
        self.updates += fast

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)

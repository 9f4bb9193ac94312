"""The explorer framework: slider helpers and `Explorer`, which redraws one pyplot-free
Figure per control change and shows it as lossless WebP bytes in a `widgets.Image`.

Speed (a slider move should answer in well under 0.1 s; bench/explorers.py measures it):
- the constrained layout is computed once per figure structure (`layout_signature`) and then reused with
  the layout engine switched off;
- a drawing function may offer an in-place fast path (`Explorer(..., update=...)`): when only the controls
  in `cheap` change, `update(fig, **params)` moves the existing artists instead of a redraw;
- after such an update only the changed artists, and those drawn above them where they may overlap, are
  drawn again, over a cached background rendered without them (`dynamic_artists`, matplotlib's blitting):
  legends, tick labels and static layers are not redrawn;
- the RGBA buffer is encoded as lossless WebP (`picture_bytes`): the same pixels, in about half the time of
  PNG (5-9 ms against 6-23 ms for these pictures on a 2-core CPU).

See `fmlite.widgets` for the design; the explorers of each notebook live in their own module.
"""
from __future__ import annotations

import io
import textwrap
from typing import Callable

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from ..plotting.style import lecture_scale

__all__ = ["BOX", "SLIDER_WIDTH", "Explorer", "picture_geometry", "size_control", "t_slider", "float_slider",
           "int_slider", "dropdown", "picture_format", "picture_bytes", "layout_signature", "dynamic_artists"]


def picture_format() -> str:
    """"webp" where Pillow can write WebP (its wheels can), else "png": the format of an explorer's picture."""
    from PIL import features
    return "webp" if features.check("webp") else "png"


def picture_bytes(canvas: FigureCanvasAgg, format: str | None = None) -> bytes:
    """The canvas's current RGBA buffer (as last drawn) as lossless WebP (Pillow, fastest method) or, for
    format="png" or where Pillow lacks WebP, PNG with fast compression. Either way exactly the pixels of
    `fig.savefig(format="png")` at the figure's dpi; WebP (which every current browser shows) takes half
    the time of PNG, and savefig would draw the figure a second time."""
    import numpy as np
    from PIL import Image
    format = format or picture_format()
    buf = io.BytesIO()
    image = Image.fromarray(np.asarray(canvas.buffer_rgba()))
    if format == "webp":
        image.save(buf, format="webp", lossless=True, method=0, quality=0)
    else:
        image.save(buf, format="png", compress_level=1)
    return buf.getvalue()


def layout_signature(fig: Figure) -> tuple:
    """What the constrained layout of fig depends on, apart from text contents: per Axes its kind, label
    (colorbars are "<colorbar>"), grid cell, number of legend entries, of title lines and the length of the
    longest tick label on each axis (colorbar ticks change with the data); and the suptitle.
    Two drawings with the same signature get the same layout (`Explorer` computes it once per signature)."""
    def cell(ax):
        spec = ax.get_subplotspec()
        return None if spec is None else (spec.get_geometry(), tuple(spec.get_gridspec().get_width_ratios() or ()))

    def legend(ax):
        lg = ax.get_legend()
        return 0 if lg is None else len(lg.get_texts())

    def ticks(axis):
        return max((len(label.get_text()) for label in axis.get_majorticklabels()), default=0)

    axes = tuple((type(ax).__name__, ax.get_label(), cell(ax), legend(ax), ax.get_title().count("\n"),
                  ticks(ax.xaxis), ticks(ax.yaxis)) for ax in fig.axes)
    sup = fig._suptitle.get_text().count("\n") + 1 if fig._suptitle is not None else 0
    return axes, sup


def _record_layout(fig: Figure) -> dict:
    """The positions the constrained layout gave: Axes (original positions) and the suptitle."""
    return {"axes": [ax.get_position(original=True).frozen() for ax in fig.axes],
            "suptitle": None if fig._suptitle is None else fig._suptitle.get_position()}


def _apply_layout(fig: Figure, layout: dict) -> None:
    for ax, pos in zip(fig.axes, layout["axes"]):
        ax._set_position(pos)  # as the constrained layout does (keeps the Axes in the layout)
    if layout["suptitle"] is not None and fig._suptitle is not None:
        fig._suptitle.set_position(layout["suptitle"])


def _unstale(fig: Figure) -> None:
    """Mark every artist of fig as drawn, so that the next update's changes are the only stale artists."""
    for artist in fig.findobj():
        artist._stale = False


def _stale_tops(fig: Figure) -> set:
    """ids of the top-level artists (Axes children and figure-level artists) that contain an artist changed
    (made stale) since `_unstale`: set_data, set_offsets, set_text and the like mark an artist stale."""
    tops = set()
    for top in [fig.patch, *(c for c in fig.get_children() if c not in fig.axes)]:
        if any(a._stale for a in top.findobj()):
            tops.add(id(top))
    for ax in fig.axes:
        for top in ax.get_children():
            if any(a._stale for a in top.findobj()):
                tops.add(id(top))
    return tops


def _axes_order(ax) -> list:
    """The artists of an Axes in the order `Axes.draw` draws them (patch first, then by zorder)."""
    artists = ax.get_children()
    artists.remove(ax.patch)
    if not (ax.axison and ax._frameon):
        artists = [a for a in artists if a not in ax.spines.values()]
    if not ax.axison:
        artists = [a for a in artists if a not in ax._axis_map.values()]
    artists = sorted(artists, key=lambda a: a.zorder)
    return [ax.patch] + artists if ax.axison and ax._frameon else artists


def _draw_order(fig: Figure) -> list:
    """(artist, its Axes or None) for every top-level artist of fig, in the order `Figure.draw` draws them."""
    children = sorted((a for a in fig.get_children() if a is not fig.patch), key=lambda a: a.zorder)
    out = [(fig.patch, None)]
    for a in children:
        out += [(b, a) for b in _axes_order(a)] if a in fig.axes else [(a, None)]
    return out


def _views(fig: Figure) -> dict:
    """Each Axes' position and data limits: when they change, everything in that Axes is redrawn."""
    return {id(ax): (ax.get_position(original=True).bounds, ax.viewLim.bounds) for ax in fig.axes}


def _axis_region(axis, renderer, exact: bool):
    """Where an Axis draws: its tick labels and label, exactly (from their extents, which costs a text layout)
    or cheaply (the band from its Axes to the figure's edge on the label side, reaching 3 label font sizes past
    the Axes' ends). Its tick marks point out of the Axes and touch only its edge, which the spines cover;
    with grid lines or inward ticks it draws inside the Axes too."""
    ax, box = axis.axes, None
    if exact:
        box = axis.get_tightbbox(renderer)
    else:
        edge, a = ax.get_figure(root=True).bbox, ax.bbox
        pad = 3 * renderer.points_to_pixels(axis.label.get_size())
        if axis.axis_name == "x":
            low, high = (edge.y0, a.y0) if axis.get_label_position() == "bottom" else (a.y1, edge.y1)
            box = Bbox([[a.x0 - pad, low], [a.x1 + pad, high]])
        else:
            low, high = (edge.x0, a.x0) if axis.get_label_position() == "left" else (a.x1, edge.x1)
            box = Bbox([[low, a.y0 - pad], [high, a.y1 + pad]])
    tick = axis.majorTicks[0] if axis.majorTicks else None
    if tick is not None and (tick.gridline.get_visible() or tick._tickdir != "out"):
        box = ax.bbox.frozen() if box is None else Bbox.union([box, ax.bbox])
    return box


def _region(artist, renderer, exact: bool = True):
    """Where an artist can put pixels, in display coordinates (None: nowhere). Data artists clipped to their
    Axes stay inside its box. An Axis: see `_axis_region` (exact=False: a cheap, larger region). Other
    artists: their extent, 1 px wider for antialiasing (a spine's extent has no width)."""
    from matplotlib.axis import Axis
    if isinstance(artist, Axis):
        return _axis_region(artist, renderer, exact)
    if artist.get_clip_on() and artist.get_clip_path() is None and artist.get_clip_box() is not None:
        return artist.get_clip_box().frozen()
    box = artist.get_tightbbox(renderer)
    return None if box is None else box.padded(1)


def _overlap(a, b) -> bool:
    return a is not None and b is not None and a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def dynamic_artists(fig: Figure, views: dict, renderer, regions: dict, stale: set) -> tuple[list, tuple]:
    """The artists to redraw over a background rendered without them, in drawing order, so that the picture
    equals a full draw: every artist an in-place update changed (`stale`, from `_stale_tops`; all of an Axes whose
    position or limits differ from `views`) and every artist drawn after one of them that may overlap it.
    Also returns the ids of the other (static) artists: a background with the same static artists can be
    reused, even when an update replaced a dynamic artist by a new one (as a colorbar does with its mesh).
    `regions` caches the regions of unchanged artists (id -> box) between calls."""
    now = _views(fig)
    moved = {key for key, view in now.items() if views.get(key) != view}
    out, boxes, static = [], [], []
    for artist, ax in _draw_order(fig):
        if not artist.get_visible():
            continue
        if id(ax) in moved or id(artist) in stale:
            regions.pop(id(artist), None)
            out.append(artist)
            boxes.append(_region(artist, renderer, exact=False))  # changed: computing it exactly costs a layout
            continue
        if boxes:
            if id(artist) not in regions:
                regions[id(artist)] = _region(artist, renderer)
            if any(_overlap(regions[id(artist)], box) for box in boxes):
                out.append(artist)
                boxes.append(regions[id(artist)])
                continue
        static.append(id(artist))
    return out, tuple(static)


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
        blits: how many of those updates were drawn by redrawing only what changed (`dynamic_artists`).
        error: the exception of the last drawing, or None when it succeeded. After a slider
            move whose drawing raises, the picture shows the message, the label states the values
            followed by "could not draw (message)", and nothing is raised (an exception in a
            widget callback would reach only JupyterLab's log console).

    The constrained layout is computed once per `layout_signature` and reused (so titles that change
    with a slider do not make the panels jump); the picture is rendered once (after an in-place update only
    what changed, see `dynamic_artists`) and encoded fast (`picture_bytes`).

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
        self._engine = self.figure.get_layout_engine()
        self._layouts: dict = {}
        self._drawn: dict | None = None  # the values of the picture on show, None after an error
        self._signature = self._view = self._background = None  # the picture on show, for `_blit`
        self._regions: dict = {}
        FigureCanvasAgg(self.figure)
        self.image = widgets.Image(format=picture_format(),
                                   layout=widgets.Layout(width=f"{self.width}px", max_width="100%", height="auto"))
        self.label = widgets.Label(layout=widgets.Layout(display="none"))
        self.draws, self.updates, self.blits, self.error = 0, 0, 0, None
        self.redraw()
        if self.error is not None:
            raise self.error
        for c in self.controls.values():
            size_control(c)
            c.observe(self._on_change, names="value")
        row = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([row, self.label, self.image])

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
                self._clear()
                self.draw_fn(self.figure, **values, **self.fixed)
            picture = self._picture(fast)
        except Exception as err:  # noqa: BLE001 - shown in the widget, kept in self.error
            self.error, self._drawn = err, None
            message = f"{type(err).__name__}: {err}"
            self._clear()
            self.figure.text(0.5, 0.5, "could not draw this view:\n" + textwrap.fill(message, 60), ha="center",
                             va="center", wrap=True, color="#d62728")
            self.image.value = self._picture()
            self.label.value = f"{stated}: could not draw ({message})"
            self.label.layout.display = None   # shown: the reader needs to know why the picture is a message
            return
        self.error, self._drawn = None, values
        self.image.value = picture
        self.label.value = stated
        self.label.layout.display = "none"
        self.draws += 1
        self.updates += fast

    def _clear(self) -> None:
        self.figure.clear()
        self.figure.set_layout_engine(self._engine)

    def _picture(self, fast: bool = False) -> bytes:
        """Lay out (once per `layout_signature`), render once, encode fast. After an in-place update that keeps
        the layout, redraw only what changed over a cached background (`_blit`) where that gives the same picture."""
        fig = self.figure
        stale = _stale_tops(fig) if fast else None  # before the signature: reading tick labels marks ticks stale
        signature = layout_signature(fig)
        if fast and signature == self._signature:
            where = self._layouts[signature]["suptitle"]  # the update may have reset a suptitle's position
            if where is not None and fig._suptitle is not None and fig._suptitle.get_position() != where:
                fig._suptitle.set_position(where)
            picture = self._blit(stale)
            if picture is not None:
                _unstale(fig)
                self.blits += 1
                return picture
        layout = self._layouts.get(signature)
        if layout is None:
            if fig.axes:  # as Figure.draw: no layout without Axes; a second pass settles it (titles, labels)
                self._engine.execute(fig)
                self._engine.execute(fig)
            layout = self._layouts[signature] = _record_layout(fig)
        else:
            _apply_layout(fig, layout)
        fig.set_layout_engine("none")
        fig.canvas.draw()
        _unstale(fig)
        self._signature, self._view, self._background, self._regions = signature, _views(fig), None, {}
        return picture_bytes(fig.canvas, self.image.format)

    def _blit(self, stale: set) -> bytes | None:
        """After an in-place update: restore a background rendered without the changed artists and draw only
        them and what may overlap them from above (`dynamic_artists`): the same pixels as a full draw. None when
        it cannot (nothing changed, or the figure's background did)."""
        fig, canvas = self.figure, self.figure.canvas
        if self._view is None:
            return None
        artists, key = dynamic_artists(fig, self._view, canvas.get_renderer(), self._regions, stale)
        if not artists or artists[0] is fig.patch:
            return None
        if self._background is None or self._background[0] != key:
            for a in artists:
                a.set_animated(True)
            try:
                canvas.draw()
            finally:
                for a in artists:
                    a.set_animated(False)
            self._background = (key, canvas.copy_from_bbox(fig.bbox))
        else:
            canvas.restore_region(self._background[1])
        renderer = canvas.get_renderer()
        for a in artists:
            a.draw(renderer)
        return picture_bytes(canvas, self.image.format)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)

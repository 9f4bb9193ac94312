"""How an explorer's Figure becomes the picture it shows, fast (see `fmlite.widgets.explorer.Explorer`).

- The constrained layout is computed once per figure structure (`layout_signature`) and then reused with
  the layout engine switched off, so titles that change with a slider do not make the panels jump.
- After an in-place update (an explorer's fast path) only the changed artists, and those drawn above them
  where they may overlap, are drawn again, over a cached background rendered without them
  (`dynamic_artists`, matplotlib's blitting): legends, tick labels and static layers are not redrawn.
- The RGBA buffer is encoded as lossless WebP (`picture_bytes`): the same pixels, in about half the time of
  PNG (5-9 ms against 6-23 ms for the course's pictures on a 2-core CPU).

`FigureRenderer` puts the three together; bench/explorers.py measures the result.
"""
from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

__all__ = ["FigureRenderer", "picture_format", "picture_bytes", "layout_signature", "dynamic_artists"]


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
    Two drawings with the same signature get the same layout (`FigureRenderer` computes it once per signature)."""
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


class FigureRenderer:
    """Renders one Figure (made with layout="constrained") to picture bytes, again and again.

    Args:
        fig: the Figure; it gets an Agg canvas. format: "webp" or "png" (default `picture_format()`).

    Attributes:
        format: the picture format. blits: how many pictures were made by redrawing only what changed.
    """

    def __init__(self, fig: Figure, format: str | None = None):
        self.fig, self.format, self.blits = fig, format or picture_format(), 0
        self._engine = fig.get_layout_engine()
        self._layouts: dict = {}
        self._signature = self._view = self._background = None  # the picture on show, for `_blit`
        self._regions: dict = {}
        FigureCanvasAgg(fig)

    def clear(self) -> None:
        """Empty the figure for a drawing from scratch (its layout engine back on)."""
        self.fig.clear()
        self.fig.set_layout_engine(self._engine)

    def picture(self, updated: bool = False) -> bytes:
        """Lay out (once per `layout_signature`), render once, encode. updated=True after an in-place update of
        the figure on show: where the layout is unchanged, redraw only what changed (`_blit`), the same pixels.
        Raises: whatever drawing the figure raises."""
        fig = self.fig
        stale = _stale_tops(fig) if updated else None  # before the signature: reading tick labels marks ticks stale
        signature = layout_signature(fig)
        if updated and signature == self._signature:
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
        return picture_bytes(fig.canvas, self.format)

    def dynamic_artists(self) -> list:
        """What the next `picture(updated=True)` would redraw (`dynamic_artists` for the figure on show)."""
        return dynamic_artists(self.fig, self._view, self.fig.canvas.get_renderer(), {}, _stale_tops(self.fig))[0]

    def _blit(self, stale: set) -> bytes | None:
        """Restore a background rendered without the changed artists and draw only them and what may overlap
        them from above: the same pixels as a full draw. None when it cannot (nothing changed, or the figure's
        background did)."""
        fig, canvas = self.fig, self.fig.canvas
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
        return picture_bytes(canvas, self.format)

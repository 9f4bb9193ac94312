"""The Explorer framework: sliders redraw one figure synchronously, the drawing functions are pure, the picture
is the figure's pixels and a blitted fast-path update draws what changed (per-notebook explorers: test_explorers_NN.py)."""
import io

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from fmlite.widgets import Explorer, draw_trajectory, t_slider, trajectory_explorer
from fmlite.widgets.explorer import float_slider
from fmlite.widgets.render import picture_bytes


def test_explorer_redraws_on_slider_change_and_states_values():
    seen = []

    def draw(fig, t, k):
        seen.append((t, k))
        fig.add_subplot().plot([0, t], [0, k])

    ex = Explorer(draw, {"t": t_slider(0.25), "k": widgets.IntSlider(value=2, min=0, max=5)})
    first = ex.image.value
    assert ex.label.value == "t = 0.25, k = 2" and first[8:12] == b"WEBP"
    ex.controls["t"].value = 0.7
    assert ex.label.value == "t = 0.70, k = 2" and ex.image.value != first
    assert seen == [(0.25, 2), (0.7, 2)] and ex.draws == 2


def test_explorer_refuses_non_widget_controls():
    with pytest.raises(TypeError, match="value widget"):
        Explorer(lambda fig, t: None, {"t": 0.5})


def test_trajectory_explorer_shows_the_stored_frame():
    traj = torch.stack([torch.full((10, 2), float(k)) for k in range(11)]) / 10  # frame k sits at (k/10, k/10)
    ex = trajectory_explorer(traj)
    ex.controls["t"].value = 0.3
    ax = ex.figure.axes[0]
    points = ax.collections[-1].get_offsets()
    assert torch.allclose(torch.as_tensor(points, dtype=torch.float32), torch.full((10, 2), 0.3))
    assert ax.get_title() == "t = 0.30"


def test_draw_trajectory_with_trails_and_target():
    fig = Figure()
    traj = torch.randn(21, 30, 2).cumsum(0) * 0.1
    draw_trajectory(fig, 0.5, traj, target=torch.randn(50, 2), trail=5)
    ax = fig.axes[0]
    assert len(ax.lines) == 30 and len(ax.lines[0].get_xdata()) == 6


def test_a_drawing_that_raises_is_shown_in_the_widget_and_picture_label_slider_agree():
    def draw(fig, t):
        if t > 0.5:
            raise ValueError("t too large for this demo")
        fig.add_subplot().plot([0, t], [0, 1])

    ex = Explorer(draw, {"t": t_slider(0.25)})
    good = ex.image.value
    assert ex.label.layout.display == "none"  # the slider states the value; no second statement on screen
    ex.controls["t"].value = 0.75  # must not raise into the widget callback
    assert ex.controls["t"].value == 0.75
    assert ex.label.value == "t = 0.75: could not draw (ValueError: t too large for this demo)"
    assert ex.label.layout.display is None  # shown: the reader learns why the picture is a message
    assert isinstance(ex.error, ValueError) and ex.image.value != good and ex.image.value[8:12] == b"WEBP"
    assert "t too large" in ex.figure.texts[0].get_text()  # the picture says it, not the old values
    ex.controls["t"].value = 0.25
    assert ex.error is None and ex.label.value == "t = 0.25" and ex.draws == 2 and ex.label.layout.display == "none"


def test_an_explorer_whose_first_drawing_raises_raises_at_once():
    def draw(fig, t):
        raise RuntimeError("bad setup")

    with pytest.raises(RuntimeError, match="bad setup"):
        Explorer(draw, {"t": t_slider(0.25)})


def test_trajectory_explorer_on_a_one_frame_trajectory():
    ex = trajectory_explorer(torch.zeros(1, 5, 2))
    ex.controls["t"].value = 0.6
    assert ex.error is None and ex.label.value == "t = 0.60"
    assert np.allclose(ex.figure.axes[0].collections[-1].get_offsets(), 0.0)


# ----------------------------------------------------------------------------- rendering and the fast path
def test_picture_bytes_are_the_pixels_of_savefig(pixels):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(3, 2), dpi=40)
    fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    webp, png = picture_bytes(canvas, "webp"), picture_bytes(canvas, "png")   # png: where Pillow lacks WebP
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP" and png[:4] == b"\x89PNG"
    assert np.array_equal(pixels(webp), pixels(buf.getvalue()))   # lossless
    assert np.array_equal(pixels(png), pixels(buf.getvalue()))


def _overlapping(fig, x, limit, inside):
    """A scatter at x under an opaque legend (inside the Axes) or a legend below it, a line and a title."""
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter([x, -x, 0.5 * x], [0.0, 0.5, -0.5], s=900, label="moving points", zorder=1)
    ax.plot([-1, 1], [-1, 1], lw=6, label="a static line", zorder=2)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-1, 1)
    ax.set_title(f"x = {x:.2f}")
    ax.legend(loc="center" if inside else "upper center", bbox_to_anchor=None if inside else (0.5, -0.12),
              framealpha=1.0)


def _move(fig, x, limit, inside):
    ax = fig.axes[0]
    ax.collections[0].set_offsets(np.array([[x, 0.0], [-x, 0.5], [0.5 * x, -0.5]]))
    if ax.get_xlim() != (-limit, limit):   # setting limits, even the same ones, redraws the Axis
        ax.set_xlim(-limit, limit)
    ax.set_title(f"x = {x:.2f}")


@pytest.mark.parametrize("inside", [True, False])
def test_blit_redraws_what_lies_above_a_changed_artist(inside, update_equals_fresh_draw):
    """The points move under an opaque legend (inside) and a thick line: both are drawn again above them, and
    nothing else is (the legend below the Axes stays in the background)."""
    ex = Explorer(_overlapping, {"x": float_slider("x", 0.0, -1.0, 1.0)}, figsize=(3, 3), update=_move,
                  cheap=("x",), limit=1.2, inside=inside)
    update_equals_fresh_draw(ex, [("x", 0.1), ("x", 0.6), ("x", -0.3)])
    assert ex.blits == 3
    ax = ex.figure.axes[0]
    ex.controls["x"].value = 0.2
    _move(ex.figure, 0.25, 1.2, inside)
    drawn = ex.renderer.dynamic_artists()
    assert ax.collections[0] in drawn and ax.lines[0] in drawn and ax.title in drawn
    assert (ax.get_legend() in drawn) is inside and ax.xaxis not in drawn


def test_blit_redraws_an_axes_whose_limits_changed(update_equals_fresh_draw):
    ex = Explorer(_overlapping, {"x": float_slider("x", 0.0, -1.0, 1.0)}, figsize=(3, 3), update=_move,
                  cheap=("x",), limit=1.2, inside=False)
    ex.fixed["limit"] = 2.0      # new x limits and tick labels on the next move
    update_equals_fresh_draw(ex, [("x", 0.5)])

"""In-place fast paths of the explorers: an updated picture (redrawn by blitting only what changed) equals a
fresh draw_* of the same values."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from fmlite import widgets as W
from fmlite.widgets.explorer import Explorer, float_slider
from fmlite.widgets.render import picture_bytes


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def assert_update_equals_fresh_draw(ex, moves):
    """Each move takes the fast path and leaves the picture a full redraw (same layout) gives, then differs
    from the picture before the move."""
    for name, value in moves:
        before, updates = ex.image.value, ex.updates
        ex.controls[name].value = value
        assert ex.error is None and ex.updates == updates + 1, f"{name} = {value} did not take the fast path"
        updated = ex.image.value
        assert updated != before
        ex.full_redraw()
        assert ex.updates == updates + 1
        a, b = pixels(updated), pixels(ex.image.value)
        assert a.shape == b.shape and (np.abs(a - b).max(axis=2) > 8).mean() < 1e-4, f"{name} = {value}"


def field(x, t):
    return torch.stack([-x[:, 1], x[:, 0]], dim=1) * (1 + t[:, None])


def test_picture_bytes_are_the_pixels_of_savefig():
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
def test_blit_redraws_what_lies_above_a_changed_artist(inside):
    """The points move under an opaque legend (inside) and a thick line: both are drawn again above them, and
    nothing else is (the legend below the Axes stays in the background)."""
    ex = Explorer(_overlapping, {"x": float_slider("x", 0.0, -1.0, 1.0)}, figsize=(3, 3), update=_move,
                  cheap=("x",), limit=1.2, inside=inside)
    assert_update_equals_fresh_draw(ex, [("x", 0.1), ("x", 0.6), ("x", -0.3)])
    assert ex.blits == 3
    ax = ex.figure.axes[0]
    ex.controls["x"].value = 0.2
    _move(ex.figure, 0.25, 1.2, inside)
    drawn = ex.renderer.dynamic_artists()
    assert ax.collections[0] in drawn and ax.lines[0] in drawn and ax.title in drawn
    assert (ax.get_legend() in drawn) is inside and ax.xaxis not in drawn


def test_blit_redraws_an_axes_whose_limits_changed():
    ex = Explorer(_overlapping, {"x": float_slider("x", 0.0, -1.0, 1.0)}, figsize=(3, 3), update=_move,
                  cheap=("x",), limit=1.2, inside=False)
    ex.fixed["limit"] = 2.0      # new x limits and tick labels on the next move
    assert_update_equals_fresh_draw(ex, [("x", 0.5)])


def test_trajectory_fast_path():
    tr = torch.cumsum(torch.randn(11, 50, 2, generator=torch.Generator().manual_seed(0)) * 0.2, dim=0)
    ex = W.trajectory_explorer(tr, target=torch.randn(40, 2), trail=3, t=0.5, size=3)
    assert_update_equals_fresh_draw(ex, [("t", 0.8), ("t", 0.3), ("t", 0.0), ("t", 1.0)])  # t = 0: no trails
    assert ex.updates == 4 and ex.error is None


def test_solver_fast_path_for_t_steps_and_method():
    x_0 = torch.randn(30, 2, generator=torch.Generator().manual_seed(1))
    ex = W.solver_explorer(field, x_0, target=torch.randn(40, 2), steps=3, t=1.0, reference_steps=10, size=3)
    assert_update_equals_fresh_draw(ex, [("t", 0.4), ("steps", 5), ("t", 0.9), ("method", "rk4"),
                                         ("method", "midpoint"), ("steps", 2)])   # paths and legend recoloured


def test_straight_fast_path():
    x_0 = torch.randn(30, 2, generator=torch.Generator().manual_seed(2))
    ex = W.straight_explorer({"a": field, "b": lambda x, t: -field(x, t)}, x_0, target=torch.randn(40, 2),
                             steps=2, t=1.0, reference_steps=4, size=2.5)
    assert_update_equals_fresh_draw(ex, [("t", 0.5), ("steps", 4), ("t", 0.1), ("steps", 1)])


def test_guidance_fast_path():
    g = torch.Generator().manual_seed(3)
    samples = {w: torch.rand(3, 4, 1, 8, 8, generator=g) * 2 - 1 for w in (0.0, 1.0, 2.0)}
    ex = W.guidance_explorer(samples, w=0.0, size=2.5)
    assert_update_equals_fresh_draw(ex, [("w", 1.0), ("w", 2.0)])


def test_likelihood_fast_path():
    g = torch.Generator().manual_seed(4)
    times = np.array([0.0, 0.5, 1.0])
    maps = W.LogDensityMaps(times, -5 * torch.rand(3, 10, 10, generator=g, dtype=torch.float64).numpy(), 3.0)
    exact = lambda x, t: -0.5 * (x ** 2).sum(1) * (1 + t)  # noqa: E731
    ex = W.likelihood_explorer(maps, exact, t=1.0, size=2.0)
    assert_update_equals_fresh_draw(ex, [("t", 0.5), ("t", 0.0)])



def test_interpolation_fast_path_for_t_sigma_and_schedule():
    g = torch.Generator().manual_seed(5)
    x_0, x_1, eps = (torch.randn(80, 2, generator=g) for _ in range(3))
    ex = W.interpolation_explorer(x_0, x_1, eps, t=0.5, sigma=0.5, schedule="bridge", n_paths=5, size=2.5)
    assert_update_equals_fresh_draw(ex, [("t", 0.8), ("t", 0.0), ("sigma", 1.0), ("t", 0.3), ("schedule", "sine"),
                                         ("sigma", 0.0), ("schedule", "constant"), ("t", 1.0)])


def test_vector_field_fast_path():
    data = torch.randn(7, 2, generator=torch.Generator().manual_seed(6))
    ex = W.vector_field_explorer(data, n=40, seed=1, t=0.5, n_grid=9, size=3)
    assert_update_equals_fresh_draw(ex, [("t", 0.9), ("t", 0.0), ("t", 0.3)])


def test_learned_vs_exact_fast_path():
    from fmlite.paths import LinearPath
    data = torch.randn(9, 2, generator=torch.Generator().manual_seed(7))
    ex = W.learned_vs_exact_explorer(field, data, LinearPath(), t=0.5, n=7)
    assert_update_equals_fresh_draw(ex, [("t", 0.9), ("t", 0.0), ("t", 0.5), ("t", 0.9)])
    assert set(ex.fixed["cache"]) == {0.5, 0.9, 0.0}


def test_noise_flow_fast_path_for_t_sigma_and_schedule():
    g = torch.Generator().manual_seed(8)
    ex = W.noise_flow_explorer(torch.randn(12, 2, generator=g), torch.randn(50, 2, generator=g), t=0.5, sigma=1.0,
                               schedule="sine", steps=4, size=2.5)
    assert_update_equals_fresh_draw(ex, [("t", 0.75), ("t", 0.0), ("sigma", 2.0), ("t", 1.0), ("schedule", "bridge"),
                                         ("sigma", 0.0), ("schedule", "constant"), ("t", 0.25)])

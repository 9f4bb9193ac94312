"""Explorers and plotting helpers of notebook 02 (vector fields).

The drawing functions are called directly on a plain Figure, and the explorers are driven by setting
their controls (observers fire synchronously); the assertions are on artist data against the package,
computed independently. The `_fast_path` tests check that an in-place update leaves the picture a fresh draw gives
(the `update_equals_fresh_draw` fixture of tests/conftest.py).
"""
import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fmlite import widgets as W
from fmlite.datasets import sample_2d
from fmlite.exact import marginal_velocity
from fmlite.paths import LinearPath
from fmlite.plotting import field_panel
from fmlite.widgets import draw_vector_field, vector_field_explorer


def _fig(size=(8.0, 4.0)):
    fig = Figure(figsize=size, dpi=50, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _by_gid(ax, gid):
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, f"expected one artist with gid {gid!r}, found {len(found)}"
    return found[0]


@pytest.fixture
def small_data():
    data = sample_2d("moons", 12, seed=3)
    g = torch.Generator().manual_seed(4)
    return data, torch.randn(50, 2, generator=g), data[torch.randint(0, 12, (50,), generator=g)]


def _grid(lim, n):
    g = torch.linspace(-lim, lim, n)
    X, Y = torch.meshgrid(g, g, indexing="xy")
    return torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)


@pytest.mark.parametrize("t", [0.0, 0.5, 0.9])
def test_vector_field_arrows_are_the_exact_field(small_data, t):
    """Arrow directions are u_t(x)/|u_t(x)| of fmlite.exact.marginal_velocity on the grid; colours are the speeds."""
    data, x_0, x_1 = small_data
    fig = _fig((5, 4))
    draw_vector_field(fig, t, data, x_0, x_1, lim=2.0, n_grid=9)
    ax = fig.axes[0]
    q = _by_gid(ax, "field")
    u = marginal_velocity(_grid(2.0, 9), t, data, LinearPath()).numpy()
    speed = np.hypot(u[:, 0], u[:, 1])
    np.testing.assert_allclose(np.asarray(q.U).ravel(), u[:, 0] / speed, atol=1e-5)
    np.testing.assert_allclose(np.asarray(q.V).ravel(), u[:, 1] / speed, atol=1e-5)
    np.testing.assert_allclose(np.asarray(q.get_array()).ravel(), speed, rtol=1e-5)
    expected = LinearPath().interpolate(x_0, x_1, t).numpy()
    np.testing.assert_allclose(_by_gid(ax, "x_t").get_offsets(), expected, atol=1e-6)
    assert ax.get_title() == f"exact field at t = {t:.2f}"
    assert len(fig.axes) == 2  # the field panel and its speed colour bar


def test_field_panel_unnormalised_arrows_are_the_velocities(small_data):
    data, _, _ = small_data
    fig = _fig((4, 4))
    q = field_panel(fig.add_subplot(), 0.3, data, lim=2.0, n_grid=7, normalize=False)
    u = marginal_velocity(_grid(2.0, 7), 0.3, data, LinearPath()).numpy()
    np.testing.assert_allclose(np.asarray(q.U).ravel(), u[:, 0], atol=1e-5)
    np.testing.assert_allclose(np.asarray(q.V).ravel(), u[:, 1], atol=1e-5)


def test_field_at_time_zero_points_to_the_data_mean(small_data):
    """At t = 0 every posterior weight is 1/N, so u_0(x) = mean(data) - x: the arrows say so."""
    data, _, _ = small_data
    fig = _fig((4, 4))
    q = field_panel(fig.add_subplot(), 0.0, data, lim=2.0, n_grid=5, normalize=False)
    expected = data.mean(dim=0) - _grid(2.0, 5)
    np.testing.assert_allclose(np.asarray(q.U).ravel(), expected[:, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(np.asarray(q.V).ravel(), expected[:, 1].numpy(), atol=1e-5)


def test_vector_field_explorer_slider_redraws(small_data):
    data, _, _ = small_data
    ex = vector_field_explorer(data, n=40, seed=1, t=0.5, n_grid=7)
    t = ex.controls["t"]
    assert t.max == pytest.approx(0.95) and t.min == 0.0 and not t.continuous_update
    assert ex.label.value == "t = 0.50"
    x_0, x_1 = ex.fixed["x_0"], ex.fixed["x_1"]
    assert x_0.shape == (40, 2) and all((row == data).all(dim=1).any() for row in x_1)  # x_1 is drawn from data
    png, draws = ex.image.value, ex.draws
    t.value = 0.8
    assert ex.label.value == "t = 0.80" and ex.draws == draws + 1 and ex.image.value != png
    expected = LinearPath().interpolate(x_0, x_1, 0.8).numpy()
    np.testing.assert_allclose(_by_gid(ex.figure.axes[0], "x_t").get_offsets(), expected, atol=1e-6)
    again = vector_field_explorer(data, n=40, seed=1, n_grid=7)  # the same seed gives the same samples
    assert torch.equal(again.fixed["x_0"], x_0) and torch.equal(again.fixed["x_1"], x_1)


def test_vector_field_fast_path(update_equals_fresh_draw):
    data = torch.randn(7, 2, generator=torch.Generator().manual_seed(6))
    ex = W.vector_field_explorer(data, n=40, seed=1, t=0.5, n_grid=9, size=3)
    update_equals_fresh_draw(ex, [("t", 0.9), ("t", 0.0), ("t", 0.3)])

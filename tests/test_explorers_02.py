"""Explorers and plotting helpers of notebook 02 (vector fields).

The drawing functions are called directly on a plain Figure, and the explorers are driven by setting
their controls (observers fire synchronously); the assertions are on artist data against the package,
computed independently. The `_fast_path` tests check that an in-place update leaves the picture a fresh draw gives
(the `update_equals_fresh_draw` fixture of tests/conftest.py).
"""
import numpy as np
import pytest
import torch

from fmlite import widgets as W
from fmlite.datasets import sample_2d
from fmlite.exact import marginal_velocity
from fmlite.paths import LinearPath
from fmlite.plotting import field_panel
from fmlite.widgets import draw_vector_field, vector_field_explorer

from drawing import agg_figure, by_gid


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
    fig = agg_figure((5, 4))
    draw_vector_field(fig, t, data, x_0, x_1, lim=2.0, n_grid=9)
    ax = fig.axes[0]
    q = by_gid(ax, "field")
    u = marginal_velocity(_grid(2.0, 9), t, data, LinearPath()).numpy()
    speed = np.hypot(u[:, 0], u[:, 1])
    np.testing.assert_allclose(np.asarray(q.U).ravel(), u[:, 0] / speed, atol=1e-5)
    np.testing.assert_allclose(np.asarray(q.V).ravel(), u[:, 1] / speed, atol=1e-5)
    np.testing.assert_allclose(np.asarray(q.get_array()).ravel(), speed, rtol=1e-5)
    expected = LinearPath().interpolate(x_0, x_1, t).numpy()
    np.testing.assert_allclose(by_gid(ax, "x_t").get_offsets(), expected, atol=1e-6)
    assert ax.get_title() == f"exact field at t = {t:.2f}"
    assert len(fig.axes) == 2  # the field panel and its speed colour bar


def test_field_panel_unnormalised_arrows_are_the_velocities(small_data):
    data, _, _ = small_data
    fig = agg_figure((4, 4))
    q = field_panel(fig.add_subplot(), 0.3, data, lim=2.0, n_grid=7, normalize=False)
    u = marginal_velocity(_grid(2.0, 7), 0.3, data, LinearPath()).numpy()
    np.testing.assert_allclose(np.asarray(q.U).ravel(), u[:, 0], atol=1e-5)
    np.testing.assert_allclose(np.asarray(q.V).ravel(), u[:, 1], atol=1e-5)


def test_field_at_time_zero_points_to_the_data_mean(small_data):
    """At t = 0 every posterior weight is 1/N, so u_0(x) = mean(data) - x: the arrows say so."""
    data, _, _ = small_data
    fig = agg_figure((4, 4))
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
    np.testing.assert_allclose(by_gid(ex.figure.axes[0], "x_t").get_offsets(), expected, atol=1e-6)
    again = vector_field_explorer(data, n=40, seed=1, n_grid=7)  # the same seed gives the same samples
    assert torch.equal(again.fixed["x_0"], x_0) and torch.equal(again.fixed["x_1"], x_1)


def test_vector_field_fast_path(update_equals_fresh_draw):
    data = torch.randn(7, 2, generator=torch.Generator().manual_seed(6))
    ex = W.vector_field_explorer(data, n=40, seed=1, t=0.5, n_grid=9, size=3)
    update_equals_fresh_draw(ex, [("t", 0.9), ("t", 0.0), ("t", 0.3)])


# ----------------------------------------------------------------------------- the static site (issue 22)
NOTEBOOK = "notebooks/02_vector_fields.ipynb"


@pytest.fixture
def style():
    """The notebooks' style (every setup cell calls lecture_style()); the autouse fixture restores rcParams."""
    from fmlite.plotting import lecture_style
    lecture_style()


@pytest.fixture(scope="module")
def site():
    import matplotlib

    from fmlite.plotting import lecture_style
    from fmlite.widgets.nb02_vector_fields import site_explorers
    with matplotlib.rc_context():
        lecture_style()
        return {"full": site_explorers(), "quick": site_explorers(quick=True)}


def test_site_grid_covers_the_t_slider(site):
    """t from the slider's min to its max (0.95, below 1) in steps of 0.05; the quick grid has the ends too."""
    (grid,), (quick,) = site["full"], site["quick"]
    slider = grid.explorer.controls["t"]
    t = grid.values["t"]
    assert t[0] == slider.min == 0.0 and t[-1] == slider.max == 0.95 and len(t) == 20
    np.testing.assert_allclose(np.diff(t), 0.05, atol=1e-9)
    assert grid.allowed is None and len(grid.settings()) == 20
    assert quick.values["t"] == (0.0, 0.5, 0.95) and len(quick.settings()) <= 12


def test_site_explorer_reproduces_the_notebooks_picture(style):
    """The rebuilt explorer at the values the committed notebook saved draws the notebook's live picture."""
    from fmlite.widgets.nb02_vector_fields import site_explorers
    from fmlite.widgets.site_grid import picture_difference, saved_pictures
    with open(NOTEBOOK, encoding="utf-8") as f:   # the cells the rebuild mirrors
        source = f.read()
    assert 'sample_2d(\\"moons\\", 30, seed=0)' in source
    assert "vector_field_explorer(data, n=300, seed=1, t=0.5)" in source
    saved = saved_pictures(NOTEBOOK)
    grids = site_explorers(quick=True)
    assert len(saved) == len(grids) == 1
    for grid, s in zip(grids, saved):
        difference = picture_difference(grid.show_saved(s), s["picture"])
        assert difference["mean"] <= 0.01 and difference["p99"] == 0, difference
        list(grid.render())                              # moved over the site's grid and back: the same picture
        difference = picture_difference(grid.show_saved(s), s["picture"])
        assert difference["mean"] <= 0.01 and difference["p99"] == 0, difference


def test_site_pictures_keep_the_tolerance_and_the_budget(site, style):
    from fmlite.widgets.site_grid import TOLERANCE, picture_difference, site_picture
    (grid,) = site["quick"]
    sizes = []
    for setting, live in list(grid.render())[::2]:       # t = 0 and t = 0.95
        shown = site_picture(live)
        difference = picture_difference(shown, live)
        assert difference["mean"] <= TOLERANCE["mean"], (setting, difference)
        assert difference["p99"] <= TOLERANCE["p99"], (setting, difference)
        sizes.append(len(shown))
    assert len(sizes) == 2 and len(site["full"][0].settings()) * max(sizes) < 15e6 / 5   # a few MB at most

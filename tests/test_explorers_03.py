"""Explorers and plotting helpers of notebook 03 (training).

The drawing functions are called directly on a plain Figure, and the explorers are driven by setting
their controls (observers fire synchronously); the assertions are on artist data against the package,
computed independently. The `_fast_path` tests check that an in-place update leaves the picture a fresh draw gives
(the `update_equals_fresh_draw` fixture of tests/conftest.py).
"""
import math

import numpy as np
import pytest
import torch
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.quiver import Quiver

from fmlite import widgets as W
from fmlite.datasets import sample_2d
from fmlite.exact import marginal_velocity
from fmlite.models import MLP
from fmlite.paths import LinearPath
from fmlite.plotting import arrow_scale, arrows, error_points, field_on_grid, time_profile
from fmlite.widgets import draw_learned_vs_exact, learned_vs_exact_explorer

from drawing import agg_figure, rotation


@pytest.fixture(scope="module")
def setting():
    torch.manual_seed(0)
    data = sample_2d("moons", 24, seed=0)
    return MLP(hidden=16, layers=1), data, LinearPath()


def test_arrows_share_a_scale_and_cap_long_arrows():
    fig = agg_figure()
    ax = fig.add_subplot()
    field = lambda x, t: x * (1 + 9 * (x[:, :1] > 2))  # noqa: E731 - a few arrows 10 times faster
    q = arrows(ax, field, 0.5, "green", lim=3, n=7, scale=1.0, cap=1.5)
    assert isinstance(q, Quiver) and q.scale == 1.0
    spacing = 6 / 6
    lengths = np.hypot(q.U, q.V) / q.scale
    assert lengths.max() == pytest.approx(1.5 * spacing)          # capped at 1.5 grid spacings
    _, _, U, V = field_on_grid(field, 0.5, 3, 7)
    slow = np.hypot(U, V) / q.scale <= 1.5 * spacing
    assert np.allclose(q.U[slow.ravel()], U.ravel()[slow.ravel()])  # short arrows untouched
    # direction is kept for the capped ones
    cos = (q.U * U.ravel() + q.V * V.ravel()) / (np.hypot(q.U, q.V) * np.hypot(U, V).ravel() + 1e-12)
    assert np.all(cos[np.hypot(U, V).ravel() > 0] > 0.9999)
    assert arrow_scale(np.full(10, 2.0), lim=3, n=7) == pytest.approx(2.0 / spacing)


def test_error_points_colour_by_the_error_at_the_points():
    fig = agg_figure()
    ax = fig.add_subplot()
    x = torch.randn(30, 2)
    art, err = error_points(ax, rotation, lambda x, t: torch.zeros_like(x), x, 0.3)
    assert isinstance(art, PathCollection)
    assert np.allclose(err, x.norm(dim=1).numpy(), atol=1e-6)     # |rotation| = |x|
    assert np.allclose(art.get_array(), err) and np.allclose(art.get_offsets(), x.numpy())
    assert len(fig.axes) == 2                                      # with its colour bar


def test_time_profile_averages_per_bin():
    fig = agg_figure()
    ax = fig.add_subplot()
    t = torch.tensor([0.05, 0.1, 0.3, 0.35, 0.99])
    centres, means = time_profile(ax, t, torch.tensor([1.0, 3.0, 5.0, 7.0, 9.0]), bins=4)
    assert np.allclose(centres, [0.125, 0.375, 0.625, 0.875])
    assert np.allclose(means[[0, 1, 3]], [2.0, 6.0, 9.0]) and math.isnan(means[2])
    assert np.allclose(ax.lines[0].get_ydata()[[0, 1, 3]], [2.0, 6.0, 9.0])
    with pytest.raises(ValueError, match="one entry per sample"):
        time_profile(ax, t, torch.ones(3))


def test_draw_learned_vs_exact_draws_both_fields_and_the_error(setting):
    model, data, path = setting
    fig = agg_figure((12.0, 4.0))
    draw_learned_vs_exact(fig, 0.3, model, data, path, n=9, n_points=200)
    learned_ax, exact_ax, error_ax = fig.axes[:3]
    assert fig._suptitle.get_text() == "t = 0.30" and len(fig.axes) == 4    # three panels and a colour bar
    q_learned = next(c for c in learned_ax.collections if isinstance(c, Quiver))
    q_exact = next(c for c in exact_ax.collections if isinstance(c, Quiver))
    assert q_learned.scale == q_exact.scale                           # one arrow scale for both
    # the purple arrows point along the exact field of fmlite.exact (length may be capped)
    X, Y, U, V = field_on_grid(lambda x, t: marginal_velocity(x, t, data, path), 0.3, 3.0, 9)
    cos = (q_exact.U * U.ravel() + q_exact.V * V.ravel()) / (np.hypot(q_exact.U, q_exact.V) * np.hypot(U, V).ravel())
    assert np.all(cos > 0.9999)
    # the error panel: samples x_t of the path, coloured by |v_theta - u_t| computed independently
    pts = error_ax.collections[0]
    x_t = torch.as_tensor(np.asarray(pts.get_offsets()), dtype=torch.float32)
    with torch.no_grad():
        err = (model(x_t, torch.full((200,), 0.3)) - marginal_velocity(x_t, 0.3, data, path)).norm(dim=1)
    assert np.allclose(pts.get_array(), err.numpy(), atol=1e-5)
    assert error_ax.get_title() == f"error |v_θ − u_t(x)| at x_t: mean {err.mean().item():.2f}"


def test_learned_vs_exact_explorer_moves_with_t(setting):
    model, data, path = setting
    ex = learned_vs_exact_explorer(model, data, path, t=0.5, n=9)
    assert ex.controls["t"].continuous_update is False               # a frame takes a few tenths of a second
    first = ex.image.value
    assert ex.label.value == "t = 0.50" and first[8:12] == b"WEBP"
    ex.controls["t"].value = 0.7
    assert ex.label.value == "t = 0.70" and ex.image.value != first and ex.draws == 2
    assert ex.figure._suptitle.get_text() == "t = 0.70"
    t = ex.controls["t"]
    assert t.min == 0.0 and t.max == pytest.approx(0.95)             # as in notebook 02: at t = 1 the exact
    t.value = 1.0                                                     # field is only a convention
    assert ex.figure._suptitle.get_text() == "t = 0.95"
    fig = agg_figure((12.0, 4.0))
    draw_learned_vs_exact(fig, 1.0, model, data, path, n=9, n_points=200)   # the drawing itself copes with t = 1
    assert fig._suptitle.get_text() == "t = 1.00"


def test_field_arrows_is_the_one_way_quiver_arrows_and_field_panel_draw():
    from fmlite.plotting import field_arrows, field_panel, quiver
    fig = Figure()
    field = lambda x, t: torch.stack([x[:, 1], -x[:, 0]], dim=1) * (1 + t[:, None])  # noqa: E731
    _, _, U, V = field_on_grid(field, 0.5, 2.0, 5)
    U, V = U.ravel(), V.ravel()
    speed = np.hypot(U, V)
    q = field_arrows(fig.add_subplot(), field, 0.5, 2.0, 5, scale=1.0)
    assert np.allclose(q.U, U) and np.allclose(q.V, V) and np.allclose(q.get_array(), speed)
    q = quiver(fig.add_subplot(), field, 0.5, lim=2.0, n=5)
    assert np.allclose(q.U, U) and q.scale is None  # matplotlib's own scale unless one is given
    q = field_panel(fig.add_subplot(), 0.5, torch.zeros(3, 2), lim=2.0, n_grid=5, velocity=field)
    moving = speed > 0
    assert np.allclose(np.hypot(q.U, q.V)[moving], 1.0) and np.allclose(q.get_array(), speed)
    assert q.get_gid() == "field"


def test_learned_vs_exact_fast_path(spin_field, update_equals_fresh_draw):
    from fmlite.paths import LinearPath
    data = torch.randn(9, 2, generator=torch.Generator().manual_seed(7))
    ex = W.learned_vs_exact_explorer(spin_field, data, LinearPath(), t=0.5, n=7)
    update_equals_fresh_draw(ex, [("t", 0.9), ("t", 0.0), ("t", 0.5), ("t", 0.9)])
    assert set(ex.fixed["cache"]) == {0.5, 0.9, 0.0}


# ----------------------------------------------------------------------------- the static site (issue 22)
NOTEBOOK = "notebooks/03_training.ipynb"


@pytest.fixture
def style():
    """The notebooks' style (every setup cell calls lecture_style()); the autouse fixture restores rcParams."""
    from fmlite.plotting import lecture_style
    lecture_style()


@pytest.fixture(scope="module")
def site():
    """Both grids; the notebook's network is trained once (about 10-15 s) and kept by the module."""
    import matplotlib

    from fmlite.plotting import lecture_style
    from fmlite.widgets.nb03_training import site_explorers
    from fmlite.widgets.nb03_training import _learned_vs_exact_inputs
    _learned_vs_exact_inputs.cache_clear()
    state = torch.random.get_rng_state()
    with matplotlib.rc_context():
        lecture_style()
        grids = {"full": site_explorers(), "quick": site_explorers(quick=True)}
    return {**grids, "random state kept": torch.equal(state, torch.random.get_rng_state())}


def test_site_grid_covers_the_t_slider(site):
    """t from the slider's min to its max (0.95, below 1) in steps of 0.05; the quick grid has the ends too."""
    (grid,), (quick,) = site["full"], site["quick"]
    slider = grid.explorer.controls["t"]
    t = grid.values["t"]
    assert t[0] == slider.min == 0.0 and t[-1] == slider.max == 0.95 and len(t) == 20
    np.testing.assert_allclose(np.diff(t), 0.05, atol=1e-9)
    assert grid.allowed is None and len(grid.settings()) == 20
    assert quick.values["t"] == (0.0, 0.5, 0.95) and len(quick.settings()) <= 12


def test_site_rebuild_leaves_the_global_random_state(site):
    """Training the notebook's network reseeds inside `torch.random.fork_rng`: the caller's draws go on as before."""
    assert site["random state kept"]


def test_site_explorer_reproduces_the_notebooks_picture(site, style):
    """The rebuilt explorer (same data, seeds and training run) at the values the committed notebook saved
    draws the notebook's live picture."""
    from fmlite.widgets.nb03_training import site_explorers
    from fmlite.widgets.site_grid import picture_difference, saved_pictures
    with open(NOTEBOOK, encoding="utf-8") as f:   # the cells the rebuild mirrors
        source = f.read()
    for call in ('sample_2d(\\"moons\\", 256, seed=0)', "model = MLP()",
                 "train(model, path, sample_data, steps=2000, batch_size=256, lr=2e-3, seed=0, device=\\\"cpu\\\")",
                 "learned_vs_exact_explorer(model, data, path, t=0.8)"):
        assert call in source, call
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

"""Explorer of notebook 06: the drawing against fmlite.solvers and fmlite.metrics, computed independently,
and the cache that makes a t move a redraw only."""
import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from drawing import site_grids
from fmlite import widgets as W
from fmlite.gaussian_ot import GaussianToGaussian
from fmlite.metrics import energy_distance, straightness
from fmlite.solvers import integrate
from fmlite.widgets import STEP_CHOICES, draw_straight_paths, straight_explorer
from fmlite.widgets.site_grid import T_GRID, T_GRID_QUICK, TOLERANCE, picture_difference, saved_pictures, site_picture


G = GaussianToGaussian(torch.tensor([1.0, -0.5]), torch.tensor([[2.0, 0.3], [0.3, 0.5]]))


class Counting:
    """A velocity field that counts its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, x, t):
        self.calls += 1
        return self.fn(x, t)


@pytest.fixture
def setting():
    x_0 = torch.randn(40, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    target = G.ot_map(torch.randn(300, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    velocities = {"independent": Counting(G.independent_velocity), "OT": Counting(G.ot_velocity)}
    return velocities, x_0, target


def _fig():
    fig = Figure(figsize=(8, 4), dpi=50, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def test_draw_shows_the_euler_points_and_the_measures(setting):
    velocities, x_0, target = setting
    fig = _fig()
    draw_straight_paths(fig, 1.0, 2, velocities, x_0, target=target, n_paths=5)
    assert len(fig.axes) == 2
    for ax, (name, v) in zip(fig.axes, velocities.items()):
        tr = integrate(v.fn, x_0, 2, "euler", return_trajectory=True).trajectory
        points = ax.collections[-1].get_offsets()
        assert np.allclose(points, tr[-1].numpy())
        title = ax.get_title()
        assert title.startswith(f"{name}: t = 1.00")
        assert f"S = {straightness(tr):.3f}" in title and f"ED {energy_distance(tr[-1], target):.3f}" in title
    assert "S = 0.000" in fig.axes[1].get_title()   # OT pairing of Gaussians: straight lines
    assert "S = 0.000" not in fig.axes[0].get_title()


def test_draw_snaps_to_the_last_step_before_t(setting):
    velocities, x_0, _ = setting
    fig = _fig()
    draw_straight_paths(fig, 0.6, 4, velocities, x_0, n_paths=3)
    tr = integrate(G.ot_velocity, x_0, 4, "euler", return_trajectory=True).trajectory
    assert np.allclose(fig.axes[1].collections[-1].get_offsets(), tr[2].numpy())
    assert "t = 0.50" in fig.axes[1].get_title()


def test_explorer_caches_per_steps_so_a_t_move_only_redraws(setting):
    velocities, x_0, target = setting
    ex = straight_explorer(velocities, x_0, target=target, steps=2, t=1.0)
    assert list(ex.controls["steps"].options) == list(STEP_CHOICES)
    calls = {k: v.calls for k, v in velocities.items()}
    png = ex.image.value
    ex.controls["t"].value = 0.3
    assert {k: v.calls for k, v in velocities.items()} == calls and ex.image.value != png
    assert ex.label.value == "t = 0.30, steps = 2" and ex.error is None
    ex.controls["steps"].value = 8
    assert all(v.calls == calls[k] + 8 for k, v in velocities.items())
    ex.controls["steps"].value = 2
    ex.controls["t"].value = 0.9
    assert all(v.calls == calls[k] + 8 for k, v in velocities.items())
    assert ex.draws == 5


def test_one_step_shows_no_straightness(setting):
    # one Euler step is a single segment, its own chord: S = 0 for every model, so the title says so instead
    velocities, x_0, target = setting
    fig = _fig()
    draw_straight_paths(fig, 1.0, 1, velocities, x_0, target=target, n_paths=5)
    for ax in fig.axes:
        tr = integrate(G.independent_velocity, x_0, 1, "euler", return_trajectory=True).trajectory
        assert straightness(tr) == 0.0
        assert "S: one segment" in ax.get_title() and "S = " not in ax.get_title()


def test_straight_fast_path(spin_field, update_equals_fresh_draw):
    x_0 = torch.randn(30, 2, generator=torch.Generator().manual_seed(2))
    ex = W.straight_explorer({"a": spin_field, "b": lambda x, t: -spin_field(x, t)}, x_0, target=torch.randn(40, 2),
                             steps=2, t=1.0, reference_steps=4, size=2.5)
    update_equals_fresh_draw(ex, [("t", 0.5), ("steps", 4), ("t", 0.1), ("steps", 1)])


# ----------------------------------------------------------------------------- the static site (issue 22)
NOTEBOOK = "notebooks/06_straight_paths.ipynb"


@pytest.fixture(scope="module")
def site():
    """(full grids, quick grids), built once (tests/drawing.py: site_grids)."""
    yield from site_grids("nb06_straight")



def test_site_grid_covers_every_control(site):
    full, _ = site
    assert [g.title for g in full] == ["straight-paths"]
    assert len(full) == len(saved_pictures(NOTEBOOK))               # one grid per explorer the notebook shows
    grid = full[0]
    t, steps = grid.explorer.controls["t"], grid.explorer.controls["steps"]
    assert grid.values["t"] == T_GRID and T_GRID[0] == t.min and T_GRID[-1] == t.max
    assert grid.values["steps"] == tuple(steps.options) == STEP_CHOICES     # every option of the menu, in order
    assert grid.allowed is None and len(grid.settings()) == 21 * 5   # t is not snapped: no constraint


def test_quick_grid_is_small_and_draws_every_setting(site):
    _, quick = site
    assert [g.title for g in quick] == ["straight-paths"]
    grid = quick[0]
    assert len(grid.settings()) <= 12
    pictures = {(s["t"], s["steps"]): p for s, p in grid.render()}
    assert len(pictures) == len(grid.settings())
    # as live, the picture shows the last Euler step at or before t: with 1 step t = 0.5 shows t = 0
    assert pictures[0.5, 1] == pictures[0.0, 1] != pictures[1.0, 1]
    assert len({pictures[t, 32] for t in T_GRID_QUICK}) == 3


def test_rebuilt_explorer_reproduces_the_saved_picture(site):
    full, _ = site
    for grid, saved in zip(full, saved_pictures(NOTEBOOK), strict=True):
        ex = grid.explorer
        grid.show_saved(saved)
        setting = ex.values
        assert setting == {"t": 1.0, "steps": 1}
        difference = picture_difference(ex.image.value, saved["picture"])
        assert difference["mean"] == 0.0 and difference["p99"] == 0.0, difference
        # and reached as the site reaches it: moved away and back (the in-place fast path)
        ex.controls["steps"].value, ex.controls["t"].value = 8, 0.35
        assert picture_difference(grid.show_saved(saved), saved["picture"])["max"] == 0


@pytest.mark.parametrize("setting", [{"t": 1.0, "steps": 1}, {"t": 0.65, "steps": 32}])
def test_site_picture_is_within_tolerance(site, setting):
    full, _ = site
    ex = full[0].explorer
    for name, value in setting.items():
        ex.controls[name].value = value
    assert ex.values == setting and ex.error is None
    difference = picture_difference(site_picture(ex.image.value), ex.image.value)
    assert difference["mean"] <= TOLERANCE["mean"] and difference["p99"] <= TOLERANCE["p99"], difference

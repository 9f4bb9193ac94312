"""Explorers and plotting helpers of notebook 04 (sampling; the trajectory explorer is also
notebook 00's).

The drawing functions are called directly on a plain Figure, and the explorers are driven by setting
their controls (observers fire synchronously); the assertions are on artist data against the package,
computed independently. The `_fast_path` tests check that an in-place update leaves the picture a fresh draw gives
(the `update_equals_fresh_draw` fixture of tests/conftest.py).
"""
import math

import numpy as np
import pytest
import torch

from fmlite import widgets as W
from fmlite.plotting import flow_snapshot, quality_vs_nfe, solver_panel
from fmlite.solvers import integrate
from fmlite.widgets import draw_solver_paths, draw_trajectory, solver_explorer, trajectory_explorer

from drawing import agg_figure, rotation


def test_quality_vs_nfe_draws_one_line_per_method_and_the_bands():
    fig = agg_figure()
    ax = fig.add_subplot()
    results = {"euler": ([1, 2, 4], [0.5, 0.1, -0.0005]), "rk4": ([4], [0.0002])}
    quality_vs_nfe(ax, results, reference=0.0001, noise=0.001, yscale="symlog")
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["euler", "rk4", "reference"]
    assert list(ax.lines[0].get_xdata()) == [1, 2, 4] and ax.get_yscale() == "symlog" and ax.get_xscale() == "log"
    assert len(ax.patches) == 1                                     # the sampling-noise band
    fig.canvas.draw()


def test_flow_snapshot_matches_draw_trajectory():
    traj = torch.randn(11, 20, 2).cumsum(0) * 0.1
    fig_a, fig_b = agg_figure(), agg_figure()
    ax = fig_a.add_subplot()
    points = flow_snapshot(ax, traj, 0.42, target=torch.randn(30, 2), trail=3)
    draw_trajectory(fig_b, 0.42, traj, target=torch.randn(30, 2), trail=3)
    assert np.allclose(points.get_offsets(), traj[4].numpy())          # round(0.42 * 10) = 4
    assert np.allclose(fig_b.axes[0].collections[-1].get_offsets(), points.get_offsets())
    assert len(ax.lines) == len(fig_b.axes[0].lines) == 20 and len(ax.lines[0].get_xdata()) == 4
    assert ax.get_title() == "t = 0.42"
    with pytest.raises(ValueError, match=r"\(K \+ 1, B, 2\)"):
        flow_snapshot(ax, torch.randn(5, 2), 0.5)


def test_solver_panel_shows_the_last_step_at_or_before_t():
    x_0 = torch.randn(15, 2)
    tr = integrate(rotation, x_0, 4, "euler", return_trajectory=True).trajectory
    ref = integrate(rotation, x_0, 40, "rk4", return_trajectory=True).trajectory
    fig = agg_figure()
    ax = fig.add_subplot()
    shown = solver_panel(ax, tr, 0.6, "orange", reference=ref, n_paths=10)
    assert shown == 0.5                                              # steps at 0, .25, .5, .75, 1
    assert np.allclose(ax.collections[-1].get_offsets(), tr[2].numpy())
    by_gid = {c.get_gid(): c for c in ax.collections}
    reference, paths = by_gid["reference"].get_segments(), by_gid["paths"].get_segments()
    assert len(reference) == len(paths) == 10                       # 10 reference + 10 solver paths
    assert len(reference[0]) == 21 and len(paths[-1]) == 3           # up to t = 0.5 on each grid
    np.testing.assert_allclose(paths[3], tr[:3, 3].numpy(), atol=1e-6)
    assert len(by_gid["steps"].get_offsets()) == 30                  # a dot at each of 3 steps of 10 paths
    ax2 = agg_figure().add_subplot()
    assert solver_panel(ax2, tr, 1.0) == 1.0 and solver_panel(ax2, tr, 0.0) == 0.0


@pytest.mark.parametrize("method, nfe", [("euler", 4), ("midpoint", 8), ("heun", 8), ("rk4", 16)])
def test_draw_solver_paths_follows_the_solver(method, nfe):
    x_0 = torch.randn(12, 2)
    fig = agg_figure((5.0, 5.0))
    draw_solver_paths(fig, 0.5, 4, method, rotation, x_0, target=torch.randn(20, 2), n_paths=5)
    ax = fig.axes[0]
    expected = integrate(rotation, x_0, 4, method, return_trajectory=True).trajectory[2]
    assert np.allclose(ax.collections[-1].get_offsets(), expected.numpy(), atol=1e-6)
    assert ax.get_title() == f"{method}, 4 steps, NFE = {nfe}: t = 0.50"
    paths = {c.get_gid(): c for c in ax.collections}["paths"].get_segments()
    assert len(paths) == 5 and len(paths[0]) == 3                    # 5 paths through the steps 0, 1, 2


def test_draw_solver_paths_title_says_1_step():
    fig = agg_figure((5.0, 5.0))
    draw_solver_paths(fig, 0.7, 1, "heun", rotation, torch.randn(6, 2), n_paths=3)
    assert fig.axes[0].get_title() == "heun, 1 step, NFE = 2: t = 0.00"   # t snaps to the last step at or before 0.7


def test_rk4_paths_land_on_the_exact_rotation():
    """Oracle: the flow of the rotation field is a rotation by the angle t."""
    x_0 = torch.randn(8, 2)
    fig = agg_figure((5.0, 5.0))
    draw_solver_paths(fig, 1.0, 8, "rk4", rotation, x_0)
    c, s = math.cos(1.0), math.sin(1.0)
    exact = torch.stack([c * x_0[:, 0] - s * x_0[:, 1], s * x_0[:, 0] + c * x_0[:, 1]], dim=1)
    assert np.allclose(fig.axes[0].collections[-1].get_offsets(), exact.numpy(), atol=1e-5)


def test_solver_explorer_recomputes_on_steps_and_method():
    x_0 = torch.randn(10, 2)
    ex = solver_explorer(rotation, x_0, target=torch.randn(20, 2), steps=2, method="euler", t=1.0,
                         reference_steps=20)
    assert ex.label.value == "t = 1.00, steps = 2, method = euler"
    first = ex.image.value
    ex.controls["steps"].value = 8
    assert ex.label.value == "t = 1.00, steps = 8, method = euler" and ex.image.value != first
    ax = ex.figure.axes[0]
    assert ax.get_title() == "euler, 8 steps, NFE = 8"   # the label states t, the title the solver
    by_gid = {c.get_gid(): c for c in ax.collections}
    reference, paths = by_gid["reference"].get_segments(), by_gid["paths"].get_segments()
    assert len(reference) == len(paths) == 10 and len(reference[0]) == 21 and len(paths[0]) == 9
    ex.controls["method"].value = "rk4"
    assert ex.figure.axes[0].get_title() == "rk4, 8 steps, NFE = 32"
    ex.controls["t"].value = 0.3   # snapped to the solver's grid: the label states the time shown
    assert ex.label.value == "t = 0.25, steps = 8, method = rk4" and ex.draws == 4
    assert ex.controls["t"].step == 1 / 8
    assert ex.controls["t"].continuous_update is False and ex.controls["steps"].max == 32


def test_trajectory_explorer_with_trails_as_in_notebook_04():
    traj = integrate(rotation, torch.randn(30, 2), 50, "rk4", return_trajectory=True).trajectory
    ex = trajectory_explorer(traj, target=torch.randn(40, 2), trail=8, t=0.5)
    first = ex.image.value
    ex.controls["t"].value = 0.7
    ax = ex.figure.axes[0]
    assert ex.label.value == "t = 0.70" and ex.image.value != first
    assert np.allclose(ax.collections[-1].get_offsets(), traj[35].numpy())
    assert len(ax.lines) == 30 and all(len(line.get_xdata()) == 9 for line in ax.lines)


def test_frame_index_nearest_and_at_or_before():
    from fmlite.plotting import frame_index
    assert [frame_index(t, 11) for t in (0.0, 0.34, 0.36, 1.0)] == [0, 3, 4, 10]
    assert [frame_index(t, 5, at_or_before=True) for t in (0.0, 0.24, 0.25, 0.99, 1.0)] == [0, 0, 1, 3, 4]
    assert frame_index(0.7, 1) == 0
    with pytest.raises(ValueError, match="t must lie in"):
        frame_index(1.5, 11)
    with pytest.raises(ValueError, match="at least one"):
        frame_index(0.5, 0)


def test_solver_explorer_t_slider_follows_the_solver_grid():
    """Every step of the t slider is one solver step (3 steps: 1/3), and a change of steps snaps t to the new
    grid with one drawing; the points shown are the solver's state at exactly the label's t."""
    x_0 = torch.randn(10, 2)
    ex = solver_explorer(rotation, x_0, steps=3, method="euler", t=0.5, reference_steps=12)
    t = ex.controls["t"]
    assert t.step == 1 / 3 and t.value == pytest.approx(2 / 3) and ex.label.value.startswith("t = 0.67,")
    pngs = {ex.image.value}
    for k in (0, 1, 2, 3):
        t.value = k / 3
        pngs.add(ex.image.value)
    assert len(pngs) == 4   # each grid time its own picture
    draws = ex.draws
    ex.controls["steps"].value = 5   # t = 1 stays on the grid
    t.value = 0.75                   # snapped to 0.8
    assert t.step == 1 / 5 and t.value == pytest.approx(0.8) and ex.draws == draws + 2
    ex.controls["steps"].value = 4   # 0.8 -> 0.75: snapped and drawn once
    assert t.value == pytest.approx(0.75) and ex.draws == draws + 3 and ex.label.value.startswith("t = 0.75,")
    from fmlite.solvers import integrate
    shown = ex.figure.axes[0].collections[-1].get_offsets()
    expected = integrate(rotation, x_0, 4, "euler", return_trajectory=True).trajectory[3]
    assert np.allclose(shown, expected.numpy(), atol=1e-5)


def test_trajectory_fast_path(update_equals_fresh_draw):
    tr = torch.cumsum(torch.randn(11, 50, 2, generator=torch.Generator().manual_seed(0)) * 0.2, dim=0)
    ex = W.trajectory_explorer(tr, target=torch.randn(40, 2), trail=3, t=0.5, size=3)
    update_equals_fresh_draw(ex, [("t", 0.8), ("t", 0.3), ("t", 0.0), ("t", 1.0)])  # t = 0: no trails
    assert ex.updates == 4 and ex.error is None


def test_solver_fast_path_for_t_steps_and_method(spin_field, update_equals_fresh_draw):
    x_0 = torch.randn(30, 2, generator=torch.Generator().manual_seed(1))
    ex = W.solver_explorer(spin_field, x_0, target=torch.randn(40, 2), steps=3, t=1.0, reference_steps=10, size=3)
    update_equals_fresh_draw(ex, [("t", 0.4), ("steps", 5), ("t", 0.9), ("method", "rk4"),
                                  ("method", "midpoint"), ("steps", 2)])   # paths and legend recoloured


def test_solver_explorer_keeps_each_solve():
    """A move of t, or back to a solver seen before, reuses the kept solve (same picture as a fresh solve)."""
    calls = []

    def counted(x, t):
        calls.append(1)
        return rotation(x, t)
    ex = solver_explorer(counted, torch.randn(10, 2), steps=2, method="euler", t=1.0, reference_steps=4)
    n = len(calls)   # the reference (16) and the first solve (2)
    ex.controls["t"].value = 0.5
    assert len(calls) == n and set(ex.fixed["cache"]) == {(2, "euler")}
    ex.controls["method"].value = "rk4"
    ex.controls["method"].value = "euler"
    assert len(calls) == n + 8 and set(ex.fixed["cache"]) == {(2, "euler"), (2, "rk4")}
    fig = agg_figure((5.0, 5.0))
    draw_solver_paths(fig, 0.5, 2, "euler", rotation, ex.fixed["x_0"], cache={})
    assert np.array_equal(fig.axes[0].collections[-1].get_offsets(), ex.figure.axes[0].collections[-1].get_offsets())


# ----------------------------------------------------------------------------- the static site (issue 22)
NOTEBOOK = "notebooks/04_sampling.ipynb"


@pytest.fixture
def style():
    """The notebooks' style (every setup cell calls lecture_style()); the autouse fixture restores rcParams."""
    from fmlite.plotting import lecture_style
    lecture_style()


@pytest.fixture(scope="module")
def site():
    import matplotlib

    from fmlite.plotting import lecture_style
    from fmlite.widgets.nb04_sampling import site_explorers
    with matplotlib.rc_context():
        lecture_style()
        return {"full": site_explorers(), "quick": site_explorers(quick=True)}


def test_site_grids_cover_the_controls(site):
    """In the notebook's order: the trajectory explorer (t over [0, 1] in steps of 0.05), then the solver
    explorer (steps 1..32 in powers of 2, t from 0 to 1 with every grid time of each steps, every method)."""
    from fmlite.widgets.site_grid import T_GRID
    trajectories, solver = site["full"]
    assert (trajectories.title, solver.title) == ("trajectories", "solver")
    assert list(solver.explorer.controls) == ["t", "steps", "method"]
    t = trajectories.explorer.controls["t"]
    assert trajectories.values["t"] == T_GRID and T_GRID[0] == t.min and T_GRID[-1] == t.max
    assert trajectories.allowed is None and len(trajectories.settings()) == 21
    c = solver.explorer.controls
    assert solver.values["steps"] == (1, 2, 4, 8, 16, 32)
    assert solver.values["steps"][0] == c["steps"].min and solver.values["steps"][-1] == c["steps"].max
    assert solver.values["t"][0] == c["t"].min and solver.values["t"][-1] == c["t"].max
    assert set(solver.values["method"]) == set(c["method"].options) == {"euler", "midpoint", "heun", "rk4"}
    settings = solver.settings()
    for steps in solver.values["steps"]:   # every time of the solver's grid, and no other
        times = {s["t"] for s in settings if s["steps"] == steps and s["method"] == "rk4"}
        assert times == {k / steps for k in range(steps + 1)}, steps
    assert len(settings) == 4 * sum(steps + 1 for steps in solver.values["steps"]) == 276
    assert [len(g.settings()) for g in site["quick"]] == [3, 10]


def test_site_solver_allows_what_the_t_slider_can_show(site):
    """`allowed` is the live constraint: on the t slider and steps control of `solver_explorer` (the same
    `snap_to_grid`), each allowed setting of the full grid stays as set, each other one is snapped; on the
    explorer itself for the quick grid and two disallowed settings."""
    import ipywidgets as widgets

    from fmlite.widgets.nb04_sampling import snap_to_grid
    solver = site["full"][1]
    live = solver.explorer.controls
    t = widgets.FloatSlider(value=1.0, min=live["t"].min, max=live["t"].max, step=live["t"].step)
    steps = widgets.IntSlider(value=3, min=live["steps"].min, max=live["steps"].max)
    snap_to_grid(t, steps)
    for n in solver.values["steps"]:
        for time in solver.values["t"]:
            steps.value, t.value = n, time
            assert steps.value == n and (t.value == time) == solver.allowed({"t": time, "steps": n}), (n, time)
    quick = site["quick"][1]
    assert [s for s, _ in quick.render()] == quick.settings()       # render checks that each setting stays
    ex = quick.explorer
    for n, time, shown in ((4, 0.3, 0.25), (1, 0.5, 0.0)):
        ex.controls["steps"].value, ex.controls["t"].value = n, time
        assert ex.values["t"] == shown and not quick.allowed({"t": time, "steps": n})


def test_site_explorers_reproduce_the_notebooks_pictures(style):
    """The rebuilt explorers (the shipped checkpoint, the same noise, data and flow) at the values the committed
    notebook saved draw the notebook's live pictures, in the notebook's order."""
    from fmlite.widgets.nb04_sampling import site_explorers
    from fmlite.widgets.site_grid import picture_difference, saved_pictures
    with open(NOTEBOOK, encoding="utf-8") as f:   # the cells the rebuild mirrors
        source = f.read()
    for call in ('load_pretrained(\\"moons_sampling\\")', "torch.Generator().manual_seed(2)",
                 'sample_2d(\\"moons\\", 2000, seed=1)',
                 'integrate(model, x_0[:600], steps=50, method=\\"rk4\\", return_trajectory=True)',
                 "trajectory_explorer(flow.trajectory, target=fresh, trail=8, t=0.5)",
                 'solver_explorer(model, x_0[:300], target=fresh, steps=3, method=\\"euler\\", t=1.0, '
                 'reference_steps=50)'):
        assert call in source, call
    saved = saved_pictures(NOTEBOOK)
    grids = site_explorers(quick=True)
    assert len(saved) == len(grids) == 2
    for grid, s in zip(grids, saved):
        difference = picture_difference(grid.show_saved(s), s["picture"])
        assert difference["mean"] <= 0.01 and difference["p99"] == 0, (grid.title, difference)
        list(grid.render())                              # moved over the site's grid and back: the same picture
        difference = picture_difference(grid.show_saved(s), s["picture"])
        assert difference["mean"] <= 0.01 and difference["p99"] == 0, (grid.title, difference)


def test_site_pictures_keep_the_tolerance_and_the_budget(site, style):
    from fmlite.widgets.site_grid import TOLERANCE, picture_difference, site_picture
    budget = 0
    for grid, full in zip(site["quick"], site["full"]):
        pictures = list(grid.render())
        sizes = []
        for setting, live in (pictures[0], pictures[-1]):  # t = 0 and t = 1 (solver: rk4, 4 steps)
            shown = site_picture(live)
            difference = picture_difference(shown, live)
            assert difference["mean"] <= TOLERANCE["mean"], (setting, difference)
            assert difference["p99"] <= TOLERANCE["p99"], (setting, difference)
            sizes.append(len(shown))
        budget += len(full.settings()) * max(sizes)
    assert budget < 15e6

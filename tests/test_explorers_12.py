"""Explorers of notebook 12: the orthographic view against the rotation it stands for, the drawn points and arrows
against fmlite.manifolds computed independently, the per-t cache, the fast path, and the static site's grids."""
import math

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.quiver import Quiver

from drawing import site_grids
from fmlite.manifolds import FlatTorus, ManifoldMLP, Sphere, integrate_manifold, marginal_velocity
from fmlite.plotting.manifolds import orthographic, view_matrix
from fmlite.widgets.nb12_curved import (CurvedFlow, arrow_grid, curved_flow, draw_curved_flow, sphere_flow_explorer,
                                        torus_flow_explorer)
from fmlite.widgets.site_grid import T_GRID, TOLERANCE, picture_difference, saved_pictures, site_picture


class Counting(torch.nn.Module):
    """A network that counts its calls."""

    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, 0

    def forward(self, x, t):
        self.calls += 1
        return self.net(x, t)


def _flow(space, steps=10, n=40):
    torch.manual_seed(0)
    net = Counting(ManifoldMLP(space, hidden=16, layers=2, time_dim=8))
    x_0 = space.sample_uniform(n, generator=torch.Generator().manual_seed(1))
    data = space.sample_uniform(6, generator=torch.Generator().manual_seed(2))
    return curved_flow(space, net, data, x_0, steps=steps, n_grid=36)


def _fig():
    fig = Figure(figsize=(8, 4), dpi=50, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


@pytest.mark.parametrize("azimuth", [0.0, 0.7, 3.0])
def test_the_view_is_a_rotation_looking_from_its_direction(azimuth):
    r = view_matrix(azimuth)
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1.0)
    towards = r[2]
    xy, depth = orthographic(torch.tensor(towards)[None], azimuth)
    assert np.allclose(xy, 0) and np.isclose(depth, 1)          # the point facing the viewer is at the centre
    assert np.isclose(r[1, 2], math.cos(math.radians(20)))      # the north pole's axis points up, tilted by 20°


def test_the_sphere_drawing_shows_the_flow_and_both_fields():
    flow = _flow(Sphere())
    fig = _fig()
    draw_curved_flow(fig, 0.4, flow, view=60.0)
    az = math.radians(60)
    learned_ax, exact_ax = fig.axes
    frame = flow.frames[4]
    xy, depth = orthographic(frame, az)
    points = [c for c in learned_ax.collections if isinstance(c, PathCollection)]
    assert np.allclose(points[1].get_offsets(), xy[depth >= 0]) and np.allclose(points[0].get_offsets(), xy[depth < 0])
    q = next(c for c in learned_ax.collections if isinstance(c, Quiver))
    t = torch.full((len(flow.grid),), 0.4)
    with torch.no_grad():
        v = flow.learned.net(flow.grid, t)
    uv, _ = orthographic(v, az)
    gxy, gdepth = orthographic(flow.grid, az)
    assert np.allclose(q.U[gdepth >= 0], uv[gdepth >= 0, 0], atol=1e-6) and np.asarray(q.Umask)[gdepth < 0].all()
    exact = marginal_velocity(Sphere(), flow.grid, flow.data, 0.4)
    qe = next(c for c in exact_ax.collections if isinstance(c, Quiver))
    assert np.allclose(qe.V[gdepth >= 0], orthographic(exact, az)[0][gdepth >= 0, 1], atol=1e-6)
    assert learned_ax.get_title() == "learned flow, t = 0.40"
    assert exact_ax.get_title() == "exact field of N = 6 points, t = 0.40"


def test_the_trajectories_are_riemannian_euler_of_both_fields():
    space = Sphere()
    flow = _flow(space, steps=5)
    with torch.no_grad():
        learned = integrate_manifold(space, flow.learned.net, flow.frames[0], 5, return_trajectory=True).trajectory
    exact = integrate_manifold(space, lambda x, t: marginal_velocity(space, x, flow.data, t), flow.frames[0], 5,
                               return_trajectory=True).trajectory
    assert torch.allclose(flow.frames, learned) and torch.allclose(flow.exact_frames, exact)
    assert torch.allclose(flow.frames.norm(dim=-1), torch.ones(6, 40), atol=1e-5)   # every frame on the sphere


def test_at_t_1_the_exact_field_draws_no_arrows():
    flow = _flow(Sphere())
    fig = _fig()
    draw_curved_flow(fig, 1.0, flow)
    qe = next(c for c in fig.axes[1].collections if isinstance(c, Quiver))
    assert np.asarray(qe.Umask).all() and "every point has arrived" in fig.axes[1].get_title()


def test_the_torus_drawing_and_its_grid():
    flow = _flow(FlatTorus())
    grid = arrow_grid(FlatTorus(), 36)
    assert grid.shape == (36, 2) and float(grid.min()) > 0 and float(grid.max()) < 2 * math.pi
    fig = _fig()
    draw_curved_flow(fig, 0.5, flow)
    points = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert np.allclose(points[-1].get_offsets(), flow.frames[5].numpy())
    qe = next(c for c in fig.axes[1].collections if isinstance(c, Quiver))
    assert np.allclose(qe.U, marginal_velocity(FlatTorus(), flow.grid, flow.data, 0.5)[:, 0].numpy(), atol=1e-6)


def test_arrows_are_computed_once_per_t_and_moves_take_the_fast_path(update_equals_fresh_draw):
    flow = _flow(Sphere())
    ex = sphere_flow_explorer(flow, t=0.5, view=30.0, size=2.5)
    calls = flow.learned.calls
    ex.controls["view"].value = 90.0                     # a view move computes nothing
    assert flow.learned.calls == calls
    ex.controls["t"].value = 0.3
    ex.controls["t"].value = 0.5                         # cached
    assert flow.learned.calls == calls + 1
    update_equals_fresh_draw(ex, [("t", 0.7), ("view", 200.0), ("t", 1.0), ("t", 0.0), ("view", 0.0)])
    torus = torus_flow_explorer(_flow(FlatTorus()), t=0.5, size=2.5)
    update_equals_fresh_draw(torus, [("t", 0.9), ("t", 0.1), ("t", 1.0)])


@pytest.mark.parametrize("t", [-0.1, 1.5, float("nan")])
def test_a_time_outside_0_1_is_refused(t):
    with pytest.raises(ValueError):
        draw_curved_flow(_fig(), t, _flow(Sphere(), steps=2))


def test_a_flow_has_its_frames_per_step():
    flow = _flow(Sphere(), steps=4)
    assert isinstance(flow, CurvedFlow) and flow.steps == 4 and flow.frame(0.5) == 2 and flow.frame(1.0) == 4


# ----------------------------------------------------------------------------- the static site (issue 22)
NOTEBOOK = "notebooks/12_curved_spaces.ipynb"


@pytest.fixture(scope="module")
def site():
    """(full grids, quick grids), built once (tests/drawing.py: site_grids)."""
    yield from site_grids("nb12_curved")


def test_site_grid_covers_every_control(site):
    full, _ = site
    assert [g.title for g in full] == ["sphere-flow", "torus-flow"]
    assert len(full) == len(saved_pictures(NOTEBOOK))
    sphere, torus = full
    assert sphere.values["t"] == T_GRID == torus.values["t"]
    view = sphere.explorer.controls["view"]
    assert sphere.values["view"][0] == view.min and len(sphere.values["view"]) == 8
    assert len(sphere.settings()) == 21 * 8 and len(torus.settings()) == 21


def test_quick_grid_draws_every_setting(site):
    _, quick = site
    for grid in quick:
        pictures = [p for _, p in grid.render()]
        assert len(pictures) == len(grid.settings()) <= 6 and len(set(pictures)) == len(pictures)


def test_rebuilt_explorers_reproduce_the_saved_pictures(site):
    full, _ = site
    for grid, saved in zip(full, saved_pictures(NOTEBOOK), strict=True):
        grid.show_saved(saved)
        difference = picture_difference(grid.explorer.image.value, saved["picture"])
        assert difference["mean"] == 0.0 and difference["p99"] == 0.0, difference


@pytest.mark.parametrize("setting", [{"t": 1.0, "view": 45.0}, {"t": 0.35, "view": 270.0}])
def test_site_picture_is_within_tolerance(site, setting):
    full, _ = site
    ex = full[0].explorer
    for name, value in setting.items():
        ex.controls[name].value = value
    assert ex.values == setting and ex.error is None
    difference = picture_difference(site_picture(ex.image.value), ex.image.value)
    assert difference["mean"] <= TOLERANCE["mean"] and difference["p99"] <= TOLERANCE["p99"], difference


def test_bad_counts_and_angles_are_refused():
    with pytest.raises(ValueError, match="n"):
        arrow_grid(Sphere(), 0)
    with pytest.raises(ValueError, match="steps"):
        _flow(Sphere(), steps=2.5)
    with pytest.raises(ValueError, match="finite"):
        view_matrix(float("nan"))
    with pytest.raises(ValueError, match="finite"):
        draw_curved_flow(_fig(), 0.5, _flow(Sphere(), steps=2), view=float("inf"))

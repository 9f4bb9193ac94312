"""Explorer of notebook 09: the exact flow-map tables against the closed-form flow of a linear ODE, the drawing
against fmlite.metrics and fmlite.flow_maps computed independently, the fast path, and the static site's grid."""
import math

import pytest
import torch
from matplotlib.figure import Figure

from drawing import site_grids
from fmlite.flow_maps import sample_flow_map
from fmlite.metrics import energy_distance
from fmlite.widgets.nb09_flow_maps import STEPS_MAX, FlowMapTables, draw_flow_map, flow_map_explorer, flow_table
from fmlite.widgets.site_grid import TOLERANCE, picture_difference, saved_pictures, site_picture

A = -0.8     # the linear field u_t(x) = A (1 + t) x has the flow map ψ_{t←s}(x) = x exp(A (t − s) (1 + (s + t) / 2))


def linear(x, t):
    return A * (1 + t[:, None]) * x


def exact_map(x, s, t):
    return x * math.exp(A * (t - s) * (1 + (s + t) / 2))


class ExactFlowMap:
    """ū(x, s, t) of the linear field in closed form, called like a flow-map network; counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x, s, t):
        self.calls += 1
        gap = (t - s)[:, None].double()
        mid = (1 + (s + t) / 2)[:, None].double()
        rate = A * mid
        safe = torch.where(gap == 0, torch.ones_like(gap), gap)
        return torch.where(gap == 0, A * (1 + s[:, None].double()) * x,
                           x * torch.expm1(rate * gap) / safe).to(x.dtype)


GRID = torch.linspace(0, 1, 6, dtype=torch.float64)


@pytest.fixture
def tables():
    x_0 = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return FlowMapTables(ExactFlowMap(), linear, x_0, GRID, lim=2.0, n_arrows=5, substeps=6)


def test_flow_table_is_the_closed_form_flow():
    x = torch.randn(7, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    table = flow_table(linear, x, GRID, substeps=6)
    for i, s in enumerate(GRID.tolist()):
        for j, t in enumerate(GRID.tolist()):
            if j < i:
                assert torch.isnan(table[i, j]).all()
            else:
                assert torch.allclose(table[i, j], exact_map(x, s, t), atol=1e-7), (s, t)
    only = flow_table(linear, x, GRID, substeps=6, starts=[2])
    assert only.shape == (1, 6, 7, 2) and torch.equal(only[0, 2:], table[2, 2:])
    for bad in (torch.tensor([0.0, 0.5, 0.4]), torch.tensor([0.0, 1.5])):
        with pytest.raises(ValueError, match="increasing times in"):
            flow_table(linear, x, bad)


def test_tables_hold_the_exact_average_velocity_and_the_exact_jumps(tables):
    x = tables.arrows_at
    for i, s in enumerate(GRID.tolist()):
        u_s = linear(x, torch.full((len(x),), s, dtype=torch.float64))
        assert torch.allclose(tables.velocity_arrows[i], u_s)
        assert torch.equal(tables.exact_arrows[i, i], tables.velocity_arrows[i])       # ū(x, s, s) = u_s(x)
        for j in range(i + 1, len(GRID)):
            t = float(GRID[j])
            assert torch.allclose(tables.exact_arrows[i, j], (exact_map(x, s, t) - x) / (t - s), atol=1e-6)
            # with the exact ū as the "network", one learned jump lands on the exact flow
            assert torch.allclose(tables.learned(i, j)[1], tables.cloud[j], atol=1e-6)
    for k in range(1, STEPS_MAX + 1):
        assert torch.allclose(tables.samples(k), tables.cloud[-1], atol=1e-6)


def test_draw_titles_and_points_match_independent_computations(tables):
    target = torch.randn(80, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 0.3
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    draw_flow_map(fig, (0.2, 0.6), 3, tables, target=target)
    titles = [ax.get_title() for ax in fig.axes]
    assert "s = 0.20, t = 0.60" in titles[0] and "from s = 0.20 to t = 0.60" in titles[1]
    samples = sample_flow_map(ExactFlowMap(), tables.cloud[0], 3).x
    assert f"ED {energy_distance(samples, target):.3f}" in titles[2] and "3 network calls" in titles[2]
    by_gid = {c.get_gid(): c for ax in fig.axes for c in ax.collections}
    assert torch.allclose(torch.as_tensor(by_gid["learned"].get_offsets().data), tables.cloud[3].float().double(),
                          atol=1e-5)
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    draw_flow_map(fig, (0.4, 0.4), 1, tables)
    assert "s = t" in fig.axes[1].get_title() and "ED" not in fig.axes[2].get_title()


@pytest.mark.parametrize("times, steps, words", [
    ((0.6, 0.2), 1, "s must not exceed t"),
    ((0.2, 1.5), 1, "t must lie in"),
    ((0.25, 0.6), 1, "not on the explorer's grid"),
    ((0.2, 0.6), 2.5, "steps"),
    (0.5, 1, "pair"),
])
def test_draw_refuses_bad_settings(tables, times, steps, words):
    with pytest.raises(ValueError, match=words):
        draw_flow_map(Figure(), times, steps, tables)


def test_explorer_fast_path_and_cache(update_equals_fresh_draw):
    model = ExactFlowMap()
    x_0 = torch.randn(40, 2, generator=torch.Generator().manual_seed(4))
    ex = flow_map_explorer(model, linear, x_0, target=torch.randn(60, 2), grid_step=0.2, times=(0.2, 0.6),
                           steps=2, lim=2.0, size=2.5)
    assert ex.controls["times"].value == (0.2, 0.6) and ex.controls["steps"].max == STEPS_MAX
    update_equals_fresh_draw(ex, [("times", (0.0, 1.0)), ("steps", 5), ("times", (0.4, 0.4)), ("steps", 1),
                                  ("times", (0.2, 0.6))])
    calls = model.calls
    ex.controls["times"].value = (0.0, 1.0)          # shown before: no new network call
    assert model.calls == calls and ex.error is None
    with pytest.raises(ValueError, match="grid_step"):
        flow_map_explorer(model, linear, x_0, grid_step=0.3)


# ----------------------------------------------------------------------------- the static site
NOTEBOOK = "notebooks/09_flow_maps.ipynb"


@pytest.fixture(scope="module")
def site():
    """(full grids, quick grids), built once (tests/drawing.py: site_grids)."""
    yield from site_grids("nb09_flow_maps")


def test_site_grid_covers_every_control(site):
    full, _ = site
    assert [g.title for g in full] == ["flow-map"]
    assert len(full) == len(saved_pictures(NOTEBOOK))               # one grid per explorer the notebook shows
    grid = full[0]
    times, steps = grid.explorer.controls["times"], grid.explorer.controls["steps"]
    pairs = grid.values["times"]
    assert len(pairs) == 66 and all(a <= b for a, b in pairs) and len(set(pairs)) == 66
    assert (times.min, times.max) in pairs and min(a for a, _ in pairs) == times.min
    assert grid.values["steps"] == (1, 2, 4, 8) and steps.min == 1 and steps.max == 8
    assert len(grid.settings()) == 66 * 4


def test_quick_grid_is_small_and_draws_every_setting(site):
    _, quick = site
    grid = quick[0]
    assert len(grid.settings()) <= 12
    pictures = {(s["times"], s["steps"]): p for s, p in grid.render()}
    assert len(pictures) == len(grid.settings()) == len(set(pictures.values()))


def test_rebuilt_explorer_reproduces_the_saved_picture(site):
    full, _ = site
    for grid, saved in zip(full, saved_pictures(NOTEBOOK), strict=True):
        ex = grid.explorer
        grid.show_saved(saved)
        assert ex.values == {"times": (0.3, 0.7), "steps": 2}
        difference = picture_difference(ex.image.value, saved["picture"])
        assert difference["mean"] == 0.0 and difference["p99"] == 0.0, difference
        ex.controls["steps"].value, ex.controls["times"].value = 8, (0.0, 1.0)   # away and back: the fast path
        assert picture_difference(grid.show_saved(saved), saved["picture"])["max"] == 0


@pytest.mark.parametrize("setting", [{"times": (0.0, 1.0), "steps": 1}, {"times": (0.5, 0.5), "steps": 8}])
def test_site_picture_is_within_tolerance(site, setting):
    full, _ = site
    ex = full[0].explorer
    for name, value in setting.items():
        ex.controls[name].value = value
    assert ex.values == setting and ex.error is None
    difference = picture_difference(site_picture(ex.image.value), ex.image.value)
    assert difference["mean"] <= TOLERANCE["mean"] and difference["p99"] <= TOLERANCE["p99"], difference

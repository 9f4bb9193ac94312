"""The noise-flow explorer of notebook 05: controls move the picture, trajectories come from the exact field
(recomputed independently with fmlite.solvers), and the cache computes each (schedule, scale) once."""
import math

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from drawing import site_grids
from fmlite import widgets as W
from fmlite.datasets import sample_2d
from fmlite.exact import marginal_velocity
from fmlite.paths import LinearPath, sigma_schedule
from fmlite.solvers import integrate
from fmlite.widgets import FlowCache, draw_noise_flow, noise_flow, noise_flow_explorer, start_noise
from fmlite.widgets.site_grid import TOLERANCE, picture_difference, saved_pictures, site_picture


@pytest.fixture(scope="module")
def setting():
    return sample_2d("moons", 16, seed=0), torch.randn(30, 2, generator=torch.Generator().manual_seed(1))


def _points(fig):
    return next(c for c in fig.axes[0].collections if c.get_gid() == "points").get_offsets()


def test_start_noise_widens_only_for_sigma_at_0(setting):
    _, x_0 = setting
    assert torch.allclose(start_noise(x_0, sigma_schedule("constant", 0.75)), x_0 * math.sqrt(1 + 0.75 ** 2))
    assert torch.equal(start_noise(x_0, sigma_schedule("bridge", 2.0)), x_0)
    assert torch.equal(start_noise(x_0, sigma_schedule("sine", 1.0)), x_0)
    with pytest.raises(TypeError, match="sigma_schedule"):
        start_noise(x_0, "constant")


def test_noise_flow_integrates_the_exact_field(setting):
    data, x_0 = setting
    path = LinearPath(sigma_schedule("sine", 1.0))
    expected = integrate(lambda x, t: marginal_velocity(x, t, data, path), x_0, 6, "midpoint",
                         return_trajectory=True).trajectory
    assert torch.allclose(noise_flow(data, x_0, "sine", 1.0, steps=6), expected)


def test_draw_shows_the_points_at_t_and_sigma_in_a_side_panel(setting):
    data, x_0 = setting
    cache = FlowCache(data, x_0, steps=4)
    fig = Figure(figsize=(8, 4), dpi=50)
    FigureCanvasAgg(fig)
    draw_noise_flow(fig, 0.5, 1.5, "constant", cache)
    assert np.allclose(_points(fig), cache("constant", 1.5)[2].numpy())
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "σ(0.50) = 1.50"
    paths = next(c for c in fig.axes[0].collections if c.get_gid() == "paths").get_segments()
    assert len(paths) == 30 and np.allclose(paths[7], cache("constant", 1.5)[:3, 7].numpy())   # steps 0..2 of 4
    assert fig.axes[0].get_title().endswith("t = 0.50")


def test_explorer_controls_redraw_and_use_the_cache(setting):
    data, x_0 = setting
    ex = noise_flow_explorer(data, x_0, t=0.0, sigma=1.0, schedule="sine", steps=4)
    cache = ex.fixed["cache"]
    first = ex.image.value
    assert cache.computed == 1 and np.allclose(_points(ex.figure), x_0.numpy())
    ex.controls["t"].value = 1.0
    assert ex.error is None and ex.image.value != first and cache.computed == 1     # t: redraw only
    assert np.allclose(_points(ex.figure), cache("sine", 1.0)[-1].numpy())
    ex.controls["sigma"].value = 2.0
    assert cache.computed == 2 and ex.label.value == "t = 1.00, sigma = 2.00, schedule = sine"
    ex.controls["schedule"].value = "constant"
    assert cache.computed == 3
    ex.controls["t"].value = 0.0                                                     # p_0 = N(0, (1 + 4) I)
    assert np.allclose(_points(ex.figure), (x_0 * math.sqrt(5.0)).numpy(), atol=1e-6)
    ex.controls["schedule"].value = "sine"
    ex.controls["sigma"].value = 1.0
    assert cache.computed == 3 and ex.error is None                                  # both settings cached


def test_noise_flow_fast_path_for_t_sigma_and_schedule(update_equals_fresh_draw):
    g = torch.Generator().manual_seed(8)
    ex = W.noise_flow_explorer(torch.randn(12, 2, generator=g), torch.randn(50, 2, generator=g), t=0.5, sigma=1.0,
                               schedule="sine", steps=4, size=2.5)
    update_equals_fresh_draw(ex, [("t", 0.75), ("t", 0.0), ("sigma", 2.0), ("t", 1.0), ("schedule", "bridge"),
                                  ("sigma", 0.0), ("schedule", "constant"), ("t", 0.25)])


# ----------------------------------------------------------------------------- the static site (issue 22)
NOTEBOOK = "notebooks/05_noise_and_sigma.ipynb"


@pytest.fixture(scope="module")
def site():
    """(full grids, quick grids), built once (tests/drawing.py: site_grids)."""
    yield from site_grids("nb05_noise")



def test_site_grid_covers_every_control(site):
    from fmlite.paths import SIGMA_SCHEDULES
    full, _ = site
    assert [g.title for g in full] == ["noise-flow"]
    assert len(full) == len(saved_pictures(NOTEBOOK))               # one grid per explorer the notebook shows
    grid = full[0]
    t, sigma, schedule = (grid.explorer.controls[k] for k in ("t", "sigma", "schedule"))
    ts = grid.values["t"]
    assert ts[0] == t.min == 0.0 and ts[-1] == t.max == 1.0
    # every position of the live slider (its step is 1/12) and no other: the picture shows the step nearest t
    assert t.step == pytest.approx(1 / 12) and len(ts) == 13
    assert np.allclose(np.array(ts) / t.step, np.arange(13), atol=1e-9)
    sigmas = grid.values["sigma"]
    assert sigmas[0] == sigma.min and sigmas[-1] == sigma.max and len(sigmas) <= 5 and 1.0 in sigmas
    assert all(abs(s / sigma.step - round(s / sigma.step)) < 1e-9 for s in sigmas)   # on the slider's step
    assert set(grid.values["schedule"]) == set(schedule.options) == set(SIGMA_SCHEDULES)
    assert grid.allowed is None and len(grid.settings()) == 13 * 5 * 3   # no control constrains another


def test_quick_grid_is_small_and_draws_every_setting(site):
    _, quick = site
    assert [g.title for g in quick] == ["noise-flow"]
    grid = quick[0]
    assert len(grid.settings()) <= 12
    pictures = list(grid.render())                 # sigma 0 and 2, t = 0 and 1: the extreme settings draw
    assert len(pictures) == len(grid.settings()) and len({p for _, p in pictures}) == len(pictures)


def test_rebuilt_explorer_reproduces_the_saved_picture(site):
    full, _ = site
    for grid, saved in zip(full, saved_pictures(NOTEBOOK), strict=True):
        ex = grid.explorer
        grid.show_saved(saved)
        setting = ex.values
        assert setting == {"t": 0.5, "sigma": 1.0, "schedule": "sine"}
        difference = picture_difference(ex.image.value, saved["picture"])
        assert difference["mean"] == 0.0 and difference["p99"] == 0.0, difference
        # and reached as the site reaches it: moved away and back (the in-place fast path)
        ex.controls["schedule"].value, ex.controls["t"].value = "bridge", 1.0
        assert picture_difference(grid.show_saved(saved), saved["picture"])["max"] == 0


@pytest.mark.parametrize("setting", [{"t": 0.5, "sigma": 1.0, "schedule": "sine"},
                                     {"t": 0.25, "sigma": 2.0, "schedule": "constant"}])
def test_site_picture_is_within_tolerance(site, setting):
    full, _ = site
    ex = full[0].explorer
    for name, value in setting.items():
        ex.controls[name].value = value
    assert ex.values == setting and ex.error is None
    difference = picture_difference(site_picture(ex.image.value), ex.image.value)
    assert difference["mean"] <= TOLERANCE["mean"] and difference["p99"] <= TOLERANCE["p99"], difference

"""Explorer of notebook 08: the model's log p_t (change of variables from t down to 0) beside the closed form.

Oracle: for the exact field of a Gaussian mixture, the maps must reproduce the mixture's closed-form log p_t
(fmlite.gaussian_mixture) to solver accuracy; the drawn images are checked against both. The static site's
grid (`site_explorers`, issue 22) offers t where the slider stops, and the rebuilt explorer draws, pixel for
pixel, the live picture the committed notebook saved.
"""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fmlite import widgets as W
from fmlite.gaussian_mixture import example_mixture
from fmlite.paths import LinearPath
from fmlite.widgets import draw_log_densities, likelihood_explorer, log_density_maps, model_log_density


def _fig():
    fig = Figure(figsize=(9.0, 3.0), dpi=40, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


@pytest.fixture(scope="module")
def mixture():
    gmm, path = example_mixture(), LinearPath()
    exact = lambda x, t: gmm.log_density(x, t, path)  # noqa: E731
    return gmm, path, exact


def test_model_log_density_of_the_exact_field_is_the_closed_form(mixture):
    gmm, path, exact = mixture
    x = torch.tensor([[0.5, -1.0], [1.6, 1.0], [-1.5, 1.2], [0.0, 0.0]], dtype=torch.float64)
    for t in (0.0, 0.3, 0.7, 1.0):
        got = model_log_density(gmm.field(path), x, t, steps=40)
        assert torch.allclose(got, exact(x, torch.full((4,), t, dtype=torch.float64)), atol=1e-3, rtol=1e-3), t
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
        model_log_density(gmm.field(path), x, 1.5)


def test_model_log_density_at_t_0_is_the_standard_normal():
    x = torch.randn(5, 2)
    expected = -0.5 * (x ** 2).sum(1) - math.log(2 * math.pi)
    assert torch.allclose(model_log_density(lambda y, s: y * 0 + 1, x, 0.0), expected)


def test_maps_draw_and_explorer_follow_t(mixture):
    gmm, path, exact = mixture
    maps = log_density_maps(gmm.field(path), [0.0, 0.5, 1.0], lim=3.0, n=6, steps=40, dtype=torch.float64)
    assert maps.maps.shape == (3, 6, 6) and list(maps.times) == [0.0, 0.5, 1.0]
    g = torch.linspace(-3, 3, 6, dtype=torch.float64)
    X, Y = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([X.reshape(-1), Y.reshape(-1)], 1)
    truth = exact(pts, torch.full((36,), 0.5, dtype=torch.float64)).numpy().reshape(6, 6)
    assert np.allclose(maps.maps[1], truth, atol=1e-2)              # row = y, column = x, as imshow shows it
    assert maps.nearest(0.6)[0] == 0.5 and maps.nearest(0.9)[0] == 1.0

    fig = _fig()
    draw_log_densities(fig, 0.45, maps, exact)
    model_ax, exact_ax, diff_ax = fig.axes[:3]
    assert fig._suptitle.get_text() == "t = 0.50"                   # snapped to the cached grid time
    assert np.allclose(model_ax.images[0].get_array(), maps.maps[1])
    assert np.allclose(exact_ax.images[0].get_array(), truth)
    assert np.allclose(diff_ax.images[0].get_array(), maps.maps[1] - truth)
    assert diff_ax.get_title().startswith("model − exact: mean |·| 0.00")

    ex = likelihood_explorer(maps, exact, t=1.0)
    first = ex.image.value
    assert ex.label.value == "t = 1.00" and first[8:12] == b"WEBP" and ex.controls["t"].step == 0.5
    ex.controls["t"].value = 0.0
    assert ex.label.value == "t = 0.00" and ex.image.value != first and ex.draws == 2 and ex.error is None
    assert ex.figure._suptitle.get_text() == "t = 0.00"
    with pytest.raises(ValueError, match="at least one time"):
        log_density_maps(gmm.field(path), [], n=6)


def test_likelihood_fast_path(update_equals_fresh_draw):
    g = torch.Generator().manual_seed(4)
    times = np.array([0.0, 0.5, 1.0])
    maps = W.LogDensityMaps(times, -5 * torch.rand(3, 10, 10, generator=g, dtype=torch.float64).numpy(), 3.0)
    exact = lambda x, t: -0.5 * (x ** 2).sum(1) * (1 + t)  # noqa: E731
    ex = W.likelihood_explorer(maps, exact, t=1.0, size=2.0)
    update_equals_fresh_draw(ex, [("t", 0.5), ("t", 0.0)])


# ----------------------------------------------------------------------------- the static site (issue 22)
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "08_likelihoods_and_diffusion.ipynb"


@pytest.fixture(scope="module")
def site():
    """The full site grid of notebook 08 (built once: it trains the notebook's model, about 7 s on one thread),
    under the lecture style that site_explorers sets; matplotlib's rcParams are restored for later modules."""
    import matplotlib
    from fmlite.widgets.nb08_likelihoods import site_explorers
    with matplotlib.rc_context():
        yield site_explorers()


def test_site_grid_covers_t_where_the_slider_stops(site):
    from fmlite.widgets.site_grid import T_GRID
    (grid,) = site
    t = grid.explorer.controls["t"]
    assert grid.title == "log-density" and (t.min, t.max, t.step) == (0.0, 1.0, 0.1)
    offered = [s["t"] for s in grid.settings()]
    assert offered == list(grid.values["t"]) == list(T_GRID[::2]) == [k / 10 for k in range(11)]
    assert offered == list(grid.explorer.fixed["maps"].times) and offered[0] == t.min and offered[-1] == t.max
    # between two maps the slider would read 0.05 above a picture of another time: not offered
    assert 0.05 not in offered
    t.value = 0.05
    assert grid.explorer.figure._suptitle.get_text() in ("t = 0.00", "t = 0.10")


def test_rebuilt_explorer_draws_the_saved_live_picture(site):
    from fmlite.widgets.site_grid import picture_difference, saved_pictures
    saved = saved_pictures(NOTEBOOK)
    assert len(saved) == len(site) == 1
    ex = site[0].explorer
    ex.controls["t"].value = 0.0                                      # move away, then to the saved value
    assert dict(zip(ex.controls, saved[0]["values"])) == {"t": 0.7}
    ex.controls["t"].value = saved[0]["values"][0]
    assert ex.error is None
    assert picture_difference(ex.image.value, saved[0]["picture"]) == {"mean": 0.0, "p99": 0.0, "max": 0}


def test_site_pictures_keep_to_the_tolerance_and_the_budget(site):
    from fmlite.widgets.site_grid import TOLERANCE, picture_difference, site_picture
    (grid,) = site
    pictures = list(grid.render())
    assert [s for s, _ in pictures] == grid.settings()
    sizes = [len(site_picture(p)) for _, p in pictures]
    assert max(sizes) < 60_000 and sum(sizes) < 15e6
    for _, live in (pictures[0], pictures[-1]):
        d = picture_difference(live, site_picture(live))
        assert d["mean"] <= TOLERANCE["mean"] and d["p99"] <= TOLERANCE["p99"], d


def test_quick_site_grid_is_small():
    import matplotlib
    from fmlite.widgets.nb08_likelihoods import site_explorers
    from fmlite.widgets.site_grid import T_GRID_QUICK
    with matplotlib.rc_context():
        (quick,) = site_explorers(quick=True)
    assert quick.values == {"t": T_GRID_QUICK} and [s["t"] for s in quick.settings()] == [0.0, 0.5, 1.0]

"""Explorer of notebook 11: the latent flow decoded to digits over t and w, beside a 2-D latent's points.

Oracles: the frames are the ODE's states (the last one is what `sample_latent_images` decodes from the same noise
and solver), the picture shows the stored state nearest t, and the fast path leaves the picture a fresh draw
gives. The static site's grid (`site_explorers`) covers both controls, and the rebuilt explorer draws, pixel for
pixel, the live picture the committed notebook saved.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fmlite.widgets.nb11_latent import LatentFrames, draw_latent_flow, latent_flow_explorer, latent_flow_frames

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "11_latent_flows.ipynb"


def _frames(steps=4, seed=0):
    """Synthetic frames: state i of the images is constant i / steps, so the shown state can be read off."""
    g = torch.Generator().manual_seed(seed)
    level = torch.linspace(-1, 1, steps + 1)[:, None, None, None, None, None]
    images = {w: (level * torch.ones(steps + 1, 10, 2, 1, 8, 8)).numpy() * (1 if w else -1) for w in (0.0, 2.0)}
    points = {w: torch.randn(steps + 1, 30, 2, generator=g).numpy() for w in (0.0, 2.0)}
    return LatentFrames(images, points, np.arange(30) % 10, torch.randn(50, 2, generator=g).numpy())


def _fig():
    fig = Figure(figsize=(8, 4), dpi=40, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def test_the_picture_shows_the_stored_state_nearest_t():
    frames = _frames()
    for t, k in ((0.0, 0), (0.3, 1), (0.5, 2), (0.9, 4), (1.0, 4)):
        fig = _fig()
        draw_latent_flow(fig, t, 2.0, frames)
        shown = fig.axes[0].images[0].get_array()
        assert np.isclose(np.median(np.asarray(shown)), -1 + 2 * k / 4), (t, k)
        np.testing.assert_array_equal(fig.axes[1].collections[1].get_offsets(), frames.points[2.0][k])
        assert fig._suptitle.get_text().startswith(f"t = {t:.2f}, w = 2:")


def test_bad_t_and_w_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        draw_latent_flow(_fig(), 1.5, 2.0, _frames())
    with pytest.raises(KeyError, match=r"have \[0.0, 2.0\]"):
        draw_latent_flow(_fig(), 0.5, 1.0, _frames())


def test_explorer_moves_with_both_sliders(update_equals_fresh_draw):
    ex = latent_flow_explorer(_frames(), t=1.0, w=2.0, size=3.0)
    assert ex.controls["t"].step == 0.25 and list(ex.controls["w"].options) == [0.0, 2.0]
    update_equals_fresh_draw(ex, [("t", 0.5), ("w", 0.0), ("t", 0.0), ("w", 2.0)])
    with pytest.raises(Exception):
        ex.controls["w"].value = 1.0   # only the stored weights are offered


@pytest.fixture(scope="module")
def shipped():
    from fmlite import load_pretrained
    return [load_pretrained(n) for n in ("latent_flow_vae", "digits_vae", "latent_flow_vae2d", "digits_vae2d")]


def test_frames_are_the_states_of_the_latent_ode(shipped):
    """The last state decodes to what `decode_samples` gives from the same noise with the same solver (midpoint, 5
    steps), the first 2-D state is the noise itself, and the real codes are scaled to unit spread."""
    from fmlite.latent_flows import decode_samples
    from fmlite.models import guided_velocity
    flow, ae, flow_2d, ae_2d = shipped
    frames = latent_flow_frames(flow, ae, flow_2d, ae_2d, ws=(1.0, 3.0), steps=5, per_digit=2, n_points=20, seed=4)
    g = torch.Generator().manual_seed(4)
    y = torch.arange(10).repeat_interleave(2)
    z_0 = torch.randn(20, ae.latent_dim, generator=g)
    z_0_2d = torch.randn(20, 2, generator=g)
    np.testing.assert_allclose(frames.points[3.0][0], z_0_2d.numpy())
    for w in (1.0, 3.0):
        want = decode_samples(ae.decode, guided_velocity(flow, y, w), z_0, ae.latent_scale, 5)
        np.testing.assert_allclose(frames.images[w][-1].reshape(20, 1, 8, 8), want.numpy(), atol=1e-5)
    assert frames.codes.shape == (1797, 2) and np.allclose(frames.codes.std(0), 1, atol=0.02)


# ----------------------------------------------------------------------------- the static site
@pytest.fixture(scope="module")
def site():
    import matplotlib
    from fmlite.widgets.nb11_latent import site_explorers
    with matplotlib.rc_context():
        yield site_explorers()


def test_site_grid_covers_each_control(site):
    from fmlite.widgets.site_grid import T_GRID
    (grid,) = site
    ex = grid.explorer
    t, w = ex.controls["t"], ex.controls["w"]
    assert grid.title == "latent-flow" and (t.min, t.max, t.step) == (0.0, 1.0, 0.05)
    assert grid.values == {"t": T_GRID, "w": tuple(w.options)} and tuple(w.options) == (0.0, 1.0, 2.0, 4.0)
    assert len(grid.settings()) == 84
    assert [grid.label("w", v) for v in grid.values["w"]] == list(w._options_labels)


def test_rebuilt_explorer_draws_the_saved_live_picture(site):
    from fmlite.widgets.site_grid import picture_difference, saved_pictures
    saved = saved_pictures(NOTEBOOK)
    assert len(saved) == len(site) == 1
    grid, s = site[0], saved[0]
    for name, value in grid.settings()[0].items():       # move away, then to the saved values
        grid.explorer.controls[name].value = value
    grid.show_saved(s)
    assert grid.explorer.error is None
    assert picture_difference(grid.explorer.image.value, s["picture"]) == {"mean": 0.0, "p99": 0.0, "max": 0}


def test_site_pictures_keep_to_the_tolerance_and_the_budget(site):
    from fmlite.widgets.site_grid import TOLERANCE, picture_difference, site_picture
    pictures = list(site[0].render())
    assert [s for s, _ in pictures] == site[0].settings()
    sizes = [len(site_picture(p)) for _, p in pictures]
    assert max(sizes) < 60_000 and sum(sizes) < 15e6
    for _, live in (pictures[0], pictures[-1]):
        d = picture_difference(live, site_picture(live))
        assert d["mean"] <= TOLERANCE["mean"] and d["p99"] <= TOLERANCE["p99"], d


def test_quick_site_grid_is_small():
    import matplotlib
    from fmlite.widgets.nb11_latent import site_explorers
    from fmlite.widgets.site_grid import T_GRID_QUICK
    with matplotlib.rc_context():
        (quick,) = site_explorers(quick=True)
    assert quick.values == {"t": T_GRID_QUICK, "w": (0.0, 4.0)} and 1 < len(quick.settings()) <= 12

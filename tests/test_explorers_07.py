"""Explorers of notebook 07 (images): the image flow and guidance explorers move with their
sliders; the guidance fast path leaves the picture a fresh draw gives. The static site's grids
(`site_explorers`, issue 22) cover each control, and the rebuilt explorers draw, pixel for pixel, the live
pictures the committed notebook saved.
"""
from pathlib import Path

import pytest
import torch

from fmlite import widgets as W
from fmlite.datasets import load_digits
from fmlite.digit_metrics import digit_scores
from fmlite.models import ConvNet
from fmlite.solvers import integrate


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def _conditional_model(seed=0):
    torch.manual_seed(seed)
    model = ConvNet(width=16, blocks=1, num_classes=10)
    torch.nn.init.normal_(model.conv_out[-1].weight, std=0.3)  # the zero start would make every output 0
    return model.eval()


def test_image_flow_explorer_moves_with_its_slider():
    from fmlite.widgets import image_flow_explorer
    trajectory = integrate(_conditional_model(), torch.randn(4, 1, 8, 8), steps=4, return_trajectory=True).trajectory
    ex = image_flow_explorer(trajectory)
    first, draws = ex.image.value, ex.draws
    ex.controls["t"].value = 1.0
    assert ex.draws == draws + 1 and ex.image.value != first and ex.label.value == "t = 1.00"
    assert ex.figure.axes[0].get_title() == "t = 1.00"


def test_guidance_explorer_moves_with_its_slider():
    from fmlite.widgets import guidance_explorer
    images = load_digits()[0]
    samples = {0.0: images[:6].reshape(2, 3, 1, 8, 8), 2.0: images[6:12].reshape(2, 3, 1, 8, 8)}
    scores = {w: digit_scores(x.reshape(-1, 1, 8, 8)) for w, x in samples.items()}
    ex = guidance_explorer(samples, scores)
    first = ex.image.value
    ex.controls["w"].value = 2.0
    assert ex.image.value != first and ex.label.value == "w = 2.00"
    assert ex.figure.axes[0].get_title().startswith("w = 2.00\nconfidence")
    with pytest.raises(Exception):
        ex.controls["w"].value = 1.0  # only the precomputed weights are offered


def test_guidance_fast_path(update_equals_fresh_draw):
    g = torch.Generator().manual_seed(3)
    samples = {w: torch.rand(3, 4, 1, 8, 8, generator=g) * 2 - 1 for w in (0.0, 1.0, 2.0)}
    ex = W.guidance_explorer(samples, w=0.0, size=2.5)
    update_equals_fresh_draw(ex, [("w", 1.0), ("w", 2.0)])


# ----------------------------------------------------------------------------- the static site (issue 22)
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "07_images.ipynb"


@pytest.fixture(scope="module")
def site():
    """The full site grids of notebook 07 (built once: about 15 s on one thread), under the lecture style that
    site_explorers sets; matplotlib's rcParams are restored for the later test modules."""
    import matplotlib
    from fmlite.widgets.nb07_images import site_explorers
    with matplotlib.rc_context():
        yield site_explorers()


def test_site_grids_cover_each_control(site):
    from fmlite.widgets.site_grid import T_GRID, SiteGrid
    flow, guidance = site
    assert [g.title for g in site] == ["image-flow", "guidance"]      # the notebook's order
    t = flow.explorer.controls["t"]
    assert flow.values == {"t": T_GRID} and (t.min, t.max, t.step) == (0.0, 1.0, 0.05)
    assert flow.values["t"][0] == t.min and flow.values["t"][-1] == t.max
    w = guidance.explorer.controls["w"]
    assert guidance.values == {"w": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)} == {"w": tuple(w.options)}
    assert len(flow.settings()) == 21 and len(guidance.settings()) == 7
    assert [flow.label("t", v) for v in T_GRID[:3]] == ["0.00", "0.05", "0.10"]    # as the sliders read out
    assert [guidance.label("w", v) for v in guidance.values["w"]] == list(w._options_labels)
    with pytest.raises(ValueError, match="not among its options"):    # the slider offers only the sampled weights
        SiteGrid("guidance", guidance.explorer, {"w": (1.0, 2.5)})


def test_rebuilt_explorers_draw_the_saved_live_pictures(site):
    from fmlite.widgets.site_grid import picture_difference, saved_pictures
    saved = saved_pictures(NOTEBOOK)
    assert len(saved) == len(site) == 2
    for grid, s in zip(site, saved):
        ex = grid.explorer
        first = grid.settings()[0]
        for name, value in first.items():                            # move away, then to the saved values
            ex.controls[name].value = value
        grid.show_saved(s)
        assert ex.error is None
        assert picture_difference(ex.image.value, s["picture"]) == {"mean": 0.0, "p99": 0.0, "max": 0}, grid.title


def test_site_pictures_keep_to_the_tolerance_and_the_budget(site):
    from fmlite.widgets.site_grid import TOLERANCE, picture_difference, site_picture
    total = 0
    for grid in site:
        pictures = list(grid.render())
        assert [s for s, _ in pictures] == grid.settings()
        sizes = [len(site_picture(p)) for _, p in pictures]
        assert max(sizes) < 60_000, grid.title
        total += sum(sizes)
        for _, live in (pictures[0], pictures[-1]):
            d = picture_difference(live, site_picture(live))
            assert d["mean"] <= TOLERANCE["mean"] and d["p99"] <= TOLERANCE["p99"], (grid.title, d)
    assert total < 15e6


def test_quick_site_grids_are_small():
    import matplotlib
    from fmlite.widgets.nb07_images import site_explorers
    from fmlite.widgets.site_grid import T_GRID_QUICK
    with matplotlib.rc_context():
        quick = site_explorers(quick=True)
    assert [g.title for g in quick] == ["image-flow", "guidance"]
    assert all(1 < len(g.settings()) <= 12 for g in quick)
    assert quick[0].values == {"t": T_GRID_QUICK} and quick[1].values == {"w": (0.0, 1.0, 4.0)}

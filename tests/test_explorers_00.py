"""Notebook 00 on the static site: the site grid of its explorer (`fmlite.widgets.nb00_start_here`) covers the live
slider, the rebuilt explorer reproduces the picture the committed notebook saved, and the site's pictures keep to
`TOLERANCE` of the live ones."""
from pathlib import Path

import pytest

from fmlite.tools.site_explorers import site_style
from fmlite.widgets.site_grid import TOLERANCE, picture_difference, saved_pictures, site_explorers_of, site_picture

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "00_start_here.ipynb"


@pytest.fixture(scope="module")
def grids():
    with site_style():
        yield site_explorers_of("00")(quick=False)


def test_the_grid_covers_the_live_slider_frame_by_frame(grids):
    assert [g.title for g in grids] == ["flow"]
    t = grids[0].explorer.controls["t"]
    values = grids[0].values["t"]
    assert values[0] == t.min and values[-1] == t.max and len(values) == 26  # every stored frame of 25 steps
    assert all(v == pytest.approx(k * t.step) for k, v in enumerate(values))  # the live slider's own steps
    assert grids[0].allowed is None and len(grids[0].settings()) == 26


def test_the_quick_grid_is_small_and_on_the_slider():
    with site_style():
        quick = site_explorers_of("00")(quick=True)
    assert [g.title for g in quick] == ["flow"] and quick[0].values["t"] == (0.0, 0.52, 1.0)


def test_the_rebuilt_explorer_draws_the_saved_live_picture(grids):
    saved = saved_pictures(NOTEBOOK)
    assert len(saved) == len(grids) == 1
    ex = grids[0].explorer
    with site_style():
        for (name, control), value in zip(ex.controls.items(), saved[0]["values"]):
            control.value = value
        assert picture_difference(ex.image.value, saved[0]["picture"])["max"] == 0


def test_site_pictures_keep_to_the_tolerance(grids):
    ex = grids[0].explorer
    with site_style():
        for t in (0.0, 0.48):
            ex.controls["t"].value = t
            d = picture_difference(ex.image.value, site_picture(ex.image.value))
            assert d["mean"] <= TOLERANCE["mean"] and d["p99"] <= TOLERANCE["p99"], (t, d)

"""fmlite.widgets.site_grid: what the static site offers of an explorer, checked against the live controls."""
import pytest

from fmlite.widgets import Explorer, dropdown, int_slider, t_slider
from fmlite.widgets.site_grid import T_GRID, SiteGrid, site_explorers_of


def _draw(fig, t, steps, method):
    ax = fig.add_subplot()
    ax.plot([0, t], [0, steps])
    ax.set_title(f"{method} {t:.2f} {steps}")


def _explorer():
    controls = {"t": t_slider(0.5), "steps": int_slider("steps", 2, 1, 8), "method": dropdown("method", ["a", "b"])}
    return Explorer(_draw, controls, figsize=(3, 2))


def test_t_grid_steps_of_a_twentieth():
    assert T_GRID[0] == 0.0 and T_GRID[-1] == 1.0 and len(T_GRID) == 21


def test_settings_are_the_product_filtered_by_allowed():
    grid = SiteGrid("demo", _explorer(), {"t": (0.0, 0.5, 1.0), "steps": (1, 2), "method": ("a", "b")},
                    allowed=lambda s: s["t"] * s["steps"] == int(s["t"] * s["steps"]))
    settings = grid.settings()
    assert len(settings) == 10  # t = 0.5 with steps = 1 is not on the solver's grid
    assert {"t": 0.5, "steps": 1, "method": "a"} not in settings


def test_render_gives_the_live_picture_per_setting():
    ex = _explorer()
    grid = SiteGrid("demo", ex, {"t": (0.0, 1.0), "steps": (3,), "method": ("b",)})
    pictures = dict((tuple(s.values()), p) for s, p in grid.render())
    assert set(pictures) == {(0.0, 3, "b"), (1.0, 3, "b")}
    assert pictures[(1.0, 3, "b")] == ex.image.value and pictures[(0.0, 3, "b")] != pictures[(1.0, 3, "b")]


def test_render_refuses_a_setting_an_observer_moves():
    ex = _explorer()

    def snap(change):
        ex.controls["t"].value = 1.0
    ex.controls["t"].observe(snap, names="value")
    with pytest.raises(ValueError, match="declare `allowed`"):
        list(SiteGrid("demo", ex, {"t": (0.25,), "steps": (2,), "method": ("a",)}).render())


@pytest.mark.parametrize("values, words", [
    ({"t": (0.5,), "steps": (2,)}, "give values for every control"),
    ({"t": (0.5,), "steps": (2,), "method": ("a",), "w": (1,)}, "give values for every control"),
    ({"t": (), "steps": (2,), "method": ("a",)}, "has no values"),
    ({"t": (0.5, 0.5), "steps": (2,), "method": ("a",)}, "repeats a value"),
    ({"t": (1.5,), "steps": (2,), "method": ("a",)}, "outside the slider's range"),
    ({"t": (0.5,), "steps": (9,), "method": ("a",)}, "outside the slider's range"),
    ({"t": (0.5,), "steps": (2,), "method": ("c",)}, "not among its options"),
])
def test_a_grid_the_live_explorer_cannot_show_is_refused(values, words):
    with pytest.raises(ValueError, match=words):
        SiteGrid("demo", _explorer(), values)


def test_bad_title_labels_and_empty_allowed_are_refused():
    values = {"t": (0.5,), "steps": (2,), "method": ("a",)}
    with pytest.raises(ValueError, match="letters, digits"):
        SiteGrid("a b", _explorer(), values)
    with pytest.raises(ValueError, match="labels"):
        SiteGrid("demo", _explorer(), values, labels={"t": ("x", "y")})
    with pytest.raises(ValueError, match="allows no setting"):
        SiteGrid("demo", _explorer(), values, allowed=lambda s: False)


def test_labels_read_out_like_the_explorer():
    grid = SiteGrid("demo", _explorer(), {"t": (0.25,), "steps": (2,), "method": ("a",)}, labels={"method": ("A",)})
    assert grid.label("t", 0.25) == "0.25" and grid.label("steps", 2) == "2" and grid.label("method", "a") == "A"


def test_site_explorers_of_an_unknown_notebook_is_none():
    assert site_explorers_of("99") is None


def test_site_pictures_keep_to_the_tolerance_of_the_saved_live_pictures():
    """Every explorer picture a committed notebook saved, re-encoded as the site encodes it, stays within TOLERANCE."""
    from pathlib import Path

    from fmlite.widgets.site_grid import TOLERANCE, picture_difference, saved_pictures, site_picture

    notebooks = sorted(Path(__file__).resolve().parents[1].glob("notebooks/[0-9][0-9]_*.ipynb"))
    saved = [s for nb in notebooks for s in saved_pictures(nb)]
    assert len(notebooks) >= 12 and len(saved) >= 14  # the explorers of notebooks 00-11 and more
    for s in saved:
        lossy = site_picture(s["picture"])
        assert len(lossy) <= len(s["picture"])
        d = picture_difference(s["picture"], lossy)
        assert d["mean"] <= TOLERANCE["mean"] and d["p99"] <= TOLERANCE["p99"], d


def test_picture_difference_refuses_pictures_of_another_size():
    from fmlite.widgets.site_grid import picture_difference

    small, large = _explorer(), Explorer(_draw, _explorer().controls, figsize=(3, 6))
    with pytest.raises(ValueError, match="differ in size"):
        picture_difference(small.image.value, large.image.value)
    assert picture_difference(small.image.value, small.image.value) == {"mean": 0.0, "p99": 0.0, "max": 0}


def test_show_saved_moves_the_explorer_to_a_notebooks_saved_values():
    ex = _explorer()
    grid = SiteGrid("demo", ex, {"t": (0.0, 1.0), "steps": (2,), "method": ("a", "b")})
    picture = grid.show_saved({"values": [0.25, 3, "b"], "picture": b""})
    assert ex.values == {"t": 0.25, "steps": 3, "method": "b"} and picture == ex.image.value
    with pytest.raises(ValueError, match="saved 2 control values for 3 controls"):
        grid.show_saved({"values": [0.25, 3], "picture": b""})
    with pytest.raises(ValueError, match="saved option 'c' of 'method'"):
        grid.show_saved({"values": [0.25, 3, "c"], "picture": b""})


def _range_explorer():
    import ipywidgets as widgets

    def draw(fig, times, steps):
        ax = fig.add_subplot()
        ax.plot(list(times), [0, steps])
        ax.set_title(f"{times[0]:.1f} {times[1]:.1f} {steps}")
    controls = {"times": widgets.FloatRangeSlider(value=(0.2, 0.6), min=0.0, max=1.0, step=0.1),
                "steps": int_slider("steps", 1, 1, 4)}
    return Explorer(draw, controls, figsize=(3, 2))


def test_a_range_slider_steps_through_pairs_on_the_site():
    """A range slider (notebook 09's (s, t)) offers pairs (low, high): low > high or a pair outside [min, max] is
    refused; each pair is reached, read out as the slider writes it, and a saved JSON list is taken as the pair."""
    ex = _range_explorer()
    grid = SiteGrid("pairs", ex, {"times": ((0.0, 1.0), (0.5, 0.5)), "steps": (1, 4)})
    pictures = dict(((s["times"], s["steps"]), p) for s, p in grid.render())
    assert len(pictures) == 4 and pictures[((0.5, 0.5), 4)] == ex.image.value
    assert len(set(pictures.values())) == 4
    assert grid.label("times", (0.0, 1.0)) == "0.00 – 1.00"
    assert grid.show_saved({"values": [[0.0, 1.0], 1]}) == pictures[((0.0, 1.0), 1)]
    assert ex.values == {"times": (0.0, 1.0), "steps": 1}
    for bad in ((0.7, 0.3), (0.5, 1.5), 0.5):
        with pytest.raises(ValueError, match="is a range slider"):
            SiteGrid("pairs", _range_explorer(), {"times": (bad,), "steps": (1,)})

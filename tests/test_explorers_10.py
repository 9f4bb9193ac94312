"""Explorer of notebook 10: the drawing against fmlite.discrete's sampler, run independently, the cache that makes
every move a redraw only, the fast path, and the static site's grid."""
import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from drawing import site_grids
from fmlite.discrete import MaskSource, MixturePath, TokenNet, UniformSource, sample_discrete
from fmlite.widgets.nb10_discrete import (TOKEN_STEP_CHOICES, draw_token_flow, token_flow_explorer,
                                          token_trajectories, update_token_flow)
from fmlite.widgets.site_grid import T_GRID, T_GRID_QUICK, TOLERANCE, picture_difference, saved_pictures, site_picture

pytestmark = pytest.mark.usefixtures("one_thread")
BINS = 16


class Counting(torch.nn.Module):
    """A token network that counts its calls."""

    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, 0
        self.vocab_size, self.length, self.mask_token = net.vocab_size, net.length, net.mask_token

    def forward(self, x, t):
        self.calls += 1
        return self.net(x, t)


@pytest.fixture(scope="module")
def setting():
    torch.manual_seed(0)
    models = {"mask": Counting(TokenNet(BINS, 2, mask=True, embed=8, hidden=16, layers=1)),
              "uniform": Counting(TokenNet(BINS, 2, mask=False, embed=8, hidden=16, layers=1))}
    paths = {"mask": MixturePath(MaskSource(BINS), "quadratic"), "uniform": MixturePath(UniformSource(BINS), "linear")}
    return models, paths


def _fig():
    fig = Figure(figsize=(8, 4), dpi=50, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _centres(tokens):
    return (tokens.double() + 0.5) / BINS * 4 - 2


def test_trajectories_are_the_samplers_runs(setting):
    models, paths = setting
    tr = token_trajectories(models, paths, n=50, steps=(1, 4), seed=3)
    assert sorted(tr) == [("mask", 1), ("mask", 4), ("uniform", 1), ("uniform", 4)]
    for (source, k), states in tr.items():
        x_0 = paths[source].source.sample(50, 2, generator=torch.Generator().manual_seed(3))
        again = sample_discrete(models[source], x_0, k, paths[source], return_trajectory=True,
                                generator=torch.Generator().manual_seed(4)).trajectory
        assert torch.equal(states, again) and states.shape == (k + 1, 50, 2)
    assert (tr["mask", 4][0] == BINS).all() and (tr["mask", 4][-1] < BINS).all()   # all masks, then none


def test_draw_shows_the_known_tokens_and_the_masked_share(setting):
    models, paths = setting
    tr = token_trajectories(models, paths, n=200, steps=(4,), seed=0)
    kappas = {k: p.kappa for k, p in paths.items()}
    fig = _fig()
    draw_token_flow(fig, 0.6, 4, "mask", tr, kappas, bins=BINS)
    state = tr["mask", 4][2]                                # t = 0.6 shows the step at t = 0.5
    known = state < BINS
    both = known.all(1)
    ax, curve = fig.axes
    by_gid = {c.get_gid(): c for c in ax.collections}
    assert np.allclose(by_gid["both"].get_offsets(), _centres(state[both]).numpy())
    assert len(by_gid["ticks"].get_offsets()) == int((known.sum(1) == 1).sum())
    assert ax.get_title().startswith("mask source, 4 steps: t = 0.50")
    assert f"{(~known).double().mean().item():.0%} of tokens still masked" in ax.get_title()
    final = {line.get_gid(): line for line in curve.lines}["final"].get_ydata()
    assert np.allclose(final, [(s == tr["mask", 4][-1]).double().mean().item() for s in tr["mask", 4]])
    assert final[-1] == 1.0


def test_bad_input_is_refused(setting):
    models, paths = setting
    tr = token_trajectories(models, paths, n=20, steps=(2,), seed=0)
    kappas = {k: p.kappa for k, p in paths.items()}
    with pytest.raises(ValueError, match=r"t must"):
        draw_token_flow(_fig(), 1.5, 2, "mask", tr, kappas, bins=BINS)
    with pytest.raises(ValueError, match="no trajectory for source 'mask' with 8 steps"):
        draw_token_flow(_fig(), 0.5, 8, "mask", tr, kappas, bins=BINS)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        update_token_flow(_fig(), 0.5, 2.5, "mask", tr, kappas, bins=BINS)
    with pytest.raises(ValueError, match="every model needs its path"):
        token_trajectories(models, {"mask": paths["mask"]}, n=5)


def test_explorer_samples_once_so_every_move_only_redraws(setting, update_equals_fresh_draw):
    models, paths = setting
    for m in models.values():
        m.calls = 0
    ex = token_flow_explorer(models, paths, n=100, t=0.5, steps=8, source="mask")
    assert list(ex.controls["steps"].options) == list(TOKEN_STEP_CHOICES)
    assert list(ex.controls["source"].options) == ["mask", "uniform"]
    calls = {k: m.calls for k, m in models.items()}
    assert calls == {k: sum(TOKEN_STEP_CHOICES) for k in models}       # one call per step of every run
    update_equals_fresh_draw(ex, [("t", 0.8), ("steps", 2), ("source", "uniform"), ("t", 0.1), ("steps", 16),
                                  ("source", "mask"), ("t", 1.0)])
    assert {k: m.calls for k, m in models.items()} == calls and ex.error is None
    assert ex.label.value == "t = 1.00, steps = 16, source = mask"


# ----------------------------------------------------------------------------- the static site (issue 22)
NOTEBOOK = "notebooks/10_discrete_flows.ipynb"


@pytest.fixture(scope="module")
def site():
    """(full grids, quick grids), built once (tests/drawing.py: site_grids)."""
    yield from site_grids("nb10_discrete", threads=None)


def test_site_grid_covers_every_control(site):
    full, _ = site
    assert [g.title for g in full] == ["token-flow"]
    assert len(full) == len(saved_pictures(NOTEBOOK))               # one grid per explorer the notebook shows
    grid = full[0]
    t = grid.explorer.controls["t"]
    assert grid.values["t"] == T_GRID and T_GRID[0] == t.min and T_GRID[-1] == t.max
    assert grid.values["steps"] == tuple(grid.explorer.controls["steps"].options) == TOKEN_STEP_CHOICES
    assert grid.values["source"] == ("mask", "uniform")
    assert grid.allowed is None and len(grid.settings()) == 21 * 5 * 2


def test_quick_grid_is_small_and_draws_every_setting(site):
    _, quick = site
    grid = quick[0]
    assert len(grid.settings()) <= 12
    pictures = {(s["t"], s["steps"], s["source"]): p for s, p in grid.render()}
    assert len(pictures) == len(grid.settings())
    # as live, the picture shows the last step at or before t: with 1 step t = 0.5 shows t = 0
    assert pictures[0.5, 1, "mask"] == pictures[0.0, 1, "mask"] != pictures[1.0, 1, "mask"]
    assert len({pictures[t, 16, source] for t in T_GRID_QUICK for source in ("mask", "uniform")}) == 6


def test_rebuilt_explorer_reproduces_the_saved_picture(site):
    full, _ = site
    for grid, saved in zip(full, saved_pictures(NOTEBOOK), strict=True):
        ex = grid.explorer
        grid.show_saved(saved)
        assert ex.values == {"t": 0.5, "steps": 8, "source": "mask"}
        difference = picture_difference(ex.image.value, saved["picture"])
        assert difference["mean"] == 0.0 and difference["p99"] == 0.0, difference
        ex.controls["steps"].value, ex.controls["t"].value, ex.controls["source"].value = 2, 0.35, "uniform"
        assert picture_difference(grid.show_saved(saved), saved["picture"])["max"] == 0


@pytest.mark.parametrize("setting", [{"t": 0.5, "steps": 8, "source": "mask"},
                                     {"t": 0.75, "steps": 16, "source": "uniform"}])
def test_site_picture_is_within_tolerance(site, setting):
    full, _ = site
    ex = full[0].explorer
    for name, value in setting.items():
        ex.controls[name].value = value
    assert ex.values == setting and ex.error is None
    difference = picture_difference(site_picture(ex.image.value), ex.image.value)
    assert difference["mean"] <= TOLERANCE["mean"] and difference["p99"] <= TOLERANCE["p99"], difference

"""Explorers and plotting helpers of notebook 01 (interpolation paths).

The drawing functions are called directly on a plain Figure, and the explorers are driven by setting
their controls (observers fire synchronously); the assertions are on artist data against the package,
computed independently. The `_fast_path` tests check that an in-place update leaves the picture a fresh draw gives
(the `update_equals_fresh_draw` fixture of tests/conftest.py).
"""
import numpy as np
import pytest
import torch

from fmlite import widgets as W
from fmlite.datasets import sample_2d
from fmlite.paths import SIGMA_SCHEDULES, BridgeSigma, ConstantSigma, LinearPath, SineSigma, sigma_schedule
from fmlite.plotting import conditional_paths, interpolant_panel, velocity_arrows
from fmlite.widgets import draw_interpolation, interpolation_explorer


@pytest.fixture
def cloud():
    g = torch.Generator().manual_seed(0)
    x_1 = sample_2d("moons", 200, seed=0)
    return torch.randn(200, 2, generator=g), x_1, torch.randn(200, 2, generator=g)


def test_sigma_schedule_registry_builds_the_path_schedules():
    t = torch.linspace(0.05, 0.95, 7)
    assert set(SIGMA_SCHEDULES) == {"constant", "bridge", "sine"}
    for name, want in (("constant", ConstantSigma(0.4)), ("bridge", BridgeSigma(0.4)), ("sine", SineSigma(0.4))):
        got = sigma_schedule(name, 0.4)
        assert type(got) is type(want) and torch.equal(got(t), want(t))
        assert torch.equal(got.derivative(t), want.derivative(t))
    with pytest.raises(ValueError, match="choose one of"):
        sigma_schedule("cosine", 0.4)


@pytest.mark.parametrize("schedule", list(SIGMA_SCHEDULES))
@pytest.mark.parametrize("t", [0.0, 0.3, 1.0])
def test_interpolation_scatter_is_the_interpolant(cloud, schedule, t):
    """The red points are path.interpolate(x_0, x_1, t, eps), also at t = 0 and 1 where the bridge's sigma' is inf."""
    x_0, x_1, eps = cloud
    fig = agg_figure()
    draw_interpolation(fig, t, 0.5, schedule, x_0, x_1, eps, n_paths=5)
    offsets = by_gid(fig.axes[0], "x_t").get_offsets()
    expected = LinearPath(SIGMA_SCHEDULES[schedule](0.5)).interpolate(x_0, x_1, t, eps)
    np.testing.assert_allclose(offsets, expected.numpy(), atol=1e-6)
    if schedule != "constant" and t in (0.0, 1.0):  # pinned schedules hit the end points exactly
        np.testing.assert_allclose(offsets, (x_0 if t == 0.0 else x_1).numpy(), atol=1e-6)


def test_interpolation_sigma_curve_and_marker(cloud):
    x_0, x_1, eps = cloud
    fig = agg_figure()
    draw_interpolation(fig, 0.3, 0.8, "sine", x_0, x_1, eps)
    ax = fig.axes[1]
    curve, marker = ax.lines[0], ax.lines[1]
    np.testing.assert_allclose(curve.get_ydata(), 0.8 * np.sin(np.pi * curve.get_xdata()), atol=1e-6)
    assert marker.get_xdata()[0] == pytest.approx(0.3)
    assert marker.get_ydata()[0] == pytest.approx(0.8 * np.sin(0.3 * np.pi), abs=1e-6)
    assert "sine" in ax.get_title() and "0.65" in ax.get_title()  # sigma(0.3) = 0.8 sin(0.3 pi) = 0.647


def test_interpolation_paths_end_at_the_current_points(cloud):
    """The solid part of each conditional path runs from x_0 (t = 0) to the current x_t."""
    x_0, x_1, eps = cloud
    fig = agg_figure()
    draw_interpolation(fig, 0.6, 0.5, "bridge", x_0, x_1, eps, n_paths=4)
    solid = [line for line in fig.axes[0].lines if line.get_linestyle() == "-"]
    dashed = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert len(solid) == 4 and len(dashed) == 4
    x_t = LinearPath(BridgeSigma(0.5)).interpolate(x_0, x_1, 0.6, eps)
    for i, line in enumerate(solid):
        xy = line.get_xydata()
        np.testing.assert_allclose(xy[0], x_0[i].numpy(), atol=1e-6)
        np.testing.assert_allclose(xy[-1], x_t[i].numpy(), atol=1e-5)
    for i, line in enumerate(dashed):  # the whole path, ending at the data
        np.testing.assert_allclose(line.get_xydata()[-1], x_1[i].numpy(), atol=1e-5)


def test_zero_sigma_scale_gives_the_straight_path_for_every_schedule(cloud):
    x_0, x_1, eps = cloud
    straight = LinearPath().interpolate(x_0, x_1, 0.4).numpy()
    for schedule in SIGMA_SCHEDULES:
        fig = agg_figure()
        draw_interpolation(fig, 0.4, 0.0, schedule, x_0, x_1, eps)
        np.testing.assert_allclose(by_gid(fig.axes[0], "x_t").get_offsets(), straight, atol=1e-6)


def test_interpolation_explorer_controls_redraw(cloud):
    x_0, x_1, eps = cloud
    ex = interpolation_explorer(x_0, x_1, eps, t=0.5, sigma=0.5, schedule="bridge", n_paths=4)
    assert set(ex.controls) == {"t", "sigma", "schedule"}
    assert all(not c.continuous_update for name, c in ex.controls.items() if name != "schedule")
    assert ex.label.value == "t = 0.50, sigma = 0.50, schedule = bridge"
    png, draws = ex.image.value, ex.draws
    assert png[:4] == b"RIFF" and png[8:12] == b"WEBP" and ex.image.format == "webp"

    ex.controls["t"].value = 0.7
    assert ex.label.value == "t = 0.70, sigma = 0.50, schedule = bridge"
    assert ex.draws == draws + 1 and ex.image.value != png
    expected = LinearPath(BridgeSigma(0.5)).interpolate(x_0, x_1, 0.7, eps)
    np.testing.assert_allclose(by_gid(ex.figure.axes[0], "x_t").get_offsets(), expected.numpy(), atol=1e-6)

    png = ex.image.value
    ex.controls["schedule"].value = "sine"
    assert ex.label.value == "t = 0.70, sigma = 0.50, schedule = sine" and ex.image.value != png
    expected = LinearPath(SineSigma(0.5)).interpolate(x_0, x_1, 0.7, eps)
    np.testing.assert_allclose(by_gid(ex.figure.axes[0], "x_t").get_offsets(), expected.numpy(), atol=1e-6)

    png = ex.image.value
    ex.controls["sigma"].value = 0.2
    assert ex.label.value == "t = 0.70, sigma = 0.20, schedule = sine" and ex.image.value != png
    assert ex.figure.axes[1].lines[1].get_ydata()[0] == pytest.approx(0.2 * np.sin(0.7 * np.pi), abs=1e-6)


def test_conditional_paths_follow_the_path_with_one_eps_per_pair(cloud):
    x_0, x_1, eps = cloud
    path = LinearPath(SineSigma(0.7))
    fig = agg_figure()
    ax = fig.add_subplot()
    lines = conditional_paths(ax, x_0, x_1, path, eps, n=3, steps=10)
    assert len(lines) == 3
    for k, s in enumerate(np.linspace(0, 1, 11)):
        expected = path.interpolate(x_0[:3], x_1[:3], float(s), eps[:3]).numpy()
        got = np.stack([line.get_xydata()[k] for line in lines])
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_velocity_arrows_are_in_data_units():
    fig = agg_figure()
    ax = fig.add_subplot()
    x, v = torch.tensor([[0.0, 0.0], [1.0, -1.0]]), torch.tensor([[2.0, 0.0], [0.0, 4.0]])
    q = velocity_arrows(ax, x, v, scale=0.25)
    assert q.scale == pytest.approx(4.0) and q.scale_units == "xy" and q.angles == "xy"
    np.testing.assert_allclose(q.U, [2.0, 0.0])
    with pytest.raises(ValueError, match="same shape"):
        velocity_arrows(ax, x, v[:1])


def test_interpolant_panel_without_eps_is_the_straight_path(cloud):
    x_0, x_1, _ = cloud
    fig = agg_figure()
    points = interpolant_panel(fig.add_subplot(), 0.25, LinearPath(), x_0, x_1, n_paths=0)
    np.testing.assert_allclose(points.get_offsets(), (0.75 * x_0 + 0.25 * x_1).numpy(), atol=1e-6)


def test_interpolation_fast_path_for_t_sigma_and_schedule(update_equals_fresh_draw):
    g = torch.Generator().manual_seed(5)
    x_0, x_1, eps = (torch.randn(80, 2, generator=g) for _ in range(3))
    ex = W.interpolation_explorer(x_0, x_1, eps, t=0.5, sigma=0.5, schedule="bridge", n_paths=5, size=2.5)
    update_equals_fresh_draw(ex, [("t", 0.8), ("t", 0.0), ("sigma", 1.0), ("t", 0.3), ("schedule", "sine"),
                                  ("sigma", 0.0), ("schedule", "constant"), ("t", 1.0)])


# ------------------------------------------------------------------ issue 22: notebook 01 on the static site
from pathlib import Path  # noqa: E402

from fmlite.widgets.site_grid import (TOLERANCE, picture_difference, saved_pictures, site_explorers_of,  # noqa: E402
                                      site_picture)

from drawing import agg_figure, by_gid


@pytest.fixture(scope="module")
def site_grids():
    from fmlite.tools.site_explorers import site_style
    with site_style():
        yield site_explorers_of("01")(quick=False)


def test_site_grid_covers_every_control(site_grids):
    assert [g.title for g in site_grids] == ["interpolant"]
    grid = site_grids[0]
    controls = grid.explorer.controls
    for name in ("t", "sigma"):
        values = grid.values[name]
        assert values[0] == controls[name].min and values[-1] == controls[name].max, name
        assert all(b > a for a, b in zip(values, values[1:])), name
        step = controls[name].step  # every site value is one the live slider can take
        assert all(abs(v / step - round(v / step)) < 1e-9 for v in values), name
    assert grid.values["t"] == tuple(round(0.05 * k, 2) for k in range(21))
    assert list(grid.values["schedule"]) == list(controls["schedule"].options) == list(SIGMA_SCHEDULES)
    assert grid.allowed is None and len(grid.settings()) == 21 * 5 * 3


def test_site_rebuilt_explorer_draws_the_saved_live_picture(site_grids):
    from fmlite.tools.site_explorers import site_style
    saved = saved_pictures(Path(__file__).resolve().parents[1] / "notebooks" / "01_interpolation_paths.ipynb")
    assert len(saved) == len(site_grids) == 1
    ex = site_grids[0].explorer
    with site_style():
        for control, value in zip(ex.controls.values(), saved[0]["values"]):
            control.value = value
        assert ex.values == {"t": 0.5, "sigma": 0.5, "schedule": "bridge"}
        assert picture_difference(ex.image.value, saved[0]["picture"])["max"] == 0


def test_site_pictures_of_01_keep_to_the_tolerance(site_grids):
    from fmlite.tools.site_explorers import site_style
    ex = site_grids[0].explorer
    with site_style():
        for setting in ({"t": 0.2, "sigma": 1.0, "schedule": "sine"}, {"t": 0.95, "sigma": 0.0, "schedule": "constant"}):
            for name, value in setting.items():
                ex.controls[name].value = value
            d = picture_difference(ex.image.value, site_picture(ex.image.value))
            assert d["mean"] <= TOLERANCE["mean"] and d["p99"] <= TOLERANCE["p99"], (setting, d)


def test_site_quick_grid_of_01():
    from fmlite.tools.site_explorers import site_style
    with site_style():
        quick = site_explorers_of("01")(quick=True)
    assert len(quick[0].settings()) == 3 * 3 * 2

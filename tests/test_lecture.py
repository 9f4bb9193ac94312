"""The lecture switch (FMLITE_LECTURE_SCALE) and that no text of any figure or explorer leaves its figure."""
import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.text import Text
from PIL import Image

from fmlite import plotting as P
from fmlite import widgets as W
from fmlite.plotting import style

SCALES = (1.0, 1.6)


@pytest.fixture
def lecture(monkeypatch):
    """Set the environment variable to a scale and apply it as a setup cell does; restores 1.0 after."""
    def apply(scale):
        monkeypatch.setenv("FMLITE_LECTURE_SCALE", str(scale))
        P.lecture_style()
    saved = dict(matplotlib.rcParams)
    yield apply
    monkeypatch.delenv("FMLITE_LECTURE_SCALE", raising=False)
    P.lecture_style()                 # removes the pyplot hook of a scale other than 1
    matplotlib.rcParams.update(saved)  # and leaves the rcParams as the next test found them
    plt.close("all")


def rotation(x, t):
    return torch.stack([-x[:, 1], x[:, 0]], dim=1) * (1 + t[:, None])


def png_width(png: bytes) -> int:
    return Image.open(io.BytesIO(png)).size[0]


def test_the_environment_variable_scales_fonts_figures_and_explorers(lecture):
    tr = torch.cumsum(torch.randn(5, 20, 2, generator=torch.Generator().manual_seed(0)) * 0.2, dim=0)
    seen = {}
    for scale in (1.0, 1.5):
        lecture(scale)
        fig, _ = P.figure(2, size=2.0)
        explicit = plt.figure(figsize=(5.0, 3.0))   # a notebook's plt.subplots(figsize=...)
        ex = W.trajectory_explorer(tr, t=0.5, size=3.0)
        seen[scale] = (matplotlib.rcParams["font.size"], matplotlib.rcParams["legend.fontsize"],
                       tuple(matplotlib.rcParams["figure.figsize"]), tuple(fig.get_size_inches()),
                       tuple(explicit.get_size_inches()), ex.width, png_width(ex.image.value),
                       ex.controls["t"].layout.width, P.lecture_scale())
    (f1, l1, rc1, fig1, ex1, w1, px1, s1, k1), (f2, l2, rc2, fig2, ex2, w2, px2, s2, k2) = seen[1.0], seen[1.5]
    assert (k1, k2) == (1.0, 1.5)
    assert f2 == pytest.approx(1.5 * f1) and l2 == pytest.approx(1.5 * l1)
    assert np.allclose(rc2, np.multiply(rc1, 1.5)) and np.allclose(fig2, np.multiply(fig1, 1.5))
    assert np.allclose(ex1, (5.0, 3.0)) and np.allclose(ex2, (7.5, 4.5))
    assert w2 == w1 and px1 == w1 and abs(px2 - 1.5 * w2) <= 1   # shown as wide, rendered at 1.5x the resolution
    assert s1 == "440px" and s2 == "660px"


def test_an_explicit_scale_wins_over_the_environment(lecture, monkeypatch):
    lecture(1.6)
    P.lecture_style(scale=1.2)
    assert P.lecture_scale() == 1.2 and matplotlib.rcParams["font.size"] == pytest.approx(14 * 1.2)


@pytest.mark.parametrize("bad", ["big", "1,5", "0", "-1", "9", "nan"])
def test_a_bad_value_is_rejected_with_how_to_fix_it(lecture, monkeypatch, bad):
    monkeypatch.setenv("FMLITE_LECTURE_SCALE", bad)
    with pytest.raises(ValueError, match=r"FMLITE_LECTURE_SCALE must .*got .*%env FMLITE_LECTURE_SCALE=1.5"):
        P.lecture_style()
    with pytest.raises(ValueError, match="lecture_style"):
        P.lecture_style(scale="large")


def texts_outside(fig) -> list[str]:
    """The visible, non-empty text artists whose rendered extent leaves the figure (1 px tolerance)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    ticks, drawn = set(), []   # tick labels: only those of ticks inside the view are drawn
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks.update({id(tick.label1), id(tick.label2)})
            drawn += [label for tick in axis._update_ticks() for label in (tick.label1, tick.label2)]
    out = []
    for text in [t for t in fig.findobj(Text) if id(t) not in ticks] + drawn:
        if not text.get_visible() or not text.get_text().strip():
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
            out.append(f"{text.get_text()!r} at {box.bounds}")
    return out


def static_figures():
    """name -> () -> Figure, as the notebooks make them (fixed figsizes included)."""
    g = torch.Generator().manual_seed(1)
    x_0, x_1 = torch.randn(60, 2, generator=g), torch.randn(60, 2, generator=g) + 1
    from fmlite.paths import LinearPath
    results = {m: ([1, 2, 4, 8, 16, 32], [1e-1 / n for n in (1, 2, 4, 8, 16, 32)]) for m in P.SOLVER_STYLE}

    def quality():
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))   # notebook 04's quality-vs-cost cell
        P.quality_vs_nfe(axes[0], results, reference=1e-3, reference_label="RK4, 100 steps", noise=2e-3,
                         yscale="symlog", linthresh=1e-3)
        axes[0].set_title("sample quality (energy distance to data)")
        P.quality_vs_nfe(axes[1], results, ylabel="median distance to accurate", yscale="log")
        axes[1].set_title("solver error alone")
        return fig

    def panels():
        fig, axes = P.figure(3, size=3.6)
        P.interpolant_panel(axes[0], 0.4, LinearPath(), x_0, x_1, lim=3.0)
        P.field_panel(axes[1], 0.5, x_1[:20], lim=3.0)
        P.flow_snapshot(axes[2], torch.stack([x_0, x_1]), 0.5, target=x_1)
        return fig

    def curves():
        fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
        P.schedule_curve(axes[0], lambda t: t * (1 - t), t_mark=0.3)
        P.loss_curve(axes[1], np.linspace(2, 1, 300) + 0.1 * np.random.default_rng(0).random(300), floor=0.9)
        P.time_profile(axes[2], torch.rand(200, generator=g), torch.rand(200, generator=g))
        return fig

    def images():
        fig, ax = plt.subplots(figsize=(8, 4))
        P.image_rows(ax, torch.rand(2, 5, 1, 8, 8, generator=g) * 2 - 1, row_labels=["w = 0", "w = 2"])
        return fig

    def multiples():
        return P.small_multiples(lambda ax, t: P.setup_axes(ax), [0.0, 0.5, 1.0])
    return {"quality": quality, "panels": panels, "curves": curves, "images": images, "multiples": multiples}


def explorers():
    """name -> () -> Explorer, small versions of every explorer of the course."""
    g = torch.Generator().manual_seed(2)
    x_0, x_1, eps = (torch.randn(40, 2, generator=g) for _ in range(3))
    tr = torch.cumsum(torch.randn(9, 40, 2, generator=g) * 0.2, dim=0)
    from fmlite.models import MLP
    from fmlite.paths import LinearPath
    from fmlite.widgets.nb11_latent import LatentFrames, latent_flow_explorer
    images = torch.rand(6, 10, 1, 8, 8, generator=g) * 2 - 1
    maps = W.LogDensityMaps(np.array([0.0, 0.5, 1.0]), -5 * np.random.default_rng(0).random((3, 10, 10)), 3.0)
    return {
        "00/04 trajectory": lambda: W.trajectory_explorer(tr, target=x_1, trail=3, t=0.5),
        "01 interpolation": lambda: W.interpolation_explorer(x_0, x_1, eps, t=0.5, sigma=0.5, schedule="bridge"),
        "02 vector field": lambda: W.vector_field_explorer(x_1[:10], n=40, seed=1, t=0.5, n_grid=7),
        "03 learned vs exact": lambda: W.learned_vs_exact_explorer(MLP(hidden=16), x_1[:20], LinearPath(), t=0.5,
                                                                   n=7),
        "04 solver": lambda: W.solver_explorer(rotation, x_0, target=x_1, steps=3, t=1.0, reference_steps=12),
        "05 noise flow": lambda: W.noise_flow_explorer(x_1[:10], x_0, t=0.5, sigma=1.0, schedule="sine", steps=4),
        "06 straight": lambda: W.straight_explorer({"independent": rotation, "OT": lambda x, t: -rotation(x, t),
                                                    "reflow": rotation}, x_0, target=x_1, steps=1, t=1.0,
                                                   reference_steps=4),
        "07 image flow": lambda: W.image_flow_explorer(images, ncol=5, t=0.5, size=6),
        "07 guidance": lambda: W.guidance_explorer({0.0: images[:4, :8],
                                                    1.0: images[2:, :8]}, w=1.0),
        "08 likelihood": lambda: W.likelihood_explorer(maps, lambda x, t: -0.5 * (x ** 2).sum(1), t=0.5),
        "09 flow map": lambda: W.flow_map_explorer(lambda x, s, t: -x * (t - s)[:, None], rotation, x_0, target=x_1,
                                                   grid_step=0.5, times=(0.0, 0.5), steps=2),
        "10 token flow": _token_flow,
        "11 latent flow": lambda: latent_flow_explorer(LatentFrames(
            {1.0: images.transpose(0, 1).numpy()[None].repeat(3, 0)}, {1.0: tr[:3].numpy()}, np.arange(40) % 10, x_1.numpy()), t=0.5),
        "12 sphere flow": lambda: curved_explorer("sphere"),
        "12 torus flow": lambda: curved_explorer("torus"),
    }


def _token_flow():
    """Notebook 10's explorer with two small untrained token networks on a 16-cell grid."""
    from fmlite.discrete import MaskSource, MixturePath, TokenNet, UniformSource
    from fmlite.widgets.nb10_discrete import token_flow_explorer
    torch.manual_seed(3)
    models = {"mask": TokenNet(16, 2, mask=True, embed=4, hidden=8, layers=1),
              "uniform": TokenNet(16, 2, mask=False, embed=4, hidden=8, layers=1)}
    paths = {"mask": MixturePath(MaskSource(16), "quadratic"), "uniform": MixturePath(UniformSource(16), "quadratic")}
    return token_flow_explorer(models, paths, n=60, t=0.5, steps=8, source="mask")


def curved_explorer(name: str):
    """A small version of notebook 12's explorers (an untrained network, 30 points, 4 steps)."""
    from fmlite.manifolds import ManifoldMLP, get_space
    from fmlite.widgets import nb12_curved as C
    space = get_space(name)
    torch.manual_seed(0)
    x_0 = space.sample_uniform(30, generator=torch.Generator().manual_seed(3))
    data = space.sample_uniform(5, generator=torch.Generator().manual_seed(4))
    flow = C.curved_flow(space, ManifoldMLP(space, hidden=16), data, x_0, steps=4, n_grid=25)
    return C.sphere_flow_explorer(flow, t=0.5) if name == "sphere" else C.torus_flow_explorer(flow, t=0.5)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", list(static_figures()))
def test_no_text_leaves_a_static_figure(lecture, scale, name):
    lecture(scale)
    fig = static_figures()[name]()
    assert texts_outside(fig) == [], f"{name} at scale {scale}"


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", list(explorers()))
def test_no_text_leaves_an_explorer(lecture, scale, name):
    lecture(scale)
    ex = explorers()[name]()
    assert ex.error is None
    assert texts_outside(ex.figure) == [], f"{name} at scale {scale}"
    assert abs(png_width(ex.image.value) - ex.width * (1.5 if scale > 1 else 1)) <= 1

"""Notebook 03: a learned field against the exact field, over t.

Each explorer is a pure `draw_*(fig, ...)` function (tests and static figures call it) plus a thin
`Explorer` wrapper (see `fmlite.widgets.explorer`). The explorer's fast path (`update_learned_vs_exact`)
moves the arrows and points in place and keeps what it computed per t, so a revisited t only redisplays.
`site_explorers` rebuilds the notebook's explorer for the static site (`fmlite.widgets.site_grid`).
"""
from __future__ import annotations

from functools import lru_cache

from matplotlib.figure import Figure

from ..checks import check_time_value
from .explorer import Explorer, t_slider

__all__ = ["draw_learned_vs_exact", "update_learned_vs_exact", "learned_vs_exact_explorer", "site_explorers"]


def _samples(t: float, data, path, n_points: int, seed: int):
    """The samples x_t ~ p_t of the error panel (the same noise for every t)."""
    import torch
    g = torch.Generator().manual_seed(seed)
    x_1 = data[torch.randint(0, len(data), (n_points,), generator=g)]
    x_0 = torch.randn(x_1.shape, generator=g, dtype=x_1.dtype)
    return path.interpolate(x_0, x_1, float(t), eps=torch.randn(x_1.shape, generator=g, dtype=x_1.dtype))


def _frame(t: float, model, data, path, lim: float, n: int, n_points: int, seed: int) -> dict:
    """Everything the three panels show at t: samples, shared arrow scale, both arrow grids, errors."""
    import torch

    from ..exact import marginal_velocity
    from ..plotting import arrow_scale, field_arrow_arrays
    exact = lambda x, s: marginal_velocity(x, s, data, path)  # noqa: E731
    with torch.no_grad():
        x_t = _samples(t, data, path, n_points, seed)
        times = torch.full((n_points,), float(t))
        u = exact(x_t, times)
        err = (model(x_t, times.to(x_t.dtype)) - u).norm(dim=1).numpy()
    scale = arrow_scale(u.norm(dim=1), lim, n)
    arrays = [field_arrow_arrays(f, t, lim, n, scale=scale, cap=1.5) for f in (model, exact)]
    return dict(x_t=x_t.numpy(), scale=scale, arrays=arrays, err=err)


def draw_learned_vs_exact(fig: Figure, t: float, model, data, path, lim: float = 3.0, n: int = 15,
                          n_points: int = 1000, seed: int = 0, cache: dict | None = None) -> None:
    """Three panels at time t: the learned field v_theta(x, t), the exact marginal field u_t(x) of the
    finite data set (`fmlite.exact.marginal_velocity`), and the error |v_theta(x_t, t) - u_t(x_t)| at samples
    x_t ~ p_t (points coloured by the error: that is where sampling goes).

    Both arrow panels share one arrow scale, set by the exact field's speeds at the samples, so arrow
    lengths compare; arrows are capped at 1.5 grid spacings (`fmlite.plotting.arrows`).

    Args:
        fig: empty Figure. t: time in [0, 1] (0 = noise, 1 = data).
        model: velocity network model(x, t). data: the finite training set (N, 2). path: its `Path`.
        n: arrows per side. n_points: samples x_t drawn (with a fixed `seed`) for the error panel.
        cache: optional dict keeping what was computed per t (`update_learned_vs_exact` reuses it).
    """
    t = check_time_value(t)
    from ..exact import marginal_velocity
    from ..plotting import COLORS, arrows, error_points, scatter, setup_axes

    frame = _cached_frame(t, model, data, path, lim, n, n_points, seed, cache)
    exact = lambda x, s: marginal_velocity(x, s, data, path)  # noqa: E731
    axes = fig.subplots(1, 3)
    for ax, field, color, name in ((axes[0], model, COLORS["model"], "learned $v_\\theta$ (green)"),
                                   (axes[1], exact, COLORS["exact"], "exact $u_t(x)$ (purple)")):
        setup_axes(ax, lim)
        ax.set_title(name, y=1.0)  # a fixed title position: tickless panels need no search for it on every draw
        scatter(ax, data, color=COLORS["data"], s=4, alpha=0.3)
        arrows(ax, field, t, color, lim, n, scale=frame["scale"])
    setup_axes(axes[2], lim)
    _, err = error_points(axes[2], model, exact, frame["x_t"], t)
    axes[2].set_title(_error_title(err), y=1.0)
    fig.suptitle(f"t = {float(t):.2f}")


def _error_title(err) -> str:
    """The error panel's title, in plain text: mathtext would be parsed anew for every new mean (20 ms a move)."""
    return f"error |v_θ − u_t(x)| at x_t: mean {err.mean():.2f}"


def _cached_frame(t, model, data, path, lim, n, n_points, seed, cache) -> dict:
    key = round(float(t), 6)
    if cache is not None and key in cache:
        return cache[key]
    frame = _frame(float(t), model, data, path, lim, n, n_points, seed)
    if cache is not None:
        cache[key] = frame
    return frame


def update_learned_vs_exact(fig: Figure, t: float, model, data, path, lim: float = 3.0, n: int = 15,
                            n_points: int = 1000, seed: int = 0, cache: dict | None = None) -> None:
    """In-place fast path of `draw_learned_vs_exact` for a new t: both arrow grids (new vectors and shared
    scale), the error points (positions, colours, colour limits) and the titles; the same picture as a fresh
    draw. What it computes per t is kept in `cache`, so a revisited t costs only the drawing."""
    t = check_time_value(t)
    from ..plotting import update_error_points, update_field_arrows

    frame = _cached_frame(t, model, data, path, lim, n, n_points, seed, cache)
    axes = fig.axes[:3]
    for ax, arrays in zip(axes[:2], frame["arrays"]):
        update_field_arrows(ax.collections[-1], None, t, lim, n, arrays=arrays)
    err = update_error_points(axes[2].collections[-1], None, None, frame["x_t"], t, errors=frame["err"])
    axes[2].set_title(_error_title(err), y=1.0)
    fig.suptitle(f"t = {float(t):.2f}")


def learned_vs_exact_explorer(model, data, path, t: float = 0.5, lim: float = 3.0, n: int = 15,
                              t_max: float = 0.95, size: float = 4.2) -> "Explorer":
    """Slider over t (0 to t_max) comparing a learned field with the exact field of its training set; see
    `draw_learned_vs_exact`. Redraws when the slider is released; each t is computed once and kept.
    t_max < 1 as in `vector_field_explorer`: at t = 1 the exact field is only a convention (see `fmlite.exact`).
    size: the design height in inches of the three panels (width 12.5 / 4.2 times it)."""
    return Explorer(draw_learned_vs_exact, {"t": t_slider(t, step=0.05, continuous_update=False, max=t_max)},
                    figsize=(size * 12.5 / 4.2, size), update=update_learned_vs_exact, cheap=("t",), model=model,
                    data=data, path=path, lim=lim, n=n, cache={})


# ----------------------------------------------------------------------------- the static site (issue 22)
@lru_cache(maxsize=1)
def _learned_vs_exact_inputs() -> tuple:
    """(model, data, path) of notebook 03's explorer, built as the notebook builds them: the same seeds and the
    same training run (2,000 steps of `fmlite.train.train`, about 10-15 s on one CPU thread; no checkpoint in
    data/ holds this run). Kept after the first call (the model is only evaluated by the explorer).

    Mirrors the setup cell (`torch.manual_seed(0)`, `cells[1]`), the cell that makes the training set and the
    untrained network (`path = LinearPath()`, `data = sample_2d("moons", 256, seed=0)`, `model = MLP()`,
    `cells[3]`; MLP() draws its initial weights from the global generator seeded in the setup cell) and the
    training cell (`train(model, path, sample_data, steps=2000, batch_size=256, lr=2e-3, seed=0,
    device="cpu")`, `cells[11]`). The cells in between draw from their own generators or reseed, and
    `train(seed=0)` reseeds the global generator, so they do not change the run. The caller's global random
    state is left as it was.
    """
    import torch

    from ..datasets import sample_2d
    from ..models import MLP
    from ..paths import LinearPath
    from ..train import train
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        path = LinearPath()
        data = sample_2d("moons", 256, seed=0)
        model = MLP()
        train(model, path, lambda n: data[torch.randint(0, len(data), (n,))], steps=2000, batch_size=256,
              lr=2e-3, seed=0, device="cpu", progress=False)
    return model, data, path


def site_explorers(quick: bool = False) -> list:
    """Notebook 03's explorers for the static site: the learned field against the exact field over t
    (`learned_vs_exact_explorer(model, data, path, t=0.8)`, `cells[26]`).

    The explorer is rebuilt exactly as the notebook builds it (`_learned_vs_exact_inputs`: the first call
    trains the notebook's network again, 10-15 s), so its pictures are the notebook's. Build and render under
    the notebooks' style (`fmlite.plotting.lecture_style()`, as every setup cell calls it).

    Grid: t from 0 to the slider's max 0.95 in steps of 0.05 (20 settings); quick: t = 0, 0.5, 0.95.
    """
    from .site_grid import T_GRID, T_GRID_QUICK, SiteGrid

    model, data, path = _learned_vs_exact_inputs()
    ex = learned_vs_exact_explorer(model, data, path, t=0.8)
    t_max = ex.controls["t"].max
    t_values = [t for t in (T_GRID_QUICK if quick else T_GRID) if t < t_max] + [t_max]
    return [SiteGrid("learned-vs-exact", ex, {"t": tuple(t_values)})]

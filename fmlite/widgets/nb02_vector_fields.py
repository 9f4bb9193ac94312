"""Notebook 02: the exact marginal field of a data set as arrows, over t.

Each explorer is a pure `draw_*(fig, ...)` function (tests and static figures call it) plus a thin
`Explorer` wrapper (see `fmlite.widgets.explorer`). `site_explorers` rebuilds the notebook's explorer for the
static site (`fmlite.widgets.site_grid`).
"""
from __future__ import annotations

from matplotlib.figure import Figure

from ..checks import check_time_value
from .explorer import Explorer, t_slider

__all__ = ["draw_vector_field", "update_vector_field", "vector_field_explorer", "site_explorers"]


def draw_vector_field(fig: Figure, t: float, data, x_0, x_1, path=None, lim: float = 3.0, n_grid: int = 17,
                      scale: float | None = None, colorbar: bool = True, normalize: bool = True) -> None:
    """The exact marginal velocity of a finite data set at time t as arrows coloured by speed,
    with samples x_t of p_t (red, gid "x_t") and the data points (blue).

    Args:
        fig: empty Figure to draw into.
        t: time in [0, 1] (0 = noise, 1 = data).
        data: the data set (N, 2) whose exact field `fmlite.exact.marginal_velocity` gives.
        x_0, x_1: noise and data pairs (B, 2) (x_1 drawn from data) for the samples
            x_t = `path.interpolate(x_0, x_1, t)`.
        path: a `fmlite.paths.Path` with sigma = 0 (default: the straight path).
        scale: arrow scale passed to `fmlite.plotting.quiver` (None: automatic).
        normalize: arrows of equal length, speed as colour (see `fmlite.plotting.field_panel`).
    """
    t = check_time_value(t)
    from ..plotting import field_panel
    ax = fig.add_subplot(1, 1, 1)
    field_panel(ax, float(t), data, x_0, x_1, path, lim=lim, n_grid=n_grid, scale=scale, colorbar=colorbar,
                normalize=normalize)
    ax.set_title(f"exact field at t = {float(t):.2f}")
    from ..plotting import legend_below
    legend_below(ax, ncol=2, title="arrows: direction only; colour: speed",
                 title_fontsize="small")


def update_vector_field(fig: Figure, t: float, data, x_0, x_1, path=None, lim: float = 3.0, n_grid: int = 17,
                        scale: float | None = None, colorbar: bool = True, normalize: bool = True) -> None:
    """In-place fast path of `draw_vector_field` for a new t: new arrows and speeds (the colorbar follows),
    samples x_t moved, new title; the same picture as a fresh draw."""
    t = check_time_value(t)
    import torch

    from ..exact import marginal_velocity
    from ..paths import LinearPath
    from ..plotting import update_field_arrows
    path = path or LinearPath()
    ax = fig.axes[0]
    by_gid = {c.get_gid(): c for c in ax.collections}
    update_field_arrows(by_gid["field"], lambda x, s: marginal_velocity(x, s, data, path), float(t), lim, n_grid,
                        scale=scale, normalize=normalize)
    with torch.no_grad():
        by_gid["x_t"].set_offsets(path.interpolate(x_0, x_1, float(t)).numpy())
    ax.set_title(f"exact field at t = {float(t):.2f}")


def vector_field_explorer(data, n: int = 300, seed: int = 0, t: float = 0.5, t_max: float = 0.95, path=None,
                          lim: float = 3.0, n_grid: int = 17, scale: float | None = None, normalize: bool = True,
                          size: float = 5.0) -> Explorer:
    """Slider over t (0 to t_max) for the exact field of `data` with n samples x_t; see `draw_vector_field`.

    The noise x_0 and the data points x_1 paired with it are drawn once from `seed`, so every
    position of the slider shows the same samples, moved along their straight paths.
    """
    import torch
    g = torch.Generator().manual_seed(seed)
    data = torch.as_tensor(data, dtype=torch.float32)
    x_0 = torch.randn(n, data.shape[1], generator=g)
    x_1 = data[torch.randint(0, len(data), (n,), generator=g)]
    controls = {"t": t_slider(t, step=0.01, continuous_update=False, max=t_max)}
    return Explorer(draw_vector_field, controls, figsize=(1.15 * size, size), update=update_vector_field, cheap=("t",),
                    data=data, x_0=x_0, x_1=x_1,
                    path=path, lim=lim, n_grid=n_grid, scale=scale, normalize=normalize)


# ----------------------------------------------------------------------------- the static site (issue 22)
def _vector_field_inputs() -> dict:
    """The arguments of notebook 02's explorer, built as the notebook builds them (seeded, about a second).

    Mirrors the code cell of part 4 that draws the small data set, `data = sample_2d("moons", 30, seed=0)`
    (`cells[17]` of the committed notebook), and the explorer cell `vector_field_explorer(data, n=300, seed=1,
    t=0.5)` (`cells[20]`); nothing else the notebook runs reaches the explorer.
    """
    from ..datasets import sample_2d
    return {"data": sample_2d("moons", 30, seed=0), "n": 300, "seed": 1, "t": 0.5}


def site_explorers(quick: bool = False) -> list:
    """Notebook 02's explorers for the static site: the exact field over t (`vector_field_explorer`).

    The explorer is rebuilt exactly as the notebook builds it (`_vector_field_inputs`), so its pictures are
    the notebook's. Build and render under the notebooks' style (`fmlite.plotting.lecture_style()`, as every
    setup cell calls it): the explorer's size and fonts come from it.

    Grid: t from 0 to the slider's max 0.95 in steps of 0.05 (20 settings); quick: t = 0, 0.5, 0.95.
    """
    from .site_grid import T_GRID, T_GRID_QUICK, SiteGrid

    ex = vector_field_explorer(**_vector_field_inputs())
    t_max = ex.controls["t"].max
    t_values = [t for t in (T_GRID_QUICK if quick else T_GRID) if t < t_max] + [t_max]
    return [SiteGrid("exact-field", ex, {"t": tuple(t_values)})]

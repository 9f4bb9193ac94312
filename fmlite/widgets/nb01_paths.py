"""Notebook 01: interpolation paths with sliders for t, the sigma scale and a schedule dropdown.

Each explorer is a pure `draw_*(fig, ...)` function (tests and static figures call it) plus a thin
`Explorer` wrapper (see `fmlite.widgets.explorer`).
"""
from __future__ import annotations

from matplotlib.figure import Figure

from ..checks import check_time_value
from .explorer import Explorer, dropdown, float_slider, t_slider
from ..paths import SIGMA_SCHEDULES, sigma_schedule

__all__ = ["draw_interpolation", "update_interpolation", "interpolation_explorer", "site_explorers", "SIGMA_GRID"]


def draw_interpolation(fig: Figure, t: float, sigma: float, schedule: str, x_0, x_1, eps, lim: float = 3.0,
                       n_paths: int = 12) -> None:
    """The stochastic interpolant x_t = (1 - t) x_0 + t x_1 + sigma(t) eps of a whole cloud at time t.

    Left: the data x_1 (faint blue), the conditional paths of the first n_paths pairs
    (orange, each with its own fixed eps) and the samples x_t (red; the scatter has
    gid "x_t" and its offsets are exactly `path.interpolate(x_0, x_1, t, eps)`).
    Right: sigma(t) on [0, 1] with the current t marked.

    Args:
        fig: empty Figure to draw into.
        t: time in [0, 1] (0 = noise, 1 = data).
        sigma: the scale of the schedule (>= 0).
        schedule: "constant", "bridge" or "sine" (see `fmlite.paths.sigma_schedule`).
        x_0, x_1, eps: noise, data and extra noise, each (B, 2), paired row by row.
    """
    t = check_time_value(t)
    from ..paths import LinearPath
    from ..plotting import interpolant_panel, schedule_curve
    sched = sigma_schedule(schedule, sigma)
    grid = fig.add_gridspec(1, 2, width_ratios=[1.35, 1.0])
    ax = fig.add_subplot(grid[0])
    interpolant_panel(ax, float(t), LinearPath(sched), x_0, x_1, eps, n_paths=n_paths, lim=lim)
    ax.set_title(f"x_t at t = {float(t):.2f}", y=1.0)  # fixed position: a tickless panel, no search per draw
    from ..plotting import legend_below
    legend_below(ax, ncol=3)
    ax2 = fig.add_subplot(grid[1])
    schedule_curve(ax2, sched, t_mark=float(t), label="σ(t)")
    ax2.axvline(float(t), color="k", lw=1, ls=":")
    _schedule_panel_text(ax2, sched, t, sigma, schedule)


def _schedule_panel_text(ax2, sched, t: float, sigma: float, schedule: str) -> None:
    import torch

    from ..plotting import schedule_axes
    schedule_axes(ax2, sigma)
    value = float(sched(torch.tensor([float(t)]))[0])
    ax2.set_title(f"{schedule} σ(t): σ({float(t):.2f}) = {value:.2f}")


def update_interpolation(fig: Figure, t: float, sigma: float, schedule: str, x_0, x_1, eps, lim: float = 3.0,
                         n_paths: int = 12) -> None:
    """In-place fast path of `draw_interpolation` for new t, sigma or schedule on a figure it drew: moves the
    samples, the paths, the sigma(t) curve and its marks, and retitles (the same picture as a fresh draw)."""
    t = check_time_value(t)
    from ..paths import LinearPath
    from ..plotting import update_interpolant_panel, update_schedule_curve
    sched = sigma_schedule(schedule, sigma)
    ax, ax2 = fig.axes[:2]
    update_interpolant_panel(ax, float(t), LinearPath(sched), x_0, x_1, eps, n_paths=n_paths)
    ax.set_title(f"x_t at t = {float(t):.2f}", y=1.0)  # fixed position: a tickless panel, no search per draw
    update_schedule_curve(ax2, sched, t_mark=float(t))
    ax2.lines[2].set_xdata([float(t), float(t)])
    _schedule_panel_text(ax2, sched, t, sigma, schedule)


def interpolation_explorer(x_0, x_1, eps, t: float = 0.5, sigma: float = 0.5, schedule: str = "bridge",
                           lim: float = 3.0, n_paths: int = 12, size: float = 4.2) -> Explorer:
    """Sliders for t and the sigma scale, a dropdown for the schedule; see `draw_interpolation`.

    Controls are named "t", "sigma" and "schedule" (ex.controls["t"].value = 0.7 redraws).
    """
    controls = {"t": t_slider(t, continuous_update=False),
                "sigma": float_slider("σ scale", sigma, 0.0, 1.0, 0.05, continuous_update=False),
                "schedule": dropdown("schedule", list(SIGMA_SCHEDULES), schedule)}
    return Explorer(draw_interpolation, controls, figsize=(2.2 * size, size), update=update_interpolation,
                    cheap=("t", "sigma", "schedule"), x_0=x_0, x_1=x_1, eps=eps, lim=lim,
                    n_paths=n_paths)


#: The site's sigma scales (the live slider moves in steps of 0.05; a quarter keeps 01's page small).
SIGMA_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


def site_explorers(quick: bool = False) -> list:
    """The explorers of notebook 01 as the static site offers them (`fmlite.widgets.site_grid`): the stochastic
    interpolant over t (steps of 0.05), the sigma scale (`SIGMA_GRID`) and every schedule; `quick`: a few values.

    The clouds are drawn as the notebook draws them (same seeds, same order of draws from torch's generator).
    """
    import torch

    from ..datasets import sample_2d
    from .site_grid import T_GRID, T_GRID_QUICK, SiteGrid

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)                      # the setup cell
        torch.randn(1, 2)                         # Part 1: one noise sample
        data = sample_2d("moons", 1000, seed=0)   # Part 1: the clouds
        noise = torch.randn(1000, 2)
    finally:
        torch.random.set_rng_state(state)
    eps = torch.randn(1000, 2, generator=torch.Generator().manual_seed(2))   # Part 3
    explorer = interpolation_explorer(noise, data, eps, t=0.5, sigma=0.5, schedule="bridge", lim=2.8)
    values = {"t": T_GRID_QUICK if quick else T_GRID, "sigma": (0.0, 0.5, 1.0) if quick else SIGMA_GRID,
              "schedule": ("bridge", "sine") if quick else tuple(SIGMA_SCHEDULES)}
    return [SiteGrid("interpolant", explorer, values)]

"""Notebook 05: the flow of noise points under the exact marginal field, over t, the sigma scale and the schedule.

`noise_flow` integrates the exact field of a small data set for one sigma(t) setting; `FlowCache`
keeps one trajectory per (schedule, scale), so moving t only redraws and a new sigma setting is
computed once. `draw_noise_flow(fig, ...)` is the pure drawing function; `noise_flow_explorer`
the thin `Explorer` wrapper (see `fmlite.widgets.explorer`).
"""
from __future__ import annotations

import math

import torch
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from torch import Tensor

from ..checks import check_batch, check_time_value
from .explorer import Explorer, dropdown, float_slider, t_slider
from ..paths import SIGMA_SCHEDULES, LinearPath, sigma_schedule

__all__ = ["start_noise", "noise_flow", "FlowCache", "draw_noise_flow", "update_noise_flow", "noise_flow_explorer", "site_explorers"]


def start_noise(x_0: Tensor, sigma) -> Tensor:
    """Points of p_0 made from standard-normal x_0 (B, D): x_0 sqrt(1 + sigma(0)^2), since x_t at t = 0 is
    x_0 + sigma(0) eps ~ N(0, (1 + sigma(0)^2) I) (a constant sigma > 0 blurs the start too).

    The one package definition; exercise 05.start_noise restates it with the same arguments (x_0, sigma).

    Args:
        x_0: standard-normal points (B, D) (any float dtype; integer x_0 is used as float32).
        sigma: a schedule (`fmlite.paths.Sigma`, e.g. `sigma_schedule("constant", 0.5)` or `path.sigma`),
            called on a float64 time (1,) to give sigma(0) >= 0.

    Returns:
        The points (B, D) in x_0's float dtype; x_0 itself is not changed.

    Raises:
        TypeError: sigma is not callable (pass a schedule, not its name: `sigma_schedule(name, scale)`).
        ValueError: x_0 not a tensor, 1-d, empty or holding NaN/inf (`fmlite.checks.check_batch`).
    """
    x_0 = check_batch(x_0, "x_0", owner="start_noise")
    if not callable(sigma):
        raise TypeError(f"start_noise takes a schedule sigma (callable on t), got {type(sigma).__name__}; "
                        "for a name and a scale pass fmlite.paths.sigma_schedule(name, scale)")
    s0 = float(sigma(torch.zeros(1, dtype=torch.float64))[0])
    return x_0 * math.sqrt(1.0 + s0 ** 2)


def noise_flow(data: Tensor, x_0: Tensor, schedule: str, scale: float, steps: int = 12,
               method: str = "midpoint") -> Tensor:
    """Trajectories (steps + 1, B, D) of the points `start_noise(x_0, sigma)` under the exact marginal field
    of `data` (N, D) for the linear path with sigma(t) = `sigma_schedule(schedule, scale)`, from t = 0 to 1.

    Source: `fmlite.exact.marginal_velocity` integrated with `fmlite.solvers.integrate`.
    """
    from ..exact import marginal_velocity
    from ..solvers import integrate

    sigma = sigma_schedule(schedule, scale)
    path = LinearPath(sigma)
    start = start_noise(x_0, sigma)
    return integrate(lambda x, t: marginal_velocity(x, t, data, path), start, steps, method,
                     return_trajectory=True).trajectory


class FlowCache:
    """One `noise_flow` trajectory per (schedule, scale), computed on first use and kept.

    Args:
        data: the data set (N, D). x_0: standard-normal starting points (B, D).
        steps, method: the solver settings of `noise_flow`.

    Attributes:
        computed: how many trajectories have been computed (a repeated setting does not add one).
    """

    def __init__(self, data: Tensor, x_0: Tensor, steps: int = 12, method: str = "midpoint"):
        self.data, self.x_0, self.steps, self.method = data, x_0, steps, method
        self._store: dict[tuple[str, float], Tensor] = {}
        self.extra: dict = {}  # what the explorer's fast path keeps per setting and step (arrows)
        self.computed = 0

    def __call__(self, schedule: str, scale: float) -> Tensor:
        key = (schedule, round(float(scale), 6))
        if key not in self._store:
            self._store[key] = noise_flow(self.data, self.x_0, schedule, float(scale), self.steps, self.method)
            self.computed += 1
        return self._store[key]


def draw_noise_flow(fig: Figure, t: float, sigma: float, schedule: str, cache: FlowCache, lim: float = 3.0,
                    n_trails: int = 40, n_grid: int = 13) -> None:
    """The flow of noise points at time t under the exact field for sigma(t) = schedule(scale).

    Left: the data (faint), the paths so far of the first n_trails points (orange, one LineCollection
    with gid "paths"), the points at the
    stored step nearest t (vermillion; the scatter has gid "points") and the exact marginal field at that time
    as grey arrows. Right: sigma(t) on [0, 1] with t marked.

    Args:
        fig: empty Figure. t: time in [0, 1]. sigma: the scale (>= 0). schedule: "constant", "bridge", "sine".
        cache: a `FlowCache` holding the data, the starting noise and the trajectories.
    """
    t = check_time_value(t)
    from ..exact import marginal_velocity
    from ..plotting import COLORS, field_arrows, frame_index, scatter, schedule_curve, setup_axes

    sched = sigma_schedule(schedule, sigma)
    path = LinearPath(sched)
    tr = cache(schedule, sigma)
    k = frame_index(float(t), len(tr))
    shown = k / (len(tr) - 1)
    grid = fig.add_gridspec(1, 2, width_ratios=[1.4, 1.0])
    ax = fig.add_subplot(grid[0])
    setup_axes(ax, lim)
    scatter(ax, cache.data, color="0.8", s=6, alpha=1.0)
    field_arrows(ax, lambda x, s: marginal_velocity(x, s, cache.data, path), shown, lim, n_grid,
                 **_ARROWS).set_gid("field")
    # one LineCollection (gid "paths"; empty at t = 0): much faster to lay out and render than n_trails lines
    ax.add_collection(LineCollection(_trails(tr, k, n_trails), colors=COLORS["path"], linewidths=0.9, alpha=0.7,
                                     gid="paths"))
    scatter(ax, tr[k], color=COLORS["x_t"], s=5, alpha=0.7, gid="points")
    ax.set_title(f"{schedule} σ, scale {float(sigma):.2f}: t = {shown:.2f}", y=1.0)  # fixed: no search per draw
    ax2 = fig.add_subplot(grid[1])
    schedule_curve(ax2, sched, t_mark=shown, label="σ(t)")
    _schedule_text(ax2, sched, shown, sigma)


_ARROWS = dict(color="0.45", cap=1.5, width=0.004)


def _trails(tr: Tensor, k: int, n_trails: int) -> list:
    return list(tr[:k + 1, :n_trails].permute(1, 0, 2).numpy()) if k > 0 else []


def _schedule_text(ax2, sched, shown: float, sigma: float) -> None:
    from ..plotting import schedule_axes
    schedule_axes(ax2, sigma)
    value = float(sched(torch.tensor([shown]))[0])
    ax2.set_title(f"σ({shown:.2f}) = {value:.2f}")


def update_noise_flow(fig: Figure, t: float, sigma: float, schedule: str, cache: FlowCache, lim: float = 3.0,
                      n_trails: int = 40, n_grid: int = 13) -> None:
    """In-place fast path of `draw_noise_flow` for a new t, scale or schedule: moves the points, trails and
    arrows (the arrows of each stored step are computed once and kept in the cache) and the sigma(t) curve,
    and retitles; the same picture as a fresh draw."""
    t = check_time_value(t)
    from ..exact import marginal_velocity
    from ..plotting import field_arrow_arrays, frame_index, update_field_arrows, update_schedule_curve

    sched = sigma_schedule(schedule, sigma)
    tr = cache(schedule, sigma)
    k = frame_index(float(t), len(tr))
    shown = k / (len(tr) - 1)
    key = ("arrows", schedule, round(float(sigma), 6), k, lim, n_grid)
    if key not in cache.extra:
        path = LinearPath(sched)
        cache.extra[key] = field_arrow_arrays(lambda x, s: marginal_velocity(x, s, cache.data, path), shown, lim,
                                              n_grid, scale="auto", cap=_ARROWS["cap"])
    ax, ax2 = fig.axes[:2]
    by_gid = {c.get_gid(): c for c in ax.collections}
    update_field_arrows(by_gid["field"], None, shown, lim, n_grid, arrays=cache.extra[key])
    by_gid["paths"].set_segments(_trails(tr, k, n_trails))
    by_gid["points"].set_offsets(tr[k].numpy())
    ax.set_title(f"{schedule} σ, scale {float(sigma):.2f}: t = {shown:.2f}", y=1.0)
    update_schedule_curve(ax2, sched, t_mark=shown)
    _schedule_text(ax2, sched, shown, sigma)


def noise_flow_explorer(data: Tensor, x_0: Tensor, t: float = 0.5, sigma: float = 1.0, schedule: str = "sine",
                        steps: int = 12, max_scale: float = 2.0, lim: float = 3.0, size: float = 4.2) -> Explorer:
    """Sliders t and "σ scale" and a schedule menu over `draw_noise_flow`; trajectories are computed per
    (schedule, scale) on first use and cached (`ex.fixed["cache"]`), so moving t only redraws.

    Controls are named "t", "sigma" and "schedule".
    """
    cache = FlowCache(data, x_0, steps)
    controls = {"t": t_slider(t, step=1.0 / steps),
                "sigma": float_slider("σ scale", sigma, 0.0, max_scale, 0.25, continuous_update=False),
                "schedule": dropdown("schedule", list(SIGMA_SCHEDULES), schedule)}
    return Explorer(draw_noise_flow, controls, figsize=(2.2 * size, size), update=update_noise_flow,
                    cheap=("t", "sigma", "schedule"), cache=cache, lim=lim)


# ----------------------------------------------------------------------------- the static site (issue 22)
#: Where the site's t control stops for notebook 05's explorer: the live slider's own positions, t = k/12
#: (its step is 1/steps with steps = 12, and the picture shows the stored step nearest t). Steps of 0.05
#: (`site_grid.T_GRID`) would offer 21 readouts for these 13 pictures, most of them disagreeing with the
#: title's t (0.05 would show t = 0.08), and readouts the live slider never shows.
SITE_T = tuple(k / 12 for k in range(13))
#: The "σ scale" values the site offers: the slider's min and max (0, 2) and three between, all on its 0.25 step.
SITE_SIGMA = (0.0, 0.5, 1.0, 1.5, 2.0)


def _notebook_noise_flow() -> Explorer:
    """Notebook 05's explorer (section 4), built from what its cells build it from:

    - setup cell: `lecture_style()` (the picture's fonts; set here too, see `site_explorers`);
    - section 2: `data = sample_2d("moons", 200, seed=0)`;
    - section 3: `x_0 = torch.randn(600, 2, generator=torch.Generator().manual_seed(2))`;
    - section 4: `small = data[:60]`, then `noise_flow_explorer(small, x_0[:300], t=0.5, sigma=1.0, schedule="sine")`.

    Every input has its own seed (sample_2d's seed, the generator), so nothing the notebook runs in between
    changes them; the setup cell's `torch.set_num_threads(1)` does not change the picture (checked, see
    tests/test_explorers_05.py: the rebuilt picture equals the saved one byte for byte).
    """
    from ..datasets import sample_2d

    data = sample_2d("moons", 200, seed=0)
    x_0 = torch.randn(600, 2, generator=torch.Generator().manual_seed(2))
    small = data[:60]
    return noise_flow_explorer(small, x_0[:300], t=0.5, sigma=1.0, schedule="sine")


def site_explorers(quick: bool = False) -> list:
    """Notebook 05's explorers as the static site offers them (`fmlite.widgets.site_grid`), in notebook order.

    One explorer, "noise-flow": t at the live slider's 13 positions k/12 (`SITE_T`), σ scale at 0, 0.5, 1,
    1.5, 2 (`SITE_SIGMA`), every schedule: 195 settings. `quick=True`: t 0, 0.5, 1; σ scale 0 and 2; the
    schedules "sine" and "constant": 12 settings.

    Calls `fmlite.plotting.lecture_style()`, as the notebook's setup cell does: the pictures are drawn when
    the grid is rendered, with the rcParams then in effect, so render before changing the style. The
    lecture scale (FMLITE_LECTURE_SCALE) should be unset, as when the notebook was saved (960 px pictures).
    """
    from ..plotting import lecture_style
    from .site_grid import T_GRID_QUICK, SiteGrid

    lecture_style()
    explorer = _notebook_noise_flow()
    if quick:
        values = {"t": T_GRID_QUICK, "sigma": (0.0, 2.0), "schedule": ("sine", "constant")}
    else:
        values = {"t": SITE_T, "sigma": SITE_SIGMA, "schedule": tuple(SIGMA_SCHEDULES)}
    return [SiteGrid("noise-flow", explorer, values)]

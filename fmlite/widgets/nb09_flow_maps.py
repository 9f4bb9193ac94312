"""Notebook 09: the flow map ψ_{t←s} and the average velocity ū(x, s, t), exact against learned, over (s, t) and steps.

A pure `draw_flow_map(fig, ...)` (tests and static figures call it) plus a thin `Explorer` wrapper (see
`fmlite.widgets.explorer`) with a range slider for (s, t) (it keeps s <= t) and a steps slider (1-8).
`FlowMapTables` computes everything the explorer shows once, when it is built: the exact flow map of a finite
data set between every pair of times of the slider's grid (fine RK4 of `fmlite.exact.marginal_velocity`), the
learned jumps per pair on demand (one network call each, then kept) and the k-step samples for k = 1..8; a move
only looks up and moves artists.
"""
from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ..checks import check_count, check_time_value
from .explorer import Explorer

__all__ = ["STEPS_MAX", "FlowMapTables", "flow_table", "draw_flow_map", "update_flow_map", "flow_map_explorer",
           "site_explorers"]

#: The steps slider runs over 1..STEPS_MAX jumps.
STEPS_MAX = 8
#: The arrow length drawn per unit of speed (data units per unit of velocity): one arrow is the displacement over
#: a quarter of the time range, the same in every setting so lengths compare.
ARROW_TIME = 0.25


def flow_table(velocity, x: Tensor, grid: Tensor, substeps: int = 5, starts=None) -> Tensor:
    """ψ_{grid[j]←grid[i]}(x) for every pair i <= j by RK4, all starts integrated together on one fine grid.

    Args:
        velocity: v(x (B, D), t (B,)) -> (B, D), e.g. the exact marginal field of a data set.
        x: points (B, D). grid: increasing times (G,) in [0, 1]. substeps: RK4 steps between grid neighbours.
        starts: indices of the start times to integrate from (default: all G).

    Returns:
        (len(starts), G, B, D): entry [a, j] is ψ_{grid[j]←grid[starts[a]]}(x); NaN where j < starts[a].

    Raises:
        ValueError: grid not increasing or outside [0, 1]; substeps not a whole number >= 1.
    """
    substeps = check_count(substeps, "substeps")
    grid = torch.as_tensor(grid, dtype=x.dtype)
    if grid.dim() != 1 or (grid.diff() <= 0).any() or grid.min() < 0 or grid.max() > 1:
        raise ValueError(f"grid must be increasing times in [0, 1], got {grid.tolist()}")
    starts = list(range(len(grid))) if starts is None else [int(a) for a in starts]
    B, D, G = x.shape[0], x.shape[1], len(grid)
    table = torch.full((len(starts), G, B, D), float("nan"), dtype=x.dtype)
    state = x.expand(len(starts), B, D).clone()
    begun = torch.zeros(len(starts), dtype=torch.bool)
    with torch.no_grad():
        for j in range(G):
            begun |= torch.tensor([a == j for a in starts])
            table[begun, j] = state[begun]
            if j == G - 1 or not begun.any():
                continue
            live = state[begun].reshape(-1, D)             # every started row moves on; the rest wait at x
            h = float(grid[j + 1] - grid[j]) / substeps
            for k in range(substeps):
                tau = float(grid[j]) + k * h
                t0, tm, t1 = (torch.full((len(live),), v, dtype=x.dtype) for v in (tau, tau + h / 2, min(tau + h, 1.0)))
                k1 = velocity(live, t0)
                k2 = velocity(live + h / 2 * k1, tm)
                k3 = velocity(live + h / 2 * k2, tm)
                k4 = velocity(live + h * k3, t1)
                live = live + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            state[begun] = live.reshape(-1, B, D)
    return table


class FlowMapTables:
    """Everything the flow-map explorer shows, computed once (exact) or once per setting (learned).

    Args:
        model: a flow-map network ū_θ(x, s, t) (e.g. `fmlite.load_pretrained("moons_meanflow")`).
        velocity: the exact marginal field u_t(x) of a finite data set, v(x (B, 2), t (B,)) -> (B, 2).
        x_0: noise (P, 2): the points that jump. grid: the slider's times (G,), 0 and 1 included.
        lim: half-width of the panels; the arrows sit on an n_arrows x n_arrows grid of [-lim, lim]^2.
        substeps: RK4 steps of the exact flow between grid neighbours.

    Attributes:
        grid (G,), arrows_at (A, 2), exact_arrows (G, G, A, 2): exact ū at the arrows; velocity_arrows (G, A, 2):
        u_s at the arrows; cloud (G, P, 2): ψ_{grid[j]←0}(x_0), samples of p_t of the finite data set.
    """

    def __init__(self, model, velocity, x_0: Tensor, grid, lim: float = 3.0, n_arrows: int = 11, substeps: int = 5):
        self.model, self.lim = model, lim
        self.grid = torch.as_tensor(grid, dtype=torch.float64)
        x_0 = x_0.detach().to(torch.float64)
        side = torch.linspace(-lim * 0.9, lim * 0.9, n_arrows, dtype=torch.float64)
        self.arrows_at = torch.cartesian_prod(side, side)
        G = len(self.grid)
        psi = flow_table(velocity, self.arrows_at, self.grid, substeps)            # (G, G, A, 2)
        with torch.no_grad():
            self.velocity_arrows = torch.stack([velocity(self.arrows_at, torch.full((len(self.arrows_at),), float(s),
                                                dtype=torch.float64)) for s in self.grid])
        gap = (self.grid[None, :] - self.grid[:, None])[:, :, None, None]
        mean = (psi - self.arrows_at) / torch.where(gap > 0, gap, torch.ones_like(gap))
        eye = torch.eye(G, dtype=torch.bool)[:, :, None, None]
        self.exact_arrows = torch.where(eye, self.velocity_arrows[:, None], mean)
        self.cloud = flow_table(velocity, x_0, self.grid, substeps, starts=[0])[0]   # (G, P, 2)
        self._learned: dict = {}
        self._samples: dict = {}
        self._energy: dict = {}

    def index(self, time: float) -> int:
        """The grid index of a time on the grid. Raises ValueError for a time off the grid."""
        i = int(torch.argmin((self.grid - time).abs()))
        if abs(float(self.grid[i]) - time) > 1e-9:
            raise ValueError(f"time {time} is not on the explorer's grid {[round(float(g), 4) for g in self.grid]}")
        return i

    def learned(self, i: int, j: int) -> tuple[Tensor, Tensor]:
        """(ū_θ at the arrows (A, 2), the cloud after one learned jump from grid[i] to grid[j] (P, 2)), kept."""
        if (i, j) not in self._learned:
            x_s = self.cloud[i]
            x = torch.cat([self.arrows_at, x_s]).to(_dtype(self.model))
            n = len(x)
            with torch.no_grad():
                u = self.model(x, torch.full((n,), float(self.grid[i]), dtype=x.dtype),
                               torch.full((n,), float(self.grid[j]), dtype=x.dtype)).double()
            A = len(self.arrows_at)
            self._learned[(i, j)] = (u[:A], x_s + (self.grid[j] - self.grid[i]) * u[A:])
        return self._learned[(i, j)]

    def samples(self, steps: int) -> Tensor:
        """The learned k-step samples from the cloud's noise (P, 2), `fmlite.flow_maps.sample_flow_map`, kept."""
        if steps not in self._samples:
            from ..flow_maps import sample_flow_map
            x_0 = self.cloud[0].to(_dtype(self.model))
            self._samples[steps] = sample_flow_map(self.model, x_0, steps).x.double()
        return self._samples[steps]


    def energy(self, steps: int, target) -> float:
        """`fmlite.metrics.energy_distance` of the k-step samples to `target`, kept per steps (one target)."""
        if steps not in self._energy:
            from ..metrics import energy_distance
            self._energy[steps] = float(energy_distance(self.samples(steps), torch.as_tensor(target).double()))
        return self._energy[steps]


def _dtype(model) -> torch.dtype:
    p = next(iter(model.parameters()), None) if isinstance(model, torch.nn.Module) else None
    return torch.float64 if p is None else p.dtype


def _capped(v: Tensor, cap: float) -> np.ndarray:
    """Arrows of length ARROW_TIME |v|, longer ones shortened to `cap` (direction kept)."""
    d = (ARROW_TIME * v).numpy()
    n = np.linalg.norm(d, axis=1, keepdims=True)
    return d * np.minimum(1.0, cap / np.maximum(n, 1e-12))


def _check(times, steps):
    if not isinstance(times, (tuple, list)) or len(times) != 2:
        raise ValueError(f"times must be a pair (s, t), got {times!r}")
    s, t = (check_time_value(v, name) for v, name in zip(times, ("s", "t")))
    if s > t:
        raise ValueError(f"s must not exceed t (the explorer jumps forwards, noise to data), got s = {s}, t = {t}")
    return s, t, check_count(steps, "steps")


def _titles(s: float, t: float, steps: int, tables: "FlowMapTables", target) -> list[str]:
    jump = "s = t: ū(x, s, s) = u_s(x)" if s == t else f"one jump from s = {s:.2f} to t = {t:.2f}"
    ed = "" if target is None else f", ED {tables.energy(steps, target):.3f}"
    return [f"exact ū(·, s, t) and u_s\ns = {s:.2f}, t = {t:.2f}", f"{jump}\nlearned vs exact",
            f"learned, {steps} jump{'s' if steps > 1 else ''}\n{steps} network call{'s' if steps > 1 else ''}{ed}"]


def draw_flow_map(fig: Figure, times, steps: int, tables: FlowMapTables, target=None) -> None:
    """Three panels: (1) the exact average velocity ū(·, s, t) (purple) beside the velocity u_s (grey) as arrows,
    each ARROW_TIME time units long; (2) the cloud at s, x_s = ψ_{s←0}(x_0) (grey), after one jump to t, exact
    ψ_{t←s}(x_s) (purple) and learned x_s + (t − s) ū_θ(x_s, s, t) (green); (3) the learned `steps`-jump samples
    (green) over the data (blue), with the energy distance to `target` in the title.

    Args:
        fig: empty Figure. times: (s, t) on the tables' grid, s <= t. steps: jumps, a whole number >= 1.
        tables: a `FlowMapTables`. target: optional fresh data (M, 2) drawn faint and measured against.

    Raises:
        ValueError: s > t, a time outside [0, 1] or off the grid, steps not a whole number >= 1.
    """
    from ..plotting import COLORS, legend_below, setup_axes
    s, t, steps = _check(times, steps)
    i, j = tables.index(s), tables.index(t)
    lim, cap = tables.lim, 1.2 * (2 * tables.lim * 0.9 / (int(len(tables.arrows_at) ** 0.5) - 1))
    axes = [fig.add_subplot(1, 3, k + 1) for k in range(3)]
    for ax in axes:
        setup_axes(ax, lim)
    X, Y = tables.arrows_at[:, 0].numpy(), tables.arrows_at[:, 1].numpy()
    u, ubar = _capped(tables.velocity_arrows[i], cap), _capped(tables.exact_arrows[i, j], cap)
    kw = dict(angles="xy", scale_units="xy", scale=1.0)
    if target is not None:
        axes[0].scatter(*torch.as_tensor(target)[:1000].double().numpy().T, s=2, color=COLORS["data"], alpha=0.15)
    axes[0].quiver(X, Y, u[:, 0], u[:, 1], color=COLORS["noise"], width=0.006, gid="u_s", label=r"$u_s$", **kw)
    axes[0].quiver(X, Y, ubar[:, 0], ubar[:, 1], color=COLORS["exact"], width=0.005, gid="ubar",
                   label=r"exact $\bar u(\cdot, s, t)$", **kw)
    _, jumped = tables.learned(i, j)
    axes[1].scatter(*tables.cloud[i].numpy().T, s=5, color=COLORS["noise"], alpha=0.5, gid="x_s", label=r"$x_s$")
    axes[1].scatter(*tables.cloud[j].numpy().T, s=7, color=COLORS["exact"], alpha=0.8, gid="exact",
                    label=r"exact $\psi_{t\leftarrow s}(x_s)$")
    axes[1].scatter(*jumped.numpy().T, s=7, color=COLORS["model"], alpha=0.8, gid="learned",
                    label="learned, one call")
    if target is not None:
        axes[2].scatter(*torch.as_tensor(target)[:1000].double().numpy().T, s=3, color=COLORS["data"], alpha=0.25,
                        gid="data", label="data")
    axes[2].scatter(*tables.samples(steps).numpy().T, s=7, color=COLORS["model"], alpha=0.8, gid="samples",
                    label="learned samples")
    for ax, title in zip(axes, _titles(s, t, steps, tables, target)):
        ax.set_title(title, fontsize="medium")
        legend_below(ax, ncol=1, fontsize="x-small")
    fig._fmlite_flow_map = (i, j, steps)     # what is on show: the fast path changes only what differs


def update_flow_map(fig: Figure, times, steps: int, tables: FlowMapTables, target=None) -> None:
    """In-place fast path of `draw_flow_map` for new (s, t) or steps: new arrows, points moved, new titles."""
    s, t, steps = _check(times, steps)
    i, j = tables.index(s), tables.index(t)
    cap = 1.2 * (2 * tables.lim * 0.9 / (int(len(tables.arrows_at) ** 0.5) - 1))
    by_gid = {a.get_gid(): a for ax in fig.axes for a in ax.collections}
    shown = getattr(fig, "_fmlite_flow_map", None)
    if shown is None or "u_s" not in by_gid:
        return False                                    # not a figure draw_flow_map drew: redraw
    if shown[:2] != (i, j):
        if shown[0] != i:
            u = _capped(tables.velocity_arrows[i], cap)
            by_gid["u_s"].set_UVC(u[:, 0], u[:, 1])
            by_gid["x_s"].set_offsets(tables.cloud[i].numpy())
        ubar = _capped(tables.exact_arrows[i, j], cap)
        by_gid["ubar"].set_UVC(ubar[:, 0], ubar[:, 1])
        if shown[1] != j:
            by_gid["exact"].set_offsets(tables.cloud[j].numpy())
        by_gid["learned"].set_offsets(tables.learned(i, j)[1].numpy())
    if shown[2] != steps:
        by_gid["samples"].set_offsets(tables.samples(steps).numpy())
    for ax, title in zip(fig.axes, _titles(s, t, steps, tables, target)):
        if ax.get_title() != title:
            ax.set_title(title, fontsize="medium")
    fig._fmlite_flow_map = (i, j, steps)


def flow_map_explorer(model, velocity, x_0, target=None, grid_step: float = 0.1, times=(0.0, 1.0), steps: int = 1,
                      lim: float = 3.0, size: float = 3.4, tables: FlowMapTables | None = None) -> Explorer:
    """A range slider for (s, t) (s <= t, on a grid of `grid_step`) and a steps slider (1..STEPS_MAX) over
    `draw_flow_map`; the exact flow map between every pair of grid times is computed here (`FlowMapTables`).

    Args:
        model: flow-map network ū_θ(x, s, t). velocity: the exact field u_t(x) of a finite data set.
        x_0: noise (P, 2). target: fresh data (M, 2) for the energy distance, or None.
        grid_step: the slider's step, 1 / grid_step a whole number. times, steps: the starting values.
        tables: `FlowMapTables` already built from these inputs on this grid (as for a static figure), or None.

    Raises:
        ValueError: grid_step not 1 / n; tables on another grid.
    """
    import ipywidgets as widgets
    n = round(1 / grid_step)
    if n < 1 or abs(n * grid_step - 1) > 1e-9:
        raise ValueError(f"grid_step must divide 1 into a whole number of steps, got {grid_step}")
    grid = torch.linspace(0, 1, n + 1, dtype=torch.float64)
    if tables is None:
        tables = FlowMapTables(model, velocity, x_0, grid, lim=lim)
    elif not torch.allclose(tables.grid, grid):
        raise ValueError(f"the tables' grid {tables.grid.tolist()} is not the slider's grid of step {grid_step}")
    controls = {"times": widgets.FloatRangeSlider(value=tuple(times), min=0.0, max=1.0, step=grid_step,
                                                  description="s, t", readout_format=".2f", continuous_update=True),
                "steps": widgets.IntSlider(value=steps, min=1, max=STEPS_MAX, step=1, description="steps",
                                           continuous_update=True)}
    return Explorer(draw_flow_map, controls, figsize=(3 * size, size + 0.6), update=update_flow_map,
                    cheap=("times", "steps"), tables=tables, target=target)


# ----------------------------------------------------------------------------- the static site
def _notebook_flow_map() -> Explorer:
    """Notebook 09's explorer (section 5), built from what its cells build it from:

    - setup cell: `lecture_style()`;
    - section 1: `data = sample_2d("moons", 256, seed=0).double()` (the finite data set) and its exact field
      `marginal_velocity(x, t, data, LinearPath())`;
    - section 2: `x_0 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)`;
    - section 3: `meanflow = load_pretrained("moons_meanflow")`, `fresh = sample_2d("moons", 2000, seed=1)`;
    - section 5: `tables = FlowMapTables(meanflow, exact, x_0[:300].float(), torch.linspace(0, 1, 11))` and
      `flow_map_explorer(meanflow, exact, x_0[:300].float(), target=fresh, times=(0.3, 0.7), steps=2,
      tables=tables)` (the tables are those the explorer builds itself; the static figure only reads them).
    """
    from ..datasets import sample_2d
    from ..exact import marginal_velocity
    from ..paths import LinearPath
    from ..pretrained import load_pretrained

    data = sample_2d("moons", 256, seed=0).double()
    path = LinearPath()
    x_0 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    fresh = sample_2d("moons", 2000, seed=1)
    return flow_map_explorer(load_pretrained("moons_meanflow"), lambda x, t: marginal_velocity(x, t, data, path),
                             x_0[:300].float(), target=fresh, times=(0.3, 0.7), steps=2)


def site_explorers(quick: bool = False) -> list:
    """Notebook 09's explorer as the static site offers it (`fmlite.widgets.site_grid`).

    One explorer, "flow-map": every pair s <= t of the slider's grid (0, 0.1, ..., 1: 66 pairs, which the site's
    one slider steps through in the order (0, 0), (0, 0.1), ..., (0, 1), (0.1, 0.1), ...) and steps 1, 2, 4, 8:
    264 settings. `quick=True`: the pairs (0, 1), (0.5, 0.5), (0.3, 0.7) and steps 1 and 8: 6 settings.
    Calls `fmlite.plotting.lecture_style()`, as the notebook's setup cell does.
    """
    from ..plotting import lecture_style
    from .site_grid import SiteGrid

    lecture_style()
    explorer = _notebook_flow_map()
    grid = [round(0.1 * k, 1) for k in range(11)]
    pairs = ((0.0, 1.0), (0.5, 0.5), (0.3, 0.7)) if quick else tuple((a, b) for a in grid for b in grid if a <= b)
    steps = (1, 8) if quick else (1, 2, 4, 8)
    return [SiteGrid("flow-map", explorer, {"times": pairs, "steps": steps})]   # pairs read out "0.30 – 0.70"

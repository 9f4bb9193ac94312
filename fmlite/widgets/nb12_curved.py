"""Notebook 12: a flow on the sphere (an orthographic view turned by a view-angle control) and on the unrolled
flat torus, the learned flow beside the exact field of a finite data set.

`curved_flow(...)` precomputes everything a move needs once: the learned flow's Riemannian Euler trajectory of a
few hundred uniform points, the exact field's trajectory of the same points, and grid points where both fields are
drawn as tangent arrows (cached per t). `draw_curved_flow(fig, t, view, flow)` is the pure drawing function;
`update_curved_flow` moves the points and arrows in place; `sphere_flow_explorer` / `torus_flow_explorer` are the
thin ipywidgets wrappers. t = 0 is the uniform source, t = 1 the data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from matplotlib.figure import Figure
from torch import Tensor

from ..checks import check_count, check_time_value
from .explorer import Explorer, float_slider, t_slider

__all__ = ["CurvedFlow", "curved_flow", "draw_curved_flow", "update_curved_flow", "sphere_flow_explorer",
           "torus_flow_explorer", "arrow_grid", "notebook_flows", "site_explorers"]

#: Arrow length per unit of speed (data units): the sphere has radius 1, the unrolled torus side 2π.
ARROW = {"sphere": 0.2, "torus": 0.3}


@dataclass
class CurvedFlow:
    """What the explorer draws, computed once by `curved_flow`.

    Attributes:
        space: `fmlite.manifolds.Sphere()` or `FlatTorus()`.
        learned: the network v(x, t) (tangent outputs). data: the finite data set (N, D) of the exact field.
        frames: (steps + 1, B, D) the learned flow's Euler trajectory; exact_frames: the exact field's one.
        grid: (M, D) points where the fields are drawn as arrows. cache: t -> (learned arrows, exact arrows).
    """
    space: object
    learned: object
    data: Tensor
    frames: Tensor
    exact_frames: Tensor
    grid: Tensor
    cache: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.frames.shape[0] - 1

    def arrows(self, t: float) -> tuple[Tensor, Tensor]:
        """(learned, exact) velocities (M, D) at the grid points at time t; at t = 1 the exact field is not
        defined (every point has arrived) and is NaN (no arrows drawn)."""
        if t not in self.cache:
            from ..manifolds import marginal_velocity
            tt = torch.full((len(self.grid),), float(t), dtype=self.grid.dtype)
            with torch.no_grad():
                learned = self.learned(self.grid, tt).to(self.grid.dtype)
            exact = (torch.full_like(self.grid, float("nan")) if t >= 1.0
                     else marginal_velocity(self.space, self.grid, self.data, tt))
            self.cache[t] = (learned, exact)
        return self.cache[t]

    def frame(self, t: float) -> int:
        return round(t * self.steps)


def arrow_grid(space, n: int) -> Tensor:
    """Arrow positions (float32): on the sphere a Fibonacci lattice of n points (M = n, evenly spread, (M, 3)); on
    the torus a square lattice of side round(sqrt(n)) cell centres ((M, 2) angles in (0, 2π)). Raises ValueError
    for n not a whole number >= 1."""
    n = check_count(n, "n")
    if space.name == "sphere":
        k = torch.arange(n, dtype=torch.float64) + 0.5
        z = 1 - 2 * k / n
        phi = k * math.pi * (3 - math.sqrt(5))
        r = (1 - z ** 2).sqrt()
        return torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], 1).float()
    side = int(round(math.sqrt(n)))
    s = (torch.arange(side, dtype=torch.float32) + 0.5) * (2 * math.pi / side)
    return torch.stack(torch.meshgrid(s, s, indexing="xy"), -1).reshape(-1, 2)


def curved_flow(space, learned, data: Tensor, x_0: Tensor, steps: int = 100, n_grid: int = 120) -> CurvedFlow:
    """Precompute the explorer's flows: Riemannian Euler (`fmlite.manifolds.integrate_manifold`) of the learned
    field and of the exact marginal field of `data` (N, D), both from x_0 (B, D) in `steps` steps, and the arrow
    grid (n_grid points on the sphere, about n_grid on the torus as a square lattice).

    Raises:
        ValueError: steps or n_grid not a whole number >= 1; x_0 or data not on the space (from fmlite.manifolds).
    """
    from ..manifolds import get_space, integrate_manifold, marginal_velocity
    steps, n_grid = check_count(steps, "steps"), check_count(n_grid, "n_grid")
    space = get_space(space) if isinstance(space, str) else space
    with torch.no_grad():
        frames = integrate_manifold(space, learned, x_0, steps, return_trajectory=True).trajectory
    exact = integrate_manifold(space, lambda x, t: marginal_velocity(space, x, data, t), x_0, steps,
                               return_trajectory=True).trajectory
    return CurvedFlow(space, learned, data, frames, exact, arrow_grid(space, n_grid))


def _titles(t: float, flow: CurvedFlow) -> tuple[str, str]:
    exact = "exact field: every point has arrived" if t >= 1.0 else f"exact field of N = {len(flow.data)} points"
    return f"learned flow, t = {t:.2f}", f"{exact}, t = {t:.2f}"


def draw_curved_flow(fig: Figure, t: float, flow: CurvedFlow, view: float = 0.0) -> None:
    """Two panels at time t: the learned flow (points moved by Riemannian Euler, vermillion; the learned field as
    green arrows) and the exact field of the data set (its flow's points and pink arrows; the data faint blue).
    On the sphere `view` (degrees) turns the orthographic view about the vertical axis; on the torus it is unused.
    Raises ValueError for t outside [0, 1] or a non-finite view."""
    t = check_time_value(t)
    from ..plotting import COLORS
    from ..plotting import manifolds as P
    learned, exact = flow.arrows(t)
    titles = _titles(t, flow)
    sphere = flow.space.name == "sphere"
    az = math.radians(float(view))
    scale = 1 / ARROW[flow.space.name]
    for i, (points, arrows, color) in enumerate(((flow.frames, learned, COLORS["model"]),
                                                (flow.exact_frames, exact, COLORS["exact"]))):
        ax = fig.add_subplot(1, 2, i + 1)
        x = points[flow.frame(t)]
        if sphere:
            P.sphere_axes(ax, az, titles[i])
            ax._fmlite_view = az
            if i == 1:
                P.sphere_scatter(ax, flow.data, az, color=COLORS["data"], s=10)
            P.sphere_scatter(ax, x, az)
            P.sphere_arrows(ax, flow.grid, arrows, az, color=color, scale=scale)
        else:
            P.torus_axes(ax, titles[i])
            if i == 1:
                d = flow.data.numpy()
                ax.scatter(d[:, 0], d[:, 1], s=10, color=COLORS["data"], lw=0, zorder=1)
            ax.scatter(x[:, 0], x[:, 1], s=6, color=COLORS["x_t"], lw=0, zorder=3)
            g, a = flow.grid.numpy(), arrows.numpy()
            ax.quiver(g[:, 0], g[:, 1], a[:, 0], a[:, 1], color=color, angles="xy", scale_units="xy", scale=scale,
                      width=0.005, zorder=4)


def update_curved_flow(fig: Figure, t: float, flow: CurvedFlow, view: float = 0.0) -> None:
    """In-place fast path of `draw_curved_flow` for a new t or view: moves the points and arrows, new titles; the
    sphere's graticule depends on the view, so a view move redraws the outline lines too."""
    t = check_time_value(t)
    from ..plotting import manifolds as P
    from matplotlib.collections import PathCollection
    from matplotlib.quiver import Quiver
    learned, exact = flow.arrows(t)
    titles = _titles(t, flow)
    az = math.radians(float(view))
    for i, (ax, points, arrows) in enumerate(zip(fig.axes, (flow.frames, flow.exact_frames), (learned, exact))):
        x = points[flow.frame(t)]
        scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
        q = next(c for c in ax.collections if isinstance(c, Quiver))
        if flow.space.name == "sphere":
            if i == 1:                                  # each sphere_scatter added (far, near), returned (near, far)
                P.update_sphere_scatter(scatters[1::-1], flow.data, az)
                scatters = scatters[2:]
            P.update_sphere_scatter(scatters[1::-1], x, az)
            P.update_sphere_arrows(q, flow.grid, arrows, az)
            if getattr(ax, "_fmlite_view", None) != az:    # the outline lines move with the view only
                _update_graticule(ax, az)
                ax._fmlite_view = az
        else:
            scatters[-1].set_offsets(x.numpy())
            q.set_UVC(arrows[:, 0].numpy(), arrows[:, 1].numpy())
        ax.set_title(titles[i])


def _update_graticule(ax, az: float) -> None:
    import numpy as np
    from ..plotting.manifolds import orthographic
    s = np.linspace(0, 2 * np.pi, 181)
    circles = [np.stack([np.cos(s), np.sin(s), 0 * s], 1), np.stack([np.cos(s), 0 * s, np.sin(s)], 1),
               np.stack([0 * s, np.cos(s), np.sin(s)], 1)]
    for k, c in enumerate(circles):
        xy, depth = orthographic(c, az)
        ax.lines[2 * k].set_data(*np.where(depth >= 0, xy.T, np.nan))
        ax.lines[2 * k + 1].set_data(*np.where(depth < 0, xy.T, np.nan))


def sphere_flow_explorer(flow: CurvedFlow, t: float = 0.5, view: float = 30.0, size: float = 3.8) -> Explorer:
    """A t slider (steps of 0.01, the precomputed frames) and a view-angle slider (degrees, 0-360 in steps of 5)
    over `draw_curved_flow` on the sphere."""
    controls = {"t": t_slider(t, step=0.01), "view": float_slider("view", view, 0.0, 360.0, step=5.0)}
    return Explorer(draw_curved_flow, controls, figsize=(2 * size, size + 0.3), update=update_curved_flow,
                    cheap=("t", "view"), flow=flow)


def torus_flow_explorer(flow: CurvedFlow, t: float = 0.5, size: float = 3.8) -> Explorer:
    """A t slider (steps of 0.01) over `draw_curved_flow` on the unrolled torus."""
    return Explorer(draw_curved_flow, {"t": t_slider(t, step=0.01)}, figsize=(2 * size, size + 0.3),
                    update=update_curved_flow, cheap=("t",), flow=flow)


# ----------------------------------------------------------------------------- the static site (issue 22)
def notebook_flows() -> tuple[CurvedFlow, CurvedFlow]:
    """The two flows of notebook 12's explorers, built as its section 7 builds them: the shipped models
    "sphere_vmf" and "torus_gaussians" (`load_pretrained`), 300 uniform points (seeds 12 and 13), the exact field
    of 64 points of "vmf_mixture" and "wrapped_gaussians" (seeds 5 and 6), 100 Riemannian Euler steps."""
    from ..manifolds import FlatTorus, Sphere, sample_manifold_data
    from ..pretrained import load_pretrained
    sphere, torus = Sphere(), FlatTorus()
    flows = []
    for space, model, data_name, seeds in ((sphere, "sphere_vmf", "vmf_mixture", (12, 5)),
                                           (torus, "torus_gaussians", "wrapped_gaussians", (13, 6))):
        x_0 = space.sample_uniform(300, generator=torch.Generator().manual_seed(seeds[0]))
        data = sample_manifold_data(data_name, 64, seed=seeds[1])
        flows.append(curved_flow(space, load_pretrained(model), data, x_0))
    return tuple(flows)


def site_explorers(quick: bool = False) -> list:
    """Notebook 12's explorers as the static site offers them: "sphere-flow" (t in steps of 0.05 x view 0, 45, ...,
    315 degrees: 168 settings; quick: t 0, 0.5, 1 x view 0, 90: 6) and "torus-flow" (t in steps of 0.05: 21
    settings; quick: 3). Calls `lecture_style()` as the notebook's setup cell does."""
    from ..plotting import lecture_style
    from .site_grid import T_GRID, T_GRID_QUICK, SiteGrid
    lecture_style()
    sphere, torus = notebook_flows()
    views = (0.0, 90.0) if quick else tuple(float(v) for v in range(0, 360, 45))
    ts = T_GRID_QUICK if quick else T_GRID
    return [SiteGrid("sphere-flow", sphere_flow_explorer(sphere), {"t": ts, "view": views}),
            SiteGrid("torus-flow", torus_flow_explorer(torus), {"t": ts})]

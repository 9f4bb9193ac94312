"""Points and paths: clouds, conditional paths, trajectories and the frame shown at a time t.

Part of `fmlite.plotting` (see its docstring); import from `fmlite.plotting`.
"""
from __future__ import annotations

import torch
from matplotlib.axes import Axes

from ..checks import check_count, check_path, check_time_value
from .style import COLORS, setup_axes, to_numpy

__all__ = ["scatter", "trajectories", "conditional_paths", "velocity_arrows", "interpolant_panel",
           "update_interpolant_panel",
           "frame_index", "flow_snapshot", "solver_panel", "update_solver_panel"]


def scatter(ax: Axes, x, color: str | None = None, s: float = 4, alpha: float = 0.6, label: str | None = None,
            **kw):
    """Scatter a point cloud x (N, 2); returns the PathCollection (update it with set_offsets)."""
    x = to_numpy(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"scatter needs points of shape (N, 2), got {x.shape}")
    return ax.scatter(x[:, 0], x[:, 1], s=s, alpha=alpha, color=color or COLORS["data"], label=label,
                      linewidths=0, **kw)


def trajectories(ax: Axes, trajectory, n: int = 50, color: str | None = None, alpha: float = 0.5, ends: bool = True):
    """Draw the first n paths of a trajectory (K + 1, B, 2) as lines, with start (grey) and end (blue) dots.

    Raises:
        ValueError: n not a whole number >= 1, or a trajectory of another shape.
    """
    tr = to_numpy(trajectory)[:, :check_count(n, "n")]
    if tr.ndim != 3 or tr.shape[2] != 2:
        raise ValueError(f"trajectories needs shape (K + 1, B, 2), got {tr.shape}")
    for i in range(tr.shape[1]):
        ax.plot(tr[:, i, 0], tr[:, i, 1], color=color or COLORS["path"], alpha=alpha, lw=1)
    if ends:
        ax.scatter(tr[0, :, 0], tr[0, :, 1], s=10, color=COLORS["noise"], zorder=3)
        ax.scatter(tr[-1, :, 0], tr[-1, :, 1], s=10, color=COLORS["data"], zorder=3)


def conditional_paths(ax: Axes, x_0, x_1, path=None, eps=None, n: int = 10, t_max: float = 1.0, steps: int = 60,
                      color: str | None = None, alpha: float = 0.8, lw: float = 1.5, ends: bool = True) -> list:
    """Draw the conditional paths s -> x_s, s in [0, t_max], of the first n pairs (x_0[i], x_1[i]).

    Each pair keeps one eps for the whole path, so with sigma(t) != 0 the path is a smooth
    curve (x_s = alpha_s x_1 + beta_s x_0 + sigma(s) eps), not a jagged one.

    Args:
        x_0, x_1: noise and data points (B, 2). path: a `fmlite.paths.Path` (default: straight, sigma = 0).
        eps: the noise of each pair (B, 2); drawn once with torch's global generator if None and
            the path has sigma != 0.
        ends: mark the start x_0 (grey) and the end x_1 (blue) of each path.

    Returns:
        the list of Line2D, one per path (their data is the path at `steps + 1` times).

    Raises:
        ValueError: n or steps not a whole number >= 1, t_max not in [0, 1], or bad points (`Path.interpolate`).
    """
    from ..paths import LinearPath
    path = LinearPath() if path is None else check_path(path, "conditional_paths")
    n, steps, t_max = check_count(n, "n"), check_count(steps, "steps"), check_time_value(t_max, "t_max")
    x_0, x_1 = torch.as_tensor(x_0)[:n], torch.as_tensor(x_1)[:n]
    eps = torch.randn_like(x_0) if eps is None and not path.sigma.is_zero else eps
    eps = torch.zeros_like(x_0) if eps is None else torch.as_tensor(eps)[:n]
    xs = _path_points(path, x_0, x_1, eps, t_max, steps)
    lines = [ax.plot(xs[:, i, 0], xs[:, i, 1], color=color or COLORS["path"], alpha=alpha, lw=lw)[0]
             for i in range(xs.shape[1])]
    if ends:
        ax.scatter(*to_numpy(x_0).T, s=30, color=COLORS["noise"], zorder=3, edgecolors="k", linewidths=0.5)
        ax.scatter(*to_numpy(x_1).T, s=30, color=COLORS["data"], zorder=3, edgecolors="k", linewidths=0.5)
    return lines


def _path_points(path, x_0, x_1, eps, t_max: float, steps: int):
    """The conditional paths of `conditional_paths` as an array (steps + 1, n, 2)."""
    s = torch.linspace(0.0, float(t_max), steps + 1)
    n, shape = len(x_0), (steps + 1, *x_0.shape)
    with torch.no_grad():  # all times in one call (the same numbers as one call per time, much faster)
        xs = path.interpolate(x_0.repeat(steps + 1, 1), x_1.repeat(steps + 1, 1), s.to(x_0.dtype).repeat_interleave(n),
                              eps.repeat(steps + 1, 1))
    return to_numpy(xs.reshape(shape))


def velocity_arrows(ax: Axes, x, v, color: str | None = None, scale: float = 1.0, width: float = 0.008,
                    label: str | None = None, **kw):
    """Arrows from the points x (B, 2) to x + scale * v, in data units (so lengths compare across panels).

    Returns:
        the Quiver artist.
    """
    x, v = to_numpy(x), to_numpy(v)
    if x.shape != v.shape or x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"velocity_arrows needs x and v of the same shape (B, 2), got {x.shape} and {v.shape}")
    kw.setdefault("zorder", 4)
    return ax.quiver(x[:, 0], x[:, 1], v[:, 0], v[:, 1], color=color or COLORS["x_t"], angles="xy",
                     scale_units="xy", scale=1.0 / scale, width=width, label=label, **kw)


def interpolant_panel(ax: Axes, t: float, path, x_0, x_1, eps=None, n_paths: int = 12, lim: float = 3.0,
                      backdrop: bool = True):
    """One panel of a whole cloud on a path at time t: the data x_1 faint blue behind, the conditional
    paths of the first n_paths pairs (faint ahead of t, solid up to t) and the samples x_t in vermillion.

    Args:
        t: time in [0, 1]. path: a `fmlite.paths.Path`. x_0, x_1, eps: (B, 2) each, paired row by row
            (eps may be None when the path has sigma = 0).

    Returns:
        the scatter of x_t (gid "x_t"; its offsets are `path.interpolate(x_0, x_1, t, eps)`).

    Raises:
        ValueError: t not one number in [0, 1], path None, n_paths not a whole number >= 0, or bad points.
    """
    t, n_paths = check_time_value(t), check_count(n_paths, "n_paths", 0)
    check_path(path, "interpolant_panel")
    if eps is None:
        eps = torch.zeros_like(torch.as_tensor(x_0))
    setup_axes(ax, lim)
    if backdrop:
        scatter(ax, x_1, color=COLORS["data"], s=4, alpha=0.15, label="data $x_1$")
    with torch.no_grad():
        x_t = path.interpolate(x_0, x_1, float(t), eps)
    if n_paths:
        for line in conditional_paths(ax, x_0, x_1, path, eps, n=n_paths, alpha=0.5, lw=1.0, ends=False):
            line.set_linestyle("--")
        lines = conditional_paths(ax, x_0, x_1, path, eps, n=n_paths, t_max=float(t), alpha=1.0, lw=2.0, ends=False)
        lines[0].set_label("paths (dashed: ahead)")
        if t <= 0:  # nothing travelled yet (the lines stay, empty, so the legend does not change with t)
            for line in lines:
                line.set_data([], [])
    points = scatter(ax, x_t, color=COLORS["x_t"], s=5, alpha=0.5, gid="x_t", label="$x_t$")
    if n_paths:
        ax.scatter(*to_numpy(x_t[:n_paths]).T, s=36, color=COLORS["x_t"], edgecolors="k", linewidths=0.8, zorder=4)
    return points


def update_interpolant_panel(ax: Axes, t: float, path, x_0, x_1, eps=None, n_paths: int = 12,
                             whole_paths: bool = True) -> None:
    """Move the artists of an Axes drawn by `interpolant_panel` (same x_0, x_1, eps, n_paths and backdrop) to
    another time t and/or path in place: the samples x_t, the solid paths up to t and, with whole_paths
    (needed when the path changed), the dashed whole paths.

    Raises:
        ValueError: as `interpolant_panel`.
    """
    t, n_paths = check_time_value(t), check_count(n_paths, "n_paths", 0)
    check_path(path, "update_interpolant_panel")
    if eps is None:
        eps = torch.zeros_like(torch.as_tensor(x_0))
    with torch.no_grad():
        x_t = to_numpy(path.interpolate(x_0, x_1, float(t), eps))
    points = next(c for c in ax.collections if c.get_gid() == "x_t")
    points.set_offsets(x_t)
    if not n_paths:
        return
    ends = [torch.as_tensor(v)[:n_paths] for v in (x_0, x_1, eps)]
    n = len(ends[0])
    dashed, solid = ax.lines[:n], ax.lines[n:2 * n]
    if whole_paths:
        xs = _path_points(path, *ends, 1.0, 60)
        for i, line in enumerate(dashed):
            line.set_data(xs[:, i, 0], xs[:, i, 1])
    xs = _path_points(path, *ends, float(t), 60)
    for i, line in enumerate(solid):
        if t <= 0:
            line.set_data([], [])
        else:
            line.set_data(xs[:, i, 0], xs[:, i, 1])
    ax.collections[-1].set_offsets(x_t[:n_paths])


def frame_index(t: float, frames: int, at_or_before: bool = False) -> int:
    """Index of the stored state shown at time t, for `frames` states on a uniform grid of [0, 1].

    Args:
        t: time in [0, 1]. frames: number of stored states K + 1 >= 1 (one state: always 0).
        at_or_before: False: the nearest state (round(t K)); True: the last state at or before t
            (floor(t K)), as a fixed-step solver knows nothing between its steps.

    Raises:
        ValueError: frames < 1, or t outside [0, 1].
    """
    frames = check_count(frames, "frames (the number of stored states: a trajectory needs at least one)")
    t, k = check_time_value(t), frames - 1
    return int(t * k + 1e-9) if at_or_before else int(round(t * k))


def flow_snapshot(ax: Axes, trajectory, t: float, target=None, trail: int = 0, lim: float = 3.0,
                  n_trails: int = 60, title: bool = True):
    """One frame of a flow on an Axes: the points at time t (nearest stored step of a uniform grid of [0, 1]),
    optionally the data faint behind and the last `trail` steps of the first n_trails paths as lines.
    The Axes-level twin of `fmlite.widgets.draw_trajectory`, for `small_multiples`.

    Returns:
        the PathCollection of the points.
    """
    tr = to_numpy(trajectory)
    if tr.ndim != 3 or tr.shape[2] != 2:
        raise ValueError(f"flow_snapshot needs a trajectory of shape (K + 1, B, 2), got {tr.shape}")
    k = frame_index(t, len(tr))
    setup_axes(ax, lim)
    if target is not None:
        scatter(ax, target, color="0.85", s=3, alpha=1.0, label="data")
    if trail > 0:   # at k = 0 each trail is one point and draws nothing, but the artists stay for updates
        lo = max(0, k - trail)
        for i in range(min(n_trails, tr.shape[1])):
            ax.plot(tr[lo:k + 1, i, 0], tr[lo:k + 1, i, 1], color=COLORS["path"], lw=1, alpha=0.6,
                    label=None if i else f"last {trail} steps")
    points = scatter(ax, tr[k], color=COLORS["x_t"], s=5, label="points at t")
    if title:
        ax.set_title(f"t = {float(t):.2f}")
    return points


def solver_panel(ax: Axes, trajectory, t: float, color: str | None = None, target=None, reference=None,
                 lim: float = 3.0, n_paths: int = 40):
    """A fixed-step solver's paths up to time t: the first n_paths paths as polylines through the solver's
    states (dots at the steps: between them the solver knows nothing), the points at the last step at or
    before t in vermillion, optionally an accurate `reference` trajectory of the same starts in thin grey and the
    data faint behind.

    Drawn with one LineCollection per kind of path and one scatter of the step dots (gids "reference",
    "paths", "steps"; the points are the last collection), so that it draws and updates fast
    (`update_solver_panel` moves it to another t, trajectory or colour).

    Args:
        trajectory: (K + 1, B, 2) states of K equal steps over [0, 1], e.g.
            `integrate(v, x_0, K, method, return_trajectory=True).trajectory`.
        t: time in [0, 1]. reference: (M + 1, B, 2) on a uniform grid of [0, 1], same B.

    Returns:
        the time of the step shown, k / K.
    Raises:
        ValueError: a trajectory that is not (K + 1, B, 2).
    """
    from matplotlib.collections import LineCollection
    tr = to_numpy(trajectory)
    if tr.ndim != 3 or tr.shape[2] != 2:
        raise ValueError(f"solver_panel needs a trajectory of shape (K + 1, B, 2), got {tr.shape}")
    color = color or COLORS["path"]
    setup_axes(ax, lim)
    if target is not None:
        scatter(ax, target, color="0.85", s=3, alpha=1.0, label="data")
    if reference is not None:
        ax.add_collection(LineCollection([], colors="k", linewidths=0.8, linestyles=":", alpha=0.8, zorder=2,
                                         gid="reference", label="accurate path"))
    ax.add_collection(LineCollection([], colors=color, linewidths=1.2, alpha=0.8, zorder=2, gid="paths",
                                     label="solver path (dots: steps)"))
    ax.scatter([], [], s=2.5 ** 2, color=color, alpha=0.8, linewidths=1.0, zorder=2, gid="steps")
    ax.scatter([], [], s=10, alpha=0.9, color=COLORS["x_t"], edgecolors="k", linewidths=0.3, zorder=3,
               label="points at the step")   # dark rims: apart from an orange (Euler) path by more than hue
    return update_solver_panel(ax, tr, t, reference, n_paths)


def update_solver_panel(ax: Axes, trajectory, t: float, reference=None, n_paths: int = 40,
                        color: str | None = None) -> float:
    """Move the artists of an Axes drawn by `solver_panel` (same reference given or not) to time t of a
    trajectory (K + 1, B, 2) with the same B; `color` recolours the solver's paths, their dots and their
    legend entry (another method). Returns the time of the step shown, k / K."""
    import numpy as np
    from matplotlib.colors import same_color
    tr = to_numpy(trajectory)
    steps = len(tr) - 1
    k = frame_index(t, len(tr), at_or_before=True)
    n_paths = check_count(n_paths, "n_paths", 0)
    m = min(n_paths, tr.shape[1])
    by_gid = {c.get_gid(): c for c in ax.collections}
    if reference is not None:
        ref = to_numpy(reference)
        kr = frame_index(k / max(steps, 1), len(ref))
        by_gid["reference"].set_segments(list(ref[:kr + 1, :m].transpose(1, 0, 2)))
    by_gid["paths"].set_segments(list(tr[:k + 1, :m].transpose(1, 0, 2)))
    by_gid["steps"].set_offsets(np.asarray(tr[:k + 1, :m]).reshape(-1, 2))
    if color is not None and not same_color(color, by_gid["paths"].get_color()[0][:3]):  # only on a change: a
        by_gid["paths"].set_color(color)                                             # legend costs to redraw
        by_gid["steps"].set_color(color)
        legend = ax.get_legend()
        for handle, text in zip(legend.legend_handles if legend else [], legend.get_texts() if legend else []):
            if text.get_text().startswith("solver path"):
                handle.set_color(by_gid["paths"].get_color()[0])   # as the legend made it: the colour with alpha
    ax.collections[-1].set_offsets(tr[k])
    return k / max(steps, 1)

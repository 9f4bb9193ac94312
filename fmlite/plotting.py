"""Plotting boilerplate for the course, so notebooks can show the math and hide the styling.

Every function draws into a matplotlib Axes it is given (or returns a new Figure),
never calls plt.show(), and works with a plain `matplotlib.figure.Figure`, so the
explorers in `fmlite.widgets` and the tests can use them without pyplot.

Sections, by concept: style (colours, lecture fonts, panels), points and paths (clouds,
conditional paths, trajectories and the frame shown at a time t), fields (`field_arrows`,
the one way a velocity field is drawn, and its shorthands), curves (schedules, losses,
quality against cost) and images (grids and labelled rows).
"""
from __future__ import annotations

from typing import Callable, Sequence

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

__all__ = ["COLORS", "SOLVER_STYLE", "lecture_style", "figure", "to_numpy", "setup_axes", "scatter", "trajectories",
           "conditional_paths", "velocity_arrows", "interpolant_panel", "frame_index", "flow_snapshot",
           "solver_panel", "legend_below", "field_on_grid", "arrow_scale", "field_arrows", "quiver", "arrows",
           "field_panel",
           "error_points", "density", "schedule_curve", "loss_curve", "time_profile", "quality_vs_nfe",
           "small_multiples", "tile_images", "image_grid", "image_rows"]


# ============================================================================ style
#: Colour roles used throughout the course: the colour-blind-safe Okabe-Ito palette (Okabe & Ito 2008;
#: Wong 2011, Nature Methods 8:441), so no two roles differ only as red against green. Notebook text calls
#: them: noise grey, data blue, x_t red (vermillion), path orange, model green (bluish), exact purple.
COLORS = {"noise": "#8c8c8c", "data": "#0072B2", "x_t": "#D55E00", "path": "#E69F00", "model": "#009E73",
          "exact": "#CC79A7"}


#: Colour, marker and line style of each ODE solver, the same in every figure (notebooks 04 and 07):
#: the three cues differ together, so a solver reads without colour too.
SOLVER_STYLE = {"euler": ("#E69F00", "o", "-"), "midpoint": ("#56B4E9", "s", "--"), "heun": ("#009E73", "^", "-."),
                "rk4": ("#CC79A7", "D", ":")}


def legend_below(ax: Axes, ncol: int = 2, **kw):
    """A legend under the axes (outside the data, so it hides nothing), for figures with constrained layout.

    Returns:
        the Legend, or None when no artist of ax has a label.
    """
    if not ax.get_legend_handles_labels()[0]:
        return None
    below = -0.22 if ax.get_xlabel() or len(ax.get_xticks()) else -0.04   # clear of tick labels and x label
    kw = {"loc": "upper center", "bbox_to_anchor": (0.5, below), "ncol": ncol, "fontsize": "small", "markerscale": 2.5,
          "frameon": False, **kw}
    return ax.legend(**kw)


def lecture_style(scale: float = 1.0, dpi: int = 80) -> None:
    """Fonts and lines readable from the back of a lecture hall (and small PNGs in the notebooks).

    Args:
        scale: multiplies every font size (1.0 = 14 pt body text; use 1.3 on a projector).
        dpi: resolution of inline figures; 80 keeps committed notebooks small.
    """
    mpl.rcParams.update({
        "font.size": 14 * scale, "axes.titlesize": 15 * scale, "axes.labelsize": 14 * scale,
        "xtick.labelsize": 12 * scale, "ytick.labelsize": 12 * scale, "legend.fontsize": 12 * scale,
        "figure.titlesize": 16 * scale, "lines.linewidth": 2.0, "axes.grid": False,
        "figure.dpi": dpi, "savefig.dpi": dpi, "figure.autolayout": False, "figure.constrained_layout.use": True,
        "axes.spines.top": False, "axes.spines.right": False, "image.cmap": "viridis",
        "axes.prop_cycle": mpl.cycler(color=["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                                             "#F0E442", "#000000"]),   # Okabe-Ito: safe for colour blindness
    })


def figure(ncols: int = 1, nrows: int = 1, size: float = 3.6, **kw) -> tuple[Figure, np.ndarray]:
    """A pyplot-free Figure with a grid of square panels; returns (fig, axes as a flat array)."""
    fig = Figure(figsize=(size * ncols, size * nrows), layout="constrained", **kw)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    return fig, axes


def to_numpy(x) -> np.ndarray:
    """A tensor (any device, with or without grad) or an array-like as a numpy array."""
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


_np = to_numpy  # the short name used inside this module


def setup_axes(ax: Axes, lim: float = 3.0, title: str | None = None, ticks: bool = False) -> Axes:
    """Square 2-D panel [-lim, lim]^2 with equal aspect; no ticks unless asked."""
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("0.6")
    if not ticks:
        ax.set_xticks([])
        ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax


# ============================================================================ points and paths
def scatter(ax: Axes, x, color: str | None = None, s: float = 4, alpha: float = 0.6, label: str | None = None,
            **kw):
    """Scatter a point cloud x (N, 2); returns the PathCollection (update it with set_offsets)."""
    x = _np(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"scatter needs points of shape (N, 2), got {x.shape}")
    return ax.scatter(x[:, 0], x[:, 1], s=s, alpha=alpha, color=color or COLORS["data"], label=label,
                      linewidths=0, **kw)


def trajectories(ax: Axes, trajectory, n: int = 50, color: str | None = None, alpha: float = 0.5, ends: bool = True):
    """Draw the first n paths of a trajectory (K + 1, B, 2) as lines, with start (grey) and end (blue) dots."""
    tr = _np(trajectory)[:, :n]
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
    """
    from .paths import LinearPath
    path = path or LinearPath()
    x_0, x_1 = torch.as_tensor(x_0)[:n], torch.as_tensor(x_1)[:n]
    eps = torch.randn_like(x_0) if eps is None and not path.sigma.is_zero else eps
    eps = torch.zeros_like(x_0) if eps is None else torch.as_tensor(eps)[:n]
    s = torch.linspace(0.0, float(t_max), steps + 1)
    with torch.no_grad():
        xs = _np(torch.stack([path.interpolate(x_0, x_1, float(v), eps) for v in s]))  # (steps + 1, n, 2)
    lines = [ax.plot(xs[:, i, 0], xs[:, i, 1], color=color or COLORS["path"], alpha=alpha, lw=lw)[0]
             for i in range(xs.shape[1])]
    if ends:
        ax.scatter(*_np(x_0).T, s=30, color=COLORS["noise"], zorder=3, edgecolors="k", linewidths=0.5)
        ax.scatter(*_np(x_1).T, s=30, color=COLORS["data"], zorder=3, edgecolors="k", linewidths=0.5)
    return lines


def velocity_arrows(ax: Axes, x, v, color: str | None = None, scale: float = 1.0, width: float = 0.008,
                    label: str | None = None, **kw):
    """Arrows from the points x (B, 2) to x + scale * v, in data units (so lengths compare across panels).

    Returns:
        the Quiver artist.
    """
    x, v = _np(x), _np(v)
    if x.shape != v.shape or x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"velocity_arrows needs x and v of the same shape (B, 2), got {x.shape} and {v.shape}")
    kw.setdefault("zorder", 4)
    return ax.quiver(x[:, 0], x[:, 1], v[:, 0], v[:, 1], color=color or COLORS["x_t"], angles="xy",
                     scale_units="xy", scale=1.0 / scale, width=width, label=label, **kw)


def interpolant_panel(ax: Axes, t: float, path, x_0, x_1, eps=None, n_paths: int = 12, lim: float = 3.0,
                      backdrop: bool = True):
    """One panel of a whole cloud on a path at time t: the data x_1 faint blue behind, the conditional
    paths of the first n_paths pairs (faint ahead of t, solid up to t) and the samples x_t in red.

    Args:
        t: time in [0, 1]. path: a `fmlite.paths.Path`. x_0, x_1, eps: (B, 2) each, paired row by row
            (eps may be None when the path has sigma = 0).

    Returns:
        the scatter of x_t (gid "x_t"; its offsets are `path.interpolate(x_0, x_1, t, eps)`).
    """
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
        if t > 0:
            lines = conditional_paths(ax, x_0, x_1, path, eps, n=n_paths, t_max=float(t), alpha=1.0, lw=2.0, ends=False)
            lines[0].set_label("paths (dashed: ahead)")
    points = scatter(ax, x_t, color=COLORS["x_t"], s=5, alpha=0.5, gid="x_t", label="$x_t$")
    if n_paths:
        ax.scatter(*_np(x_t[:n_paths]).T, s=36, color=COLORS["x_t"], edgecolors="k", linewidths=0.8, zorder=4)
    return points


def frame_index(t: float, frames: int, at_or_before: bool = False) -> int:
    """Index of the stored state shown at time t, for `frames` states on a uniform grid of [0, 1].

    Args:
        t: time in [0, 1]. frames: number of stored states K + 1 >= 1 (one state: always 0).
        at_or_before: False: the nearest state (round(t K)); True: the last state at or before t
            (floor(t K)), as a fixed-step solver knows nothing between its steps.

    Raises:
        ValueError: frames < 1, or t outside [0, 1].
    """
    if int(frames) != frames or frames < 1:
        raise ValueError(f"a trajectory needs at least one stored state, got {frames}")
    t, k = float(t), int(frames) - 1
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must lie in [0, 1] (0 = noise, 1 = data), got {t}")
    return int(t * k + 1e-9) if at_or_before else int(round(t * k))


def flow_snapshot(ax: Axes, trajectory, t: float, target=None, trail: int = 0, lim: float = 3.0,
                  n_trails: int = 60, title: bool = True):
    """One frame of a flow on an Axes: the points at time t (nearest stored step of a uniform grid of [0, 1]),
    optionally the data faint behind and the last `trail` steps of the first n_trails paths as lines.
    The Axes-level twin of `fmlite.widgets.draw_trajectory`, for `small_multiples`.

    Returns:
        the PathCollection of the points.
    """
    tr = _np(trajectory)
    if tr.ndim != 3 or tr.shape[2] != 2:
        raise ValueError(f"flow_snapshot needs a trajectory of shape (K + 1, B, 2), got {tr.shape}")
    k = frame_index(t, len(tr))
    setup_axes(ax, lim)
    if target is not None:
        scatter(ax, target, color="0.85", s=3, alpha=1.0, label="data")
    if trail > 0 and k > 0:
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
    before t in red, optionally an accurate `reference` trajectory of the same starts in thin grey and the
    data faint behind.

    Args:
        trajectory: (K + 1, B, 2) states of K equal steps over [0, 1], e.g.
            `integrate(v, x_0, K, method, return_trajectory=True).trajectory`.
        t: time in [0, 1]. reference: (M + 1, B, 2) on a uniform grid of [0, 1], same B.

    Returns:
        the time of the step shown, k / K.
    """
    tr = _np(trajectory)
    if tr.ndim != 3 or tr.shape[2] != 2:
        raise ValueError(f"solver_panel needs a trajectory of shape (K + 1, B, 2), got {tr.shape}")
    steps = len(tr) - 1
    k = frame_index(t, len(tr), at_or_before=True)
    setup_axes(ax, lim)
    if target is not None:
        scatter(ax, target, color="0.85", s=3, alpha=1.0, label="data")
    m = min(n_paths, tr.shape[1])
    if reference is not None:
        ref = _np(reference)
        kr = frame_index(k / max(steps, 1), len(ref))
        for i in range(m):
            ax.plot(ref[:kr + 1, i, 0], ref[:kr + 1, i, 1], color="k", lw=0.8, ls=":", alpha=0.8,
                    label=None if i else "accurate path")
    for i in range(m):
        ax.plot(tr[:k + 1, i, 0], tr[:k + 1, i, 1], color=color or COLORS["path"], lw=1.2, alpha=0.8,
                marker="o", ms=2.5, label=None if i else "solver path (dots: steps)")
    ax.scatter(tr[k][:, 0], tr[k][:, 1], s=10, alpha=0.9, color=COLORS["x_t"], edgecolors="k", linewidths=0.3,
               zorder=3, label="points at the step")   # dark rims: apart from an orange (Euler) path by more than hue
    return k / max(steps, 1)


# ============================================================================ fields
def field_on_grid(velocity: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 21):
    """Evaluate a 2-D velocity field on an n x n grid of [-lim, lim]^2 at time t.

    Returns:
        (X, Y, U, V) numpy arrays of shape (n, n).
    """
    g = torch.linspace(-lim, lim, n)
    X, Y = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)
    with torch.no_grad():
        uv = velocity(pts, torch.full((len(pts),), float(t)))
    return _np(X), _np(Y), _np(uv[:, 0]).reshape(n, n), _np(uv[:, 1]).reshape(n, n)


def arrow_scale(speeds, lim: float = 3.0, n: int = 15) -> float:
    """A quiver scale (speed per data unit) that draws the 95th-percentile speed one grid spacing long."""
    spacing = 2 * lim / max(n - 1, 1)
    return max(float(np.quantile(_np(speeds), 0.95)), 1e-6) / spacing


def field_arrows(ax: Axes, velocity: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 15,
                 *, color: str | None = None, scale: float | str | None = "auto", cap: float | None = None,
                 normalize: bool = False, width: float = 0.006, cmap: str = "viridis", colorbar: bool = False,
                 label: str | None = None):
    """Arrows of a 2-D velocity field v(x, t) on an n x n grid of [-lim, lim]^2 at time t: the one way
    the course draws a field (`quiver`, `arrows` and `field_panel` call it).

    Args:
        velocity: callable (x (B, 2), t (B,)) -> (B, 2), e.g. a model or an exact field.
        color: None colours the arrows by speed |v| (cmap, optional colorbar); a colour draws them
            all in it (to overlay or compare two fields).
        scale: speed drawn as one data unit of arrow length. "auto": `arrow_scale` of this field
            (the 95th-percentile speed one grid spacing long); None: matplotlib's own choice; a
            number: fixed, pass the same one to panels that should be compared.
        cap: longest arrow drawn, in grid spacings (longer ones keep their direction and are
            shortened, so a few huge speeds far from the data do not cover the panel); None = no cap.
        normalize: every arrow the same length (0.7 grid spacings unless scale is a number), so
            directions stay readable where the field is slow; the colour still gives the speed.

    Returns:
        the Quiver artist: U, V hold the arrows drawn (capped or normalised), its array the speeds
        when coloured by speed.
    """
    X, Y, U, V = field_on_grid(velocity, t, lim, n)
    speed = np.hypot(U, V)
    if normalize:
        unit = np.where(speed > 0, speed, 1.0)
        U, V = U / unit, V / unit
        if scale is None or scale == "auto":  # every arrow 0.7 of the grid spacing 2 lim / (n - 1) long
            scale = (n - 1) / (1.4 * lim)
    elif scale == "auto":
        scale = arrow_scale(speed, lim, n)
    if cap is not None and scale is not None:
        longest = cap * scale * 2 * lim / max(n - 1, 1)
        shrink = np.minimum(1.0, longest / np.maximum(np.hypot(U, V), 1e-12))
        U, V = U * shrink, V * shrink
    style = dict(cmap=cmap) if color is None else dict(color=color)
    q = ax.quiver(X, Y, U, V, *([speed] if color is None else []), scale=scale,
                  scale_units="xy" if scale is not None else None, angles="xy", width=width, label=label, **style)
    if colorbar and color is None:
        ax.figure.colorbar(q, ax=ax, shrink=0.8, label="speed |u|")
    return q


def quiver(ax: Axes, velocity: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 21,
           cmap: str = "viridis", scale: float | None = None, colorbar: bool = False):
    """Arrows of a velocity field at time t coloured by speed: `field_arrows` with scale None
    (matplotlib's choice) unless a scale is given.

    Returns:
        the Quiver artist (update it with set_UVC).
    """
    return field_arrows(ax, velocity, t, lim, n, scale=scale, cmap=cmap, colorbar=colorbar, width=0.005)


def arrows(ax: Axes, velocity: Callable[[Tensor, Tensor], Tensor], t: float, color: str, lim: float = 3.0,
           n: int = 15, scale: float | None = None, cap: float | None = 1.5, label: str | None = None,
           width: float = 0.006):
    """Arrows of a velocity field at time t in one colour, capped at 1.5 grid spacings: `field_arrows`
    with color, and scale None meaning `arrow_scale` of this field.

    Returns:
        the Quiver artist (its U, V hold the drawn, possibly capped, arrows).
    """
    return field_arrows(ax, velocity, t, lim, n, color=color, scale="auto" if scale is None else scale, cap=cap,
                        label=label, width=width)


def field_panel(ax: Axes, t: float, data, x_0=None, x_1=None, path=None, lim: float = 3.0, n_grid: int = 15,
                scale: float | None = None, colorbar: bool = False, normalize: bool = True, velocity=None):
    """One panel of the exact marginal field of a finite data set at time t (arrows coloured by speed,
    `field_arrows`), the data points (blue) and, if x_0 and x_1 are given, samples x_t of p_t (red, gid "x_t").

    Args:
        data: the data set (N, 2) of `fmlite.exact.marginal_velocity`. x_0, x_1: pairs (B, 2) with x_1
            drawn from data. path: a `fmlite.paths.Path` with sigma = 0 (default: the straight path).
        velocity: the field drawn, v(x (B, 2), t (B,)) -> (B, 2); default the exact marginal field
            u_t(x) of data on path (`fmlite.exact.marginal_velocity`).
        normalize: draw every arrow with the same length, so directions stay readable where the field is
            slow; the colour still gives the speed |u_t(x)|. False: arrow length proportional to speed.

    Returns:
        the Quiver artist (gid "field").
    """
    from .paths import LinearPath
    path = path or LinearPath()
    if velocity is None:
        from .exact import marginal_velocity
        velocity = lambda x, s: marginal_velocity(x, s, data, path)  # noqa: E731
    setup_axes(ax, lim)
    q = field_arrows(ax, velocity, float(t), lim, n_grid, scale=scale, normalize=normalize, width=0.008,
                     colorbar=colorbar)
    q.set_gid("field")
    if x_0 is not None and x_1 is not None:
        with torch.no_grad():
            scatter(ax, path.interpolate(x_0, x_1, float(t)), color=COLORS["x_t"], s=8, alpha=0.6, gid="x_t",
                    label="samples $x_t$ of $p_t$")
    ax.scatter(*_np(data).T, s=30, color=COLORS["data"], edgecolors="w", linewidths=0.8, zorder=4,
               label="data points")
    return q


def error_points(ax: Axes, velocity: Callable[[Tensor, Tensor], Tensor],
                 reference: Callable[[Tensor, Tensor], Tensor], x, t: float, vmax: float | None = None,
                 cmap: str = "viridis", s: float = 6, colorbar: bool = True):
    """Points x (B, 2) coloured by the error |velocity(x, t) - reference(x, t)| at time t.

    Evaluate at samples x_t ~ p_t to see the error where the flow actually goes (far from p_t
    neither field matters, and a network has never been trained there).

    Returns:
        (PathCollection, errors as a numpy array (B,)).
    """
    x = torch.as_tensor(x)
    times = torch.full((len(x),), float(t), dtype=x.dtype)
    with torch.no_grad():
        err = _np((velocity(x, times) - reference(x, times)).norm(dim=1))
    pts = _np(x)
    art = ax.scatter(pts[:, 0], pts[:, 1], c=err, s=s, cmap=cmap, vmin=0,
                     vmax=vmax if vmax is not None else max(float(np.quantile(err, 0.98)), 1e-6), linewidths=0)
    if colorbar:
        ax.figure.colorbar(art, ax=ax, shrink=0.8, label="|error|")
    return art, err


def density(ax: Axes, log_density: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 120,
            cmap: str = "magma"):
    """Image of a density p_t(x) = exp(log_density(x, t)) on [-lim, lim]^2."""
    g = torch.linspace(-lim, lim, n, dtype=torch.float64)
    X, Y = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)
    with torch.no_grad():
        p = log_density(pts, torch.full((len(pts),), float(t), dtype=torch.float64)).exp()
    return ax.imshow(_np(p).reshape(n, n), origin="lower", extent=(-lim, lim, -lim, lim), cmap=cmap)


# ============================================================================ curves
def schedule_curve(ax: Axes, fn: Callable[[Tensor], Tensor], t_mark: float | None = None, label: str = "σ(t)",
                   color: str | None = None):
    """Plot a schedule t -> fn(t) on [0, 1], with a dot at t_mark."""
    t = torch.linspace(0, 1, 201)
    y = _np(fn(t))
    ax.plot(_np(t), y, color=color or COLORS["x_t"], label=label)
    if t_mark is not None:
        ax.plot([t_mark], [float(fn(torch.tensor([float(t_mark)]))[0])], "o", color="k")
    ax.set_xlim(0, 1)
    ax.set_xlabel("t")


def loss_curve(ax: Axes, loss: Sequence[float], floor: float | None = None, window: int = 50):
    """Loss per step (faint) with a running mean, and a dashed line at the loss floor if given."""
    loss = np.asarray(loss, dtype=float)
    ax.plot(loss, color=COLORS["model"], alpha=0.25, lw=1, label="loss per step")
    if len(loss) >= window:
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(loss)), smooth, color=COLORS["model"], label=f"mean of {window}")
    if floor is not None:
        ax.axhline(floor, color="k", ls="--", lw=1.5, label=f"floor {floor:.2f}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()


def time_profile(ax: Axes, t, values, bins: int = 20, **kw):
    """Mean of per-sample values (e.g. squared errors) in equal bins of t in [0, 1], drawn as a curve.

    Args:
        t: times (B,) of the samples. values: one number per sample (B,).
        bins: number of bins of [0, 1]; kw go to `ax.plot` (label, color, ls, ...).

    Returns:
        (bin centres, bin means) as numpy arrays (NaN for an empty bin).
    """
    t, values = _np(t).astype(float).ravel(), _np(values).astype(float).ravel()
    if t.shape != values.shape:
        raise ValueError(f"t and values need one entry per sample, got shapes {t.shape} and {values.shape}")
    idx = np.clip((t * bins).astype(int), 0, bins - 1)
    sums, counts = np.bincount(idx, values, minlength=bins), np.bincount(idx, minlength=bins)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    centres = (np.arange(bins) + 0.5) / bins
    ax.plot(centres, means, marker="o", ms=4, **kw)
    ax.set_xlim(0, 1)
    ax.set_xlabel("t")
    return centres, means


def quality_vs_nfe(ax: Axes, results: dict, ylabel: str = "energy distance", reference: float | None = None,
                   reference_label: str = "reference", noise: float | None = None, yscale: str = "log",
                   linthresh: float = 1e-3):
    """One line per solver: a quality number against the number of velocity evaluations (NFE).

    Args:
        results: method name -> (list of NFE, list of values).
        reference: optional level drawn as a dashed black line (e.g. the best the model can do).
        noise: optional half-width of a grey band around 0: the sampling noise of the metric.
        yscale: "log", "symlog" (for values that can be 0 or slightly negative, linear below
            `linthresh`) or "linear". The NFE axis is always log2.
    """
    if noise is not None:
        ax.axhspan(-noise, noise, color="0.88", zorder=0, label="sampling noise")
    for method, (nfe, values) in results.items():
        color, marker, ls = SOLVER_STYLE.get(method, (None, "o", "-"))
        ax.plot(nfe, values, marker=marker, color=color, ls=ls, label=method)
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1.5, label=reference_label)
    ax.set_xscale("log", base=2)
    if yscale == "symlog":
        ax.set_yscale("symlog", linthresh=linthresh)
    elif yscale != "linear":
        ax.set_yscale(yscale)
    ax.set_xlabel("NFE (velocity evaluations)")
    ax.set_ylabel(ylabel)
    legend_below(ax, ncol=3)


def small_multiples(draw: Callable[[Axes, float], None], values: Sequence[float], name: str = "t",
                    size: float = 3.0, fmt: str = "{:.2f}", **kw) -> Figure:
    """One panel per value: draw(ax, value) for each, titled "t = value" (the static companion of a slider).

    Returns the Figure (pyplot-free, displays inline in Jupyter).
    """
    fig, axes = figure(len(values), size=size, **kw)
    for ax, v in zip(axes, values):
        draw(ax, v)
        ax.set_title(f"{name} = {fmt.format(v)}")
    return fig


# ============================================================================ images
def tile_images(images, ncol: int | None = None, fill: float = -1.0, pad: int = 1) -> np.ndarray:
    """Tile images (N, 1, H, W) into one array (rows (H + pad) + pad, ncol (W + pad) + pad), ncol per row
    (default: a square grid), gaps filled with `fill`. Raises: ValueError for another shape."""
    im = _np(images)
    if im.ndim != 4 or im.shape[1] != 1:
        raise ValueError(f"image_grid needs images of shape (N, 1, H, W), got {im.shape}")
    n, _, h, w = im.shape
    ncol = ncol or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / ncol))
    canvas = np.full((rows * (h + pad) + pad, ncol * (w + pad) + pad), fill, dtype=float)
    for k in range(n):
        r, c = divmod(k, ncol)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = im[k, 0]
    return canvas


def image_grid(ax: Axes, images, ncol: int | None = None, vmin: float = -1.0, vmax: float = 1.0, pad: int = 1):
    """Tile images (N, 1, H, W) in [-1, 1] into one grey picture (ink dark on white), ncol images per row
    (default: a square grid)."""
    canvas = tile_images(images, ncol, vmin, pad)
    ax.imshow(canvas, cmap="gray_r", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


def image_rows(ax: Axes, images, row_labels: Sequence | None = None, col_labels: Sequence | None = None,
               vmin: float = -1.0, vmax: float = 1.0, pad: int = 1):
    """Tile a table of images (R, K, 1, H, W) in [-1, 1]: one row per group, with labels on the side and top.

    Used for one row per digit (class-conditional samples) and for trajectories as strips
    (rows = images, columns = times, e.g. `trajectory[frames].transpose(0, 1)`).

    Args:
        ax: the Axes to draw into.
        images: (R, K, 1, H, W) (a tensor or an array); ink dark on white.
        row_labels: R labels shown on the left (e.g. the digit), or None.
        col_labels: K labels shown on top (e.g. "t = 0.50"), or None.

    Raises:
        ValueError: images not of shape (R, K, 1, H, W), or label lists of the wrong length.
    """
    im = _np(images)
    if im.ndim != 5 or im.shape[2] != 1:
        raise ValueError(f"image_rows needs images of shape (R, K, 1, H, W), got {im.shape}")
    r, k, _, h, w = im.shape
    for name, labels, count in (("row_labels", row_labels, r), ("col_labels", col_labels, k)):
        if labels is not None and len(labels) != count:
            raise ValueError(f"{name} needs {count} labels, got {len(labels)}")
    image_grid(ax, im.reshape(r * k, 1, h, w), ncol=k, vmin=vmin, vmax=vmax, pad=pad)
    if row_labels is not None:
        ax.set_yticks([pad + i * (h + pad) + (h - 1) / 2 for i in range(r)], [str(x) for x in row_labels])
        ax.tick_params(axis="y", length=0)
    if col_labels is not None:
        ax.set_xticks([pad + j * (w + pad) + (w - 1) / 2 for j in range(k)], [str(x) for x in col_labels])
        ax.tick_params(axis="x", length=0, labeltop=True, labelbottom=False)
    for side in ("left", "bottom", "top", "right"):
        ax.spines[side].set_visible(False)
    return ax

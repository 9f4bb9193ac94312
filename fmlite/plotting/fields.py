"""Velocity fields: `field_arrows` (the one way a field is drawn) and its shorthands, errors, densities.

Part of `fmlite.plotting` (see its docstring); import from `fmlite.plotting`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.ticker import ScalarFormatter
from torch import Tensor

from ..checks import check_count, check_time_value
from .style import COLORS, setup_axes, to_numpy
from .points import scatter

__all__ = ["field_on_grid", "arrow_scale", "field_arrow_arrays", "field_arrows", "update_field_arrows", "quiver",
           "arrows", "field_panel", "error_points", "update_error_points", "density", "steady_colorbar"]


def field_on_grid(velocity: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 21):
    """Evaluate a 2-D velocity field on an n x n grid of [-lim, lim]^2 at time t.

    Returns:
        (X, Y, U, V) numpy arrays of shape (n, n).
    """
    t = check_time_value(t)
    n = check_count(n, "n")
    g = torch.linspace(-lim, lim, n)
    X, Y = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)
    with torch.no_grad():
        uv = velocity(pts, torch.full((len(pts),), float(t)))
    return to_numpy(X), to_numpy(Y), to_numpy(uv[:, 0]).reshape(n, n), to_numpy(uv[:, 1]).reshape(n, n)


def arrow_scale(speeds, lim: float = 3.0, n: int = 15) -> float:
    """A quiver scale (speed per data unit) that draws the 95th-percentile speed one grid spacing long."""
    n = check_count(n, "n")
    spacing = 2 * lim / max(n - 1, 1)
    return max(float(np.quantile(to_numpy(speeds), 0.95)), 1e-6) / spacing


def field_arrow_arrays(velocity: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 15, *,
                       scale: float | str | None = "auto", cap: float | None = None, normalize: bool = False):
    """The arrays `field_arrows` draws: (X, Y, U, V, speed, scale), each array (n, n); U, V are the arrows
    drawn (normalised and capped as asked), speed the unmodified |v| and scale the resolved quiver scale
    (a number, or None for matplotlib's choice). Args as in `field_arrows`."""
    t = check_time_value(t)
    n = check_count(n, "n")
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
    return X, Y, U, V, speed, scale


def update_field_arrows(q, velocity: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 15, *,
                        scale: float | str | None = "auto", cap: float | None = None, normalize: bool = False,
                        arrays=None) -> None:
    """Move the arrows of a Quiver drawn by `field_arrows` (same lim, n and keyword arguments) to the field at
    time t in place: new U, V, speeds (and colour limits, so a colorbar follows) and scale. `arrays`: the result
    of `field_arrow_arrays` for these arguments, if already computed (e.g. cached)."""
    t = check_time_value(t)
    n = check_count(n, "n")
    _, _, U, V, speed, scale = arrays if arrays is not None else field_arrow_arrays(
        velocity, t, lim, n, scale=scale, cap=cap, normalize=normalize)
    colored = q.get_array() is not None
    q.set_UVC(U, V, speed if colored else None)
    if colored:  # as a fresh quiver: the colour limits are the speeds' range (one change: the colorbar redraws once)
        q.set_clim(float(np.min(speed)), float(np.max(speed)))
    q.scale = scale


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
    t = check_time_value(t)
    n = check_count(n, "n")
    X, Y, U, V, speed, scale = field_arrow_arrays(velocity, t, lim, n, scale=scale, cap=cap, normalize=normalize)
    style = dict(cmap=cmap) if color is None else dict(color=color)
    q = ax.quiver(X, Y, U, V, *([speed] if color is None else []), scale=scale,
                  scale_units="xy" if scale is not None else None, angles="xy", width=width, label=label, **style)
    if colorbar and color is None:
        steady_colorbar(q, ax, "speed |u|")
    return q


def quiver(ax: Axes, velocity: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 21,
           cmap: str = "viridis", scale: float | None = None, colorbar: bool = False):
    """Arrows of a velocity field at time t coloured by speed: `field_arrows` with scale None
    (matplotlib's choice) unless a scale is given.

    Returns:
        the Quiver artist (update it with set_UVC).
    """
    t = check_time_value(t)
    n = check_count(n, "n")
    return field_arrows(ax, velocity, t, lim, n, scale=scale, cmap=cmap, colorbar=colorbar, width=0.005)


def arrows(ax: Axes, velocity: Callable[[Tensor, Tensor], Tensor], t: float, color: str, lim: float = 3.0,
           n: int = 15, scale: float | None = None, cap: float | None = 1.5, label: str | None = None,
           width: float = 0.006):
    """Arrows of a velocity field at time t in one colour, capped at 1.5 grid spacings: `field_arrows`
    with color, and scale None meaning `arrow_scale` of this field.

    Returns:
        the Quiver artist (its U, V hold the drawn, possibly capped, arrows).
    """
    t = check_time_value(t)
    n = check_count(n, "n")
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
    t = check_time_value(t)
    n_grid = check_count(n_grid, "n_grid")
    from ..paths import LinearPath
    path = path or LinearPath()
    if velocity is None:
        from ..exact import marginal_velocity
        velocity = lambda x, s: marginal_velocity(x, s, data, path)  # noqa: E731
    setup_axes(ax, lim)
    q = field_arrows(ax, velocity, float(t), lim, n_grid, scale=scale, normalize=normalize, width=0.008,
                     colorbar=colorbar)
    q.set_gid("field")
    if x_0 is not None and x_1 is not None:
        with torch.no_grad():
            scatter(ax, path.interpolate(x_0, x_1, float(t)), color=COLORS["x_t"], s=8, alpha=0.6, gid="x_t",
                    label="samples $x_t$ of $p_t$")
    ax.scatter(*to_numpy(data).T, s=30, color=COLORS["data"], edgecolors="w", linewidths=0.8, zorder=4,
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
    t = check_time_value(t)
    x, err, vmax = _errors(velocity, reference, x, t, vmax)
    pts = to_numpy(x)
    art = ax.scatter(pts[:, 0], pts[:, 1], c=err, s=s, cmap=cmap, vmin=0, vmax=vmax, linewidths=0)
    if colorbar:
        steady_colorbar(art, ax, "|error|")
    return art, err


class _PaddedFormatter(ScalarFormatter):
    """matplotlib's default tick labels, padded on the right to a fixed number of characters (invisible on
    the labels of a colorbar, which start at its edge)."""

    def __init__(self, width: int):
        super().__init__()
        self.width = width

    def __call__(self, x, pos=None):
        return super().__call__(x, pos).ljust(self.width)


def steady_colorbar(mappable, ax: Axes, label: str, width: int = 6):
    """A colorbar beside ax whose tick labels all have `width` characters (padded with spaces), so that new
    colour limits (an explorer's next t) keep the figure's layout and need no new one. Returns the Colorbar."""
    bar = ax.figure.colorbar(mappable, ax=ax, shrink=0.8, label=label)
    bar.formatter = _PaddedFormatter(width)
    bar.update_ticks()
    return bar


def _errors(velocity, reference, x, t: float, vmax):
    x = torch.as_tensor(x)
    times = torch.full((len(x),), float(t), dtype=x.dtype)
    with torch.no_grad():
        err = to_numpy((velocity(x, times) - reference(x, times)).norm(dim=1))
    return x, err, vmax if vmax is not None else max(float(np.quantile(err, 0.98)), 1e-6)


def update_error_points(art, velocity: Callable[[Tensor, Tensor], Tensor],
                        reference: Callable[[Tensor, Tensor], Tensor], x, t: float, vmax: float | None = None,
                        errors=None):
    """Move the points drawn by `error_points` (art, its PathCollection) to x (B, 2) at time t in place: new
    positions, errors and colour limits (a colorbar follows). `errors`: the errors (B,) if already computed.

    Returns:
        the errors as a numpy array (B,).
    """
    t = check_time_value(t)
    if errors is None:
        x, err, vmax = _errors(velocity, reference, x, t, vmax)
    else:
        err = np.asarray(errors)
        vmax = vmax if vmax is not None else max(float(np.quantile(err, 0.98)), 1e-6)
    art.set_offsets(to_numpy(x))
    art.set_array(err)
    art.set_clim(0, vmax)
    return err


def density(ax: Axes, log_density: Callable[[Tensor, Tensor], Tensor], t: float, lim: float = 3.0, n: int = 120,
            cmap: str = "magma"):
    """Image of a density p_t(x) = exp(log_density(x, t)) on [-lim, lim]^2."""
    t = check_time_value(t)
    n = check_count(n, "n")
    g = torch.linspace(-lim, lim, n, dtype=torch.float64)
    X, Y = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)
    with torch.no_grad():
        p = log_density(pts, torch.full((len(pts),), float(t), dtype=torch.float64)).exp()
    return ax.imshow(to_numpy(p).reshape(n, n), origin="lower", extent=(-lim, lim, -lim, lim), cmap=cmap)

"""Drawing on curved spaces (notebook 12): the unit sphere S² as a 2-D orthographic view, computed with numpy
(a matplotlib 3-D axis took 0.17-0.24 s a redraw, too slow for the explorers), and the flat torus T² as its
unrolled square [0, 2π)² with periodic edges.

The view looks at the sphere from the direction (cos e cos a, cos e sin a, sin e) for azimuth a and elevation e
(radians); a point on the near half (depth > 0) is drawn strong, one on the far half faint or not at all. A
tangent vector v at x is drawn as the projection of the 3-D arrow from x to x + v: at the rim it is
foreshortened, as in a photograph.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Circle

from .style import COLORS, to_numpy

__all__ = ["view_matrix", "orthographic", "sphere_axes", "sphere_scatter", "update_sphere_scatter", "sphere_arrows",
           "update_sphere_arrows", "torus_axes", "ELEVATION"]

#: The elevation of the sphere's view (radians): a little from above, so the north pole shows.
ELEVATION = math.radians(20)


def view_matrix(azimuth: float, elevation: float = ELEVATION) -> np.ndarray:
    """(3, 3) rows: the screen's right, the screen's up, the direction towards the viewer (azimuth, elevation in
    radians). Raises ValueError for a non-finite angle."""
    if not (math.isfinite(azimuth) and math.isfinite(elevation)):
        raise ValueError(f"view angles must be finite numbers (radians), got azimuth={azimuth}, elevation={elevation}")
    ca, sa, ce, se = math.cos(azimuth), math.sin(azimuth), math.cos(elevation), math.sin(elevation)
    towards = np.array([ce * ca, ce * sa, se])
    right = np.array([-sa, ca, 0.0])
    up = np.cross(towards, right)
    return np.stack([right, up, towards])


def orthographic(x, azimuth: float, elevation: float = ELEVATION) -> tuple[np.ndarray, np.ndarray]:
    """Screen coordinates (B, 2) and depth (B,) of points (or vectors) x (B, 3); depth > 0 on the near half."""
    p = to_numpy(x).reshape(-1, 3) @ view_matrix(azimuth, elevation).T
    return p[:, :2], p[:, 2]


def sphere_axes(ax: Axes, azimuth: float, title: str | None = None, elevation: float = ELEVATION) -> None:
    """The sphere's outline and its equator and two meridians (near half solid, far half dotted), square limits."""
    ax.add_patch(Circle((0, 0), 1.0, fill=False, color="0.35", lw=1.0))
    s = np.linspace(0, 2 * np.pi, 181)
    circles = [np.stack([np.cos(s), np.sin(s), 0 * s], 1),                     # the equator
               np.stack([np.cos(s), 0 * s, np.sin(s)], 1), np.stack([0 * s, np.cos(s), np.sin(s)], 1)]
    for c in circles:
        xy, depth = orthographic(c, azimuth, elevation)
        near = np.where(depth >= 0, xy.T, np.nan)
        far = np.where(depth < 0, xy.T, np.nan)
        ax.plot(near[0], near[1], color="0.75", lw=0.8)
        ax.plot(far[0], far[1], color="0.85", lw=0.6, ls=":")
    ax.set_xlim(-1.12, 1.12)
    ax.set_ylim(-1.12, 1.12)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)


def _near_far(x, azimuth: float, elevation: float):
    xy, depth = orthographic(x, azimuth, elevation)
    return xy[depth >= 0], xy[depth < 0]


def sphere_scatter(ax: Axes, x, azimuth: float, color: str = COLORS["x_t"], s: float = 6,
                   elevation: float = ELEVATION):
    """Points x (B, 3) on the sphere: the near half in `color`, the far half faint grey. Returns the two scatters
    (near, far) for `update_sphere_scatter`."""
    near, far = _near_far(x, azimuth, elevation)
    back = ax.scatter(far[:, 0], far[:, 1], s=s * 0.6, color="0.8", lw=0, zorder=1)
    front = ax.scatter(near[:, 0], near[:, 1], s=s, color=color, lw=0, zorder=3)
    return front, back


def update_sphere_scatter(arts, x, azimuth: float, elevation: float = ELEVATION) -> None:
    """Move the scatters of `sphere_scatter` to points x at view `azimuth`."""
    near, far = _near_far(x, azimuth, elevation)
    arts[0].set_offsets(near)
    arts[1].set_offsets(far)


def _arrow_arrays(x, v, azimuth: float, elevation: float):
    xy, depth = orthographic(x, azimuth, elevation)
    uv, _ = orthographic(v, azimuth, elevation)
    hidden = np.repeat((depth < 0)[:, None], 2, 1)
    return xy, np.ma.masked_array(uv[:, 0], hidden[:, 0]), np.ma.masked_array(uv[:, 1], hidden[:, 1])


def sphere_arrows(ax: Axes, x, v, azimuth: float, color: str = COLORS["model"], scale: float = 1.0,
                  elevation: float = ELEVATION):
    """Tangent vectors v (B, 3) at points x (B, 3), projected; arrows on the far half are hidden (masked), so the
    arrow count stays fixed and `update_sphere_arrows` can move them. An arrow of length |v| spans |v| / scale
    in data units (a unit sphere has radius 1)."""
    xy, u, w = _arrow_arrays(x, v, azimuth, elevation)
    return ax.quiver(xy[:, 0], xy[:, 1], u, w, color=color, angles="xy", scale_units="xy", scale=scale,
                     width=0.005, zorder=4)


def update_sphere_arrows(q, x, v, azimuth: float, elevation: float = ELEVATION) -> None:
    """Move the quiver of `sphere_arrows` to points x with vectors v at view `azimuth`."""
    xy, u, w = _arrow_arrays(x, v, azimuth, elevation)
    q.set_offsets(xy)
    q.set_UVC(u, w)


def torus_axes(ax: Axes, title: str | None = None) -> None:
    """The unrolled flat torus: the square [0, 2π]² with its periodic edges dashed (opposite edges are glued)."""
    two_pi = 2 * math.pi
    for e in (0.0, two_pi):
        ax.axvline(e, color="0.5", ls="--", lw=0.8)
        ax.axhline(e, color="0.5", ls="--", lw=0.8)
    ax.set_xlim(-0.15, two_pi + 0.15)
    ax.set_ylim(-0.15, two_pi + 0.15)
    ax.set_aspect("equal")
    ax.set_xticks([0, math.pi, two_pi], ["0", "π", "2π"])
    ax.set_yticks([0, math.pi, two_pi], ["0", "π", "2π"])
    ax.set_xlabel("θ₁")
    ax.set_ylabel("θ₂")
    if title is not None:
        ax.set_title(title)

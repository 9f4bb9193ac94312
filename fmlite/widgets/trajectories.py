"""Points moving along trajectories (notebooks 00 and 04): a t slider over a stored trajectory.

Each explorer is a pure `draw_*(fig, ...)` function (tests and static figures call it) plus a thin
`Explorer` wrapper (see `fmlite.widgets.explorer`).
"""
from __future__ import annotations

from matplotlib.figure import Figure

from ..checks import check_time_value
from .explorer import Explorer, t_slider

__all__ = ["draw_trajectory", "update_trajectory", "trajectory_explorer"]


def _time_step(trajectory) -> float:
    """Slider step of a trajectory of K + 1 states on a uniform grid of [0, 1] (one state: any step)."""
    return 1.0 / (len(trajectory) - 1) if len(trajectory) > 1 else 0.01


def draw_trajectory(fig: Figure, t: float, trajectory, target=None, trail: int = 0, lim: float = 3.0,
                    n_trails: int = 60) -> None:
    """Points of a flow at time t (nearest stored step), optionally with the target data faint behind
    and the last `trail` steps of a few paths drawn as lines (`fmlite.plotting.flow_snapshot` on one Axes).

    Args:
        fig: empty Figure to draw into.
        t: time in [0, 1] (0 = noise, 1 = data); the trajectory is assumed on a uniform grid of [0, 1].
        trajectory: (K + 1, B, 2) states, e.g. `integrate(..., return_trajectory=True).trajectory`.
        target: optional (N, 2) data cloud shown in light grey.
        trail: number of past steps drawn as lines (0 = none).
    """
    t = check_time_value(t)
    from ..plotting import flow_snapshot, legend_below
    ax = fig.add_subplot(1, 1, 1)
    flow_snapshot(ax, trajectory, t, target=target, trail=trail, lim=lim, n_trails=n_trails)
    legend_below(ax, ncol=3)


def update_trajectory(fig: Figure, t: float, trajectory, target=None, trail: int = 0, lim: float = 3.0,
                      n_trails: int = 60) -> bool:
    """In-place fast path of `draw_trajectory` for a new t on a figure it drew: moves the points and the
    trail lines and retitles. Returns False (changing nothing) on a figure drawn with other trails.
    """
    t = check_time_value(t)
    from ..plotting import frame_index, to_numpy
    tr = to_numpy(trajectory)
    k = frame_index(t, len(tr))
    ax = fig.axes[0]
    if len(ax.lines) != (min(n_trails, tr.shape[1]) if trail > 0 else 0):
        return False
    lo = max(0, k - trail)
    for i, line in enumerate(ax.lines):
        line.set_data(tr[lo:k + 1, i, 0], tr[lo:k + 1, i, 1])
    ax.collections[-1].set_offsets(tr[k])
    ax.set_title(f"t = {float(t):.2f}")
    return True


def trajectory_explorer(trajectory, target=None, trail: int = 0, lim: float = 3.0, t: float = 0.0,
                        size: float = 4.5) -> Explorer:
    """Slider over t moving the points along a stored trajectory (K + 1, B, 2); see `draw_trajectory`."""
    return Explorer(draw_trajectory, {"t": t_slider(t, step=_time_step(trajectory))}, figsize=(size, size),
                    update=update_trajectory, cheap=("t",), trajectory=trajectory, target=target, trail=trail, lim=lim)

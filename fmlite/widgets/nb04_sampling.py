"""Notebook 04: ODE solvers step by step, over t, steps and method.

Each explorer is a pure `draw_*(fig, ...)` function (tests and static figures call it) plus a thin
`Explorer` wrapper (see `fmlite.widgets.explorer`).
"""
from __future__ import annotations

from matplotlib.figure import Figure

from .explorer import Explorer, dropdown, int_slider, t_slider

__all__ = ["draw_solver_paths", "update_solver_paths", "update_solver_panel", "solver_explorer", "snap_to_grid"]


def _title(method: str, steps: int, nfe: int, shown: float, with_t: bool) -> str:
    s = "" if int(steps) == 1 else "s"
    return f"{method}, {steps} step{s}, NFE = {nfe}" + (f": t = {shown:.2f}" if with_t else "")


def draw_solver_paths(fig: Figure, t: float, steps: int, method: str, velocity, x_0, target=None,
                      reference=None, lim: float = 3.0, n_paths: int = 40, title_t: bool = True) -> None:
    """Sample with `steps` steps of `method` and show the points at time t with their paths so far.

    The points sit at the last solver step at or before t; the first n_paths paths are drawn as
    polylines through the solver's steps (straight segments: that is all a fixed-step solver knows),
    over the same paths of an accurate `reference` trajectory in thin grey.

    Args:
        fig: empty Figure. t: time in [0, 1]. steps: number of solver steps >= 1.
        method: "euler", "midpoint", "heun" or "rk4". velocity: v(x, t), e.g. a trained model.
        x_0: the starting noise (B, 2). target: optional data (N, 2), drawn faint.
        reference: optional (K + 1, B, 2) accurate trajectory from the same x_0 (uniform grid of [0, 1]).
        title_t: end the title with the time shown (the explorer states it in its label instead).
    """
    from ..plotting import COLORS, SOLVER_STYLE, solver_panel
    from ..solvers import integrate

    sol = integrate(velocity, x_0, int(steps), method, return_trajectory=True)
    ax = fig.add_subplot(1, 1, 1)
    shown = solver_panel(ax, sol.trajectory, t, SOLVER_STYLE.get(method, (COLORS["path"],))[0], target,
                         reference, lim, n_paths)
    from ..plotting import legend_below
    legend_below(ax, ncol=2)
    ax.set_title(_title(method, steps, sol.nfe, shown, title_t))


def update_solver_panel(ax, trajectory, t: float, reference=None, n_paths: int = 40, color: str | None = None) -> float:
    """Move the artists of an Axes drawn by `fmlite.plotting.solver_panel` (same reference, n_paths and
    number of points) to another time t or another trajectory; `color` recolours the solver's paths and their
    legend entry (another method). Returns the time shown."""
    from ..plotting import frame_index, to_numpy
    tr = to_numpy(trajectory)
    steps = len(tr) - 1
    k = frame_index(t, len(tr), at_or_before=True)
    m = min(n_paths, tr.shape[1])
    lines = ax.lines
    if reference is not None:
        ref = to_numpy(reference)
        kr = frame_index(k / max(steps, 1), len(ref))
        for i, line in enumerate(lines[:m]):
            line.set_data(ref[:kr + 1, i, 0], ref[:kr + 1, i, 1])
        lines = lines[m:]
    for i, line in enumerate(lines):
        line.set_data(tr[:k + 1, i, 0], tr[:k + 1, i, 1])
        if color is not None:
            line.set_color(color)
    legend = ax.get_legend()
    if color is not None and legend is not None:
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            if text.get_text().startswith("solver path"):
                handle.set_color(color)
    ax.collections[-1].set_offsets(tr[k])
    return k / max(steps, 1)


def update_solver_paths(fig: Figure, t: float, steps: int, method: str, velocity, x_0, target=None,
                        reference=None, lim: float = 3.0, n_paths: int = 40, title_t: bool = True) -> None:
    """In-place fast path of `draw_solver_paths` for a new t, number of steps or method."""
    from ..plotting import COLORS, SOLVER_STYLE
    from ..solvers import integrate

    sol = integrate(velocity, x_0, int(steps), method, return_trajectory=True)
    ax = fig.axes[0]
    shown = update_solver_panel(ax, sol.trajectory, t, reference, n_paths,
                                color=SOLVER_STYLE.get(method, (COLORS["path"],))[0])
    ax.set_title(_title(method, steps, sol.nfe, shown, title_t))


def snap_to_grid(t_control, steps_control) -> None:
    """Keep a t slider on the grid of a fixed-step solver: step 1/steps, and its value moved to the nearest
    grid time whenever it or `steps` changes, so every key press moves the picture one solver step and the
    slider's t is the time the picture shows. Register it before any other observer of the two controls."""
    def snap(change=None):
        n = int(steps_control.value)
        t_control.step = 1.0 / n
        t_control.value = round(t_control.value * n) / n
    snap()
    steps_control.observe(snap, names="value")
    t_control.observe(snap, names="value")


def solver_explorer(velocity, x_0, target=None, steps: int = 4, method: str = "euler", t: float = 1.0,
                    reference_steps: int = 100, lim: float = 3.0, size: float = 5.5) -> "Explorer":
    """Sliders t and steps and a method menu over `draw_solver_paths`; the grey reference paths are
    computed once here with RK4 and `reference_steps` steps. The t slider moves on the solver's grid
    (`snap_to_grid`), so the label's t is the time the picture shows; the title states method, steps and NFE."""
    from ..solvers import integrate

    reference = integrate(velocity, x_0, reference_steps, "rk4", return_trajectory=True).trajectory
    controls = {"t": t_slider(t, step=0.01, continuous_update=False),
                "steps": int_slider("steps", steps, 1, 32),
                "method": dropdown("method", ["euler", "midpoint", "heun", "rk4"], method)}
    snap_to_grid(controls["t"], controls["steps"])  # before the Explorer observes: one drawing per change
    return Explorer(draw_solver_paths, controls, figsize=(size, size), update=update_solver_paths,
                    cheap=("t", "steps", "method"), velocity=velocity, x_0=x_0,
                    target=target, reference=reference, lim=lim, title_t=False)

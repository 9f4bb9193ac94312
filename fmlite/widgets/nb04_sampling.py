"""Notebook 04: ODE solvers step by step, over t, steps and method.

Each explorer is a pure `draw_*(fig, ...)` function (tests and static figures call it) plus a thin
`Explorer` wrapper (see `fmlite.widgets.explorer`).
"""
from __future__ import annotations

from matplotlib.figure import Figure

from ..checks import check_count, check_time_value
from .explorer import Explorer, dropdown, int_slider, t_slider

__all__ = ["draw_solver_paths", "update_solver_paths", "solver_explorer", "snap_to_grid"]


def _title(method: str, steps: int, nfe: int, shown: float, with_t: bool) -> str:
    s = "" if int(steps) == 1 else "s"
    return f"{method}, {steps} step{s}, NFE = {nfe}" + (f": t = {shown:.2f}" if with_t else "")


def draw_solver_paths(fig: Figure, t: float, steps: int, method: str, velocity, x_0, target=None,
                      reference=None, lim: float = 3.0, n_paths: int = 40, title_t: bool = True) -> None:
    """Sample with `steps` steps of `method` and show the points at time t with their paths so far.

    The points sit at the last solver step at or before t; the first n_paths paths are drawn as
    polylines through the solver's steps (straight segments: that is all a fixed-step solver knows),
    over the same paths of an accurate `reference` trajectory in thin grey (`fmlite.plotting.solver_panel`).

    Args:
        fig: empty Figure. t: time in [0, 1]. steps: number of solver steps >= 1.
        method: "euler", "midpoint", "heun" or "rk4". velocity: v(x, t), e.g. a trained model.
        x_0: the starting noise (B, 2). target: optional data (N, 2), drawn faint.
        reference: optional (K + 1, B, 2) accurate trajectory from the same x_0 (uniform grid of [0, 1]).
        title_t: end the title with the time shown (the explorer states it in its label instead).
    """
    t = check_time_value(t)
    steps = check_count(steps, "steps")
    from ..plotting import COLORS, SOLVER_STYLE, solver_panel
    from ..solvers import integrate

    sol = integrate(velocity, x_0, int(steps), method, return_trajectory=True)
    ax = fig.add_subplot(1, 1, 1)
    shown = solver_panel(ax, sol.trajectory, t, SOLVER_STYLE.get(method, (COLORS["path"],))[0], target,
                         reference, lim, n_paths)
    from ..plotting import legend_below
    legend_below(ax, ncol=2)
    ax.set_title(_title(method, steps, sol.nfe, shown, title_t))


def update_solver_paths(fig: Figure, t: float, steps: int, method: str, velocity, x_0, target=None,
                        reference=None, lim: float = 3.0, n_paths: int = 40, title_t: bool = True) -> None:
    """In-place fast path of `draw_solver_paths` for a new t, number of steps or method."""
    t = check_time_value(t)
    steps = check_count(steps, "steps")
    from ..plotting import COLORS, SOLVER_STYLE, update_solver_panel
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

"""Notebook 04: ODE solvers step by step, over t, steps and method.

Each explorer is a pure `draw_*(fig, ...)` function (tests and static figures call it) plus a thin
`Explorer` wrapper (see `fmlite.widgets.explorer`). The solver explorer keeps each solve per (steps, method),
so a move of t, or back to a solver seen before, only redraws. `site_explorers` rebuilds the notebook's
explorers for the static site (`fmlite.widgets.site_grid`).
"""
from __future__ import annotations

from contextlib import contextmanager

from matplotlib.figure import Figure

from ..checks import check_count, check_time_value
from .explorer import Explorer, dropdown, int_slider, t_slider

__all__ = ["draw_solver_paths", "update_solver_paths", "solver_explorer", "snap_to_grid", "site_explorers"]


def _title(method: str, steps: int, nfe: int, shown: float, with_t: bool) -> str:
    s = "" if int(steps) == 1 else "s"
    return f"{method}, {steps} step{s}, NFE = {nfe}" + (f": t = {shown:.2f}" if with_t else "")


def _solve(velocity, x_0, steps: int, method: str, cache: dict | None):
    """(trajectory, NFE) of `steps` steps of `method` from x_0, kept in `cache` per (steps, method)."""
    from ..solvers import integrate

    key = (int(steps), method)
    if cache is not None and key in cache:
        return cache[key]
    sol = integrate(velocity, x_0, int(steps), method, return_trajectory=True)
    if cache is not None:
        cache[key] = (sol.trajectory, sol.nfe)
    return sol.trajectory, sol.nfe


def draw_solver_paths(fig: Figure, t: float, steps: int, method: str, velocity, x_0, target=None,
                      reference=None, lim: float = 3.0, n_paths: int = 40, title_t: bool = True,
                      cache: dict | None = None) -> None:
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
        cache: optional dict keeping each solve per (steps, method) (`update_solver_paths` reuses it): use one
            cache per (velocity, x_0).
    """
    t = check_time_value(t)
    steps = check_count(steps, "steps")
    from ..plotting import COLORS, SOLVER_STYLE, solver_panel

    trajectory, nfe = _solve(velocity, x_0, steps, method, cache)
    ax = fig.add_subplot(1, 1, 1)
    shown = solver_panel(ax, trajectory, t, SOLVER_STYLE.get(method, (COLORS["path"],))[0], target,
                         reference, lim, n_paths)
    from ..plotting import legend_below
    legend_below(ax, ncol=2)
    ax.set_title(_title(method, steps, nfe, shown, title_t))


def update_solver_paths(fig: Figure, t: float, steps: int, method: str, velocity, x_0, target=None,
                        reference=None, lim: float = 3.0, n_paths: int = 40, title_t: bool = True,
                        cache: dict | None = None) -> None:
    """In-place fast path of `draw_solver_paths` for a new t, number of steps or method."""
    t = check_time_value(t)
    steps = check_count(steps, "steps")
    from ..plotting import COLORS, SOLVER_STYLE, update_solver_panel

    trajectory, nfe = _solve(velocity, x_0, steps, method, cache)
    ax = fig.axes[0]
    shown = update_solver_panel(ax, trajectory, t, reference, n_paths,
                                color=SOLVER_STYLE.get(method, (COLORS["path"],))[0])
    ax.set_title(_title(method, steps, nfe, shown, title_t))


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
    computed once here with RK4 and `reference_steps` steps, and each solve is kept per (steps, method), so a
    move of t only redraws. The t slider moves on the solver's grid (`snap_to_grid`), so the label's t is the
    time the picture shows; the title states method, steps and NFE."""
    from ..solvers import integrate

    reference = integrate(velocity, x_0, reference_steps, "rk4", return_trajectory=True).trajectory
    controls = {"t": t_slider(t, step=0.01, continuous_update=False),
                "steps": int_slider("steps", steps, 1, 32),
                "method": dropdown("method", ["euler", "midpoint", "heun", "rk4"], method)}
    snap_to_grid(controls["t"], controls["steps"])  # before the Explorer observes: one drawing per change
    return Explorer(draw_solver_paths, controls, figsize=(size, size), update=update_solver_paths,
                    cheap=("t", "steps", "method"), velocity=velocity, x_0=x_0,
                    target=target, reference=reference, lim=lim, title_t=False, cache={})


# ----------------------------------------------------------------------------- the static site (issue 22)
#: The solver explorer's steps on the site, and its t values: every time k/32, so that each number of steps
#: shows all its grid times (k/steps, the times its t slider snaps to).
_SITE_STEPS = (1, 2, 4, 8, 16, 32)
_SITE_SOLVER_T = tuple(k / 32 for k in range(33))


@contextmanager
def _one_thread():
    """One torch CPU thread for the block, as notebook 04's setup cell sets (`torch.set_num_threads(1)`):
    the same numbers, and on a busy 2-core CPU several times faster for this small network; restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _notebook_run() -> tuple:
    """(model, x_0, fresh) as notebook 04 builds them: the shipped network `moons_sampling` (the training
    cell with `RETRAIN = False`, `cells[3]`; `RETRAIN = True` trains the same run), the noise
    `x_0 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(2))` (`cells[6]`) and the fresh data
    `fresh = sample_2d("moons", 2000, seed=1)` (`cells[7]`)."""
    import torch

    from ..datasets import sample_2d
    from ..pretrained import load_pretrained
    return (load_pretrained("moons_sampling"), torch.randn(2000, 2, generator=torch.Generator().manual_seed(2)),
            sample_2d("moons", 2000, seed=1))


def _trajectory_inputs() -> dict:
    """The arguments of notebook 04's trajectory explorer as the notebook builds them: `_notebook_run`, then
    `flow = integrate(model, x_0[:600], steps=50, method="rk4", return_trajectory=True)` (`cells[18]`) and the
    explorer cell `trajectory_explorer(flow.trajectory, target=fresh, trail=8, t=0.5)` (`cells[22]`)."""
    from ..solvers import integrate

    model, x_0, fresh = _notebook_run()
    flow = integrate(model, x_0[:600], steps=50, method="rk4", return_trajectory=True)
    return {"trajectory": flow.trajectory, "target": fresh, "trail": 8, "t": 0.5}


def _solver_inputs() -> dict:
    """The arguments of notebook 04's solver explorer as the notebook builds them: `_notebook_run`, then the
    explorer cell `solver_explorer(model, x_0[:300], target=fresh, steps=3, method="euler", t=1.0,
    reference_steps=50)` (`cells[26]`)."""
    model, x_0, fresh = _notebook_run()
    return {"velocity": model, "x_0": x_0[:300], "target": fresh, "steps": 3, "method": "euler", "t": 1.0,
            "reference_steps": 50}


def _on_solver_grid(setting: dict) -> bool:
    """Whether a setting of the solver explorer is one its t slider can show: t a time k/steps of the solver's
    grid (`snap_to_grid` moves any other t to the nearest such time)."""
    k = setting["t"] * setting["steps"]
    return abs(k - round(k)) < 1e-9


def site_explorers(quick: bool = False) -> list:
    """Notebook 04's explorers for the static site, in the notebook's order: the trajectory explorer (points
    moving along the RK4 flow, t) and the solver explorer (t, steps, method).

    Both are rebuilt exactly as the notebook builds them (`_trajectory_inputs`, `_solver_inputs`: the shipped
    checkpoint and seeded noise and data, 1-3 s on one CPU thread), so their pictures are the notebook's. Build
    and render under the notebooks' style (`fmlite.plotting.lecture_style()`, as every setup cell calls it).

    Grids:
        trajectories: t from 0 to 1 in steps of 0.05 (21 settings); quick: t = 0, 0.5, 1. The live slider
            moves in steps of 1/50 (the flow's 50 steps); at t = 0.05, 0.15, ... the explorer shows the nearest
            stored step, 0.01 away, as it does for any t set from Python.
        solver: steps 1, 2, 4, 8, 16, 32; t = k/32, allowed where t is on the solver's grid (`_on_solver_grid`:
            t * steps a whole number, so steps 1 has t = 0, 1 and steps 32 every k/32); every method: 276
            settings. Quick: steps 1, 4; t = 0, 0.5, 1; euler and rk4 (10 settings). The values list steps
            before t: `SiteGrid.render` sets the controls in that order, so the new steps snaps the old t
            first and the wanted t, on the new grid, then stays where it is put.
    """
    from .site_grid import T_GRID, T_GRID_QUICK, SiteGrid
    from .trajectories import trajectory_explorer

    with _one_thread():
        trajectories = SiteGrid("trajectories", trajectory_explorer(**_trajectory_inputs()),
                                {"t": T_GRID_QUICK if quick else T_GRID})
        solver = solver_explorer(**_solver_inputs())
    methods = [o[1] if isinstance(o, tuple) else o for o in solver.controls["method"].options]
    values = ({"steps": (1, 4), "t": T_GRID_QUICK, "method": ("euler", "rk4")} if quick else
              {"steps": _SITE_STEPS, "t": _SITE_SOLVER_T, "method": tuple(methods)})
    return [trajectories, SiteGrid("solver", solver, values, allowed=_on_solver_grid)]

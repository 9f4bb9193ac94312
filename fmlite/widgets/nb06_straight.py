"""Notebook 06: independent pairing, mini-batch OT and reflow side by side, over t and the number of Euler steps.

A pure `draw_straight_paths(fig, ...)` (tests and static figures call it) plus a thin `Explorer` wrapper
(see `fmlite.widgets.explorer`). The Euler trajectories of every model are computed once per number of
steps and kept in a cache, so moving t only redraws.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from ..checks import check_count, check_time_value
from .explorer import Explorer, dropdown, t_slider

__all__ = ["STEP_CHOICES", "euler_trajectories", "draw_straight_paths", "update_straight_paths", "straight_explorer"]

#: The numbers of Euler steps the explorer offers.
STEP_CHOICES = (1, 2, 4, 8, 32)


def euler_trajectories(velocities: dict, x_0, steps: int, target=None, within: dict | None = None) -> dict:
    """For each named velocity field: its Euler trajectory from x_0 in `steps` steps, its straightness S and,
    with a target, the energy distance of its end points to the target.

    Args:
        velocities: name -> v(x, t), e.g. {"independent": model_a, "OT": model_b}.
        x_0: starting noise (B, 2). steps: Euler steps >= 1. target: optional data (N, 2).
        within: optional dict keeping the target's within-cloud energy term between calls (same target).

    Returns:
        name -> dict(trajectory=(steps + 1, B, 2), straightness=float, energy=float or None).

    Raises:
        ValueError: steps not a whole number >= 1 (`fmlite.checks.check_count`), or bad x_0 (`integrate`).
    """
    steps = check_count(steps, "steps")
    from ..metrics import straightness
    from ..solvers import integrate

    out, within = {}, {} if within is None else within
    for name, velocity in velocities.items():
        tr = integrate(velocity, x_0, steps, "euler", return_trajectory=True).trajectory
        energy = None if target is None else _energy_distance(tr[-1], target, within)
        out[name] = dict(trajectory=tr, straightness=straightness(tr), energy=energy)
    return out


def _energy_distance(a, b, within: dict) -> float:
    """`fmlite.metrics.energy_distance(a, b)`, the same operations, with the target's within-cloud term
    computed once per target and kept in `within` (it is most of the cost and the same for every model)."""
    import torch

    from ..metrics import _as_clouds
    a, b = _as_clouds(a, b)
    n, m = len(a), len(b)
    ab = torch.cdist(a, b).mean()
    aa = torch.cdist(a, a).sum() / (n * (n - 1))
    if "bb" not in within:
        within["bb"] = torch.cdist(b, b).sum() / (m * (m - 1))
    return float(2 * ab - aa - within["bb"])


def draw_straight_paths(fig: Figure, t: float, steps: int, velocities: dict, x_0, target=None, references=None,
                        cache: dict | None = None, lim: float = 3.0, n_paths: int = 30) -> None:
    """One panel per model: Euler with `steps` steps from the same noise, the points at the last step at or
    before t, n_paths paths as polylines through the steps over the accurate paths (grey), and in the title
    the straightness S of the Euler paths (not shown for one step: a single segment is its own chord, S = 0 for
    every model) and the energy distance of the end points to the target. Each model's polylines and step dots
    have their own colour (orange, purple, blue, grey in turn), the accurate paths are black dotted and the
    points at t vermillion.

    Args:
        fig: empty Figure. t: time in [0, 1]. steps: Euler steps >= 1.
        velocities: name -> v(x, t). x_0: noise (B, 2). target: data (N, 2), drawn faint.
        references: optional name -> accurate trajectory (M + 1, B, 2) from the same x_0.
        cache: optional dict, filled with `euler_trajectories` per number of steps and reused (and the target's
            within-cloud energy term): use one cache per (velocities, x_0, target).
    """
    t = check_time_value(t)
    steps = check_count(steps, "steps")
    from ..plotting import COLORS, solver_panel

    results = _results(velocities, x_0, int(steps), target, cache)
    colors = [COLORS["path"], COLORS["exact"], COLORS["data"], COLORS["noise"]]
    for i, (name, r) in enumerate(results.items()):
        ax = fig.add_subplot(1, len(results), i + 1)
        ref = None if references is None else references.get(name)
        shown = solver_panel(ax, r["trajectory"], t, colors[i % len(colors)], target, ref, lim, n_paths)
        ax.set_title(_title(name, shown, r), fontsize="medium", y=1.0)


def _results(velocities, x_0, steps: int, target, cache) -> dict:
    if cache is not None and steps in cache:
        return cache[steps]
    within = None if cache is None else cache.setdefault("target term", {})
    results = euler_trajectories(velocities, x_0, steps, target, within)
    if cache is not None:
        cache[steps] = results
    return results


def _title(name: str, shown: float, r: dict) -> str:
    energy = "" if r["energy"] is None else f", ED {r['energy']:.3f}"
    # one Euler step is one straight segment, its own chord: its S is 0 for every model and says nothing
    curve = "S: one segment" if len(r["trajectory"]) == 2 else f"S = {r['straightness']:.3f}"
    return f"{name}: t = {shown:.2f}\n{curve}{energy}"


def update_straight_paths(fig: Figure, t: float, steps: int, velocities: dict, x_0, target=None, references=None,
                          cache: dict | None = None, lim: float = 3.0, n_paths: int = 30) -> None:
    """In-place fast path of `draw_straight_paths` for a new t or number of steps: moves the lines and points."""
    t = check_time_value(t)
    steps = check_count(steps, "steps")
    from ..plotting import update_solver_panel
    results = _results(velocities, x_0, int(steps), target, cache)
    for ax, (name, r) in zip(fig.axes, results.items()):
        ref = None if references is None else references.get(name)
        shown = update_solver_panel(ax, r["trajectory"], t, ref, n_paths)
        ax.set_title(_title(name, shown, r), fontsize="medium", y=1.0)


def straight_explorer(velocities: dict, x_0, target=None, steps: int = 2, t: float = 1.0, reference_steps: int = 20,
                      lim: float = 3.0, size: float = 3.6) -> "Explorer":
    """A t slider and a steps menu (1, 2, 4, 8, 32 Euler steps) over `draw_straight_paths`; the grey accurate
    paths (RK4, `reference_steps` steps) are computed once here, the Euler paths once per number of steps."""
    from ..solvers import integrate

    references = {name: integrate(v, x_0, reference_steps, "rk4", return_trajectory=True).trajectory
                  for name, v in velocities.items()}
    controls = {"t": t_slider(t, step=0.01, continuous_update=False),
                "steps": dropdown("steps", list(STEP_CHOICES), steps)}
    return Explorer(draw_straight_paths, controls, figsize=(size * len(velocities), size + 0.5),
                    update=update_straight_paths, cheap=("t", "steps"),
                    velocities=velocities, x_0=x_0, target=target, references=references, cache={}, lim=lim)

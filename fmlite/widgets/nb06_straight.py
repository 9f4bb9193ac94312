"""Notebook 06: independent pairing, mini-batch OT and reflow side by side, over t and the number of Euler steps.

A pure `draw_straight_paths(fig, ...)` (tests and static figures call it) plus a thin `Explorer` wrapper
(see `fmlite.widgets.explorer`). The Euler trajectories of every model are computed once per number of
steps and kept in a cache, so moving t only redraws.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from ..checks import check_count, check_time_value
from .explorer import Explorer, dropdown, t_slider

__all__ = ["STEP_CHOICES", "euler_trajectories", "draw_straight_paths", "update_straight_paths", "straight_explorer", "site_explorers"]

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


# ----------------------------------------------------------------------------- the static site (issue 22)
def _notebook_straight_paths() -> Explorer:
    """Notebook 06's explorer (section 6), built from what its cells build it from:

    - setup cell: `lecture_style()` (the picture's fonts; set here too, see `site_explorers`);
    - section 1: `models` = the shipped checkpoints "moons_independent", "moons_ot", "moons_reflow"
      (`load_pretrained`, data/moons_*.pt), `fresh = sample_2d("moons", 2000, seed=1)` and
      `x_0 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(2))`;
    - section 6: `straight_explorer(models, x_0[:300], target=fresh, steps=1, t=1.0)`.

    The models the notebook trains itself (section 3's reflow) are not shown by the explorer; every input has
    its own seed or file, so nothing run in between changes it; the setup cell's `torch.set_num_threads(1)`
    does not change the picture (tests/test_explorers_06.py: the rebuilt picture equals the saved one byte
    for byte).
    """
    import torch

    from ..datasets import sample_2d
    from ..pretrained import load_pretrained

    models = {"independent": load_pretrained("moons_independent"), "OT": load_pretrained("moons_ot"),
              "reflow": load_pretrained("moons_reflow")}
    fresh = sample_2d("moons", 2000, seed=1)
    x_0 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(2))
    return straight_explorer(models, x_0[:300], target=fresh, steps=1, t=1.0)


def site_explorers(quick: bool = False) -> list:
    """Notebook 06's explorers as the static site offers them (`fmlite.widgets.site_grid`), in notebook order.

    One explorer, "straight-paths": t in steps of 0.05 (`T_GRID`) and every option of the steps menu
    (`STEP_CHOICES`: 1, 2, 4, 8, 32): 105 settings. As live, the picture shows the last Euler step at or
    before t (the titles say which). `quick=True`: t 0, 0.5, 1 and 1, 4, 32 steps: 9 settings.

    Calls `fmlite.plotting.lecture_style()`, as the notebook's setup cell does: the pictures are drawn when
    the grid is rendered, with the rcParams then in effect, so render before changing the style. The
    lecture scale (FMLITE_LECTURE_SCALE) should be unset, as when the notebook was saved (960 px pictures).
    """
    from ..plotting import lecture_style
    from .site_grid import T_GRID, T_GRID_QUICK, SiteGrid

    lecture_style()
    explorer = _notebook_straight_paths()
    options = tuple(explorer.controls["steps"].options)
    values = {"t": T_GRID_QUICK, "steps": (1, 4, 32)} if quick else {"t": T_GRID, "steps": options}
    return [SiteGrid("straight-paths", explorer, values)]

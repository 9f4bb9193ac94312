"""Notebook 00 on the static site: its one explorer (`trajectory_explorer`, in `trajectories.py`), rebuilt as the
notebook builds it, with the site's grid (`fmlite.widgets.site_grid`).
"""
from __future__ import annotations

import functools

from .site_grid import SiteGrid

__all__ = ["site_explorers"]

#: The solver steps of notebook 00's flow: its t slider moves in steps of 1 / STEPS, one per stored frame.
STEPS = 25


@functools.lru_cache(maxsize=1)
def _flow():
    """(trajectory, target) of the notebook's explorer, drawn as the notebook draws them (same seed, same order of
    draws from torch's generator), computed once per process (the explorer itself is rebuilt every time)."""
    import torch

    from ..datasets import sample_2d, text_points
    from ..exact import marginal_velocity
    from ..paths import LinearPath
    from ..pretrained import load_pretrained
    from ..solvers import integrate

    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # small tensors: one thread is as fast, and far faster on a busy machine
        torch.manual_seed(0)                               # the setup cell
        data = sample_2d("moons", 300, seed=0)            # Part 1's wind: its draw of 500 noise points comes first
        wind = lambda x, t: marginal_velocity(x, t, data, LinearPath())  # noqa: E731
        integrate(wind, torch.randn(500, 2), steps=STEPS, t_end=0.5)
        model = load_pretrained("flow")
        x_0 = torch.randn(2000, 2)
        flow = integrate(model, x_0, steps=STEPS, method="midpoint", return_trajectory=True)
    finally:
        torch.random.set_rng_state(state)
        torch.set_num_threads(threads)
    return flow.trajectory, text_points("FLOW", 2000, seed=1)


def site_explorers(quick: bool = False) -> list[SiteGrid]:
    """The explorers of notebook 00 as the site offers them: the points of the pretrained "FLOW" model along
    t. The site's t grid is the live slider's own (every stored frame, 0, 0.04, ..., 1); `quick`: 3 values.

    The data are drawn as the notebook draws them, so the pictures are the live explorer's.
    """
    from .trajectories import trajectory_explorer

    trajectory, target = _flow()
    explorer = trajectory_explorer(trajectory, target=target, t=1.0, lim=2.5)
    grid = tuple(round(k / STEPS, 2) for k in range(STEPS + 1))
    t = (0.0, grid[len(grid) // 2], 1.0) if quick else grid
    return [SiteGrid("flow", explorer, {"t": t})]

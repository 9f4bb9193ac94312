"""Notebook 08: log p_t of a trained flow beside the exact log p_t, over t.

The model's log-density at time t is the change of variables run from t down to 0. For each t of a
grid it is computed once (`log_density_maps`, the slow part), so a slider move only picks a cached
map and evaluates the closed form beside it. `draw_log_densities` is the pure drawing function
(tests and static figures call it), `likelihood_explorer` the thin `Explorer` wrapper.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ..checks import check_count, check_time_value
from .explorer import Explorer, t_slider

__all__ = ["model_log_density", "LogDensityMaps", "log_density_maps", "log_density_panel", "draw_log_densities",
           "update_log_densities", "likelihood_explorer", "site_explorers"]


def model_log_density(velocity: Callable[[Tensor, Tensor], Tensor], x: Tensor, t: float, steps: int = 10,
                      method: str = "rk4", divergence: str = "exact") -> Tensor:
    """log p_t(x) of the flow dx/ds = velocity(x, s) started from N(0, I) at s = 0, for one time t in [0, 1].

    `fmlite.likelihood.log_likelihood` integrates over [0, 1]; the field w(y, s) = t * velocity(y, t s)
    has over [0, 1] the flow that `velocity` has over [0, t], so log p_t = log_likelihood(w, x). It uses
    max(1, ceil(steps * t)) steps of `method` (steps per unit of time); at t = 0 it is log N(x; 0, I).

    Args:
        velocity: callable (x (B, D), t (B,)) -> (B, D). x: points (B, D). t: a number in [0, 1].
    Returns: (B,).
    Raises: ValueError for t not one number in [0, 1], steps not a whole number >= 1 (nothing is rounded),
        and whatever log_likelihood raises (bad x, a velocity of the wrong shape, a diverged flow).
    Source: Chen et al. 2018, Theorem 1 (instantaneous change of variables).
    """
    from ..likelihood import log_likelihood, standard_normal_log_prob

    t, steps = check_time_value(t), check_count(steps, "steps")
    if t == 0.0:
        return standard_normal_log_prob(x)

    def rescaled(y, s):
        return t * velocity(y, t * s)

    with torch.no_grad():
        return log_likelihood(rescaled, x, max(1, math.ceil(steps * t)), method, divergence)


def _grid(lim: float, n: int, dtype=torch.float32) -> Tensor:
    g = torch.linspace(-lim, lim, n, dtype=dtype)
    X, Y = torch.meshgrid(g, g, indexing="xy")
    return torch.stack([X.reshape(-1), Y.reshape(-1)], dim=1)


@dataclass
class LogDensityMaps:
    """log p_t on an n x n grid over [-lim, lim]^2 for each t of `times`: maps (K, n, n), row = y, column = x."""

    times: np.ndarray
    maps: np.ndarray
    lim: float

    def nearest(self, t: float) -> tuple[float, np.ndarray]:
        """(the grid time closest to t, its map (n, n)).

        Raises:
            ValueError: t is not one number in [0, 1] (nothing is clipped: t = 7 is refused, not shown at 1).
        """
        k = int(np.argmin(np.abs(self.times - check_time_value(t))))
        return float(self.times[k]), self.maps[k]


def log_density_maps(velocity, times: Sequence[float], lim: float = 3.5, n: int = 40, steps: int = 10,
                     method: str = "rk4", dtype=torch.float32) -> LogDensityMaps:
    """`model_log_density` on an n x n grid for every t in `times` (the slow part, done once).

    Cost: about steps * sum(times) solver steps over n^2 points (2 backward passes each in 2-D).
    Raises: ValueError for an empty `times`, n not a whole number >= 2, steps not a whole number >= 1, a time
        outside [0, 1] (`model_log_density`).
    """
    n, steps = check_count(n, "n (grid points per side)", 2), check_count(steps, "steps")
    if len(times) == 0:
        raise ValueError("need at least one time in times, got none")
    pts = _grid(lim, n, dtype)
    maps = np.stack([model_log_density(velocity, pts, t, steps, method).detach().double().numpy().reshape(n, n)
                     for t in times])
    return LogDensityMaps(np.asarray(times, dtype=float), maps, float(lim))


def log_density_panel(ax, log_p, lim: float, vmin: float = -10.0, vmax: float = 0.0, title: str | None = None,
                      cmap: str = "magma"):
    """Image of log p (n, n) over [-lim, lim]^2; values below vmin take vmin's colour (only the picture)."""
    art = ax.imshow(np.asarray(log_p), origin="lower", extent=(-lim, lim, -lim, lim), cmap=cmap, vmin=vmin,
                    vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return art


def draw_log_densities(fig: Figure, t: float, maps: LogDensityMaps, exact_log_density: Callable[[Tensor, Tensor], Tensor],
                       vmin: float = -10.0, diff: float = 3.0) -> None:
    """Three panels at the grid time nearest t: the model's log p_t, the exact log p_t, and their difference.

    Args:
        fig: empty Figure. t: slider time in [0, 1]. maps: from `log_density_maps`.
        exact_log_density: callable (x (B, 2) float64, t (B,)) -> (B,), e.g. lambda x, t: gmm.log_density(x, t, path).
        vmin: lowest log p shown in colour. diff: colour range +-diff of the difference panel.
    """
    t = check_time_value(t)
    shown, model, exact, err = _maps_at(t, maps, exact_log_density, vmin)
    axes = fig.subplots(1, 3)
    art = log_density_panel(axes[0], model, maps.lim, vmin, title="model log $p_t$")
    log_density_panel(axes[1], exact, maps.lim, vmin, title="exact log $p_t$")
    fig.colorbar(art, ax=axes[:2], shrink=0.8, label=f"log density (≤ {vmin:g} dark)")
    im = axes[2].imshow(model - exact, origin="lower", extent=(-maps.lim, maps.lim) * 2, cmap="RdBu_r", vmin=-diff,
                        vmax=diff, interpolation="nearest")
    axes[2].set_xticks([])
    axes[2].set_yticks([])
    axes[2].set_title(f"model − exact: mean |·| {err:.2f}")
    fig.colorbar(im, ax=axes[2], shrink=0.8)
    fig.suptitle(f"t = {shown:.2f}")


def _maps_at(t: float, maps: LogDensityMaps, exact_log_density, vmin: float):
    """(grid time shown, model map, exact map, mean |model - exact| where exact > vmin)."""
    shown, model = maps.nearest(t)
    n = model.shape[0]
    pts = _grid(maps.lim, n, torch.float64)
    with torch.no_grad():
        exact = exact_log_density(pts, torch.full((len(pts),), shown, dtype=torch.float64)).double().numpy().reshape(n, n)
    where = exact > vmin
    err = np.abs(model - exact)[where].mean() if where.any() else float("nan")
    return shown, model, exact, err


def update_log_densities(fig: Figure, t: float, maps: LogDensityMaps, exact_log_density, vmin: float = -10.0,
                         diff: float = 3.0) -> None:
    """In-place fast path of `draw_log_densities` for a new t: new image arrays and titles (same colour scales)."""
    t = check_time_value(t)
    shown, model, exact, err = _maps_at(t, maps, exact_log_density, vmin)
    axes = fig.axes[:3]
    for ax, image in zip(axes, (model, exact, model - exact)):
        ax.images[0].set_data(np.asarray(image))
    axes[2].set_title(f"model − exact: mean |·| {err:.2f}")
    fig.suptitle(f"t = {shown:.2f}")


def likelihood_explorer(maps: LogDensityMaps, exact_log_density, t: float = 1.0, size: float = 4.0) -> "Explorer":
    """A t slider over `draw_log_densities`, stepping through the times of `maps` (computed beforehand)."""
    steps = np.diff(maps.times)
    step = float(steps.min()) if len(steps) else 0.1
    controls = {"t": t_slider(t, step=round(step, 4))}
    return Explorer(draw_log_densities, controls, figsize=(3.2 * size, size), update=update_log_densities,
                    cheap=("t",), maps=maps,
                    exact_log_density=exact_log_density)


# ----------------------------------------------------------------------------- the static site (issue 22)
def _likelihood_as_in_notebook() -> Explorer:
    """Notebook 08's explorer, built as its cells build it: the setup cell's `torch.manual_seed(0)` (the
    MLP's initial weights come from the global generator), cell 3 (`MLP(hidden=64)` trained for 1,000
    steps on `example_mixture()` by `train(..., batch_size=256, lr=3e-3, ema=0.995, seed=0)`, its EMA
    copy frozen), cell 20 (`log_density_maps(model, [k / 10 for k in range(11)], lim=3.5, n=30, steps=8)`
    beside the mixture's closed form) and cell 25 (`likelihood_explorer(maps, exact_log_density, t=0.7)`).

    No checkpoint ships this model and no shorter run gives the same weights, so the 1,000 steps are
    trained here (deterministic for a given machine and torch build: `tests/test_train_loop.py`). The global
    random state is restored afterwards.
    """
    from ..gaussian_mixture import example_mixture
    from ..models import MLP
    from ..paths import LinearPath
    from ..train import train

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        gmm, path = example_mixture(), LinearPath()
        history = train(MLP(hidden=64), path, lambda n: gmm.sample(n), steps=1000, batch_size=256, lr=3e-3,
                        ema=0.995, seed=0, device="cpu", progress=False)
    model = history.ema_model.requires_grad_(False)
    exact_log_density = lambda x, t: gmm.log_density(x, t, path)  # noqa: E731 - as cell 20 writes it
    maps = log_density_maps(model, [k / 10 for k in range(11)], lim=3.5, n=30, steps=8)
    return likelihood_explorer(maps, exact_log_density, t=0.7)


def site_explorers(quick: bool = False) -> list:
    """Notebook 08's explorer as the static site offers it (`fmlite.widgets.site_grid`): log p_t over t (cell 25).

    Rebuilt as the notebook builds it (see `_likelihood_as_in_notebook`: it trains the notebook's 1,000
    steps, most of the rebuild's 4-7 s on one thread of a 2-core CPU; rendering the 11 settings: 1 s), under the notebook's setup cell:
    `lecture_style()` (global matplotlib rcParams, which the pictures depend on) and one torch thread
    (restored afterwards).

    Grid: the values of `T_GRID` where the live slider can stop: its step is the maps' step, 0.1, so t in
    0, 0.1, ..., 1 (11 settings; at 0.05, 0.15, ... the slider would read a time the picture's title does not).
    quick: t in `T_GRID_QUICK`.
    """
    from ..plotting import lecture_style
    from .site_grid import T_GRID, T_GRID_QUICK, SiteGrid

    lecture_style()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        explorer = _likelihood_as_in_notebook()
    finally:
        torch.set_num_threads(threads)
    step = explorer.controls["t"].step
    stops = tuple(t for t in (T_GRID_QUICK if quick else T_GRID) if abs(t / step - round(t / step)) < 1e-9)
    return [SiteGrid("log-density", explorer, {"t": stops})]

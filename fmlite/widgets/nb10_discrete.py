"""Notebook 10: the checkerboard's tokens filling in under a learned CTMC sampler, over t, steps and the source.

A pure `draw_token_flow(fig, ...)` (tests and static figures call it), its in-place fast path
`update_token_flow`, and a thin `Explorer` wrapper (see `fmlite.widgets.explorer`). The sampler's states
for every source and number of steps are computed once when the explorer is built (`token_trajectories`),
so every move of a control only redraws.

Left panel: each sample is a pair of tokens (x, y) on a grid of `bins` cells per axis over [-lim, lim]^2;
a pair with both tokens known is a vermillion dot at its cell, one with a single token known a grey tick
in the margin of the known axis (x known: below the square; y known: left of it), a fully masked pair is
only counted. Right panel: the share of tokens that already hold their final value, at the sampler's
steps, against κ_t (for the mask source, the share revealed is κ_t in expectation).
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..checks import check_count, check_time_value
from .explorer import Explorer, dropdown, t_slider

__all__ = ["TOKEN_STEP_CHOICES", "token_trajectories", "draw_token_flow", "update_token_flow", "token_flow_explorer",
           "site_explorers"]

#: The numbers of Euler steps the explorer offers (one step: every token drawn at once from the posterior at t = 0).
TOKEN_STEP_CHOICES = (1, 2, 4, 8, 16)
_MARGIN = 0.3   # width of the strips for pairs with one token known, in data units


def token_trajectories(models: dict, paths: dict, n: int = 2000, steps=TOKEN_STEP_CHOICES, seed: int = 0) -> dict:
    """The CTMC Euler sampler's states for every source and number of steps.

    Args:
        models: source name -> token network model(x, t) -> logits (B, d, K) (`fmlite.discrete.TokenNet`).
        paths: source name -> its `fmlite.discrete.MixturePath`.
        n: samples per run (>= 1). steps: the numbers of steps. seed: seeds the source draw (seed) and the
            sampler's uniforms (seed + 1), the same for every run.

    Returns:
        {(source, steps): int64 trajectory (steps + 1, n, d)}.

    Raises:
        ValueError: n or a number of steps not a whole number >= 1; a model without its path.
    """
    import torch

    from ..discrete import sample_discrete
    n = check_count(n, "n")
    if set(models) != set(paths):
        raise ValueError(f"every model needs its path: models {sorted(models)}, paths {sorted(paths)}")
    out = {}
    for source, model in models.items():
        path = paths[source]
        d = model.length
        x_0 = path.source.sample(n, d, generator=torch.Generator().manual_seed(seed))
        for k in steps:
            k = check_count(k, "steps")
            g = torch.Generator().manual_seed(seed + 1)
            out[source, k] = sample_discrete(model, x_0, k, path, return_trajectory=True, generator=g).trajectory
    return out


def _centres(tokens: np.ndarray, bins: int, lim: float) -> np.ndarray:
    return (tokens + 0.5) / bins * 2 * lim - lim


def _frame(trajectories: dict, t: float, steps: int, source: str, bins: int, lim: float) -> dict:
    """What the panels show at time t: the last step at or before t, split by how many tokens are known."""
    from ..plotting import frame_index
    tr = trajectories[source, steps]
    k = frame_index(t, len(tr), at_or_before=True)
    x = tr[k].numpy()
    known = x < bins                                            # (n, 2): the mask id is `bins`
    both, only_x, only_y = known.all(1), known[:, 0] & ~known[:, 1], ~known[:, 0] & known[:, 1]
    c = _centres(np.where(known, x, 0), bins, lim)
    edge = -lim - _MARGIN / 2
    final = (tr == tr[-1]).float().mean((1, 2)).numpy()        # share of tokens at their final value, per step
    return dict(k=k, shown=k / (len(tr) - 1), both=c[both],
                ticks=np.concatenate([np.stack([c[only_x, 0], np.full(only_x.sum(), edge)], 1),
                                      np.stack([np.full(only_y.sum(), edge), c[only_y, 1]], 1)]),
                masked=float((~known).mean()), final=final, times=np.linspace(0, 1, len(tr)))


def _titles(source: str, steps: int, f: dict) -> tuple[str, str]:
    left = (f"{source} source, {steps} step{'s' if steps > 1 else ''}: t = {f['shown']:.2f}\n"
            + (f"{f['masked']:.0%} of tokens still masked" if source == "mask" else
               f"{f['final'][f['k']]:.0%} of tokens at their final value"))
    return left, f"tokens at their final value, {steps} step{'s' if steps > 1 else ''}"


def draw_token_flow(fig: Figure, t: float, steps: int, source: str, trajectories: dict, kappas: dict,
                    bins: int = 128, lim: float = 2.0, law=None) -> None:
    """Two panels: the samples of the learned sampler at the last step at or before t, and the share of tokens
    at their final value against κ_t.

    Args:
        fig: empty Figure. t: time in [0, 1]. steps: a number of steps in the trajectories. source: "mask" or
            "uniform" (a key of the trajectories). trajectories: from `token_trajectories`.
        kappas: source name -> κ schedule (path.kappa). bins, lim: the grid (tokens 0..bins-1 over [-lim, lim]).
        law: optional (bins, bins) probabilities of the data on the grid, drawn faint behind.

    Raises:
        ValueError: t not one number in [0, 1], steps not a whole number >= 1, a (source, steps) not computed.
    """
    import torch

    t, steps = check_time_value(t), check_count(steps, "steps")
    if (source, steps) not in trajectories:
        raise ValueError(f"no trajectory for source {source!r} with {steps} steps; computed: {sorted(trajectories)}")
    from ..plotting import COLORS, legend_below
    f = _frame(trajectories, t, steps, source, bins, lim)
    grid = fig.add_gridspec(1, 2, width_ratios=(1.3, 1))
    ax, curve = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    if law is not None:
        from matplotlib.colors import ListedColormap
        ax.imshow((np.asarray(law).T > 0) * 1.0, origin="lower", extent=(-lim, lim, -lim, lim),
                  cmap=ListedColormap(["white", "#d6e6f2"]), vmin=0, vmax=1, interpolation="nearest")
    ax.axhspan(-lim - _MARGIN, -lim, color="0.93", lw=0)
    ax.axvspan(-lim - _MARGIN, -lim, color="0.93", lw=0)
    ax.scatter(f["ticks"][:, 0], f["ticks"][:, 1], s=12, marker="+", color="0.35", linewidths=0.6, gid="ticks")
    ax.scatter(f["both"][:, 0], f["both"][:, 1], s=4, color=COLORS["x_t"], alpha=0.8, linewidths=0, gid="both")
    ax.set_xlim(-lim - _MARGIN, lim)
    ax.set_ylim(-lim - _MARGIN, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    left, right = _titles(source, steps, f)
    ax.set_title(left, fontsize="medium")
    s = torch.linspace(0, 1, 101, dtype=torch.float64)
    curve.plot(s.numpy(), kappas[source](s).numpy(), color=COLORS["exact"], ls="--", lw=1.5, label=r"$\kappa_t$",
               gid="kappa")
    curve.plot(f["times"], f["final"], color=COLORS["model"], marker="o", ms=4, lw=1.5, drawstyle="steps-post",
               label="share at final value (held between steps)", gid="final")
    curve.axvline(f["shown"], color=COLORS["x_t"], lw=1.2, gid="now")
    curve.set_xlim(-0.02, 1.02)
    curve.set_ylim(-0.02, 1.02)
    curve.set_xlabel("t")
    curve.set_title(right, fontsize="medium")
    legend_below(curve, ncol=2, markerscale=1.0)   # outside the Axes: the moving marker never crosses it


def update_token_flow(fig: Figure, t: float, steps: int, source: str, trajectories: dict, kappas: dict,
                      bins: int = 128, lim: float = 2.0, law=None) -> None:
    """In-place fast path of `draw_token_flow` for a new t, number of steps or source: moves the points, the
    curves and the marker, and rewrites the titles."""
    import torch

    t, steps = check_time_value(t), check_count(steps, "steps")
    if (source, steps) not in trajectories:
        raise ValueError(f"no trajectory for source {source!r} with {steps} steps; computed: {sorted(trajectories)}")
    f = _frame(trajectories, t, steps, source, bins, lim)
    ax, curve = fig.axes[:2]
    by_gid = {c.get_gid(): c for c in ax.collections}
    by_gid["ticks"].set_offsets(f["ticks"])
    by_gid["both"].set_offsets(f["both"])
    lines = {line.get_gid(): line for line in curve.lines}
    s = torch.linspace(0, 1, 101, dtype=torch.float64)
    lines["kappa"].set_data(s.numpy(), kappas[source](s).numpy())
    lines["final"].set_data(f["times"], f["final"])
    lines["now"].set_xdata([f["shown"], f["shown"]])
    left, right = _titles(source, steps, f)
    ax.set_title(left, fontsize="medium")
    curve.set_title(right, fontsize="medium")


def token_flow_explorer(models: dict, paths: dict, n: int = 2000, t: float = 0.5, steps: int = 8,
                        source: str = "mask", seed: int = 0, law=None, trajectories: dict | None = None) -> Explorer:
    """A t slider, a steps menu (`TOKEN_STEP_CHOICES`) and a source menu over `draw_token_flow`; the sampler runs
    once per source and number of steps here (`token_trajectories`, or pass them as `trajectories`), so every
    move only redraws."""
    first = next(iter(models.values()))
    bins = first.vocab_size
    trajectories = trajectories if trajectories is not None else token_trajectories(models, paths, n, seed=seed)
    kappas = {name: path.kappa for name, path in paths.items()}
    controls = {"t": t_slider(t, step=0.01),
                "steps": dropdown("steps", list(TOKEN_STEP_CHOICES), steps),
                "source": dropdown("source", list(models), source)}
    return Explorer(draw_token_flow, controls, figsize=(9.0, 4.4), update=update_token_flow,
                    cheap=("t", "steps", "source"), trajectories=trajectories, kappas=kappas, bins=bins, law=law)


# ----------------------------------------------------------------------------- the static site (issue 22)
def _notebook_token_flow() -> Explorer:
    """Notebook 10's explorer (section 9), built from what its cells build it from:

    - setup cell: `lecture_style()` and `torch.set_num_threads(1)`;
    - section 7: `models` = the shipped checkpoints "discrete_checkerboard_mask" and
      "discrete_checkerboard_uniform" (`load_pretrained`), `paths = {name: path_of(m)}`,
      `law = checkerboard_probabilities(128)`;
    - section 9: `trajectories = token_trajectories(models, paths, n=2000, seed=0)` and
      `token_flow_explorer(models, paths, t=0.5, steps=8, source="mask", law=law, trajectories=trajectories)`.

    Every input has its own seed or file, so nothing run in between changes it.
    """
    from ..discrete import checkerboard_probabilities, path_of
    from ..pretrained import load_pretrained

    models = {"mask": load_pretrained("discrete_checkerboard_mask"),
              "uniform": load_pretrained("discrete_checkerboard_uniform")}
    paths = {name: path_of(m) for name, m in models.items()}
    trajectories = token_trajectories(models, paths, n=2000, seed=0)
    return token_flow_explorer(models, paths, t=0.5, steps=8, source="mask", law=checkerboard_probabilities(128),
                               trajectories=trajectories)


def site_explorers(quick: bool = False) -> list:
    """Notebook 10's explorers as the static site offers them (`fmlite.widgets.site_grid`), in notebook order.

    One explorer, "token-flow": t in steps of 0.05 (`T_GRID`), every option of the steps menu
    (`TOKEN_STEP_CHOICES`) and both sources: 21 x 5 x 2 = 210 settings. `quick=True`: t 0, 0.5, 1, steps 1 and 16,
    both sources: 12 settings. Calls `fmlite.plotting.lecture_style()` and uses one torch thread while it
    samples, as the notebook's setup cell does.
    """
    import torch

    from ..plotting import lecture_style
    from .site_grid import T_GRID, T_GRID_QUICK, SiteGrid

    lecture_style()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        explorer = _notebook_token_flow()
    finally:
        torch.set_num_threads(threads)
    steps = tuple(explorer.controls["steps"].options)
    sources = tuple(explorer.controls["source"].options)
    values = ({"t": T_GRID_QUICK, "steps": (1, 16), "source": sources} if quick else
              {"t": T_GRID, "steps": steps, "source": sources})
    return [SiteGrid("token-flow", explorer, values)]

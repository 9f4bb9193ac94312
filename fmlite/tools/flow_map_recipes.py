"""Recipes of notebook 09's shipped flow maps and their family of `python -m fmlite train NAME` (`FAMILY`).

    model, history = train_flow_map("meanflow", data="moons")              # MeanFlow from scratch
    model, history = train_flow_map("distilled", data="checkerboard")      # distilled from checkerboard_independent

Both train a `fmlite.models.FlowMapMLP` with `fmlite.train.train(loss=...)`: `fmlite.flow_map_losses.MeanFlowLoss`
(Geng et al. 2025) or `fmlite.flow_map_losses.DistillationLoss` with the shipped velocity model
`{data}_independent` as the teacher (Boffi, Albergo & Vanden-Eijnden 2024). Data: a pool of 20,000 points of
`fmlite.datasets.sample_2d(data)` (seed), resampled with replacement, as `train_straight`.
"""
from __future__ import annotations

import torch
from torch import nn

from ..train import History, train
from .train_context import POINT_OPTIONS, Family, TrainContext

__all__ = ["FLOW_MAP_RECIPE", "FLOW_MAP_OVERRIDES", "FLOW_MAP_MODELS", "train_flow_map", "flow_map_quality",
           "run_flow_map", "FAMILY"]

#: The shared recipe of the shipped flow maps (EMA weights are saved).
FLOW_MAP_RECIPE = dict(hidden=128, layers=3, steps=5000, batch_size=256, lr=3e-3, ema=0.995, seed=0,
                       teacher_steps=8)

#: Per-kind changes to FLOW_MAP_RECIPE: distillation has a clean target (no JVP, no conditional noise) and
#: converges in fewer steps, each dearer (32 teacher calls: RK4 with 8 steps per interval).
FLOW_MAP_OVERRIDES = {"meanflow": dict(), "distilled": dict(steps=2000)}

#: Shipped checkpoint name -> (kind, data set).
FLOW_MAP_MODELS = {f"{data}_{kind}": (kind, data) for data in ("moons", "checkerboard")
                   for kind in ("meanflow", "distilled")}


def train_flow_map(kind: str, data: str = "moons", device: str = "auto", progress: bool = True,
                   teacher: nn.Module | None = None, **overrides) -> tuple[nn.Module, History]:
    """Train a FlowMapMLP on a 2-D data set by MeanFlow ("meanflow") or by distillation ("distilled").

    Args:
        kind: "meanflow" or "distilled". data: a `fmlite.datasets.sample_2d` name.
        teacher: the velocity field to distil (default: `load_pretrained(f"{data}_independent")`).
        overrides: FLOW_MAP_RECIPE keys (hidden, layers, steps, batch_size, lr, ema, seed, teacher_steps).

    Returns:
        (FlowMapMLP in eval mode on the CPU, History).

    Raises:
        ValueError: unknown kind or recipe key; FileNotFoundError: the teacher's checkpoint is missing.
    """
    from ..datasets import sample_2d
    from ..flow_map_losses import DistillationLoss, MeanFlowLoss
    from ..models import FlowMapMLP
    if kind not in FLOW_MAP_OVERRIDES:
        raise ValueError(f"unknown kind {kind!r}; choose one of {list(FLOW_MAP_OVERRIDES)}")
    unknown = set(overrides) - set(FLOW_MAP_RECIPE)
    if unknown:
        raise ValueError(f"unknown recipe keys {sorted(unknown)}; known: {sorted(FLOW_MAP_RECIPE)}")
    r = {**FLOW_MAP_RECIPE, **FLOW_MAP_OVERRIDES[kind], **overrides}
    if kind == "meanflow":
        loss = MeanFlowLoss()
    else:
        if teacher is None:
            from ..pretrained import load_pretrained
            teacher = load_pretrained(f"{data}_independent")
        loss = DistillationLoss(teacher.cpu().eval().requires_grad_(False), steps=r["teacher_steps"])
    pool = sample_2d(data, 20000, seed=r["seed"])
    torch.manual_seed(r["seed"])
    model = FlowMapMLP(dim=2, hidden=r["hidden"], layers=r["layers"])
    history = train(model, None, lambda n: pool[torch.randint(0, len(pool), (n,))], steps=r["steps"],
                    batch_size=r["batch_size"], lr=r["lr"], seed=r["seed"], device=device, ema=r["ema"],
                    progress=progress, loss=loss)
    if history.ema_model is not None:
        model = history.ema_model
    return model.cpu().eval(), history


def flow_map_quality(model: nn.Module, data: str, n: int = 2000) -> dict:
    """Energy distance of n samples at 1, 2, 4 and 8 calls (`sample_flow_map`, noise seed 2) to n fresh points
    (seed 1), as `_train_straight` scores the velocity models."""
    from ..datasets import sample_2d
    from ..flow_maps import sample_flow_map
    from ..metrics import energy_distance
    x_0 = torch.randn(n, 2, generator=torch.Generator().manual_seed(2))
    fresh = sample_2d(data, n, seed=1)
    return {f"nfe_{k}": round(energy_distance(sample_flow_map(model, x_0, k).x, fresh), 4) for k in (1, 2, 4, 8)}


def run_flow_map(name: str, values: dict, device: str = "auto", progress: bool = True) -> tuple:
    """Train the shipped flow map `name` with the command line's values and score it (for `python -m fmlite train`).

    Args:
        name: a key of FLOW_MAP_MODELS. values: FLOW_MAP_RECIPE keys the command line allows (steps, batch_size,
            lr, ema (0: none), seed).

    Returns:
        (model, History, meta): meta holds the recipe, the loss of every step and, unless training was
        interrupted, `energy_distance_2000` (`flow_map_quality`); steps is the number asked for.
    """
    kind, data = FLOW_MAP_MODELS[name]
    overrides = {**values, "ema": values.get("ema") or None}
    model, history = train_flow_map(kind, data, device=device, progress=progress, **overrides)
    recipe = {**FLOW_MAP_RECIPE, **FLOW_MAP_OVERRIDES[kind], **overrides}
    meta = dict(kind=kind, data=data, path="LinearPath()", teacher=f"{data}_independent" if kind == "distilled"
                else None, weights="EMA" if recipe["ema"] else "raw", **recipe,
                final_loss=round(sum(history.loss[-100:]) / max(len(history.loss[-100:]), 1), 3),
                loss=torch.tensor(history.loss, dtype=torch.float32))
    if not history.interrupted:
        meta["energy_distance_2000"] = flow_map_quality(model, data)
    return model, history, meta


def run(ctx: TrainContext) -> int:
    """`python -m fmlite train NAME` for a name of FLOW_MAP_MODELS (options as for the 2-D models): check, train,
    score, save to the output (the model so far beside it after Ctrl-C)."""
    from ..checkpoints import save_checkpoint
    recipe = {**FLOW_MAP_RECIPE, **FLOW_MAP_OVERRIDES[FLOW_MAP_MODELS[ctx.name][0]]}
    values = ctx.values(recipe, POINT_OPTIONS)
    out = ctx.output()
    model, history, meta = run_flow_map(ctx.name, values, **ctx.train_kwargs())
    meta.update(command=ctx.command, **ctx.environment(history))
    if history.interrupted:
        return ctx.interrupted(model, meta, history, meta["steps"])
    meta["steps"] = history.steps
    save_checkpoint(out, model, **meta)
    print(f"trained {history.steps} steps in {history.seconds:.1f} s; energy distance of 2,000 samples to fresh "
          f"data by model calls: {meta['energy_distance_2000']}; saved {out} ({out.stat().st_size / 1e3:.0f} kB)")
    return 0


#: The registry entry of `python -m fmlite train` (fmlite.tools.cli_train).
FAMILY = Family(tuple(FLOW_MAP_MODELS), "'{moons,checkerboard}_{meanflow,distilled}' (notebook 09's flow maps; "
                "options as for flow)", run)

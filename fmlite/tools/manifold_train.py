"""Recipes and the `train` branch for notebook 12's shipped models on curved spaces (issue 26).

    python -m fmlite train sphere_vmf --force            # data/sphere_vmf.pt: a ManifoldMLP on the vMF mixture
    python -m fmlite train torus_gaussians --force       # data/torus_gaussians.pt: on four wrapped Gaussians

Each trains a `fmlite.manifolds.ManifoldMLP` with `fmlite.train.train(model, None, sample_data, steps,
loss=GeodesicFlowMatchingLoss(space))` (the uniform source, the geodesic path with κ_t = t; Chen & Lipman
2024, eq. (9)) and saves its inner MLP with `manifold=<space>` in the meta, which `fmlite.load_pretrained`
wraps again. Data: a pool of 20,000 points of the recipe's data set (seed), resampled every step. The
checkpoint's meta records the energy distance (`manifold_energy_distance`) of 2,000 samples to fresh data for
Riemannian Euler, naive Euler and midpoint at several NFE.

No checkerboard model is shipped: with this recipe (4,000 steps, also 5,000 at lr 1e-3) the network learned
almost nothing from the uniform source (48.7% of its samples on the filled squares, uniform gives 50%,
energy distance equal to the uniform's): the marginal field is weak (|u_t(x)| ~ 0.2 at t = 0.3 against a
conditional spread of 2.5) until t is near 1. The exact field of `fmlite.manifolds.exact` carries the
uniform source onto it (99.4% on the filled squares) and is what notebook 12 draws for it.
"""
from __future__ import annotations

import torch

from .train_context import POINT_OPTIONS, Family, TrainContext

__all__ = ["MANIFOLD_RECIPES", "train_manifold", "manifold_quality", "run", "FAMILY"]

#: Shipped checkpoint name -> recipe (space, data set, network and training settings; options as for "flow").
MANIFOLD_RECIPES = {
    "sphere_vmf": dict(space="sphere", data="vmf_mixture", hidden=128, layers=3, steps=3000, batch_size=256,
                       lr=3e-3, ema=0.995, seed=0),
    "torus_gaussians": dict(space="torus", data="wrapped_gaussians", hidden=128, layers=3, steps=3000,
                            batch_size=256, lr=3e-3, ema=0.995, seed=0),
}


def train_manifold(name: str, device: str = "auto", progress: bool = True, **overrides):
    """Train the shipped model `name` ("sphere_vmf" or "torus_gaussians"); keyword arguments override its recipe.

    Returns:
        (ManifoldMLP in eval mode on the CPU, with the EMA weights when ema is set; History).

    Raises:
        ValueError: unknown name or recipe key.
    """
    from ..manifolds import GeodesicFlowMatchingLoss, ManifoldMLP, sample_manifold_data
    from ..train import train
    if name not in MANIFOLD_RECIPES:
        raise ValueError(f"unknown manifold model {name!r}; choose one of {list(MANIFOLD_RECIPES)}")
    unknown = set(overrides) - set(MANIFOLD_RECIPES[name])
    if unknown:
        raise ValueError(f"unknown recipe keys {sorted(unknown)}; known: {sorted(MANIFOLD_RECIPES[name])}")
    r = {**MANIFOLD_RECIPES[name], **overrides}
    torch.manual_seed(r["seed"])
    model = ManifoldMLP(r["space"], hidden=r["hidden"], layers=r["layers"])
    pool = sample_manifold_data(r["data"], 20000, seed=r["seed"])
    history = train(model, None, lambda n: pool[torch.randint(len(pool), (n,))], r["steps"],
                    batch_size=r["batch_size"], lr=r["lr"], ema=r["ema"] or None, seed=r["seed"], device=device,
                    progress=progress, loss=GeodesicFlowMatchingLoss(r["space"]), lr_decay="cosine")
    if history.ema_model is not None:
        model = history.ema_model
    return model.cpu().eval(), history


def manifold_quality(model, space: str, data: str, n: int = 2000) -> dict:
    """Energy distance of n samples (seed 2) to n fresh data points (seed 1): {method_NFE: value}."""
    from ..manifolds import get_space, integrate_manifold, manifold_energy_distance, sample_manifold_data
    space = get_space(space)
    x_0 = space.sample_uniform(n, torch.Generator().manual_seed(2))
    fresh = sample_manifold_data(data, n, seed=1)
    out = {}
    for method, steps in (("euler", 4), ("euler", 16), ("naive", 4), ("naive", 16), ("midpoint", 8)):
        x = integrate_manifold(space, model, x_0, steps, method).x
        out[f"{method}_nfe{steps * (2 if method == 'midpoint' else 1)}"] = round(
            manifold_energy_distance(space, x, fresh), 4)
    return out


def run(ctx: TrainContext) -> int:
    """`python -m fmlite train NAME` for a name of MANIFOLD_RECIPES (options as for the 2-D models): check, train,
    score, save the inner MLP with `manifold=<space>` in the meta (the model so far beside it after Ctrl-C)."""
    from ..checkpoints import save_checkpoint
    values = ctx.values(MANIFOLD_RECIPES[ctx.name], POINT_OPTIONS)
    out = ctx.output()
    recipe = {**MANIFOLD_RECIPES[ctx.name], **values}
    overrides = {k: v for k, v in values.items() if k in MANIFOLD_RECIPES[ctx.name]}
    model, history = train_manifold(ctx.name, **ctx.train_kwargs(), **overrides)
    meta = dict(manifold=recipe["space"], loss_name="GeodesicFlowMatchingLoss", source="uniform",
                command=ctx.command, weights="EMA" if recipe["ema"] else "raw", **recipe,
                final_loss=ctx.final_loss(history.loss), loss=torch.tensor(history.loss, dtype=torch.float32),
                **ctx.environment(history))
    if history.interrupted:
        return ctx.interrupted(model.mlp, meta, history, recipe["steps"])
    meta["energy_distance_2000"] = manifold_quality(model, recipe["space"], recipe["data"])
    meta["steps"] = history.steps
    save_checkpoint(out, model.mlp, **meta)
    print(f"trained {history.steps} steps in {history.seconds:.1f} s; energy distance of 2,000 samples to fresh "
          f"data: {meta['energy_distance_2000']}; saved {out} ({out.stat().st_size / 1e3:.0f} kB)")
    return 0


#: The registry entry of `python -m fmlite train` (fmlite.tools.cli_train).
FAMILY = Family(tuple(MANIFOLD_RECIPES), "'sphere_vmf' or 'torus_gaussians' (notebook 12's curved spaces, "
                "MANIFOLD_RECIPES; options as for flow)", run)

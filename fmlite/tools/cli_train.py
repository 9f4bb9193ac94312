"""The `train` subcommand of the command line (`fmlite.tools.cli`): rebuild a shipped checkpoint, or train on a .npz file.

    python -m fmlite train digits                   # rebuilds data/digits.pt (asks for --force to overwrite)
    python -m fmlite train flow                     # rebuilds data/flow.pt, the MLP of notebook 00
    python -m fmlite train moons_ot                 # rebuilds data/moons_ot.pt (also moons_independent, moons_reflow)
    python -m fmlite train moons_meanflow           # notebook 09's flow maps (fmlite.tools.flow_map_recipes)
    python -m fmlite train discrete_digits          # notebook 10 (fmlite.tools.discrete_train)
    python -m fmlite train digits_vae               # notebook 11 (fmlite.tools.latent_train)
    python -m fmlite train digits --steps 500 --out /tmp/quick.pt
    python -m fmlite train my_images.npz --width 128 --blocks 6 --device cuda --out my_images.pt

A .npz file holds `images` (N, C, H, W) float in [-1, 1] and optionally `labels` (N,)
integers 0..K-1 (a local data set of your own; nothing is downloaded); both are checked
by `fmlite.tools.recipes.load_npz_images` before training starts.

Each name belongs to one family of models in the registry (`_families`): notebooks 00-07's families are
defined here, each later notebook's is the `FAMILY` of its own module (`Family(names, help, run)`,
`fmlite.tools.train_context`). The registry gives the names `train` knows, the help text and the dispatch:
`run(ctx)` receives a `TrainContext` with the shared checks and helpers (refusals, option values, output
file, Ctrl-C), so no family module imports this one.

Every option defaults to None in the parser and is filled from the recipe of the data
asked for (`DIGITS_RECIPE` for digits and .npz files, `FLOW_RECIPE` for flow), so a value
the user gives (`--steps 50`, `--steps=50`, `--st 50`) is always honoured, and an option
that does not apply to a recipe is refused. Every value, the data and the output file (a folder,
a missing or unwritable folder, an existing file without --force) are checked before training
starts; each refusal is one line and exit status 2.

Ctrl-C during training (or while a digits model is scored) never replaces the output: the model so far is
saved beside it as `NAME.interrupted-STEPS.pt` (its meta records the steps done, the steps asked for and
`interrupted=True`), the output is left as it was, and the exit status is 130. Checkpoints are
written through a temporary file (`fmlite.checkpoints.save_checkpoint`), so a Ctrl-C while saving
leaves the old file whole.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .train_context import INTERRUPTED, POINT_OPTIONS, Family, TrainContext, fail

__all__ = ["add_train", "cmd_train", "fail", "INTERRUPTED"]


def _families() -> tuple:
    """The registry of `train`: every family of shipped models, in the order help and refusals list their names.
    Notebooks 00-07's families are defined below; a later notebook's family is its module's `FAMILY` (see
    `fmlite.tools.train_context`): adding one is its module plus one entry here."""
    from . import discrete_train, flow_map_recipes, latent_train, manifold_train
    from .recipes import STRAIGHT_MODELS
    return (Family(("digits", "digits_short"), "'digits' (the 8x8 digits shipped with scikit-learn), "
                   "'digits_short' (notebook 07's short run, SHORT_RUN)", _run_images),
            Family(("flow",), "'flow' (the 2-D word model of notebook 00; --width, --blocks and --label-dropout "
                   "do not apply)", _run_flow),
            Family(tuple(STRAIGHT_MODELS), "'moons_independent', 'moons_ot' or 'moons_reflow' (notebook 06, "
                   "STRAIGHT_RECIPE; options as for flow), 'moons_sampling' (notebook 04's model), "
                   "'checkerboard_independent|ot|reflow' (notebook 09)", _run_straight),
            flow_map_recipes.FAMILY,
            discrete_train.FAMILY,
            latent_train.FAMILY,
            manifold_train.FAMILY)


def _shipped_names() -> tuple:
    """Every name `python -m fmlite train NAME` rebuilds into data/NAME.pt."""
    return tuple(name for family in _families() for name in family.names)


def add_train(commands) -> None:
    from .recipes import DIGITS_RECIPE as D, FLOW_RECIPE as F
    p = commands.add_parser("train", help="train a model and save a checkpoint",
                            description="Train a model by flow matching and save it as a checkpoint. Options left "
                                        "out take the recipe's value: DIGITS_RECIPE for 'digits' and .npz files, "
                                        "FLOW_RECIPE for 'flow'.")
    p.add_argument("data", help=", ".join(family.help for family in _families()) + " or a .npz file with 'images' "
                                "(N, C, H, W) float in [-1, 1] and optional integer 'labels' (N,)")
    p.add_argument("--steps", type=int, help=f"optimiser steps (digits {D['steps']}, flow {F['steps']})")
    p.add_argument("--width", type=int, help=f"ConvNet channels (default {D['width']})")
    p.add_argument("--blocks", type=int, help=f"ConvNet residual blocks (default {D['blocks']})")
    p.add_argument("--batch-size", type=int, help=f"digits {D['batch_size']}, flow {F['batch_size']}")
    p.add_argument("--lr", type=float, help=f"Adam learning rate (default {D['lr']})")
    p.add_argument("--label-dropout", type=float,
                   help=f"probability of dropping a label (default {D['label_dropout']})")
    p.add_argument("--ema", type=float, help=f"EMA decay, 0 for none (default {D['ema']})")
    p.add_argument("--seed", type=int, help=f"default {D['seed']}")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N, mps")
    p.add_argument("--out", type=Path, default=None,
                   help="checkpoint file (default: the shipped data/NAME.pt; required for .npz)")
    p.add_argument("--force", action="store_true", help="overwrite an existing checkpoint")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(run=cmd_train)


def cmd_train(args, parser, argv: list[str]) -> int:
    """`python -m fmlite train DATA [options]`: find DATA's family in the registry (`_families`; a .npz file
    trains as the digits do) and run it: it checks everything, trains the recipe and saves a checkpoint.

    Returns 0, or `INTERRUPTED` (130) after Ctrl-C (the output untouched; see the module docstring) and 1 when
    the loss diverged; a refusal exits with status 2 (`fail`)."""
    families = _families()
    family = next((f for f in families if args.data in f.names), None)
    if family is None and not args.data.endswith(".npz"):
        fail(parser, f"unknown data {args.data!r}: give {', '.join(map(repr, _shipped_names()))} or a .npz file")
    ctx = TrainContext(args, parser, argv, shipped=family is not None)
    try:
        return (family or families[0]).run(ctx)
    except KeyboardInterrupt:
        if ctx.out is None:  # still checking: nothing to say about the output (`fmlite.tools.cli.main` answers)
            raise
        print(f"stopped by Ctrl-C before a model was saved: nothing written, {ctx.untouched(ctx.out)}",
              file=sys.stderr)
        return INTERRUPTED
    except FloatingPointError as err:  # fmlite.train.TrainingDiverged
        if ctx.out is None:
            raise
        print(f"training stopped: {err}; nothing written, {ctx.untouched(ctx.out)}", file=sys.stderr)
        return 1


def _run_images(ctx: TrainContext) -> int:
    """Train a ConvNet on the digits (DIGITS_RECIPE; 'digits_short': with SHORT_RUN) or on a .npz file."""
    from .recipes import DIGITS_RECIPE, SHORT_RUN
    values = ctx.values({**DIGITS_RECIPE, **SHORT_RUN} if ctx.name == "digits_short" else DIGITS_RECIPE,
                        ("steps", "width", "blocks", "batch_size", "lr", "label_dropout", "ema", "seed"))
    out = ctx.output()
    if ctx.shipped:
        from ..datasets import load_digits
        images, labels = load_digits()
    else:
        from .recipes import load_npz_images
        file = Path(ctx.name)
        if file.is_dir():
            ctx.fail(f"data file {file} is a folder; give the .npz file inside it")
        if not file.is_file():
            ctx.fail(f"data file {file} not found")
        try:
            images, labels = load_npz_images(file)
        except ValueError as err:
            ctx.fail(str(err))
    return _train_images(ctx, values, out, images, labels)


def _train_images(ctx: TrainContext, values: dict, out: Path, images, labels) -> int:
    import torch

    from . import recipes
    from ..checkpoints import save_checkpoint
    model, history = recipes.train_images(images, labels, **{**values, "ema": values["ema"] or None},
                                          **ctx.train_kwargs())
    final_loss = ctx.final_loss(history.loss)
    meta = dict(data=ctx.name, command=ctx.command, **values, final_loss=final_loss,
                image_size=list(images.shape[2:]), **ctx.environment(history))
    meta["steps"] = history.steps  # the steps done (fewer than asked for after Ctrl-C)
    meta["loss"] = torch.tensor(history.loss, dtype=torch.float32)  # per step, for a notebook's loss curve
    print(f"trained {history.steps} steps in {history.seconds:.1f} s on {history.device}, "
          f"loss (mean of the last {min(len(history.loss), 100)} steps) {final_loss:.3f}")
    if history.interrupted:
        return ctx.interrupted(model, meta, history, values["steps"])
    if ctx.shipped:
        try:
            meta["quality"] = _digit_quality(model)
        except KeyboardInterrupt:  # the training is done: keep it, beside the output
            return ctx.interrupted(model, meta, history, values["steps"], "while scoring samples (no 'quality')")
    save_checkpoint(out, model, **meta)
    print(f"saved {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def _run_flow(ctx: TrainContext) -> int:
    """Rebuild data/flow.pt from FLOW_RECIPE with the user's overrides (steps, batch size, lr, EMA, seed)."""
    import torch

    from . import recipes
    from ..checkpoints import save_checkpoint
    from ..datasets import text_points
    from ..metrics import energy_distance
    from ..solvers import integrate
    values = ctx.values(recipes.FLOW_RECIPE, POINT_OPTIONS)
    out = ctx.output()
    overrides = {**values, "ema": values["ema"] or None}
    model, history = recipes.train_flow(**ctx.train_kwargs(), **overrides)
    recipe = {**recipes.FLOW_RECIPE, **overrides}
    if history.interrupted:
        meta = dict(data=f'text_points("{recipe["text"]}", n)', path="LinearPath()", command=ctx.command,
                    weights="EMA" if recipe["ema"] else "raw", **recipe, final_loss=ctx.final_loss(history.loss),
                    **ctx.environment(history))
        return ctx.interrupted(model, meta, history, recipe["steps"])
    torch.manual_seed(1)
    with torch.no_grad():
        x = integrate(model, torch.randn(2000, 2), 25, "midpoint").x
    quality = energy_distance(x, text_points(recipe["text"], 2000, seed=1))
    meta = dict(data=f'text_points("{recipe["text"]}", n)', path="LinearPath()",
                command=ctx.command, weights="EMA" if recipe["ema"] else "raw", **recipe,
                final_loss=ctx.final_loss(history.loss), energy_distance_2000_midpoint_25=round(quality, 4),
                **ctx.environment(history))
    meta["steps"] = history.steps  # the steps done
    save_checkpoint(out, model, **meta)
    print(f"trained {history.steps} steps in {history.seconds:.1f} s; energy distance of 2,000 samples to the "
          f"word: {quality:.4f}; saved {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def _run_straight(ctx: TrainContext) -> int:
    """Rebuild one of notebook 06's moons models from STRAIGHT_RECIPE (`fmlite.tools.recipes.train_straight`)."""
    import torch

    from . import recipes
    from ..checkpoints import save_checkpoint
    from ..datasets import sample_2d
    from ..metrics import energy_distance
    from ..solvers import integrate
    values = ctx.values({**recipes.STRAIGHT_RECIPE, **recipes.STRAIGHT_OVERRIDES.get(ctx.name, {})}, POINT_OPTIONS)
    out = ctx.output()
    overrides = {**recipes.STRAIGHT_OVERRIDES.get(ctx.name, {}), **values, "ema": values["ema"] or None}
    kind = recipes.STRAIGHT_MODELS[ctx.name]
    model, history = recipes.train_straight(kind, **ctx.train_kwargs(), **overrides)
    recipe = {**recipes.STRAIGHT_RECIPE, **overrides}
    if history.interrupted:
        meta = dict(coupling=kind, path="LinearPath()", command=ctx.command,
                    weights="EMA" if recipe["ema"] else "raw", **recipe, final_loss=ctx.final_loss(history.loss),
                    loss=torch.tensor(history.loss, dtype=torch.float32), **ctx.environment(history))
        return ctx.interrupted(model, meta, history, recipe["steps"])
    x_0 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(2))
    fresh = sample_2d(recipe["data"], 2000, seed=1)
    quality = {f"euler_{k}": round(energy_distance(integrate(model, x_0, k).x, fresh), 4) for k in (1, 2, 4, 8, 32)}
    meta = dict(coupling=kind, path="LinearPath()", command=ctx.command,
                weights="EMA" if recipe["ema"] else "raw", **recipe, final_loss=ctx.final_loss(history.loss),
                energy_distance_2000=quality, loss=torch.tensor(history.loss, dtype=torch.float32),
                **ctx.environment(history))
    meta["steps"] = history.steps  # the steps done
    save_checkpoint(out, model, **meta)
    print(f"trained {history.steps} steps in {history.seconds:.1f} s (last run); energy distance of 2,000 Euler "
          f"samples to fresh data: {quality}; saved {out} ({out.stat().st_size / 1e3:.0f} kB)")
    return 0


def _digit_quality(model) -> dict:
    """Scores of 1,000 samples (100 per digit) at guidance w = 0, 1, 2, next to the real-digit ceiling."""
    import torch

    from ..digit_metrics import digit_scores, real_digit_scores
    from ..pretrained import sample_images
    labels = torch.arange(10).repeat_interleave(100)
    quality = {}
    for w in (0.0, 1.0, 2.0):
        x = sample_images(model, 1000, None if w == 0 else labels, w=1.0 if w == 0 else w, seed=1)
        s = digit_scores(x, None if w == 0 else labels)
        quality[f"w={w:g}"] = dict(confidence=round(s.confidence, 3), nn_distance=round(s.nn_distance, 3),
                                   spread=round(s.spread, 3),
                                   agreement=None if s.agreement is None else round(s.agreement, 3))
        print(f"  w = {w:g} (midpoint, 10 steps): {s.summary()}")
    r = real_digit_scores()
    print(f"  real held-out digits (ceiling): {r.summary()}")
    return quality

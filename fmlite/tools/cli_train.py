"""The `train` subcommand of the command line (`fmlite.tools.cli`): rebuild a shipped checkpoint, or train on a .npz file.

    python -m fmlite train digits                   # rebuilds data/digits.pt (asks for --force to overwrite)
    python -m fmlite train flow                     # rebuilds data/flow.pt, the MLP of notebook 00
    python -m fmlite train moons_ot                 # rebuilds data/moons_ot.pt (also moons_independent, moons_reflow)
    python -m fmlite train digits --steps 500 --out /tmp/quick.pt
    python -m fmlite train my_images.npz --width 128 --blocks 6 --device cuda --out my_images.pt

A .npz file holds `images` (N, C, H, W) float in [-1, 1] and optionally `labels` (N,)
integers 0..K-1 (a local data set of your own; nothing is downloaded); both are checked
by `fmlite.tools.recipes.load_npz_images` before training starts.

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

import platform
import shlex
import sys
import time
from pathlib import Path

__all__ = ["add_train", "cmd_train", "fail", "INTERRUPTED"]

#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


def fail(parser, message: str):
    """Refuse on one line, `python -m fmlite: error: MESSAGE`, and exit with status 2 (no usage, no traceback)."""
    parser.exit(2, f"{parser.prog}: error: {message}\n")


#: Options of `train` that each kind of data accepts (dest names); the rest are refused.
_CONVNET_OPTIONS = ("steps", "width", "blocks", "batch_size", "lr", "label_dropout", "ema", "seed")
_FLOW_OPTIONS = ("steps", "batch_size", "lr", "ema", "seed")

#: Range checks of the numeric options: dest -> (test, what is allowed).
_CHECKS = {
    "steps": (lambda v: v >= 1, ">= 1"),
    "width": (lambda v: v >= 16 and v % 8 == 0, "a multiple of 8 and >= 16"),
    "blocks": (lambda v: v >= 1, ">= 1"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "lr": (lambda v: v > 0 and v != float("inf"), "> 0 and finite"),
    "label_dropout": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "ema": (lambda v: 0 <= v < 1, "in [0, 1) (0: no EMA)"),
    "seed": (lambda v: v >= 0, ">= 0"),
}


#: Shipped image checkpoints the train command rebuilds (the 2-D ones: "flow" and `recipes.STRAIGHT_MODELS`).
_IMAGE_MODELS = ("digits", "digits_short")


def _shipped_names() -> tuple:
    """Every name `python -m fmlite train NAME` rebuilds into data/NAME.pt."""
    from .manifold_train import MANIFOLD_RECIPES
    from .recipes import STRAIGHT_MODELS
    return (*_IMAGE_MODELS, "flow", *STRAIGHT_MODELS, *MANIFOLD_RECIPES)


def _command(argv) -> str:
    """The command line that rebuilds a checkpoint, as recorded in its meta (without --force, which only
    allows overwriting)."""
    return "python -m fmlite " + shlex.join(a for a in argv if a != "--force")


def add_train(commands) -> None:
    from .recipes import DIGITS_RECIPE as D, FLOW_RECIPE as F
    p = commands.add_parser("train", help="train a model and save a checkpoint",
                            description="Train a model by flow matching and save it as a checkpoint. Options left "
                                        "out take the recipe's value: DIGITS_RECIPE for 'digits' and .npz files, "
                                        "FLOW_RECIPE for 'flow'.")
    p.add_argument("data", help="'digits' (the 8x8 digits shipped with scikit-learn), 'flow' (the 2-D word model of "
                                "notebook 00; --width, --blocks and --label-dropout do not apply), "
                                "'moons_independent', 'moons_ot' or 'moons_reflow' (notebook 06, STRAIGHT_RECIPE; "
                                "options as for flow), 'moons_sampling' (notebook 04's model), 'digits_short' "
                                "(notebook 07's short run, SHORT_RUN), 'sphere_vmf' or 'torus_gaussians' (notebook 12, "
                                "MANIFOLD_RECIPES; options as for flow) "
                                "or a .npz file with "
                                "'images' (N, C, H, W) float in [-1, 1] and optional integer 'labels' (N,)")
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
                   help="checkpoint file (default: the shipped data/digits.pt or data/flow.pt; required for .npz)")
    p.add_argument("--force", action="store_true", help="overwrite an existing checkpoint")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(run=cmd_train)


def _recipe_values(args, parser) -> dict:
    """The training options of `train`: the recipe's values, overridden by every option the user gave."""
    from .recipes import DIGITS_RECIPE, FLOW_RECIPE
    from .recipes import SHORT_RUN, STRAIGHT_MODELS, STRAIGHT_OVERRIDES, STRAIGHT_RECIPE
    recipe, allowed = (FLOW_RECIPE, _FLOW_OPTIONS) if args.data == "flow" else (DIGITS_RECIPE, _CONVNET_OPTIONS)
    if args.data == "digits_short":
        recipe = {**DIGITS_RECIPE, **SHORT_RUN}
    if args.data in STRAIGHT_MODELS:
        recipe, allowed = {**STRAIGHT_RECIPE, **STRAIGHT_OVERRIDES.get(args.data, {})}, _FLOW_OPTIONS
    from .manifold_train import MANIFOLD_RECIPES
    if args.data in MANIFOLD_RECIPES:   # notebook 12 (fmlite.tools.manifold_train)
        recipe, allowed = MANIFOLD_RECIPES[args.data], _FLOW_OPTIONS
    given = {k: getattr(args, k) for k in _CONVNET_OPTIONS if getattr(args, k) is not None}
    refused = sorted(set(given) - set(allowed))
    if refused:
        names = ", ".join("--" + k.replace("_", "-") for k in refused)
        fail(parser, f"{names} do{'es' if len(refused) == 1 else ''} not apply to {args.data!r} "
                     f"(it takes {', '.join('--' + k.replace('_', '-') for k in allowed)})")
    values = {k: recipe[k] for k in allowed}
    values.update(given)
    for k, v in given.items():
        ok, allowed_range = _CHECKS[k]
        if v != v or not ok(v):  # v != v: NaN
            fail(parser, f"invalid --{k.replace('_', '-')} {v}: must be {allowed_range}")
    if values["ema"] is None:
        values["ema"] = 0.0
    return values


def _output_file(args, parser) -> Path:
    """The checkpoint file to write, checked before any training (`fmlite.files.check_output_file`): not a
    folder, its folder exists and can be written, no silent overwrite."""
    if args.out is None:
        if args.data not in _shipped_names():
            fail(parser, "--out is required when training on a .npz file")
        from ..pretrained import data_dir
        out = data_dir() / f"{args.data}.pt"
    else:
        out = args.out
    from ..files import check_output_file
    try:
        return check_output_file(out, force=args.force)
    except ValueError as err:
        fail(parser, str(err))


def _final_loss(loss: list) -> float:
    """Mean of the last 100 losses, or of all of them when there are fewer (NaN when there are none)."""
    tail = list(loss)[-100:]
    return round(sum(tail) / len(tail), 3) if tail else float("nan")


def cmd_train(args, parser, argv: list[str]) -> int:
    """`python -m fmlite train DATA [options]`: check everything, train the recipe, save a checkpoint.

    Returns 0, or `INTERRUPTED` (130) after Ctrl-C (the output untouched; see the module docstring) and 1 when
    the loss diverged; a refusal exits with status 2 (`fail`)."""
    from .recipes import STRAIGHT_MODELS
    if args.data not in _shipped_names() and not args.data.endswith(".npz"):
        fail(parser, f"unknown data {args.data!r}: give {', '.join(map(repr, _shipped_names()))} or a .npz file")
    values = _recipe_values(args, parser)
    out = _output_file(args, parser)
    from ..optim import resolve_device
    try:
        resolve_device(args.device)
    except ValueError as err:
        fail(parser, f"--device: {err}")
    try:
        if args.data == "flow":
            return _train_flow(args, values, out, argv)
        if args.data in STRAIGHT_MODELS:
            return _train_straight(args, values, out, argv)
        from .manifold_train import MANIFOLD_RECIPES, run_manifold_train
        if args.data in MANIFOLD_RECIPES:
            return run_manifold_train(args, values, out, argv, _command, _environment, _final_loss, _interrupted)
        return _train_data(args, parser, values, out, argv)
    except KeyboardInterrupt:
        print(f"stopped by Ctrl-C before a model was saved: nothing written, {_untouched(out)}", file=sys.stderr)
        return INTERRUPTED
    except FloatingPointError as err:  # fmlite.train.TrainingDiverged
        print(f"training stopped: {err}; nothing written, {_untouched(out)}", file=sys.stderr)
        return 1


def _untouched(out: Path) -> str:
    return f"{out} is unchanged" if out.exists() else f"{out} was not created"


def _train_data(args, parser, values: dict, out: Path, argv: list[str]) -> int:
    if args.data in _IMAGE_MODELS:
        from ..datasets import load_digits
        images, labels = load_digits()
    else:
        from .recipes import load_npz_images
        file = Path(args.data)
        if file.is_dir():
            fail(parser, f"data file {file} is a folder; give the .npz file inside it")
        if not file.is_file():
            fail(parser, f"data file {file} not found")
        try:
            images, labels = load_npz_images(file)
        except ValueError as err:
            fail(parser, str(err))
    return _train_images(args, values, out, argv, images, labels)


def _interrupted(out: Path, model, meta: dict, history, requested: int, when: str = "") -> int:
    """Ctrl-C stopped training (or, `when`, what came after it): save the model so far beside `out` (never
    over it), say so, return 130."""
    from ..checkpoints import save_checkpoint
    if history.steps == 0:
        print(f"stopped by Ctrl-C before the first step: nothing saved, {_untouched(out)}", file=sys.stderr)
        return INTERRUPTED
    partial = out.with_name(f"{out.stem}.interrupted-{history.steps}{out.suffix or '.pt'}")
    n = 2
    while partial.exists():  # never over an earlier file
        partial = out.with_name(f"{out.stem}.interrupted-{history.steps}-{n}{out.suffix or '.pt'}")
        n += 1
    meta.update(steps=history.steps, steps_requested=requested, interrupted=True)
    save_checkpoint(partial, model, **meta)
    print(f"stopped by Ctrl-C {when + ' ' if when else ''}after {history.steps} of {requested} steps: "
          f"{_untouched(out)}; the model so far is "
          f"saved as {partial} (train again for the full model, or rename it to use this one)", file=sys.stderr)
    return INTERRUPTED


def _environment(history) -> dict:
    import torch
    return dict(train_seconds=round(history.seconds, 1), device=history.device, torch=str(torch.__version__),
                cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads(),
                date=time.strftime("%Y-%m-%d"))


def _train_images(args, values: dict, out: Path, argv: list[str], images, labels) -> int:
    import torch

    from . import recipes
    from ..checkpoints import save_checkpoint
    model, history = recipes.train_images(images, labels, **{**values, "ema": values["ema"] or None},
                                          device=args.device, progress=not args.no_progress)
    final_loss = _final_loss(history.loss)
    meta = dict(data=args.data, command=_command(argv), **values, final_loss=final_loss,
                image_size=list(images.shape[2:]), **_environment(history))
    meta["steps"] = history.steps  # the steps done (fewer than asked for after Ctrl-C)
    meta["loss"] = torch.tensor(history.loss, dtype=torch.float32)  # per step, for a notebook's loss curve
    print(f"trained {history.steps} steps in {history.seconds:.1f} s on {history.device}, "
          f"loss (mean of the last {min(len(history.loss), 100)} steps) {final_loss:.3f}")
    if history.interrupted:
        return _interrupted(out, model, meta, history, values["steps"])
    if args.data in _IMAGE_MODELS:
        try:
            meta["quality"] = _digit_quality(model)
        except KeyboardInterrupt:  # the training is done: keep it, beside the output
            return _interrupted(out, model, meta, history, values["steps"], "while scoring samples (no 'quality')")
    save_checkpoint(out, model, **meta)
    print(f"saved {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def _train_flow(args, values: dict, out: Path, argv: list[str]) -> int:
    """Rebuild data/flow.pt from FLOW_RECIPE with the user's overrides (steps, batch size, lr, EMA, seed)."""
    import torch

    from . import recipes
    from ..checkpoints import save_checkpoint
    from ..datasets import text_points
    from ..metrics import energy_distance
    from ..solvers import integrate
    overrides = {**values, "ema": values["ema"] or None}
    model, history = recipes.train_flow(device=args.device, progress=not args.no_progress, **overrides)
    recipe = {**recipes.FLOW_RECIPE, **overrides}
    if history.interrupted:
        meta = dict(data=f'text_points("{recipe["text"]}", n)', path="LinearPath()", command=_command(argv),
                    weights="EMA" if recipe["ema"] else "raw", **recipe, final_loss=_final_loss(history.loss),
                    **_environment(history))
        return _interrupted(out, model, meta, history, recipe["steps"])
    torch.manual_seed(1)
    with torch.no_grad():
        x = integrate(model, torch.randn(2000, 2), 25, "midpoint").x
    quality = energy_distance(x, text_points(recipe["text"], 2000, seed=1))
    meta = dict(data=f'text_points("{recipe["text"]}", n)', path="LinearPath()",
                command=_command(argv), weights="EMA" if recipe["ema"] else "raw", **recipe,
                final_loss=_final_loss(history.loss), energy_distance_2000_midpoint_25=round(quality, 4),
                **_environment(history))
    meta["steps"] = history.steps  # the steps done
    save_checkpoint(out, model, **meta)
    print(f"trained {history.steps} steps in {history.seconds:.1f} s; energy distance of 2,000 samples to the "
          f"word: {quality:.4f}; saved {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def _train_straight(args, values: dict, out: Path, argv: list[str]) -> int:
    """Rebuild one of notebook 06's moons models from STRAIGHT_RECIPE (`fmlite.tools.recipes.train_straight`)."""
    import torch

    from . import recipes
    from ..checkpoints import save_checkpoint
    from ..datasets import sample_2d
    from ..metrics import energy_distance
    from ..solvers import integrate
    overrides = {**recipes.STRAIGHT_OVERRIDES.get(args.data, {}), **values, "ema": values["ema"] or None}
    kind = recipes.STRAIGHT_MODELS[args.data]
    model, history = recipes.train_straight(kind, device=args.device, progress=not args.no_progress, **overrides)
    recipe = {**recipes.STRAIGHT_RECIPE, **overrides}
    if history.interrupted:
        meta = dict(coupling=kind, path="LinearPath()", command=_command(argv),
                    weights="EMA" if recipe["ema"] else "raw", **recipe, final_loss=_final_loss(history.loss),
                    loss=torch.tensor(history.loss, dtype=torch.float32), **_environment(history))
        return _interrupted(out, model, meta, history, recipe["steps"])
    x_0 = torch.randn(2000, 2, generator=torch.Generator().manual_seed(2))
    fresh = sample_2d(recipe["data"], 2000, seed=1)
    quality = {f"euler_{k}": round(energy_distance(integrate(model, x_0, k).x, fresh), 4) for k in (1, 2, 4, 8, 32)}
    meta = dict(coupling=kind, path="LinearPath()", command=_command(argv),
                weights="EMA" if recipe["ema"] else "raw", **recipe, final_loss=_final_loss(history.loss),
                energy_distance_2000=quality, loss=torch.tensor(history.loss, dtype=torch.float32),
                **_environment(history))
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

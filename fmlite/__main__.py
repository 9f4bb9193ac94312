"""Command line: rebuild the shipped checkpoints.

    python -m fmlite train digits                   # rebuilds data/digits.pt (asks for --force to overwrite)
    python -m fmlite train flow                     # rebuilds data/flow.pt, the MLP of notebook 00
    python -m fmlite train digits --steps 500 --out /tmp/quick.pt
    python -m fmlite train my_images.npz --width 128 --blocks 6 --device cuda --out my_images.pt

A .npz file holds `images` (N, C, H, W) scaled to [-1, 1] and optionally `labels`
(N,) integers 0..K-1 (for a local data set of your own; nothing is downloaded).
The same command is installed as `fmlite` (pyproject's console script).
"""
from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m fmlite` (defaults: the shipped digits recipe)."""
    from .pretrained import DIGITS_RECIPE as R
    parser = argparse.ArgumentParser(prog="python -m fmlite", description="fmlite: rebuild the course's checkpoints.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser("train", help="train an image model and save a checkpoint",
                            description="Train a ConvNet by flow matching and save it as a checkpoint.")
    p.add_argument("data", help="'digits' (the 8x8 digits shipped with scikit-learn), 'flow' (the 2-D word "
                                "model of notebook 00: FLOW_RECIPE; only --steps, --seed, --device, --out, "
                                "--force apply) or a .npz file with 'images' (N, C, H, W) in [-1, 1] and "
                                "optional 'labels' (N,)")
    p.add_argument("--steps", type=int, default=R["steps"], help=f"optimiser steps (default {R['steps']})")
    p.add_argument("--width", type=int, default=R["width"], help=f"ConvNet channels (default {R['width']})")
    p.add_argument("--blocks", type=int, default=R["blocks"], help=f"residual blocks (default {R['blocks']})")
    p.add_argument("--batch-size", type=int, default=R["batch_size"], help=f"default {R['batch_size']}")
    p.add_argument("--lr", type=float, default=R["lr"], help=f"Adam learning rate (default {R['lr']})")
    p.add_argument("--label-dropout", type=float, default=R["label_dropout"],
                   help=f"probability of dropping a label (default {R['label_dropout']})")
    p.add_argument("--ema", type=float, default=R["ema"], help=f"EMA decay, 0 for none (default {R['ema']})")
    p.add_argument("--seed", type=int, default=R["seed"], help=f"default {R['seed']}")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N, mps")
    p.add_argument("--out", type=Path, default=None,
                   help="checkpoint file (default: the shipped data/digits.pt for 'digits', required otherwise)")
    p.add_argument("--force", action="store_true", help="overwrite an existing checkpoint")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _load_npz(file: Path, parser):
    import numpy as np
    import torch
    if not file.exists():
        parser.error(f"data file {file} not found")
    with np.load(file) as z:
        if "images" not in z:
            parser.error(f"{file} has no array 'images' (it has {sorted(z.files)})")
        images = torch.as_tensor(z["images"], dtype=torch.float32)
        labels = torch.as_tensor(z["labels"]).long() if "labels" in z else None
    return images, labels


def _train(args, parser, argv: list[str]) -> int:
    from . import save_checkpoint
    from .pretrained import data_dir, train_images
    for name, value, ok in (("--steps", args.steps, args.steps >= 1), ("--width", args.width,
                            args.width >= 16 and args.width % 8 == 0), ("--blocks", args.blocks, args.blocks >= 1),
                            ("--batch-size", args.batch_size, args.batch_size >= 1), ("--lr", args.lr, args.lr > 0),
                            ("--label-dropout", args.label_dropout, 0 <= args.label_dropout <= 1),
                            ("--ema", args.ema, 0 <= args.ema < 1)):
        if not ok:
            parser.error(f"invalid {name} {value}: steps, blocks and batch size >= 1, width a multiple of 8 and >= 16, "
                         "lr > 0, label dropout in [0, 1], EMA decay in [0, 1)")
    if args.data == "flow":
        return _train_flow(args, parser, argv)
    if args.data != "digits" and not args.data.endswith(".npz"):
        parser.error(f"unknown data {args.data!r}: give 'digits', 'flow' or a .npz file")
    if args.out is None and args.data != "digits":
        parser.error("--out is required when training on a .npz file")
    out = args.out or data_dir() / "digits.pt"
    if out.exists() and not args.force:
        parser.error(f"{out} exists; pass --force to overwrite it")
    if not out.parent.is_dir():
        parser.error(f"folder {out.parent} does not exist")
    if args.data == "digits":
        from .datasets import load_digits
        images, labels = load_digits()
    else:
        images, labels = _load_npz(Path(args.data), parser)

    import torch
    model, history = train_images(images, labels, width=args.width, blocks=args.blocks, steps=args.steps,
                                  batch_size=args.batch_size, lr=args.lr, label_dropout=args.label_dropout,
                                  ema=args.ema or None, seed=args.seed, device=args.device,
                                  progress=not args.no_progress)
    final_loss = sum(history.loss[-100:]) / len(history.loss[-100:])
    meta = dict(data=args.data, command="python -m fmlite " + shlex.join(argv), steps=history.steps,
                batch_size=args.batch_size, lr=args.lr, label_dropout=args.label_dropout, ema=args.ema,
                seed=args.seed, train_seconds=round(history.seconds, 1), device=history.device,
                torch=str(torch.__version__), cpu=platform.processor() or platform.machine(),
                threads=torch.get_num_threads(), final_loss=round(final_loss, 3),
                image_size=list(images.shape[2:]), date=time.strftime("%Y-%m-%d"))
    print(f"trained {history.steps} steps in {history.seconds:.1f} s on {history.device}, "
          f"loss (mean of the last 100 steps) {final_loss:.3f}")
    if args.data == "digits":
        meta["quality"] = _digit_quality(model)
    save_checkpoint(out, model, **meta)
    print(f"saved {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def _train_flow(args, parser, argv: list[str]) -> int:
    """Rebuild data/flow.pt from FLOW_RECIPE (the ConvNet options do not apply)."""
    import torch
    from . import save_checkpoint
    from .datasets import text_points
    from .metrics import energy_distance
    from .pretrained import FLOW_RECIPE, data_dir, train_flow
    from .solvers import integrate
    out = args.out or data_dir() / "flow.pt"
    if out.exists() and not args.force:
        parser.error(f"{out} exists; pass --force to overwrite it")
    overrides = {"seed": args.seed}
    if "--steps" in argv:
        overrides["steps"] = args.steps
    model, history = train_flow(device=args.device, progress=not args.no_progress, **overrides)
    recipe = {**FLOW_RECIPE, **overrides}
    torch.manual_seed(1)
    x = integrate(model, torch.randn(2000, 2), 25, "midpoint").x
    quality = energy_distance(x, text_points(recipe["text"], 2000, seed=1))
    meta = dict(data=f'text_points("{recipe["text"]}", n)', path="LinearPath()",
                command="python -m fmlite " + shlex.join(argv), weights="EMA", **recipe,
                train_seconds=round(history.seconds, 1), device=history.device, torch=str(torch.__version__),
                threads=torch.get_num_threads(), final_loss=round(sum(history.loss[-100:]) / 100, 3),
                energy_distance_2000_midpoint_25=round(quality, 4), date=time.strftime("%Y-%m-%d"))
    save_checkpoint(out, model, **meta)
    print(f"trained {history.steps} steps in {history.seconds:.1f} s; energy distance of 2,000 samples to the "
          f"word: {quality:.4f}; saved {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


def _digit_quality(model) -> dict:
    """Scores of 1,000 samples (100 per digit) at guidance w = 0, 1, 2, next to the real-digit ceiling."""
    import torch
    from .metrics import digit_scores, real_digit_scores
    from .pretrained import sample_images
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m fmlite` and the `fmlite` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(args, parser, argv)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse refuses it first


if __name__ == "__main__":
    sys.exit(main())

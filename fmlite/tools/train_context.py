"""What every family of `python -m fmlite train` shares: the `Family` record of the registry and the `TrainContext`
handed to each family's `run(ctx)`, with the checks and helpers of the command (refusals, option values, the output
file, Ctrl-C, the checkpoint's environment).

A family of shipped models (notebook 09's flow maps, 10's token networks, 11's latent models, ...) lives in its
own module, which exposes `FAMILY = Family(names, help, run)` and imports this module, never
`fmlite.tools.cli_train` (which holds the registry, `_families`), so the import graph keeps no cycle.
`run(ctx)` checks the options and the output through the context, trains, saves, and returns the exit status:
0, 1 when the loss diverged (`FloatingPointError`, caught by `cmd_train`), `INTERRUPTED` (130) after Ctrl-C
(`ctx.interrupted` saves the model so far beside the output); a refusal is one line and exit status 2 (`fail`).
"""
from __future__ import annotations

import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["Family", "TrainContext", "fail", "INTERRUPTED", "OPTIONS", "POINT_OPTIONS", "CHECKS"]

#: Exit status after Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130

#: The training options of `train` (dest names), in the order refusals list them; a family allows a subset.
OPTIONS = ("steps", "width", "blocks", "batch_size", "lr", "label_dropout", "ema", "seed")
#: The options of the 2-D point models (no ConvNet sizes, no labels).
POINT_OPTIONS = ("steps", "batch_size", "lr", "ema", "seed")

#: Range checks of the numeric options: dest -> (test, what is allowed).
CHECKS = {
    "steps": (lambda v: v >= 1, ">= 1"),
    "width": (lambda v: v >= 16 and v % 8 == 0, "a multiple of 8 and >= 16"),
    "blocks": (lambda v: v >= 1, ">= 1"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "lr": (lambda v: v > 0 and v != float("inf"), "> 0 and finite"),
    "label_dropout": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "ema": (lambda v: 0 <= v < 1, "in [0, 1) (0: no EMA)"),
    "seed": (lambda v: v >= 0, ">= 0"),
}


def fail(parser, message: str):
    """Refuse on one line, `python -m fmlite: error: MESSAGE`, and exit with status 2 (no usage, no traceback)."""
    parser.exit(2, f"{parser.prog}: error: {message}\n")


def _flags(names) -> str:
    return ", ".join("--" + k.replace("_", "-") for k in names)


@dataclass(frozen=True)
class Family:
    """One entry of the registry of `train`: the shipped names it rebuilds into data/NAME.pt, a phrase for
    `train --help`, and `run(ctx: TrainContext) -> exit status` (checks, trains, saves)."""
    names: tuple
    help: str
    run: Callable


@dataclass
class TrainContext:
    """One `python -m fmlite train NAME` call: its parsed `args`, `parser`, `argv`, whether NAME is `shipped`
    (so --out may be left out), and the output file once `output()` checked it (`out`, for `cmd_train`'s
    Ctrl-C and divergence messages)."""
    args: object
    parser: object
    argv: list
    shipped: bool
    out: Path | None = None

    @property
    def name(self) -> str:
        return self.args.data

    @property
    def command(self) -> str:
        """The command line that rebuilds the checkpoint, as recorded in its meta (without --force)."""
        return "python -m fmlite " + shlex.join(a for a in self.argv if a != "--force")

    def fail(self, message: str):
        fail(self.parser, message)

    def given(self) -> dict:
        """The training options the user gave (dest -> value)."""
        return {k: getattr(self.args, k) for k in OPTIONS if getattr(self.args, k) is not None}

    def refuse_others(self, allowed) -> None:
        """Refuse, on one line, every option given that is not in `allowed`."""
        refused = sorted(set(self.given()) - set(allowed))
        if refused:
            self.fail(f"{_flags(refused)} do{'es' if len(refused) == 1 else ''} not apply to {self.name!r} "
                      f"(it takes {_flags(allowed)})")

    def check_ranges(self) -> None:
        """Refuse a given option out of its range (`CHECKS`), NaN included."""
        for k, v in self.given().items():
            ok, allowed_range = CHECKS[k]
            if v != v or not ok(v):  # v != v: NaN
                self.fail(f"invalid --{k.replace('_', '-')} {v}: must be {allowed_range}")

    def values(self, recipe: dict, allowed) -> dict:
        """The recipe's values of the `allowed` options, overridden by every option the user gave (the others
        refused, the given ones range-checked); an EMA of None becomes 0.0."""
        self.refuse_others(allowed)
        values = {k: recipe[k] for k in allowed}
        values.update(self.given())
        self.check_ranges()
        if values["ema"] is None:
            values["ema"] = 0.0
        return values

    def output(self) -> Path:
        """The checkpoint file (`fmlite.files.check_output_file`: not a folder, its folder exists and can be
        written, no silent overwrite; default data/NAME.pt for a shipped name), then the device; kept as `out`."""
        from ..files import check_output_file
        from ..optim import resolve_device
        if self.args.out is None:
            if not self.shipped:
                self.fail("--out is required when training on a .npz file")
            from ..pretrained import data_dir
            out = data_dir() / f"{self.name}.pt"
        else:
            out = self.args.out
        try:
            self.out = check_output_file(out, force=self.args.force)
        except ValueError as err:
            self.fail(str(err))
        try:
            resolve_device(self.args.device)
        except ValueError as err:
            self.fail(f"--device: {err}")
        return self.out

    def train_kwargs(self) -> dict:
        return dict(device=self.args.device, progress=not self.args.no_progress)

    @staticmethod
    def final_loss(loss: list) -> float:
        """Mean of the last 100 losses, or of all of them when there are fewer (NaN when there are none)."""
        tail = list(loss)[-100:]
        return round(sum(tail) / len(tail), 3) if tail else float("nan")

    @staticmethod
    def environment(history) -> dict:
        """Meta of where and how long it trained: seconds, device, torch, CPU, threads, date."""
        import torch
        return dict(train_seconds=round(history.seconds, 1), device=history.device, torch=str(torch.__version__),
                    cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads(),
                    date=time.strftime("%Y-%m-%d"))

    @staticmethod
    def untouched(out: Path) -> str:
        return f"{out} is unchanged" if out.exists() else f"{out} was not created"

    def interrupted(self, model, meta: dict, history, requested: int, when: str = "") -> int:
        """Ctrl-C stopped training (or, `when`, what came after it): save the model so far beside `out` (never
        over it; meta records steps, steps_requested and interrupted=True), say so, return 130."""
        from ..checkpoints import save_checkpoint
        out = self.out
        if history.steps == 0:
            print(f"stopped by Ctrl-C before the first step: nothing saved, {self.untouched(out)}", file=sys.stderr)
            return INTERRUPTED
        partial = out.with_name(f"{out.stem}.interrupted-{history.steps}{out.suffix or '.pt'}")
        n = 2
        while partial.exists():  # never over an earlier file
            partial = out.with_name(f"{out.stem}.interrupted-{history.steps}-{n}{out.suffix or '.pt'}")
            n += 1
        meta.update(steps=history.steps, steps_requested=requested, interrupted=True)
        save_checkpoint(partial, model, **meta)
        print(f"stopped by Ctrl-C {when + ' ' if when else ''}after {history.steps} of {requested} steps: "
              f"{self.untouched(out)}; the model so far is saved as {partial} (train again for the full model, or "
              f"rename it to use this one)", file=sys.stderr)
        return INTERRUPTED

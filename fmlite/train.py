"""The training loop: one loop for every loss (flow matching by default), with Adam.

Each step takes the next batch of data (`fmlite.batches.BatchPool`), drops labels for classifier-free
guidance, calls the loss (`fmlite.losses.Loss`: it draws the source, times and noise it needs) and takes
one optimiser step; around it: a progress bar, seeds, the device, an EMA copy, a NaN check, an
evaluation callback and a clean stop on Ctrl-C. The flow matching loss is defined in `fmlite.losses`;
its public home is this module (`from fmlite.train import flow_matching_loss, train`), as notebooks
03, 05 and 07 import it. The optimiser, its learning-rate factors and the device live in `fmlite.optim`.

Taught in notebook 03 (`notebooks/03_training.ipynb`).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from .batches import Batch, BatchPool
from .checks import check_count
from .losses import FlowMatchingLoss, Loss, flow_matching_loss, sample_time  # noqa: F401 - public home (module docstring)
from .optim import LR_DECAYS, cpu_threads, make_optimizer, resolve_device
from .paths import Path

__all__ = ["flow_matching_loss", "sample_time", "FlowMatchingLoss", "Loss", "drop_labels", "train", "History",
           "TrainingDiverged"]
# defined in fmlite.losses, public here: flow_matching_loss, sample_time, FlowMatchingLoss, Loss


def drop_labels(y: Tensor, p: float, null_label: int, u: Tensor | None = None) -> Tensor:
    """Replace each label by `null_label` with probability p (label dropout for classifier-free guidance):
    label i is dropped where u[i] < p, u uniform in [0, 1).

    Args:
        y: int64 labels (B,). p: probability in [0, 1] that a label is DROPPED.
        null_label: the "no label" token (`model.null_label`).
        u: uniform numbers (B,) in [0, 1), or None to draw them with torch.rand (torch's global generator,
            on y's device; `train` passes None). Exercise 07.drop_labels restates this with u given.

    Returns:
        New labels (B,) int64 (y is not changed); about a fraction p of them equal null_label.

    Raises:
        ValueError: p outside [0, 1], or u given with another shape than y.

    Source: Ho & Salimans 2022, "Classifier-Free Diffusion Guidance", Alg. 1 (p_uncond).
    """
    if not 0 <= p <= 1:
        raise ValueError(f"label dropout probability must lie in [0, 1], got {p}")
    if u is None:
        u = torch.rand(y.shape, device=y.device)
    elif u.shape != y.shape:
        raise ValueError(f"u must have the shape of y {tuple(y.shape)} (one uniform number per label), "
                         f"got {tuple(u.shape)}")
    return torch.where(u < p, torch.full_like(y, null_label), y)


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; `.step` says when and `.history` holds the losses so far."""

    def __init__(self, message: str, step: int, history: "History"):
        super().__init__(message)
        self.step, self.history = step, history


@dataclass
class History:
    """What `train` returns.

    Attributes:
        loss: loss per step (floats).
        steps: steps completed. seconds: wall time of the loop, without the time spent in the callback.
        eval_seconds: wall time spent in the callback (0.0 without one).
        interrupted: True if stopped by Ctrl-C (the model keeps its weights so far).
        stopped_early: True if the callback asked to stop.
        device: where the model was trained (the model stays there).
        ema_model: an exponential moving average copy of the model (eval mode), if asked for.
    """

    loss: list = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    eval_seconds: float = 0.0
    interrupted: bool = False
    stopped_early: bool = False
    device: str = "cpu"
    ema_model: nn.Module | None = None

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else float("nan")


@dataclass(frozen=True)
class TrainSettings:
    """Everything `train` checked, for its loop: one object instead of a long positional list.

    Attributes:
        steps, batch_size, eval_every: whole numbers >= 1. lr: Adam's learning rate.
        lr_factor: factor(step, steps) multiplying lr after each step (`fmlite.optim.LR_DECAYS`), or None.
        label_dropout: probability in [0, 1] of dropping a label. seed: torch.manual_seed before training, or None.
        device: the resolved torch.device. ema: EMA decay in (0, 1), or None. progress: show the tqdm bar.
        callback: callback(step, model) or None.
    """

    steps: int
    batch_size: int
    lr: float
    lr_factor: Callable[[int, int], float] | None
    label_dropout: float
    seed: int | None
    device: torch.device
    ema: float | None
    progress: bool
    callback: Callable[[int, nn.Module], bool | None] | None
    eval_every: int


def train(model: nn.Module, path: Path | None, sample_data: Callable[[int], Tensor], steps: int,
          batch_size: int = 256, lr: float = 1e-2, *, coupling: Callable | str | None = None,
          label_dropout: float = 0.1, seed: int | None = 0, device: str = "auto", ema: float | None = None,
          progress: bool = True, callback: Callable[[int, nn.Module], bool | None] | None = None,
          eval_every: int = 100, threads: int | None = None, lr_decay: str = "constant",
          loss: Loss | Callable | None = None) -> History:
    """Train a network with Adam on a loss: the flow matching loss by default, or any `loss(model, batch)`.

    Each step takes the next batch x_1 (or (x_1, y) for labelled data) of a pool drawn by
    sample_data, drops labels, and takes one Adam step on `loss(model, Batch(x_1, y))`. The default
    loss, `FlowMatchingLoss(path, coupling)`, draws x_0 ~ N(0, I), optionally re-pairs by `coupling`,
    draws t ~ U(0, 1) and the path's eps (in that order) and returns `flow_matching_loss`.

    Args:
        model: the network; for the default loss a velocity network model(x, t) (or model(x, t, y) for
            labelled data).
        path: a `fmlite.paths.Path` for the default loss; None when `loss` is given (it brings its own).
        sample_data: callable n -> data (n, *D), or -> (data, labels (n,)) for class-
            conditional training (labels dropped to `model.null_label` with
            probability `label_dropout`). It is called with POOL sizes n = k * batch_size (k up to
            64, see `fmlite.batches.BatchPool`), not batch_size, and must return exactly n samples
            drawn independently; `train` slices consecutive batches from each pool. Floating data is
            converted to the model's dtype; integer data is refused (convert and rescale it first),
            unless the loss has `tokens = True`: then integer token ids are required (as int64).
        steps: number of optimiser steps. batch_size: samples per step (both whole numbers
            >= 1, see `fmlite.checks.check_count`). lr: Adam learning rate.
        coupling: None, "independent", "minibatch_ot" or a callable (see `flow_matching_loss`); for the
            default loss only (a loss you pass does its own pairing).
        label_dropout: probability of dropping a label (classifier-free guidance), in [0, 1].
        seed: `torch.manual_seed(seed)` before training; the default 0 reseeds torch's GLOBAL generator,
            so the random numbers drawn after `train` returns depend on it too. None leaves the
            generator alone (the run then depends on the caller's state).
        device: "auto" (CUDA when present), "cpu", "cuda", "cuda:N" or "mps"; the model is moved there.
        ema: decay of an exponential moving average of the weights (e.g. 0.999), or None.
        progress: show a tqdm progress bar.
        callback: optional callback(step, model), called after every `eval_every` completed
            steps (step = steps completed so far: eval_every, 2 eval_every, ...) with the EMA
            copy when `ema` is given, else the trained model (put in eval mode for the call, back
            in train mode after). Returning True stops training (`History.stopped_early`). Time
            spent in it is left out of `History.seconds` and recorded in `History.eval_seconds`.
        eval_every: steps between callback calls, a whole number >= 1.
        threads: CPU threads for torch during training (restored afterwards, also on error or
            Ctrl-C); None chooses `auto_threads(model)` (1 for this course's small networks).
            Ignored on other devices.
        lr_decay: "constant" (lr throughout), "cosine" (lr * (1 + cos(pi s / steps)) / 2 at step s)
            or "linear" (lr * (1 - s / steps)): the decaying ones reach 0 at `steps`
            (Loshchilov & Hutter 2017, SGDR).
        loss: None (the flow matching loss on `path` with `coupling`) or a loss object or function
            called as loss(model, batch) -> scalar tensor: the protocol `fmlite.losses.Loss` says what
            `batch` holds (`fmlite.batches.Batch`: x_1, y) and what the loss must return.

    Returns:
        History (loss per step, timing, interrupted and stopped_early flags, optional EMA model).
        Ctrl-C stops training cleanly and returns the history so far.

    Raises:
        TrainingDiverged: the loss became NaN or inf (the message gives the step).
        ValueError: bad device, steps, batch_size, eval_every, threads or lr_decay; sample_data not a
            function; data of the wrong shape, number or dtype; labelled data for a model that takes no labels;
            no path (without a loss), or a path or coupling together with a loss; a loss that is not callable
            or returns something other than a scalar tensor with a gradient.
    """
    if not callable(sample_data):
        raise ValueError(f"sample_data must be a function n -> data (n, *D), got a {type(sample_data).__name__}; "
                         "for a fixed data set pass lambda n: data[torch.randint(len(data), (n,))]")
    loss = _default_loss(path, coupling) if loss is None else _check_loss(loss, path, coupling)
    if ema is not None and not 0 < ema < 1:
        raise ValueError(f"ema decay must lie in (0, 1), e.g. 0.999, got {ema}")
    if lr_decay not in LR_DECAYS:
        raise ValueError(f"unknown lr_decay {lr_decay!r}; choose one of {list(LR_DECAYS)}")
    settings = TrainSettings(steps=check_count(steps, "steps"), batch_size=check_count(batch_size, "batch_size"),
                             lr=lr, lr_factor=LR_DECAYS[lr_decay], label_dropout=label_dropout, seed=seed,
                             device=resolve_device(device), ema=ema, progress=progress, callback=callback,
                             eval_every=check_count(eval_every, "eval_every"))
    threads = None if threads is None else check_count(threads, "threads")
    with cpu_threads(settings.device, threads, model):
        return _loop(model, loss, sample_data, settings)


def _default_loss(path: Path | None, coupling) -> FlowMatchingLoss:
    if path is None:
        raise ValueError("train needs a path for the flow matching loss, e.g. train(model, LinearPath(), "
                         "sample_data, steps), or a loss of its own: train(model, None, sample_data, steps, loss=...)")
    return FlowMatchingLoss(path, coupling)


def _check_loss(loss, path, coupling):
    if not callable(loss):
        raise ValueError(f"loss must be called as loss(model, batch) -> scalar tensor, got a {type(loss).__name__}")
    if path is not None or coupling is not None:
        given = "path" if path is not None else "coupling"
        raise ValueError(f"a {given} was given together with loss={type(loss).__name__}; the path and coupling "
                         "are the default loss's: give them to your loss and pass path=None (train(model, None, "
                         "sample_data, steps, loss=...)), or drop loss= to train with flow matching")
    return loss


def _loop(model: nn.Module, loss_fn: Callable, sample_data: Callable, run: TrainSettings) -> History:
    from tqdm.auto import tqdm   # imported here: `import fmlite.train` stays light

    if run.seed is not None:
        torch.manual_seed(run.seed)
    model.to(run.device).train()
    optimizer = make_optimizer(model.parameters(), run.lr)
    history = History(device=str(run.device))
    params = [p for p in model.parameters()]
    if run.ema is not None:
        history.ema_model = copy.deepcopy(model).eval().requires_grad_(False)
        ema_params = list(history.ema_model.parameters())
    batches = BatchPool(sample_data, run.batch_size, model, run.device, tokens=getattr(loss_fn, "tokens", False))
    start = time.perf_counter()
    bar = tqdm(range(run.steps), desc="training", disable=not run.progress, mininterval=0.5)
    try:
        for step in bar:
            x_1, y = batches.next(run.steps - step)
            if y is not None:
                y = drop_labels(y, run.label_dropout, model.null_label)
            loss = loss_fn(model, Batch(x_1, y))
            if not (isinstance(loss, Tensor) and loss.dim() == 0 and loss.requires_grad):
                raise ValueError(_not_a_loss(loss_fn, loss))
            value = loss.item()   # the one device sync per step
            if not math.isfinite(value):
                history.seconds = time.perf_counter() - start - history.eval_seconds
                hint = ("the data contains NaN" if not torch.isfinite(x_1).all() else
                        f"lower the learning rate (lr={run.lr})")
                raise TrainingDiverged(f"loss became {value} at step {step}; {hint}", step, history)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if run.lr_factor is not None:
                for group in optimizer.param_groups:
                    group["lr"] = run.lr * run.lr_factor(step + 1, run.steps)
            if run.ema is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(ema_params, params, 1 - run.ema)
            history.loss.append(value)
            history.steps = step + 1
            if step % 50 == 0:
                bar.set_postfix(loss=f"{value:.3f}", refresh=False)
            if run.callback is not None and history.steps % run.eval_every == 0:
                if _evaluate(run.callback, history, model):
                    history.stopped_early = True
                    break
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"training stopped by Ctrl-C after {history.steps} steps; the model and history so far are kept")
    finally:
        bar.close()
        history.seconds = time.perf_counter() - start - history.eval_seconds
    model.eval()
    return history


def _not_a_loss(loss_fn, loss) -> str:
    name = getattr(loss_fn, "__name__", type(loss_fn).__name__)
    if not isinstance(loss, Tensor):
        got = f"a {type(loss).__name__}"
    elif loss.dim() != 0:
        got = f"a tensor of shape {tuple(loss.shape)}; reduce it to one number, e.g. with .mean()"
    else:
        got = "a tensor without a gradient path to the model (computed under torch.no_grad(), or detached?)"
    return f"the loss {name}(model, batch) must return a scalar tensor with a gradient, got {got}"


def _evaluate(callback, history: History, model: nn.Module) -> bool:
    """Call callback(steps, model or EMA copy) in eval mode; add its wall time to history.eval_seconds."""
    target = history.ema_model if history.ema_model is not None else model
    begin = time.perf_counter()
    model.eval()
    try:
        return callback(history.steps, target) is True
    finally:
        model.train()
        history.eval_seconds += time.perf_counter() - begin

"""The flow matching loss and a short training loop.

    L(theta) = E_{t, x_0, x_1, eps} |v_theta(x_t, t) - u_t|^2,
    x_t = alpha_t x_1 + beta_t x_0 + sigma(t) eps,  u_t = alpha'_t x_1 + beta'_t x_0 + sigma'(t) eps,

with t ~ U(0, 1), x_0 ~ N(0, I), x_1 ~ data. Regressing on the *conditional* target
u_t = u_t(x_t | z), z = (x_0, x_1, eps), has the same gradient as regressing on the marginal
field u_t(x) = E[u_t | x_t = x], so the
minimiser is the marginal velocity (Lipman et al. 2023, Theorem 2; Liu et al. 2022;
Albergo & Vanden-Eijnden 2023). |.|^2 sums over all data dimensions, the batch is averaged.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from .batches import BatchPool
from .checks import check_count, model_dtype, network_input
from .couplings import COUPLINGS
from .optim import LR_SCHEDULES, auto_threads, cpu_threads, make_optimizer, resolve_device  # noqa: F401 - re-exported
from .paths import Path

__all__ = ["flow_matching_loss", "sample_time", "drop_labels", "resolve_device", "train", "History",
           "TrainingDiverged", "auto_threads", "make_optimizer"]   # resolve_device and the last two: fmlite.optim


def sample_time(batch: int, device=None, dtype=None) -> Tensor:
    """Draw t ~ Uniform on the open interval (0, 1), shape (batch,).

    `torch.rand` draws from [0, 1); the rare exact 0 is drawn again (rejection, not
    clipping), so schedules with a singular derivative at t = 0 (the Brownian bridge)
    stay finite. batch is a whole number >= 0 (see `fmlite.checks.check_count`).
    """
    t = torch.rand(check_count(batch, "batch", 0), device=device, dtype=dtype)
    while (t == 0).any():
        zero = t == 0
        t[zero] = torch.rand(int(zero.sum()), device=device, dtype=dtype)
    return t


def drop_labels(y: Tensor, p: float, null_label: int) -> Tensor:
    """Replace each label by `null_label` with probability p (label dropout for classifier-free guidance).

    Args:
        y: int64 labels (B,). p: probability in [0, 1] that a label is DROPPED.
        null_label: the "no label" token (`model.null_label`).

    Returns:
        New labels (B,); about a fraction p of them equal null_label.

    Raises:
        ValueError: p outside [0, 1].

    Source: Ho & Salimans 2022, "Classifier-Free Diffusion Guidance", Alg. 1 (p_uncond).
    """
    if not 0 <= p <= 1:
        raise ValueError(f"label dropout probability must lie in [0, 1], got {p}")
    drop = torch.rand(y.shape, device=y.device) < p
    return torch.where(drop, torch.full_like(y, null_label), y)


def flow_matching_loss(model: nn.Module, path: Path, x_0: Tensor, x_1: Tensor, t: Tensor | None = None,
                       coupling: Callable | str | None = None, y: Tensor | None = None) -> Tensor:
    """The (conditional) flow matching loss on one batch: mean_i |v_theta(x_t_i, t_i) - u_t_i|^2.

    Args:
        model: velocity network called as model(x_t, t) (or model(x_t, t, y) with labels).
        path: a `fmlite.paths.Path`; its sigma schedule adds sigma(t) eps to x_t and
            sigma'(t) eps to the target.
        x_0: noise (B, *D). x_1: data (B, *D). Floating tensors of any precision are
            converted to the model's dtype (float32 unless the model was made `.double()`).
        t: times (B,) in [0, 1]; default Uniform(0, 1) (see `sample_time`).
        coupling: None or "independent" (pair as given), "minibatch_ot", or a callable
            (x_0, x_1) -> (x_0, x_1). With labels, only a coupling that keeps x_1's
            order (independent) is allowed.
        y: optional int64 labels (B,) of x_1 for a class-conditional model.

    Returns:
        Scalar tensor (differentiable) in the model's dtype, in squared data units per unit time^2.

    Raises:
        ValueError: shapes differ, x_0 or x_1 is not floating point, t invalid, unknown
            coupling name, labels for a model that takes none (no `num_classes`), or labels
            with a re-pairing coupling.
    """
    dtype = model_dtype(model)
    x_0 = network_input(x_0, dtype, "x_0", "flow_matching_loss")
    x_1 = network_input(x_1, dtype, "x_1", "flow_matching_loss")
    if y is not None and not getattr(model, "num_classes", None):
        raise ValueError(f"labels y were given, but this {type(model).__name__} takes no labels (it has no "
                         "num_classes); train it on data alone (sample_data returning x_1 only), or use a "
                         "class-conditional model such as ConvNet(num_classes=10)")
    if isinstance(coupling, str):
        if coupling not in COUPLINGS:
            raise ValueError(f"unknown coupling {coupling!r}; choose one of {list(COUPLINGS)} or pass a callable")
        coupling = COUPLINGS[coupling]
    if coupling is not None and coupling is not COUPLINGS["independent"]:
        if y is not None:
            raise ValueError("a re-pairing coupling would separate x_1 from its labels y; use coupling=None with labels")
        x_0, x_1 = coupling(x_0, x_1)
    if t is None:
        t = sample_time(x_0.shape[0], device=x_0.device, dtype=x_0.dtype)
    s = path.sample(x_0, x_1, t)
    v = model(s.x_t, s.t) if y is None else model(s.x_t, s.t, y)
    return ((v - s.u_t) ** 2).flatten(1).sum(1).mean()


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


def train(model: nn.Module, path: Path, sample_data: Callable[[int], Tensor], steps: int, batch_size: int = 256,
          lr: float = 1e-2, *, coupling: Callable | str | None = None, label_dropout: float = 0.1,
          seed: int | None = 0, device: str = "auto", ema: float | None = None, progress: bool = True,
          callback: Callable[[int, nn.Module], bool | None] | None = None, eval_every: int = 100,
          threads: int | None = None, lr_schedule: str = "constant") -> History:
    """Train a velocity network with the flow matching loss and Adam.

    Each step takes the next batch x_1 (or (x_1, y) for labelled data) of a pool drawn by
    sample_data, x_0 ~ N(0, I), t ~ U(0, 1), optionally re-pairs by `coupling`, and takes one
    Adam step on `flow_matching_loss`.

    Args:
        model: velocity network model(x, t) (or model(x, t, y) for labelled data).
        path: a `fmlite.paths.Path`.
        sample_data: callable n -> data (n, *D), or -> (data, labels (n,)) for class-
            conditional training (labels dropped to `model.null_label` with
            probability `label_dropout`). It is called with POOL sizes n = k * batch_size (k up to
            64, see `fmlite.batches.BatchPool`), not batch_size, and must return exactly n samples
            drawn independently; `train` slices consecutive batches from each pool. Floating data is
            converted to the model's dtype; integer data is refused (convert and rescale it first).
        steps: number of optimiser steps. batch_size: samples per step (both whole numbers
            >= 1, see `fmlite.checks.check_count`). lr: Adam learning rate; the default 1e-2
            reaches the quality of bench/TUNING.md on moons in about 5x fewer steps than 1e-3.
        coupling: None, "independent", "minibatch_ot" or a callable (see `flow_matching_loss`).
        label_dropout: probability of dropping a label (classifier-free guidance), in [0, 1].
        seed: seeds torch's global generator before training (None: leave it alone).
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
        lr_schedule: "constant" (lr throughout), "cosine" (lr * (1 + cos(pi s / steps)) / 2 at step s)
            or "linear" (lr * (1 - s / steps)): the decaying ones reach 0 at `steps`
            (Loshchilov & Hutter 2017, SGDR).

    Returns:
        History (loss per step, timing, interrupted and stopped_early flags, optional EMA model).
        Ctrl-C stops training cleanly and returns the history so far.

    Raises:
        TrainingDiverged: the loss became NaN or inf (the message gives the step).
        ValueError: bad device, steps, batch_size, eval_every, threads or lr_schedule; sample_data not a
            function; data of the wrong shape, number or dtype; labelled data for a model that takes no labels.
    """
    from tqdm.auto import tqdm

    if not callable(sample_data):
        raise ValueError(f"sample_data must be a function n -> data (n, *D), got a {type(sample_data).__name__}; "
                         "for a fixed data set pass lambda n: data[torch.randint(len(data), (n,))]")
    steps, batch_size = check_count(steps, "steps"), check_count(batch_size, "batch_size")
    eval_every = check_count(eval_every, "eval_every")
    threads = None if threads is None else check_count(threads, "threads")
    if ema is not None and not 0 < ema < 1:
        raise ValueError(f"ema decay must lie in (0, 1), e.g. 0.999, got {ema}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; choose one of {list(LR_SCHEDULES)}")
    dev = resolve_device(device)
    with cpu_threads(dev, threads, model):
        return _loop(model, path, sample_data, steps, batch_size, lr, coupling, label_dropout, seed, dev, ema,
                     progress, callback, eval_every, tqdm, LR_SCHEDULES[lr_schedule])


def _loop(model, path, sample_data, steps, batch_size, lr, coupling, label_dropout, seed, dev, ema, progress,
          callback, eval_every, tqdm, factor) -> History:
    if seed is not None:
        torch.manual_seed(seed)
    model.to(dev).train()
    optimizer = make_optimizer(model.parameters(), lr)
    history = History(device=str(dev))
    params = [p for p in model.parameters()]
    if ema is not None:
        history.ema_model = copy.deepcopy(model).eval().requires_grad_(False)
        ema_params = list(history.ema_model.parameters())
    batches = BatchPool(sample_data, batch_size, model, dev)
    start = time.perf_counter()
    bar = tqdm(range(steps), desc="training", disable=not progress, mininterval=0.5)
    try:
        for step in bar:
            x_1, y = batches.next(steps - step)
            if y is not None:
                y = drop_labels(y, label_dropout, model.null_label)
            x_0 = torch.randn_like(x_1)
            loss = flow_matching_loss(model, path, x_0, x_1, coupling=coupling, y=y)
            value = loss.item()   # the one device sync per step
            if not math.isfinite(value):
                history.seconds = time.perf_counter() - start - history.eval_seconds
                hint = "the data contains NaN" if not torch.isfinite(x_1).all() else f"lower the learning rate (lr={lr})"
                raise TrainingDiverged(f"loss became {value} at step {step}; {hint}", step, history)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if factor is not None:
                for group in optimizer.param_groups:
                    group["lr"] = lr * factor(step + 1, steps)
            if ema is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(ema_params, params, 1 - ema)
            history.loss.append(value)
            history.steps = step + 1
            if step % 50 == 0:
                bar.set_postfix(loss=f"{value:.3f}", refresh=False)
            if callback is not None and history.steps % eval_every == 0:
                if _evaluate(callback, history, model):
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

"""Training recipes: the runs that build the shipped checkpoints and the short runs of the notebooks.

    model, history = train_digits(**SHORT_RUN)              # notebook 07, about 20 s on a 2-core CPU
    model, history = train_flow(steps=500)                   # the MLP of notebook 00, shorter
    images, labels = load_npz_images("my_images.npz")        # checked: (N, C, H, W) float in [-1, 1]

Every recipe trains by flow matching on the straight path x_t = t x_1 + (1 - t) x_0
(Lipman et al. 2023; Liu et al. 2022) with `fmlite.train.train`; labels are dropped
with probability `label_dropout` for classifier-free guidance (Ho & Salimans 2022).
`python -m fmlite train ...` (`fmlite.tools.cli`) runs these recipes and saves checkpoints.
"""
from __future__ import annotations

import os
import zipfile

import numpy as np
import torch
from torch import Tensor, nn

from ..models import ConvNet
from ..paths import LinearPath
from ..train import History, train

__all__ = ["FLOW_RECIPE", "DIGITS_RECIPE", "SHORT_RUN", "STRAIGHT_RECIPE", "STRAIGHT_MODELS", "STRAIGHT_OVERRIDES",
           "train_images",
           "train_digits", "train_flow", "train_straight", "check_images", "load_npz_images"]

#: The recipe of the shipped "flow" checkpoint (notebook 00): an MLP on text_points("FLOW").
FLOW_RECIPE = dict(text="FLOW", hidden=256, layers=4, steps=15000, batch_size=512, lr=2e-3, ema=0.999, seed=0)

#: The recipe of the shipped "digits" checkpoint (`python -m fmlite train digits` uses it).
DIGITS_RECIPE = dict(width=64, blocks=3, steps=5000, batch_size=128, lr=2e-3, label_dropout=0.2, ema=0.999, seed=0)

#: The recipe of the shipped moons models of notebook 06 (independent, mini-batch OT, reflow of independent).
STRAIGHT_RECIPE = dict(data="moons", hidden=64, layers=3, steps=3000, batch_size=256, lr=3e-3, ema=0.995, seed=0,
                       reflow_pairs=20000, reflow_steps=50)

#: Shipped checkpoint name -> how it pairs noise with data (see `train_straight`).
STRAIGHT_MODELS = {"moons_independent": "independent", "moons_ot": "minibatch_ot", "moons_reflow": "reflow",
                   "moons_sampling": "independent",
                   # notebook 09: the checkerboard counterparts of notebook 06's three
                   "checkerboard_independent": "independent", "checkerboard_ot": "minibatch_ot",
                   "checkerboard_reflow": "reflow"}

#: Per-checkpoint changes to STRAIGHT_RECIPE: "moons_sampling" is the model notebook 04 trains in its
#: RETRAIN cell (default MLP(), 128 wide, 2,000 steps), shipped so that a kernel restart does not retrain it.
STRAIGHT_OVERRIDES = {"moons_sampling": dict(hidden=128, steps=2000),
                      **{f"checkerboard_{k}": dict(data="checkerboard") for k in ("independent", "ot", "reflow")}}

#: The short run of notebook 07 (about 20 s on a 2-core CPU): `train_digits(**SHORT_RUN)`.
SHORT_RUN = dict(width=32, blocks=2, steps=400, batch_size=128, lr=2e-3, ema=None)

_CONVERT = ("images must be (N, C, H, W) float in [-1, 1]: convert 8-bit pixels with `x / 127.5 - 1` "
            "and channels-last arrays (N, H, W, C) with `x.transpose(0, 3, 1, 2)`")


def check_images(images, labels=None, name: str = "images") -> tuple[Tensor, Tensor | None]:
    """Check a training set of images and labels; return them as float32 (N, C, H, W) and int64 (N,) tensors.

    Args:
        images: (N, C, H, W) floating point in [-1, 1] (numpy array or tensor), N >= 1.
        labels: None, or (N,) integers >= 0 (class 0..K-1).
        name: what to call the images in messages (e.g. "my.npz: 'images'").

    Raises:
        ValueError: the images are not 4-D, look channels-last (N, H, W, C with C <= 4 < H),
            are integers (e.g. 8-bit 0..255) or lie outside [-1, 1], or contain NaN/inf; the
            labels are not integers, not one per image, or negative. Each message names the
            array, what was found, what is expected and how to convert.
    """
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, Tensor) else images)
    if x.dim() != 4 or len(x) < 1:
        raise ValueError(f"{name} has shape {tuple(x.shape)}; {_CONVERT}")
    if x.shape[-1] <= 4 < x.shape[1]:
        raise ValueError(f"{name} has shape {tuple(x.shape)}, which looks channels-last (N, H, W, C); {_CONVERT}")
    if not x.is_floating_point():
        lo, hi = (int(x.min()), int(x.max())) if x.numel() else (0, 0)
        raise ValueError(f"{name} holds integers ({x.dtype}, values in [{lo}, {hi}]); {_CONVERT}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf; {_CONVERT}")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1 - 1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"{name} has values in [{lo:.6g}, {hi:.6g}]; {_CONVERT}")
    x = x.to(torch.float32)
    if labels is None:
        return x, None
    y = torch.as_tensor(np.asarray(labels) if not isinstance(labels, Tensor) else labels)
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise ValueError(f"labels for {name} are {y.dtype}; they must be integers 0..K-1 (one per image, "
                         f"shape ({len(x)},)): convert with `labels.astype(np.int64)` after checking they are whole")
    if y.shape != (len(x),):
        raise ValueError(f"labels for {name} have shape {tuple(y.shape)}; expected ({len(x)},), one integer per image")
    if y.min() < 0:
        raise ValueError(f"labels for {name} must be >= 0 (classes 0..K-1), got minimum {int(y.min())}")
    return x, y.long()


def load_npz_images(file: str | os.PathLike) -> tuple[Tensor, Tensor | None]:
    """Read and check a training set from a .npz file: array `images` and optional array `labels`.

    Args:
        file: a .npz written by `np.savez(file, images=x, labels=y)`, x (N, C, H, W) float in
            [-1, 1], y (N,) integers 0..K-1.

    Returns:
        (images float32 (N, C, H, W), labels int64 (N,) or None), as `check_images`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable .npz (corrupt or not a zip), no array 'images', or
            arrays that `check_images` refuses (the message names the array).
    """
    try:
        with np.load(file, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ValueError(f"{file} holds a single array, not a .npz archive; write it with "
                                 "np.savez(file, images=x, labels=y)")
            if "images" not in z.files:
                raise ValueError(f"{file} has no array 'images' (it has {sorted(z.files)})")
            images = z["images"]
            labels = z["labels"] if "labels" in z.files else None
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{file} is not a readable .npz file ({type(err).__name__}: {err}); write it with "
                         "np.savez(file, images=x, labels=y)") from None
    return check_images(images, labels, name=f"{file}: array 'images'")


def train_images(images: Tensor, labels: Tensor | None = None, *, width: int = 64, blocks: int = 3,
                 steps: int = 3000, batch_size: int = 128, lr: float = 2e-3, label_dropout: float = 0.2,
                 ema: float | None = 0.999, seed: int = 0, device: str = "auto",
                 progress: bool = True, callback=None, eval_every: int = 100) -> tuple[nn.Module, History]:
    """Train a `ConvNet` by flow matching on the straight path (x_t = t x_1 + (1 - t) x_0) on a set of images.

    Each step draws a random batch of images (with replacement) and their labels; labels
    are replaced by the "no label" token with probability `label_dropout`, so one model
    learns both v(x, t, y) and v(x, t, no label) for classifier-free guidance.

    Args:
        images: (N, C, H, W) floating point in [-1, 1] (any H, W; the net keeps full resolution).
        labels: int64 (N,) with values 0..K-1 for a class-conditional model, or None.
        width, blocks: ConvNet size. steps, batch_size, lr: Adam optimisation.
        label_dropout: probability of dropping a label; default 0.2, as `DIGITS_RECIPE` and the command
            line (Ho & Salimans 2022 use 0.1 to 0.2).
        ema: decay of the weight average that is returned (None: the raw weights).
        seed: seeds the initial weights and the training randomness.
        device: "auto" (CUDA when present), "cpu", "cuda", ...; the model ends on the CPU.
        progress: show a progress bar.
        callback, eval_every: passed to `fmlite.train.train` (an evaluation every eval_every steps that may
            stop training early).

    Returns:
        (model in eval mode on the CPU, training History).

    Raises:
        ValueError: images or labels that `check_images` refuses (channels-last, integer pixels,
            outside [-1, 1], float labels, ...), or a bad device name (`fmlite.optim.resolve_device`).
    """
    images, labels = check_images(images, labels)
    num_classes = None if labels is None else int(labels.max()) + 1
    torch.manual_seed(seed)
    model = ConvNet(channels=images.shape[1], width=width, blocks=blocks, num_classes=num_classes)

    def sample_data(batch: int):
        idx = torch.randint(0, len(images), (batch,))
        return images[idx] if labels is None else (images[idx], labels[idx])

    history = train(model, LinearPath(), sample_data, steps=steps, batch_size=batch_size, lr=lr,
                    label_dropout=label_dropout, seed=seed, device=device, ema=ema, progress=progress,
                    callback=callback, eval_every=eval_every)
    if history.ema_model is not None:
        model = history.ema_model
    return model.cpu().eval(), history


def train_digits(**kwargs) -> tuple[nn.Module, History]:
    """Train a class-conditional ConvNet on the 1,797 8x8 digits (`fmlite.datasets.load_digits`).

    Keyword arguments override `DIGITS_RECIPE` (the shipped checkpoint's recipe) and
    are passed to `train_images`, e.g. `train_digits(width=32, blocks=2, steps=400, ema=None)`
    for a short run.

    Returns:
        (model, History), as `train_images`.
    """
    from ..datasets import load_digits
    images, labels = load_digits()
    return train_images(images, labels, **{**DIGITS_RECIPE, **kwargs})


def train_flow(device: str = "auto", progress: bool = True, **overrides) -> tuple[nn.Module, History]:
    """Train the MLP of notebook 00 on a word drawn as points (`fmlite.datasets.text_points`).

    Keyword arguments override `FLOW_RECIPE` (text, hidden, layers, steps, batch_size, lr,
    ema, seed). Straight path, independent coupling; the EMA weights are returned.

    Returns:
        (MLP in eval mode on the CPU, History).

    Raises:
        ValueError: an unknown recipe key.
    """
    from ..datasets import text_points
    from ..models import MLP
    unknown = set(overrides) - set(FLOW_RECIPE)
    if unknown:
        raise ValueError(f"unknown recipe keys {sorted(unknown)}; known: {sorted(FLOW_RECIPE)}")
    r = {**FLOW_RECIPE, **overrides}
    torch.manual_seed(r["seed"])
    model = MLP(dim=2, hidden=r["hidden"], layers=r["layers"])
    history = train(model, LinearPath(), lambda n: text_points(r["text"], n), steps=r["steps"],
                    batch_size=r["batch_size"], lr=r["lr"], seed=r["seed"], device=device, ema=r["ema"],
                    progress=progress)
    if history.ema_model is not None:
        model = history.ema_model
    return model.cpu().eval(), history


def train_straight(kind: str, device: str = "auto", progress: bool = True, base: nn.Module | None = None,
                   **overrides) -> tuple[nn.Module, History]:
    """Train one of notebook 06's moons models: an MLP by flow matching on the straight path, paired three ways.

    - "independent": x_0 ~ N(0, I) and x_1 ~ moons paired as drawn (Lipman et al. 2023).
    - "minibatch_ot": each batch re-paired by an exact optimal assignment (`fmlite.couplings.minibatch_ot`;
      Tong et al. 2024).
    - "reflow": `reflow_pairs` noise points (seed + 1) carried by `base` (default: the "independent" model
      of the same recipe, trained first) with RK4 in `reflow_steps` steps, and a fresh MLP trained on
      those fixed pairs (`fmlite.reflow`; Liu et al. 2022, Alg. 1).

    Keyword arguments override `STRAIGHT_RECIPE` (data, hidden, layers, steps, batch_size, lr, ema, seed,
    reflow_pairs, reflow_steps). Data: a pool of 20,000 points of `fmlite.datasets.sample_2d(data)` (seed),
    resampled with replacement every step. The EMA weights are returned.

    Returns:
        (MLP in eval mode on the CPU, History of the last training run).

    Raises:
        ValueError: unknown kind or recipe key.
        KeyboardInterrupt: Ctrl-C while the base model of "reflow" was training (the last run's Ctrl-C is
            kept in its History, as `fmlite.train.train` does).
    """
    from ..datasets import sample_2d
    from ..models import MLP
    from ..reflow import PairedData, reflow_pairs
    kinds = ("independent", "minibatch_ot", "reflow")
    if kind not in kinds:
        raise ValueError(f"unknown kind {kind!r}; choose one of {list(kinds)}")
    unknown = set(overrides) - set(STRAIGHT_RECIPE)
    if unknown:
        raise ValueError(f"unknown recipe keys {sorted(unknown)}; known: {sorted(STRAIGHT_RECIPE)}")
    r = {**STRAIGHT_RECIPE, **overrides}
    if kind == "reflow":
        if base is None:
            base, base_history = train_straight("independent", device=device, progress=progress, **overrides)
            if base_history.interrupted:  # Ctrl-C while training the base: stop, do not reflow a half-trained model
                raise KeyboardInterrupt
        noise = torch.randn(r["reflow_pairs"], 2, generator=torch.Generator().manual_seed(r["seed"] + 1))
        pairs = PairedData(*reflow_pairs(base.cpu(), noise, steps=r["reflow_steps"], method="rk4"))
        sample_data, coupling = pairs, pairs.coupling
    else:
        pool = sample_2d(r["data"], 20000, seed=r["seed"])
        sample_data, coupling = (lambda n: pool[torch.randint(0, len(pool), (n,))]), kind
    torch.manual_seed(r["seed"])
    model = MLP(dim=2, hidden=r["hidden"], layers=r["layers"])
    history = train(model, LinearPath(), sample_data, steps=r["steps"], batch_size=r["batch_size"], lr=r["lr"],
                    coupling=coupling, seed=r["seed"], device=device, ema=r["ema"], progress=progress)
    if history.ema_model is not None:
        model = history.ema_model
    return model.cpu().eval(), history

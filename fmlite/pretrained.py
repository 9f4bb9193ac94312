"""Image models: the training recipe, the shipped checkpoints, and one call that draws samples.

    model = load_pretrained("digits")                       # ConvNet, 8x8 digits, 10 classes
    x = sample_images(model, 16)                            # (16, 1, 8, 8) unconditional
    x = sample_images(model, 16, labels=3, w=2.0)           # sixteen 3s with guidance w = 2

Samples solve dx/dt = v(x, t) from Gaussian noise at t = 0 to images at t = 1
(Lipman et al. 2023, sec. 6), with classifier-free guidance for labels
(`fmlite.models.guided_velocity`; Ho & Salimans 2022). Checkpoints live in the
repository's `data/` folder; `python -m fmlite train digits` rebuilds the shipped one
(see data/README.md for the exact command, time and quality).
"""
from __future__ import annotations

from pathlib import Path as _FilePath

import torch
from torch import Tensor, nn

from .checkpoints import load_checkpoint
from .models import ConvNet, guided_velocity
from .paths import LinearPath
from .solvers import METHODS, integrate
from .train import History, train

__all__ = ["load_pretrained", "sample_images", "train_images", "train_digits", "data_dir", "PRETRAINED",
           "DIGITS_RECIPE", "SHORT_RUN"]

#: Shipped models: name -> file in the data folder.
PRETRAINED = {"digits": "digits.pt", "flow": "flow.pt"}

#: The recipe of the shipped "flow" checkpoint (notebook 00): an MLP on text_points("FLOW").
FLOW_RECIPE = dict(text="FLOW", hidden=256, layers=4, steps=15000, batch_size=512, lr=2e-3, ema=0.999, seed=0)

#: The recipe of the shipped "digits" checkpoint (`python -m fmlite train digits` uses it).
DIGITS_RECIPE = dict(width=64, blocks=3, steps=5000, batch_size=128, lr=2e-3, label_dropout=0.2, ema=0.999, seed=0)

#: The short run of notebook 07 (about 20 s on a 2-core CPU): `train_digits(**SHORT_RUN)`.
SHORT_RUN = dict(width=32, blocks=2, steps=400, batch_size=128, lr=2e-3, ema=None)


def data_dir() -> _FilePath:
    """The folder that holds the shipped checkpoints.

    Looked up next to the package: `fmlite/data/` if present (an installed wheel that
    ships it), else the repository's `data/` beside the `fmlite/` folder (the editable
    install of the course, `pip install -e .`).

    Raises:
        FileNotFoundError: neither folder exists.
    """
    here = _FilePath(__file__).resolve().parent
    for folder in (here / "data", here.parent / "data"):
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"no data folder found at {here / 'data'} or {here.parent / 'data'}; install the course "
                            "from its repository with `pip install -e .`")


def load_pretrained(name: str = "digits", device: str | torch.device = "cpu") -> nn.Module:
    """Load a shipped model, in eval mode, ready to sample.

    Args:
        name: a key of `PRETRAINED` ("digits": a class-conditional `ConvNet` for the
            8x8 digits, labels 0..9, null label 10).
        device: where to put the model.

    Returns:
        the model, in eval mode with its parameters frozen (requires_grad False; call
        `model.requires_grad_(True)` to fine-tune it); `model.meta` holds what the
        checkpoint says about its training (command, steps, seconds, loss, measured quality).

    Raises:
        ValueError: unknown name (lists the known ones).
        FileNotFoundError: the checkpoint file is missing (the message says how to rebuild it).
    """
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}; choose one of {sorted(PRETRAINED)}")
    file = data_dir() / PRETRAINED[name]
    if not file.exists():
        raise FileNotFoundError(f"{file} is missing; rebuild it with `python -m fmlite train {name}`")
    model, meta = load_checkpoint(file)
    model.meta = meta
    return model.to(device).eval().requires_grad_(False)


def _labels(labels, n: int, model: nn.Module, device) -> Tensor:
    num_classes = getattr(model, "num_classes", None)
    if not num_classes:
        raise ValueError("labels were given, but this model is unconditional (no num_classes)")
    y = torch.as_tensor(labels)
    if y.is_floating_point() or y.dtype == torch.bool or y.dim() > 1:
        raise ValueError(f"labels must be an int or n integers, got dtype {y.dtype}, shape {tuple(y.shape)}")
    y = y.long().expand(n) if y.dim() == 0 else y.long()
    if y.shape != (n,):
        raise ValueError(f"give one label per sample ({n}) or a single int, got {y.shape[0]} labels")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got values in [{y.min().item()}, {y.max().item()}]")
    return y.to(device)


def sample_images(model: nn.Module, n: int, labels=None, w: float = 1.0, steps: int = 10, method: str = "midpoint",
                  seed: int | None = 0, size: int | tuple[int, int] = 8, clip: bool = True) -> Tensor:
    """Draw n images from a velocity network: noise x_0 ~ N(0, I) at t = 0, integrated to t = 1.

    Args:
        model: an image velocity network model(x, t[, y]), e.g. `load_pretrained("digits")`.
        n: number of images, >= 1.
        labels: None (unconditional), one int for all n images, or n ints (class-conditional).
        w: classifier-free guidance weight (`fmlite.models.guided_velocity`): 0 unconditional,
            1 plain conditional (default), > 1 sharper and less diverse. Needs labels.
        steps: ODE steps; method: "euler", "midpoint", "heun" or "rk4" (NFE = steps x 1, 2, 2, 4;
            guidance with w not in {0, 1} evaluates the model on a double batch).
        seed: seed of the noise (a private generator, so the global RNG is untouched);
            None draws from torch's global generator.
        size: image height = width (int) or (height, width).
        clip: clamp the result to [-1, 1], the range of the data.

    Returns:
        float32 tensor (n, C, H, W) on the model's device, in [-1, 1] if clip.

    Raises:
        ValueError: n < 1, unknown method, labels for an unconditional model, labels of
            the wrong length or range, or w != 1 without labels.

    Source: Lipman et al. 2023 (sampling by the ODE), Ho & Salimans 2022 (guidance).
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive number of images, got {n}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    if labels is None and float(w) != 1.0:
        raise ValueError(f"guidance weight w = {w} needs labels; give labels=... or leave w = 1")
    height, width = (size, size) if isinstance(size, int) else size
    param = next(model.parameters())
    channels = getattr(model, "channels", 1)
    generator = None if seed is None else torch.Generator().manual_seed(int(seed))
    x_0 = torch.randn(int(n), channels, height, width, generator=generator).to(param.device, param.dtype)
    if labels is None:
        velocity = model
    else:
        velocity = guided_velocity(model, _labels(labels, int(n), model, param.device), w)
    was_training = model.training
    model.eval()
    try:
        x = integrate(velocity, x_0, steps, method).x
    finally:
        model.train(was_training)
    return x.clamp(-1, 1) if clip else x


def train_images(images: Tensor, labels: Tensor | None = None, *, width: int = 64, blocks: int = 3,
                 steps: int = 3000, batch_size: int = 128, lr: float = 2e-3, label_dropout: float = 0.1,
                 ema: float | None = 0.999, seed: int = 0, device: str = "auto",
                 progress: bool = True) -> tuple[nn.Module, History]:
    """Train a `ConvNet` by flow matching on the straight path (x_t = t x_1 + (1 - t) x_0) on a set of images.

    Each step draws a random batch of images (with replacement) and their labels; labels
    are replaced by the "no label" token with probability `label_dropout`, so one model
    learns both v(x, t, y) and v(x, t, no label) for classifier-free guidance.

    Args:
        images: (N, C, H, W), scaled to about [-1, 1] (any H, W; the net keeps full resolution).
        labels: int64 (N,) with values 0..K-1 for a class-conditional model, or None.
        width, blocks: ConvNet size. steps, batch_size, lr: Adam optimisation.
        label_dropout: probability of dropping a label (Ho & Salimans 2022 use 0.1 to 0.2).
        ema: decay of the weight average that is returned (None: the raw weights).
        seed: seeds the initial weights and the training randomness.
        device: "auto" (CUDA when present), "cpu", "cuda", ...; the model ends on the CPU.
        progress: show a progress bar.

    Returns:
        (model in eval mode on the CPU, training History).

    Raises:
        ValueError: images not (N, C, H, W), labels of another length or not integer.
    """
    images = torch.as_tensor(images, dtype=torch.float32)
    if images.dim() != 4 or len(images) < 1:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    num_classes = None
    if labels is not None:
        labels = torch.as_tensor(labels)
        if labels.shape != (len(images),) or labels.is_floating_point() or labels.min() < 0:
            raise ValueError(f"labels must be {len(images)} integers >= 0 (one per image), got shape "
                             f"{tuple(labels.shape)}, dtype {labels.dtype}")
        labels = labels.long()
        num_classes = int(labels.max()) + 1
    torch.manual_seed(seed)
    model = ConvNet(channels=images.shape[1], width=width, blocks=blocks, num_classes=num_classes)

    def sample_data(batch: int):
        idx = torch.randint(0, len(images), (batch,))
        return images[idx] if labels is None else (images[idx], labels[idx])

    history = train(model, LinearPath(), sample_data, steps=steps, batch_size=batch_size, lr=lr,
                    label_dropout=label_dropout, seed=seed, device=device, ema=ema, progress=progress)
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
    from .datasets import load_digits
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
    from .datasets import text_points
    from .models import MLP
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

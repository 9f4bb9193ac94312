"""Shipped models: the checkpoint registry, loading, and one call that draws samples.

    model = load_pretrained("digits")                       # ConvNet, 8x8 digits, 10 classes
    x = sample_images(model, 16)                            # (16, 1, 8, 8) unconditional
    x = sample_images(model, 16, labels=3, w=2.0)           # sixteen 3s with guidance w = 2

Samples solve dx/dt = v(x, t) from Gaussian noise at t = 0 to images at t = 1
(Lipman et al. 2023, sec. 6), with classifier-free guidance for labels
(`fmlite.models.guided_velocity`; Ho & Salimans 2022). Checkpoints live in the
repository's `data/` folder; `python -m fmlite train digits` rebuilds the shipped one
(see data/README.md for the exact command, time and quality; the training recipes are tooling,
`fmlite.tools.recipes`). This module imports only the core (checkpoints, models, solvers), so a
notebook or the tooling can load a model without the tooling loading with it.

Taught in notebook 07 (`notebooks/07_images.ipynb`); notebooks 00, 04 and 06 load their models here too.
"""
from __future__ import annotations

from pathlib import Path as _FilePath

import torch
from torch import Tensor, nn

from .checkpoints import load_checkpoint
from .discrete import models as _discrete_models  # noqa: F401 - registers TokenNet with the checkpoints
from .checks import check_count
from .models import guided_velocity
from .optim import resolve_device
from .solvers import METHODS, integrate

__all__ = ["load_pretrained", "sample_images", "data_dir", "PRETRAINED"]

#: Shipped models: name -> file in the data folder.
PRETRAINED = {"digits": "digits.pt", "flow": "flow.pt",
              # notebook 06: moons MLPs trained with independent pairing, mini-batch OT, and reflow
              "moons_independent": "moons_independent.pt", "moons_ot": "moons_ot.pt", "moons_reflow": "moons_reflow.pt",
              # what the training cells of notebooks 04 and 07 give, loaded unless RETRAIN = True there
              "moons_sampling": "moons_sampling.pt", "digits_short": "digits_short.pt",
              # notebook 09: flow maps (MeanFlow, distilled) and the checkerboard counterparts of notebook 06's three
              **{f"{d}_{k}": f"{d}_{k}.pt" for d in ("moons", "checkerboard") for k in ("meanflow", "distilled")},
              **{f"checkerboard_{k}": f"checkerboard_{k}.pt" for k in ("independent", "ot", "reflow")},
              # notebook 10: token networks (fmlite.discrete.TokenNet; recipes in fmlite.tools.discrete_train)
              "discrete_checkerboard_mask": "discrete_checkerboard_mask.pt",
              "discrete_checkerboard_uniform": "discrete_checkerboard_uniform.pt",
              "discrete_digits": "discrete_digits.pt",
              # notebook 11: autoencoders of the digits (latent_scale stored) and flows on their scaled latents
              **{n: f"{n}.pt" for n in ("digits_ae", "digits_vae", "digits_vae2d", "latent_flow_ae", "latent_flow_vae",
                                        "latent_flow_vae2d")},
              # notebook 12: ManifoldMLPs on the sphere (vMF mixture) and the flat torus (wrapped Gaussians)
              "sphere_vmf": "sphere_vmf.pt", "torus_gaussians": "torus_gaussians.pt"}


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
        device: where to put the model: "auto" (CUDA when present), "cpu", "cuda", "cuda:N",
            "mps" or a torch.device, checked as in `fmlite.train.train` (`resolve_device`).

    Returns:
        the model (a `fmlite.manifolds.ManifoldMLP` for "sphere_vmf" and "torus_gaussians"), in eval mode with
        its parameters frozen (requires_grad False; call
        `model.requires_grad_(True)` to fine-tune it); `model.meta` holds what the
        checkpoint says about its training (command, steps, seconds, loss, measured quality).

    Raises:
        ValueError: unknown name (lists the known ones), or an unknown or absent device.
        FileNotFoundError: the checkpoint file is missing (the message says how to rebuild it).
    """
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}; choose one of {sorted(PRETRAINED)}")
    device = resolve_device(device)
    file = data_dir() / PRETRAINED[name]
    if not file.exists():
        raise FileNotFoundError(f"{file} is missing; rebuild it with `python -m fmlite train {name}`")
    model, meta = load_checkpoint(file)
    if meta.get("manifold"):   # notebook 12: the checkpoint holds the inner MLP of a ManifoldMLP
        from .manifolds.models import ManifoldMLP
        model = ManifoldMLP.from_mlp(meta["manifold"], model)
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
        ValueError: n or steps not a whole number >= 1 (`fmlite.checks.check_count`), unknown method,
            labels for an unconditional model, labels of the wrong length or range, or w != 1 without labels.

    Source: Lipman et al. 2023 (sampling by the ODE), Ho & Salimans 2022 (guidance).
    """
    n = check_count(n, "n (the number of images)")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    steps = check_count(steps, "steps")
    if labels is None and float(w) != 1.0:
        raise ValueError(f"guidance weight w = {w} needs labels; give labels=... or leave w = 1")
    height, width = (size, size) if isinstance(size, int) else size
    param = next(model.parameters())
    channels = getattr(model, "channels", 1)
    generator = None if seed is None else torch.Generator().manual_seed(int(seed))
    x_0 = torch.randn(n, channels, height, width, generator=generator).to(param.device, param.dtype)
    if labels is None:
        velocity = model
    else:
        velocity = guided_velocity(model, _labels(labels, n, model, param.device), w)
    was_training = model.training
    model.eval()
    try:
        x = integrate(velocity, x_0, steps, method).x
    finally:
        model.train(was_training)
    return x.clamp(-1, 1) if clip else x

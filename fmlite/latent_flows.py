"""Flow matching in an autoencoder's latent space: the course's own paths, training loop and solvers on z.

    ae = load_pretrained("digits_vae")                                   # latent_scale stored with it
    sample_data = latent_data(ae, images, labels)                        # n -> (scaled z (n, k), y (n,))
    flow = MLP(dim=ae.latent_dim, hidden=256, num_classes=10)
    train(flow, LinearPath(), sample_data, steps=3000, label_dropout=0.2)  # plain flow matching on z / scale
    x = sample_latent_images(flow, ae, 16, labels=3, w=2.0)             # (16, 1, 8, 8): integrate in z, decode

The generator of latent diffusion and of Stable Diffusion 3 / Flux: encode the data once with an autoencoder,
divide by the latent scale so every latent dimension has standard deviation 1 (the scale of the source
N(0, I)), learn the velocity of the straight path z_t = t z_1 + (1 - t) z_0 there, and decode the end of
the ODE, z_1 * scale, to pixels (Rombach et al. 2022, sec. 3 and 4.3.2; Esser et al. 2024, sec. 2 and 5.2.1;
Vahdat et al. 2021 for a score model in a VAE's latent space). Nothing here is a second copy: the
target is `fmlite.paths.Path.sample`, training is `fmlite.train.train`, sampling is
`fmlite.solvers.integrate`, and guidance is `fmlite.models.guided_velocity` on an `MLP(num_classes=K)`.

Time runs from noise (t = 0) to data (t = 1); scaled latents are what the flow sees, unscaled ones are what
the decoder takes.

Taught in notebook 11 (`notebooks/11_latent_flows.ipynb`).
"""
from __future__ import annotations

import numbers
from typing import Callable

import torch
from torch import Tensor, nn

from .checks import check_batch, check_count, check_finite, check_labels
from .models import guided_velocity
from .paths import LinearPath, Path, PathSample
from .solvers import METHODS, integrate

__all__ = ["latent_fm_target", "decode_samples", "latent_data", "sample_latent_images"]


def _scale(scale, k: int, owner: str) -> Tensor:
    """The latent scale as a positive finite tensor that broadcasts against (B, k)."""
    if isinstance(scale, numbers.Real) and not isinstance(scale, bool):
        scale = torch.tensor(float(scale))
    if not isinstance(scale, Tensor) or not scale.is_floating_point():
        raise ValueError(f"{owner}: scale must be a floating tensor (k,) (the autoencoder's latent_scale) or a "
                         f"positive number, got {type(scale).__name__}")
    if scale.dim() > 1 or (scale.dim() == 1 and scale.shape[0] != k):
        raise ValueError(f"{owner}: scale has shape {tuple(scale.shape)}; expected ({k},), one per latent dimension, "
                         "or one number")
    if not (torch.isfinite(scale).all() and (scale > 0).all()):
        raise ValueError(f"{owner}: scale must be finite and > 0, got {scale.tolist()}")
    return scale


def latent_fm_target(encoder: Callable[[Tensor], Tensor], x_1: Tensor, x_0: Tensor, t, scale,
                     path: Path | None = None) -> PathSample:
    """The flow matching pair (z_t, u_t) of images x_1 in the scaled latent space of `encoder`.

        z_1 = encoder(x_1) / scale,  z_t = alpha_t z_1 + beta_t x_0 (+ sigma(t) eps),  u_t = alpha'_t z_1 + beta'_t x_0

    i.e. `path.sample(x_0, encoder(x_1) / scale, t)`: the conditional target of flow matching (Lipman et al.
    2023, eq. (23)), unchanged, on scaled latents (Rombach et al. 2022, sec. 4.3.2).

    Args:
        encoder: callable images (B, ...) -> unscaled latents (B, k), e.g. `Autoencoder.encode`.
        x_1: data images (B, 1, S, S) in [-1, 1].
        x_0: source noise in latent space (B, k), standard normal.
        t: times (B,) in [0, 1] (or one number).
        scale: the latent scale (k,) (`Autoencoder.latent_scale`) or one positive number.
        path: a `fmlite.paths.Path`; default `LinearPath()` (z_t = t z_1 + (1 - t) x_0, u_t = z_1 - x_0).

    Returns:
        the path's `PathSample`: .x_t is z_t (B, k), .u_t the target (B, k), .x_1 the scaled z_1.

    Raises:
        ValueError: the encoder's output is not (B, k) like x_0, the scale is not positive and finite of shape
            (k,) or (), or the path refuses x_0 or t.
    """
    x_0 = check_batch(x_0, "x_0", owner="latent_fm_target")
    z = encoder(x_1)
    if not isinstance(z, Tensor) or z.shape != x_0.shape:
        got = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
        raise ValueError(f"latent_fm_target: encoder(x_1) returned {got}; expected the shape of x_0 "
                         f"{tuple(x_0.shape)} (one latent (k,) per image)")
    z_1 = z / _scale(scale, x_0.shape[1], "latent_fm_target").to(z)
    return (path or LinearPath()).sample(x_0, z_1, t)


def decode_samples(decoder: Callable[[Tensor], Tensor], velocity, z_0: Tensor, scale, steps: int,
                   method: str = "midpoint") -> Tensor:
    """Integrate a latent velocity field from z_0 (t = 0) to t = 1, then decode: decoder(z_1 * scale).

    The ODE runs in the scaled space the velocity was trained in; the scale is undone once, just before
    the decoder (Rombach et al. 2022, sec. 4.3.2: "z / s" for the diffusion model, "s z" for the decoder).

    Args:
        decoder: callable unscaled latents (B, k) -> images (B, ...), e.g. `Autoencoder.decode`.
        velocity: callable (z (B, k), t (B,)) -> (B, k), e.g. an `MLP` or `guided_velocity(flow, y, w)`.
        z_0: source noise (B, k), standard normal.
        scale: the latent scale (k,) or one positive number.
        steps: ODE steps (>= 1); method: "euler", "midpoint", "heun" or "rk4" (`fmlite.solvers.integrate`).

    Returns:
        the decoded images (B, ...), as the decoder returns them, computed without a gradient graph.

    Raises:
        ValueError: bad z_0, steps or method (`integrate`), or a scale that is not positive and finite.
    """
    z_0 = check_batch(z_0, "z_0", owner="decode_samples")
    scale = _scale(scale, z_0.shape[1], "decode_samples")
    z_1 = integrate(velocity, z_0, steps, method).x
    with torch.no_grad():
        return decoder(z_1 * scale.to(z_1))


def latent_data(autoencoder: nn.Module, images: Tensor, labels: Tensor | None = None):
    """A `sample_data` for `fmlite.train.train`: the images encoded once, scaled, drawn with replacement.

    Args:
        autoencoder: an `fmlite.autoencoder.Autoencoder` with its latent scale fitted.
        images: (N, 1, S, S) in [-1, 1]. labels: None or (N,) integers >= 0.

    Returns:
        a callable n -> scaled latents (n, k) (and labels (n,) if given), indices drawn from torch's global
        generator (which a seeded `train` seeds); the latents are z = autoencoder.scale_latents(encode(images)),
        the VAE's posterior mean.

    Raises:
        ValueError: bad images (the autoencoder's checks) or labels that are not one integer per image.
    """
    with torch.no_grad():
        was_training = autoencoder.training
        autoencoder.eval()
        try:
            z = autoencoder.scale_latents(autoencoder.encode(images))
        finally:
            autoencoder.train(was_training)
    y = None
    if labels is not None:
        y = torch.as_tensor(labels)
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool or y.shape != (len(z),):
            raise ValueError(f"latent_data: labels must be integers (N,) = ({len(z)},), one per image, got dtype "
                             f"{y.dtype}, shape {tuple(y.shape)}")
        if len(y) and y.min() < 0:
            raise ValueError("latent_data: labels must be >= 0 (classes 0..K-1)")
        y = y.long()

    def sample_data(n: int):
        idx = torch.randint(0, len(z), (n,))
        return z[idx] if y is None else (z[idx], y[idx])

    return sample_data


def sample_latent_images(flow: nn.Module, autoencoder: nn.Module, n: int, labels=None, w: float = 1.0,
                         steps: int = 10, method: str = "midpoint", seed: int | None = 0,
                         return_latents: bool = False):
    """Draw n images from a latent flow: z_0 ~ N(0, I) (n, k), the flow's ODE to t = 1, then the decoder.

    The latent counterpart of `fmlite.pretrained.sample_images`, with the same guidance (`guided_velocity`)
    and the same noise convention (a private generator seeded with `seed`).

    Args:
        flow: a velocity network on scaled latents, model(z, t[, y]) (an `MLP(dim=k[, num_classes=K])`).
        autoencoder: the `Autoencoder` whose scaled latents the flow was trained on.
        n: number of images (>= 1). labels: None, one int, or n ints in 0..K-1.
        w: guidance weight (0 unconditional, 1 conditional, > 1 guided); w != 1 needs labels.
        steps, method: as `integrate` (NFE = steps x 1, 2, 2, 4 for euler, midpoint, heun, rk4).
        seed: noise seed; None uses torch's global generator.
        return_latents: also return the scaled latents z_1 (n, k) the ODE ended at.

    Returns:
        images (n, 1, S, S) in (-1, 1) on the flow's device, or (images, z_1) if return_latents.

    Raises:
        ValueError: n or steps not whole numbers >= 1, unknown method, flow and autoencoder of different
            latent dimensions, labels for an unconditional flow, bad labels, or w != 1 without labels.

    Source: Rombach et al. 2022; Esser et al. 2024; Ho & Salimans 2022 (guidance).
    """
    n, steps = check_count(n, "n (the number of images)"), check_count(steps, "steps")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    k = autoencoder.latent_dim
    if getattr(flow, "dim", k) != k:
        raise ValueError(f"the flow works in {flow.dim} dimensions but the autoencoder's latent has {k}: load the "
                         "autoencoder the flow was trained on (its meta['autoencoder'])")
    if labels is None and float(w) != 1.0:
        raise ValueError(f"guidance weight w = {w} needs labels; give labels=... or leave w = 1")
    param = next(flow.parameters())
    generator = None if seed is None else torch.Generator().manual_seed(int(seed))
    z_0 = torch.randn(n, k, generator=generator).to(param.device, param.dtype)
    if labels is None:
        velocity = flow
    else:
        if not getattr(flow, "num_classes", None):
            raise ValueError("labels were given, but this flow is unconditional (no num_classes)")
        y = check_labels(labels, n, flow.null_label, "sample_latent_images")
        if (y == flow.null_label).any():
            raise ValueError(f"labels must lie in 0..{flow.null_label - 1}; for unconditional samples give "
                             "labels=None")
        velocity = guided_velocity(flow, y.to(param.device), w)
    modes = flow.training, autoencoder.training
    flow.eval(), autoencoder.eval()
    try:
        z_1 = integrate(velocity, z_0, steps, method).x
        with torch.no_grad():
            x = autoencoder.decode(autoencoder.unscale_latents(z_1))
    finally:
        flow.train(modes[0]), autoencoder.train(modes[1])
    check_finite(x, "sample_latent_images: decoded images", "did sampling diverge?")
    return (x, z_1) if return_latents else x

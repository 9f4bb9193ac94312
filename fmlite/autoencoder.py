"""An autoencoder and a small VAE for the 8x8 digits: the learned latent space that latent flows run in.

    ae = Autoencoder(latent_dim=8, variational=True)               # encoder 64 -> 8, decoder 8 -> 64
    train(ae, None, lambda n: images[torch.randint(0, len(images), (n,))], 3000, loss=AutoencoderLoss(beta=0.02))
    ae.fit_latent_scale(images)                                    # per-dimension std of the training latents
    z = ae.scale_latents(ae.encode(x))                             # (B, 8), std about 1 per dimension

- `Autoencoder`: MLP encoder x (B, 1, 8, 8) in [-1, 1] -> z (B, k) and MLP decoder z -> x in (-1, 1) (tanh).
  With variational=True the encoder gives a diagonal Gaussian posterior q(z | x) = N(mu, diag exp(log_var))
  (Kingma & Welling 2014, "Auto-Encoding Variational Bayes", sec. 3 and appendix C.2); `encode` returns its mean.
- `reparameterise`: z = mu + exp(log_var / 2) eps with eps ~ N(0, I) (Kingma & Welling 2014, eq. (10)), so that
  gradients flow to mu and log_var.
- `kl_divergence`: KL(N(mu, diag sigma^2) || N(0, I)) = 1/2 sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2),
  in closed form (Kingma & Welling 2014, appendix B).
- `AutoencoderLoss`: a `fmlite.losses.Loss` for `fmlite.train.train(model, None, sample_data, steps, loss=...)`:
  squared reconstruction error summed over the pixels, plus beta times the KL term for a VAE (a beta-VAE,
  Higgins et al. 2017; beta = 2 s^2 for a Gaussian decoder of pixel noise s), averaged over the batch.
- The latent scale: the per-dimension standard deviation of the training latents, computed once
  (`fit_latent_scale`) and stored in the model's state (so in every checkpoint), as latent diffusion's
  scale factor (Rombach et al. 2022, sec. 4.3.2 and appendix G: one number there; one per dimension here) and
  Stable Diffusion 3's (Esser et al. 2024). Flow matching runs on the scaled latents z / scale.

Inputs are checked with `fmlite.checks`: images must be floating, (B, 1, S, S) or (B, S*S), finite, in [-1, 1]
(nothing is clipped); latents must be floating (B, k).

Taught in notebook 11 (`notebooks/11_latent_flows.ipynb`).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from .batches import Batch
from .checks import check_batch, check_count, check_finite, model_dtype, network_input
from .models import MODELS

__all__ = ["Autoencoder", "AutoencoderLoss", "reparameterise", "kl_divergence"]


def _mlp(sizes: list[int]) -> nn.Sequential:
    blocks: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        blocks.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            blocks.append(nn.SiLU())
    return nn.Sequential(*blocks)


def _check_gaussian(mu, log_var, owner: str) -> tuple[Tensor, Tensor]:
    mu = check_batch(mu, "mu", owner=owner)
    log_var = check_batch(log_var, "log_var", owner=owner)
    if mu.shape != log_var.shape:
        raise ValueError(f"{owner}: mu {tuple(mu.shape)} and log_var {tuple(log_var.shape)} must have the same shape "
                         "(B, k): log_var is the log-variance of each latent dimension, not one number per sample")
    return mu, log_var


def reparameterise(mu: Tensor, log_var: Tensor, eps: Tensor | None = None) -> Tensor:
    """A sample of N(mu, diag exp(log_var)) written as z = mu + exp(log_var / 2) * eps, differentiable in mu, log_var.

    Args:
        mu: means (B, k). log_var: log-variances log sigma^2 (B, k), finite (any real value).
        eps: standard-normal noise (B, k); None draws it from torch's global generator.

    Returns:
        z (B, k) in the dtype of mu.

    Raises:
        ValueError: mu, log_var or eps not floating tensors of the same shape (B, k), or holding NaN/inf.

    Source: Kingma & Welling 2014, eq. (10) (the reparameterisation trick).
    """
    mu, log_var = _check_gaussian(mu, log_var, "reparameterise")
    if eps is None:
        eps = torch.randn_like(mu)
    eps = check_batch(eps, "eps", owner="reparameterise")
    if eps.shape != mu.shape:
        raise ValueError(f"reparameterise: eps {tuple(eps.shape)} must have the shape of mu {tuple(mu.shape)}: "
                         "one independent noise value per sample and latent dimension")
    return mu + torch.exp(0.5 * log_var) * eps


def kl_divergence(mu: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mu, diag exp(log_var)) || N(0, I)) per sample, in closed form, in nats: shape (B,).

        KL = 1/2 sum_j (exp(log_var_j) + mu_j^2 - 1 - log_var_j)  >= 0, = 0 only at mu = 0, log_var = 0.

    Args:
        mu: means (B, k). log_var: log-variances (B, k).

    Raises:
        ValueError: not floating tensors of the same shape (B, k), or holding NaN/inf.

    Source: Kingma & Welling 2014, appendix B.
    """
    mu, log_var = _check_gaussian(mu, log_var, "kl_divergence")
    return 0.5 * (log_var.exp() + mu ** 2 - 1 - log_var).sum(1)


class Autoencoder(nn.Module):
    """MLP encoder and decoder between 8x8 images and a latent z of a few dimensions; a small VAE if variational.

    Encoder: S*S pixels -> `layers` hidden layers of width `hidden` (SiLU) -> k (or 2k: mu and log_var).
    Decoder: k -> `layers` hidden layers -> S*S pixels -> tanh, so decoded images lie in (-1, 1).

    Args:
        latent_dim: k, the latent dimension (>= 1).
        hidden: width of the hidden layers. layers: hidden layers in each of encoder and decoder (>= 1).
        variational: False for a deterministic autoencoder, True for a VAE (Gaussian posterior).
        image_size: S, the image height = width (8 for the digits); one channel.

    Attributes:
        latent_scale: buffer (k,), the per-dimension standard deviation of the training latents (ones until
            `fit_latent_scale` runs); part of the state dict, so `save_checkpoint` stores it.
        config: the keyword arguments, stored in checkpoints.

    Raises:
        ValueError: a size is not a whole number >= 1, or variational is not a bool.

    Source: Kingma & Welling 2014 (VAE); Rombach et al. 2022 (latent scale factor).
    """

    def __init__(self, latent_dim: int = 8, hidden: int = 256, layers: int = 2, variational: bool = False,
                 image_size: int = 8):
        super().__init__()
        k, hidden = check_count(latent_dim, "latent_dim"), check_count(hidden, "hidden")
        layers, size = check_count(layers, "layers"), check_count(image_size, "image_size")
        if not isinstance(variational, bool):
            raise ValueError(f"variational must be True or False, got {variational!r}")
        self.config = dict(latent_dim=k, hidden=hidden, layers=layers, variational=variational, image_size=size)
        self.latent_dim, self.variational, self.image_size = k, variational, size
        self.encoder = _mlp([size * size] + [hidden] * layers + [2 * k if variational else k])
        self.decoder = _mlp([k] + [hidden] * layers + [size * size])
        self.register_buffer("latent_scale", torch.ones(k))

    def _pixels(self, x) -> Tensor:
        owner = f"Autoencoder(image_size={self.image_size})"
        x = network_input(x, model_dtype(self), owner=owner)
        n = self.image_size ** 2
        if x.shape[1:] not in ((1, self.image_size, self.image_size), (n,)):
            raise ValueError(f"{owner} expects images x of shape (B, 1, {self.image_size}, {self.image_size}) or "
                             f"(B, {n}), got {tuple(x.shape)}")
        x = x.reshape(len(x), n)
        check_finite(x, f"{owner}: images x")
        if x.numel() and (x.min() < -1 - 1e-5 or x.max() > 1 + 1e-5):
            raise ValueError(f"{owner} expects pixels in [-1, 1], got values in [{x.min().item():.3g}, "
                             f"{x.max().item():.3g}]; rescale 0..255 images with x / 127.5 - 1 (nothing is clipped)")
        return x

    def _latents(self, z, name: str = "z") -> Tensor:
        owner = f"Autoencoder(latent_dim={self.latent_dim})"
        z = network_input(z, model_dtype(self), name, owner)
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"{owner} expects latents {name} of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return z

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The VAE's posterior q(z | x) = N(mu, diag exp(log_var)): (mu (B, k), log_var (B, k)), unscaled.

        Raises:
            ValueError: a deterministic autoencoder (use `encode`), or bad images (see the class docstring).
        """
        if not self.variational:
            raise ValueError("a deterministic Autoencoder has no posterior: use encode(x), or build it with "
                             "variational=True")
        mu, log_var = self.encoder(self._pixels(x)).chunk(2, dim=1)
        return mu, log_var

    def encode(self, x: Tensor) -> Tensor:
        """Images (B, 1, S, S) or (B, S*S) in [-1, 1] -> latents z (B, k), unscaled (a VAE gives its mean mu)."""
        return self.posterior(x)[0] if self.variational else self.encoder(self._pixels(x))

    def decode(self, z: Tensor) -> Tensor:
        """Unscaled latents z (B, k) -> images (B, 1, S, S) in (-1, 1), in the model's dtype."""
        x = torch.tanh(self.decoder(self._latents(z)))
        return x.reshape(len(x), 1, self.image_size, self.image_size)

    def forward(self, x: Tensor) -> Tensor:
        """The reconstruction decode(encode(x)) (B, 1, S, S); a VAE decodes its mean (no noise)."""
        return self.decode(self.encode(x))

    @torch.no_grad()
    def fit_latent_scale(self, images: Tensor) -> Tensor:
        """Set and return `latent_scale`: the standard deviation (over the set, ddof 0) of each dimension of
        encode(images), so that scale_latents(encode(images)) has standard deviation exactly 1 per dimension.

        Args:
            images: the training images (N, 1, S, S) in [-1, 1], N >= 2.

        Raises:
            ValueError: bad images, fewer than 2, or a latent dimension that does not vary (std 0).
        """
        was_training = self.training
        self.eval()
        try:
            z = self.encode(images)
        finally:
            self.train(was_training)
        if len(z) < 2:
            raise ValueError(f"fit_latent_scale needs at least 2 images to measure a spread, got {len(z)}")
        scale = z.std(dim=0, correction=0)
        if not (scale > 0).all():
            raise ValueError(f"latent dimensions {(scale <= 0).nonzero().flatten().tolist()} do not vary over these "
                             "images (std 0): train the autoencoder first, or give more than one distinct image")
        self.latent_scale.copy_(scale)
        return scale.clone()

    def scale_latents(self, z: Tensor) -> Tensor:
        """z (B, k) -> z / latent_scale, the latents flow matching runs on."""
        return self._latents(z) / self.latent_scale

    def unscale_latents(self, z: Tensor) -> Tensor:
        """Scaled latents (B, k) -> z * latent_scale, ready for `decode`."""
        return self._latents(z) * self.latent_scale


MODELS["Autoencoder"] = Autoencoder  # so save_checkpoint / load_checkpoint know it (fmlite.checkpoints imports us)


@dataclass
class AutoencoderLoss:
    """The autoencoder's training loss as a `fmlite.losses.Loss`: train(model, None, sample_data, steps, loss=...).

        L = mean over the batch of [ sum over pixels (x_hat - x)^2 + beta * KL(q(z | x) || N(0, I)) ]

    with x_hat = decode(encode(x)) for a deterministic autoencoder, and x_hat = decode(z),
    z = reparameterise(mu, log_var) for a VAE (one draw of eps per sample from torch's global generator).
    The negative ELBO of a Gaussian decoder N(x_hat, s^2 I) is this loss divided by 2 s^2 (plus a constant)
    with beta = 2 s^2: a smaller beta trusts the pixels more and the prior less (Higgins et al. 2017).

    Args:
        beta: KL weight >= 0; must be 0 for a deterministic autoencoder (it has no KL term).

    Raises:
        ValueError: beta negative, not finite or not a number; on a call, beta > 0 with a deterministic
            autoencoder, a model that is not an `Autoencoder`, or bad images.

    Source: Kingma & Welling 2014, eq. (10) and appendix B; Higgins et al. 2017 (beta).
    """

    beta: float = 0.0
    tokens: ClassVar[bool] = False

    def __post_init__(self):
        if isinstance(self.beta, bool) or not isinstance(self.beta, numbers.Real) or not 0 <= self.beta < float("inf"):
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta!r}")
        self.beta = float(self.beta)

    def __call__(self, model: nn.Module, batch: Batch) -> Tensor:
        if not isinstance(model, Autoencoder):
            raise ValueError(f"AutoencoderLoss trains an fmlite Autoencoder, got {type(model).__name__}")
        x = model._pixels(batch.x_1)
        if model.variational:
            mu, log_var = model.posterior(x)
            x_hat = model.decode(reparameterise(mu, log_var))
            kl = kl_divergence(mu, log_var)
        else:
            if self.beta:
                raise ValueError(f"beta = {self.beta} needs a VAE (Autoencoder(variational=True)); a deterministic "
                                 "autoencoder has no KL term: use beta=0")
            x_hat, kl = model(x), None
        loss = ((x_hat.flatten(1) - x) ** 2).sum(1)
        if kl is not None and self.beta:
            loss = loss + self.beta * kl
        return loss.mean()

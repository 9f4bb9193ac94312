"""Velocity networks v_theta(x, t), always called as model(x, t) with x first.

- `MLP`: for 2-D (or any flat) data, x (B, dim).
- `ConvNet`: for small images, x (B, C, H, W), with optional class labels and a
  learned "no label" token for classifier-free guidance (Ho & Salimans 2022).
- `FlowMapMLP`: a flow-map network u_bar_theta(x, s, t) for flat data, called model(x, s, t).
- `guided_velocity`: the classifier-free guided field of a class-conditional model,
  v(x, t, no label) + w (v(x, t, y) - v(x, t, no label)), ready for `fmlite.solvers.integrate`.

Both embed t in [0, 1] with sinusoidal features (Vaswani et al. 2017, sec. 3.5;
Ho et al. 2020 use the same for diffusion time). Each keeps the keyword arguments it
was built with in `.config`, which checkpoints store and compare.

Inputs: floating x of any precision (e.g. float64 from `torch.from_numpy`, float16) is
converted to the network's dtype (float32 unless you call `.double()`), and the output
has the network's dtype; integer or bool x is refused (convert with x.float()).

Taught in notebook 03 (`notebooks/03_training.ipynb`: the MLP) and notebook 07 (`notebooks/07_images.ipynb`:
the conv net, guidance) and notebook 09 (`notebooks/09_flow_maps.ipynb`: the flow-map network).
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor, nn

from .checks import check_count, check_flat_input, check_labels, check_time, model_dtype, network_input

__all__ = ["SinusoidalTimeEmbedding", "MLP", "FlowMapMLP", "ConvNet", "MODELS", "guided_velocity"]


class SinusoidalTimeEmbedding(nn.Module):
    """t (B,) in [0, 1] -> features (B, dim): [sin(f_k t), cos(f_k t)], f_k geometric in [1, max_freq].

    Args:
        dim: even number of features.
        max_freq: highest angular frequency; 100 resolves time steps of about 0.01.

    Raises:
        ValueError: dim is odd or < 2.
    """

    def __init__(self, dim: int = 32, max_freq: float = 100.0):
        super().__init__()
        dim = check_count(dim, "time embedding dim", 2)
        if dim % 2:
            raise ValueError(f"time embedding dim must be an even number >= 2, got {dim}")
        self.register_buffer("freqs", torch.exp(torch.linspace(0.0, math.log(max_freq), dim // 2)), persistent=False)

    def forward(self, t: Tensor) -> Tensor:
        angles = t.to(self.freqs.dtype)[:, None] * self.freqs[None, :]  # in the network's dtype
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class MLP(nn.Module):
    """A multilayer perceptron velocity field v_theta(x, t) for flat data.

    Input: concat(x, time features) -> `layers` hidden layers of width `hidden` with
    SiLU -> linear output of size dim.

    Args:
        dim: data dimension D (2 for point clouds).
        hidden: width of each hidden layer.
        layers: number of hidden layers (>= 1).
        time_dim: number of sinusoidal time features.
        num_classes: number of labels, or None (default) for an unconditional model. With labels, a
            learned label embedding (num_classes + 1 rows of time_dim features; row `null_label` =
            num_classes is the "no label" token, as in `ConvNet`) is concatenated to the input, so
            `guided_velocity` and `train(..., label_dropout=p)` work on it unchanged (notebook 11's
            latent flows; Ho & Salimans 2022).

    Call: model(x, t) with x (B, dim) and t (B,) in [0, 1] (or one number) -> (B, dim); with
    num_classes, model(x, t, y) with y (B,) int64 in [0, num_classes] (or one int; None = no label).

    Raises:
        ValueError: a size is not a whole number >= 1 (see `fmlite.checks.check_count`).
        ValueError (on call): x is not (B, dim), not floating point, or t is invalid; labels given to
            an unconditional MLP, or labels that are not integers, not one per sample, or out of range.
    """

    def __init__(self, dim: int = 2, hidden: int = 128, layers: int = 3, time_dim: int = 32,
                 num_classes: int | None = None):
        super().__init__()
        dim, hidden, layers = check_count(dim, "dim"), check_count(hidden, "hidden"), check_count(layers, "layers")
        time_dim = check_count(time_dim, "time_dim", 2)
        num_classes = None if num_classes is None else check_count(num_classes, "num_classes")
        self.config = dict(dim=dim, hidden=hidden, layers=layers, time_dim=time_dim)
        if num_classes is not None:  # only then, so the configs of unconditional checkpoints stay as they were
            self.config["num_classes"] = num_classes
        self.dim, self.num_classes = dim, num_classes
        self.time_embedding = SinusoidalTimeEmbedding(time_dim)
        self.label_embedding = nn.Embedding(num_classes + 1, time_dim) if num_classes else None
        label_dim = time_dim if num_classes else 0
        blocks: list[nn.Module] = [nn.Linear(dim + time_dim + label_dim, hidden), nn.SiLU()]
        for _ in range(layers - 1):
            blocks += [nn.Linear(hidden, hidden), nn.SiLU()]
        blocks.append(nn.Linear(hidden, dim))
        self.net = nn.Sequential(*blocks)

    @property
    def null_label(self) -> int:
        """The index of the learned "no label" token (= num_classes)."""
        if not self.num_classes:
            raise AttributeError("an unconditional MLP (num_classes=None) has no label tokens")
        return self.num_classes

    def forward(self, x: Tensor, t, y: Tensor | None = None) -> Tensor:
        x = network_input(x, model_dtype(self), owner=f"MLP(dim={self.dim})")
        check_flat_input(x, self.dim, f"MLP(dim={self.dim})")
        t = check_time(t, x.shape[0], like=x)
        features = [x, self.time_embedding(t)]
        if self.label_embedding is not None:
            if y is None:
                y = torch.full((x.shape[0],), self.null_label, dtype=torch.long, device=x.device)
            y = check_labels(y, x.shape[0], self.null_label, f"MLP(num_classes={self.num_classes})")
            features.append(self.label_embedding(y.to(x.device)))
        elif y is not None:
            raise ValueError("this MLP is unconditional (num_classes=None) and takes no labels y; build it with "
                             "MLP(..., num_classes=K) for class labels")
        return self.net(torch.cat(features, dim=1))


class FlowMapMLP(MLP):
    """An MLP flow-map network u_bar_theta(x, s, t): the average velocity from time s to time t.

    The MLP above with both times embedded by the same `SinusoidalTimeEmbedding`: input
    concat(x, features(s), features(t)). One-step sampling is x_0 + model(x_0, 0, 1); see `fmlite.flow_maps`.

    Args: as `MLP` (dim, hidden, layers, time_dim), and max_freq: the embedding's highest angular frequency,
        10 by default (the velocity MLP uses 100). The MeanFlow target differentiates the network in s, and the
        features' derivative grows with the frequency: with 100 the target is noisy and one-step samples of
        moons plateau near energy distance 0.02; with 10 they reach 0.002 (bench/flow_maps.py).

    Call: model(x, s, t) with x (B, dim), s and t (B,) in [0, 1] (or single numbers) -> (B, dim).

    Raises:
        ValueError: as `MLP`; on call, x not (B, dim) or not floating point, or s or t invalid.

    Source: Geng et al. 2025 (MeanFlow, the network u_theta(z, r, t)); Boffi et al. 2024 (flow map matching).
    """

    def __init__(self, dim: int = 2, hidden: int = 128, layers: int = 3, time_dim: int = 32, max_freq: float = 10.0):
        super().__init__(dim, hidden, layers, time_dim)
        if isinstance(max_freq, bool) or not isinstance(max_freq, numbers.Real) or not 1 <= max_freq < math.inf:
            raise ValueError(f"max_freq must be a finite number >= 1, got {max_freq!r}")
        self.config["max_freq"] = float(max_freq)
        self.time_embedding = SinusoidalTimeEmbedding(self.config["time_dim"], float(max_freq))
        self.net[0] = nn.Linear(self.dim + 2 * self.config["time_dim"], self.net[0].out_features)

    def forward(self, x: Tensor, s, t) -> Tensor:
        owner = f"FlowMapMLP(dim={self.dim})"
        x = network_input(x, model_dtype(self), owner=owner)
        check_flat_input(x, self.dim, owner)
        s, t = check_time(s, x.shape[0], like=x), check_time(t, x.shape[0], like=x)
        return self.net(torch.cat([x, self.time_embedding(s), self.time_embedding(t)], dim=1))


class _ResBlock(nn.Module):
    def __init__(self, channels: int, emb_dim: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, channels), nn.Conv2d(channels, channels, 3, padding=1)
        self.emb = nn.Linear(emb_dim, channels)
        self.norm2, self.conv2 = nn.GroupNorm(8, channels), nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        r = self.conv1(nn.functional.silu(self.norm1(h))) + self.emb(emb)[:, :, None, None]
        r = self.conv2(nn.functional.silu(self.norm2(r)))
        return h + r


class ConvNet(nn.Module):
    """A small residual conv net v_theta(x, t[, y]) for images such as the 8x8 digits.

    Full resolution throughout (no down-sampling): conv in -> `blocks` residual blocks
    (GroupNorm, SiLU, 3x3 conv, + time/label embedding, GroupNorm, SiLU, 3x3 conv) ->
    conv out. With num_classes set, a label embedding with num_classes + 1 rows is added
    to the time embedding; row `null_label` (= num_classes) is the learned "no label"
    token used for unconditional and classifier-free-guided sampling.

    Args:
        channels: image channels C (1 for the digits).
        width: feature channels (a multiple of 8, >= 16).
        blocks: number of residual blocks (receptive field grows by 4 pixels each).
        num_classes: number of labels, or None for an unconditional model.
        time_dim: number of sinusoidal time features.

    Call: model(x, t) or model(x, t, y) with x (B, C, H, W), t (B,) in [0, 1], y (B,)
    int64 labels in [0, num_classes] (num_classes = no label; y=None means no label).

    Raises:
        ValueError: a size is not a whole number (channels, blocks, num_classes >= 1), or
            width is not a multiple of 8 that is at least 16.
        ValueError (on call): x is not (B, C, H, W) or not floating point, t is invalid,
            labels are given to an unconditional model, or labels are not integers, not one
            per image, or out of range.
    """

    def __init__(self, channels: int = 1, width: int = 64, blocks: int = 4, num_classes: int | None = None,
                 time_dim: int = 32):
        super().__init__()
        channels, width = check_count(channels, "channels"), check_count(width, "width")
        blocks = check_count(blocks, "blocks")
        num_classes = None if num_classes is None else check_count(num_classes, "num_classes")
        time_dim = check_count(time_dim, "time_dim", 2)
        if width % 8 or width < 16:
            raise ValueError(f"width must be a multiple of 8 and at least 16, got {width}: GroupNorm uses 8 groups, "
                             "and with one channel per group it would erase the time and label embedding")
        self.config = dict(channels=channels, width=width, blocks=blocks, num_classes=num_classes, time_dim=time_dim)
        self.channels, self.num_classes = channels, num_classes
        emb_dim = 4 * time_dim
        self.time_embedding = nn.Sequential(SinusoidalTimeEmbedding(time_dim), nn.Linear(time_dim, emb_dim),
                                            nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label_embedding = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.conv_in = nn.Conv2d(channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(_ResBlock(width, emb_dim) for _ in range(blocks))
        self.conv_out = nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(), nn.Conv2d(width, channels, 3, padding=1))
        nn.init.zeros_(self.conv_out[-1].weight)
        nn.init.zeros_(self.conv_out[-1].bias)

    @property
    def null_label(self) -> int:
        """The index of the learned "no label" token (= num_classes)."""
        if not self.num_classes:
            raise AttributeError("an unconditional ConvNet (num_classes=None) has no label tokens")
        return self.num_classes

    def forward(self, x: Tensor, t, y: Tensor | None = None) -> Tensor:
        x = network_input(x, model_dtype(self), owner=f"ConvNet(channels={self.channels})")
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"ConvNet(channels={self.channels}) expects x of shape (B, {self.channels}, H, W), "
                             f"got {tuple(x.shape)}")
        t = check_time(t, x.shape[0], like=x)
        emb = self.time_embedding(t)
        if self.label_embedding is not None:
            if y is None:
                y = torch.full((x.shape[0],), self.null_label, dtype=torch.long, device=x.device)
            y = check_labels(y, x.shape[0], self.null_label, f"ConvNet(num_classes={self.num_classes})")
            emb = emb + self.label_embedding(y.to(x.device))
        elif y is not None:
            raise ValueError("this ConvNet is unconditional (num_classes=None) and takes no labels y")
        h = self.conv_in(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.conv_out(h)


#: Architectures by class name, for checkpoints.
MODELS = {"MLP": MLP, "FlowMapMLP": FlowMapMLP, "ConvNet": ConvNet}


def guided_velocity(model: nn.Module, y, w: float = 1.0):
    """Classifier-free guidance: the velocity field (x, t) -> v_w(x, t | y) of a class-conditional model.

        v_w(x, t | y) = v(x, t, null) + w * (v(x, t, y) - v(x, t, null))

    with null the learned "no label" token (`model.null_label`), trained by dropping
    labels (`fmlite.train.drop_labels`). w = 0 is unconditional sampling, w = 1 plain
    conditional sampling, 0 < w < 1 a blend, and w > 1 extrapolates away from the
    unconditional field: samples look more like "a y" to a classifier and vary less.

    Conventions: Ho & Salimans 2022 ("Classifier-Free Diffusion Guidance", eq. (6))
    write (1 + w_HS) eps(z, c) - w_HS eps(z), so w_HS = w - 1 (their w_HS = 0 is our
    w = 1); our w is the `guidance_scale` of diffusers / Stable Diffusion and the w of
    Zheng et al. 2023 ("Guided Flows") and Lipman et al. 2024 ("Flow Matching Guide and
    Code", sec. 6). Guiding the velocity is the same as guiding their eps (our x0_hat,
    the prediction of x_0) or the score: on an affine path, at fixed (x, t), v is an
    affine function of x0_hat with weights that do not depend on the label, and the two
    guidance weights sum to 1.

    Args:
        model: a class-conditional velocity network called as model(x, t, y), with
            `num_classes` set (e.g. `ConvNet(num_classes=10)`).
        y: the labels, an int or an int64 tensor (B,) with values in [0, num_classes - 1]
            (num_classes = no label is allowed and gives the unconditional field).
        w: guidance weight, a finite real number (typically 0 to 5).

    Returns:
        A callable velocity(x, t) with x (B, C, H, W) and t (B,) in [0, 1], returning
        (B, C, H, W); for w other than 0 and 1 it runs the model once on a batch of 2B
        (conditional and unconditional together).

    Raises:
        ValueError: the model has no labels, y is not integer or out of range, or w is
            not a finite number; on call, a y of another batch size than x.
    """
    if not getattr(model, "num_classes", None):
        raise ValueError("classifier-free guidance needs a class-conditional model (e.g. ConvNet(num_classes=10)) "
                         "with a learned 'no label' token; this model takes no labels")
    if isinstance(w, Tensor) and w.numel() == 1 and w.is_floating_point():
        w = w.item()
    if isinstance(w, bool) or not isinstance(w, numbers.Real):
        raise ValueError(f"guidance weight w must be a number, got {type(w).__name__} {w!r}")
    w = float(w)
    if not math.isfinite(w):
        raise ValueError(f"guidance weight w must be finite, got {w}")
    y = torch.as_tensor(y)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool or y.dim() > 1:
        raise ValueError(f"labels y must be an int or a 1-D integer tensor (B,), got dtype {y.dtype}, "
                         f"shape {tuple(y.shape)}")
    null = model.null_label
    if y.numel() and (y.min() < 0 or y.max() > null):
        raise ValueError(f"labels y must lie in [0, {null - 1}] ({null} = no label), "
                         f"got values in [{y.min().item()}, {y.max().item()}]")
    y = y.long()

    def velocity(x: Tensor, t: Tensor) -> Tensor:
        labels = y.to(x.device).expand(x.shape[0]) if y.dim() == 0 else y.to(x.device)
        if labels.shape[0] != x.shape[0]:
            raise ValueError(f"{labels.shape[0]} labels y for a batch of {x.shape[0]} images x; give one label "
                             "per image or a single int")
        if w == 1.0:
            return model(x, t, labels)
        empty = torch.full_like(labels, null)
        if w == 0.0:
            return model(x, t, empty)
        t = check_time(t, x.shape[0], like=x)
        v_cond, v_uncond = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, empty])).chunk(2)
        return v_uncond + w * (v_cond - v_uncond)

    return velocity

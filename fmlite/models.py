"""Velocity networks v_theta(x, t), always called as model(x, t) with x first.

- `MLP`: for 2-D (or any flat) data, x (B, dim).
- `ConvNet`: for small images, x (B, C, H, W), with optional class labels and a
  learned "no label" token for classifier-free guidance (Ho & Salimans 2022).

Both embed t in [0, 1] with sinusoidal features (Vaswani et al. 2017, sec. 3.5;
Ho et al. 2020 use the same for diffusion time). Each keeps the keyword arguments it
was built with in `.config`, which checkpoints store and compare.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .paths import check_time

__all__ = ["SinusoidalTimeEmbedding", "MLP", "ConvNet", "MODELS"]


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
        if dim < 2 or dim % 2:
            raise ValueError(f"time embedding dim must be an even number >= 2, got {dim}")
        self.register_buffer("freqs", torch.exp(torch.linspace(0.0, math.log(max_freq), dim // 2)), persistent=False)

    def forward(self, t: Tensor) -> Tensor:
        angles = t[:, None] * self.freqs[None, :]
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

    Call: model(x, t) with x (B, dim) and t (B,) in [0, 1] (or one number) -> (B, dim).

    Raises (on call):
        ValueError: x is not (B, dim) or t is invalid.
    """

    def __init__(self, dim: int = 2, hidden: int = 128, layers: int = 3, time_dim: int = 32):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.config = dict(dim=dim, hidden=hidden, layers=layers, time_dim=time_dim)
        self.dim = dim
        self.time_embedding = SinusoidalTimeEmbedding(time_dim)
        blocks: list[nn.Module] = [nn.Linear(dim + time_dim, hidden), nn.SiLU()]
        for _ in range(layers - 1):
            blocks += [nn.Linear(hidden, hidden), nn.SiLU()]
        blocks.append(nn.Linear(hidden, dim))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor, t) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"MLP(dim={self.dim}) expects x of shape (B, {self.dim}), got {tuple(x.shape)}; "
                             "flatten images with x.flatten(1) or use ConvNet")
        t = check_time(t, x.shape[0], like=x)
        return self.net(torch.cat([x, self.time_embedding(t)], dim=1))


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
        width: feature channels (multiple of 8).
        blocks: number of residual blocks (receptive field grows by 4 pixels each).
        num_classes: number of labels, or None for an unconditional model.
        time_dim: number of sinusoidal time features.

    Call: model(x, t) or model(x, t, y) with x (B, C, H, W), t (B,) in [0, 1], y (B,)
    int64 labels in [0, num_classes] (num_classes = no label; y=None means no label).

    Raises (on call):
        ValueError: x is not (B, C, H, W), t is invalid, labels are given to an
            unconditional model, or a label is out of range.
    """

    def __init__(self, channels: int = 1, width: int = 64, blocks: int = 4, num_classes: int | None = None,
                 time_dim: int = 32):
        super().__init__()
        if width % 8:
            raise ValueError(f"width must be a multiple of 8 (GroupNorm with 8 groups), got {width}")
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
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"ConvNet(channels={self.channels}) expects x of shape (B, {self.channels}, H, W), "
                             f"got {tuple(x.shape)}")
        t = check_time(t, x.shape[0], like=x)
        emb = self.time_embedding(t)
        if self.label_embedding is not None:
            if y is None:
                y = torch.full((x.shape[0],), self.null_label, dtype=torch.long, device=x.device)
            y = torch.as_tensor(y, dtype=torch.long, device=x.device).expand(x.shape[0])
            if y.min() < 0 or y.max() > self.null_label:
                raise ValueError(f"labels must lie in [0, {self.null_label}] ({self.null_label} = no label), "
                                 f"got values in [{y.min().item()}, {y.max().item()}]")
            emb = emb + self.label_embedding(y)
        elif y is not None:
            raise ValueError("this ConvNet is unconditional (num_classes=None) and takes no labels y")
        h = self.conv_in(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.conv_out(h)


#: Architectures by class name, for checkpoints.
MODELS = {"MLP": MLP, "ConvNet": ConvNet}

"""Data sets on curved spaces that need no download: von Mises-Fisher mixtures on S², a periodic checkerboard
and wrapped Gaussians on T².

- von Mises-Fisher vMF(μ, κ) on S²: density ∝ exp(κ <μ, x>). Sampled exactly (Wood 1994): the cosine
  w = <μ, x> is 1 + log(u + (1 - u) e^{-2κ}) / κ with u ~ U(0, 1), the direction around μ uniform.
- the torus checkerboard: the square [0, 2π)² cut into cells x cells squares, the squares with i + j even
  filled uniformly; periodic, so a whole number of cells tiles across the seam.
- wrapped Gaussians: N(m, std² I) on R², angles taken mod 2π.

Sources: Wood 1994, "Simulation of the von Mises Fisher distribution", Comm. Stat. Sim. Comp. 23(1), sec. 2
(for S² the inverse CDF is closed form); Mardia & Jupp, "Directional Statistics" (2000), sec. 9.3;
Chen & Lipman 2024, sec. 5 (checkerboard on the flat torus).

Taught in notebook 12 (`notebooks/12_curved_spaces.ipynb`).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..checks import check_count
from .spaces import TWO_PI

__all__ = ["sample_vmf", "sample_vmf_mixture", "sample_torus_checkerboard", "sample_wrapped_gaussians",
           "sample_manifold_data", "MANIFOLD_DATASETS", "VMF_CENTRES", "VMF_KAPPA"]


def _unit(lat_deg: float, lon_deg: float) -> list[float]:
    la, lo = math.radians(lat_deg), math.radians(lon_deg)
    return [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)]


#: The default mixture's five centres (unit vectors, from latitude/longitude in degrees) and concentration.
VMF_CENTRES = torch.tensor([_unit(60, 0), _unit(0, 40), _unit(-30, 150), _unit(15, -100), _unit(-65, -30)])
VMF_KAPPA = 25.0


def _check_kappa(kappa) -> float:
    if isinstance(kappa, bool) or not isinstance(kappa, (int, float)) or not 0 < float(kappa) <= 1e4:
        raise ValueError(f"kappa (the vMF concentration) must be a number in (0, 1e4], got {kappa!r}")
    return float(kappa)


def sample_vmf(mu: Tensor, kappa: float, n: int, generator: torch.Generator | None = None) -> Tensor:
    """n samples of the von Mises-Fisher distribution vMF(mu, kappa) on S², shape (n, 3), float64.

    Args:
        mu: the mean direction, a unit vector of shape (3,) (| |mu| - 1 | <= 1e-4).
        kappa: concentration in (0, 1e4] (spread about 1 / sqrt(kappa) radians). n: whole number >= 1.
        generator: a torch.Generator for reproducible draws (None: the global one).

    Raises:
        ValueError: mu not a unit 3-vector, kappa out of range, n not a whole number >= 1.

    Source: Wood 1994, sec. 2.
    """
    n = check_count(n, "n")
    kappa = _check_kappa(kappa)
    if not isinstance(mu, Tensor) or mu.shape != (3,) or not torch.isfinite(mu).all() or \
            abs(float(mu.norm()) - 1) > 1e-4:
        raise ValueError(f"mu must be a unit vector tensor of shape (3,), got {mu!r}")
    mu = mu.double()
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    w = 1 + torch.log(u + (1 - u) * math.exp(-2 * kappa)) / kappa
    w = w.clamp(-1, 1)   # rounding only (|w| <= 1 exactly in real arithmetic)
    phi = TWO_PI * torch.rand(n, generator=generator, dtype=torch.float64)
    # an orthonormal basis (a, b) of the plane orthogonal to mu
    helper = torch.tensor([1.0, 0, 0], dtype=torch.float64) if abs(float(mu[0])) < 0.9 else \
        torch.tensor([0, 1.0, 0], dtype=torch.float64)
    a = torch.linalg.cross(mu, helper)
    a = a / a.norm()
    b = torch.linalg.cross(mu, a)
    r = torch.sqrt(1 - w ** 2)
    x = w[:, None] * mu + r[:, None] * (torch.cos(phi)[:, None] * a + torch.sin(phi)[:, None] * b)
    return x / x.norm(dim=1, keepdim=True)


def sample_vmf_mixture(n: int, seed: int | None = 0, centres: Tensor | None = None,
                       kappa: float = VMF_KAPPA) -> Tensor:
    """n points of an equal-weight mixture of vMF(centre_k, kappa) on S², shape (n, 3), float32.

    Args:
        n: whole number >= 1. seed: seed of a private generator (None: torch's global one).
        centres: unit vectors (K, 3); default `VMF_CENTRES` (five). kappa: concentration (default 25).

    Raises:
        ValueError: bad n, kappa or centres (not (K, 3) unit vectors).
    """
    n = check_count(n, "n")
    centres = VMF_CENTRES if centres is None else centres
    if not isinstance(centres, Tensor) or centres.dim() != 2 or centres.shape[1] != 3 or not len(centres):
        raise ValueError(f"centres must be unit vectors of shape (K, 3), got {getattr(centres, 'shape', centres)!r}")
    g = None if seed is None else torch.Generator().manual_seed(int(seed))
    k = torch.randint(len(centres), (n,), generator=g)
    counts = torch.bincount(k, minlength=len(centres))
    x = torch.empty(n, 3, dtype=torch.float64)
    for j in range(len(centres)):
        if counts[j]:
            x[k == j] = sample_vmf(centres[j], kappa, int(counts[j]), g)
    return x.float()


def sample_torus_checkerboard(n: int, seed: int | None = 0, cells: int = 4) -> Tensor:
    """n points uniform on the filled squares (i + j even) of a cells x cells checkerboard on [0, 2π)², (n, 2).

    Args:
        n: whole number >= 1. seed: private generator seed (None: global). cells: an even whole number >= 2
            (odd counts would put two filled squares side by side across the seam).

    Raises:
        ValueError: bad n, or cells not an even whole number >= 2.
    """
    n, cells = check_count(n, "n"), check_count(cells, "cells", 2)
    if cells % 2:
        raise ValueError(f"cells must be even so that the board stays a checkerboard across the seam, got {cells}")
    g = None if seed is None else torch.Generator().manual_seed(int(seed))
    i = torch.randint(cells, (n,), generator=g)
    j = (torch.randint(cells // 2, (n,), generator=g) * 2 + i % 2) % cells
    u = torch.rand(n, 2, generator=g)
    side = TWO_PI / cells
    x = (torch.stack([i, j], 1) + u) * side
    return torch.remainder(x, TWO_PI)


#: Default means of the wrapped-Gaussian mixture (one sits on the seam, so it wraps).
TORUS_MEANS = torch.tensor([[0.0, 0.0], [math.pi, math.pi / 2], [math.pi / 2, 3 * math.pi / 2],
                            [3 * math.pi / 2, math.pi]])


def sample_wrapped_gaussians(n: int, seed: int | None = 0, means: Tensor | None = None,
                             std: float = 0.35) -> Tensor:
    """n points of an equal-weight mixture of wrapped Gaussians N(m_k, std² I) mod 2π on T², (n, 2).

    Raises:
        ValueError: bad n, std not in (0, 10], means not (K, 2).
    """
    n = check_count(n, "n")
    means = TORUS_MEANS if means is None else means
    if not isinstance(means, Tensor) or means.dim() != 2 or means.shape[1] != 2 or not len(means):
        raise ValueError(f"means must be a tensor of shape (K, 2), got {getattr(means, 'shape', means)!r}")
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not 0 < std <= 10:
        raise ValueError(f"std must be a number in (0, 10], got {std!r}")
    g = None if seed is None else torch.Generator().manual_seed(int(seed))
    k = torch.randint(len(means), (n,), generator=g)
    x = means.float()[k] + std * torch.randn(n, 2, generator=g)
    x = torch.remainder(x, TWO_PI)
    return torch.where(x >= TWO_PI, x - TWO_PI, x)


#: name -> (space name, sampler n, seed -> points).
MANIFOLD_DATASETS = {"vmf_mixture": ("sphere", sample_vmf_mixture),
                     "torus_checkerboard": ("torus", sample_torus_checkerboard),
                     "wrapped_gaussians": ("torus", sample_wrapped_gaussians)}


def sample_manifold_data(name: str, n: int, seed: int | None = 0) -> Tensor:
    """n points of the named data set ("vmf_mixture" on S², "torus_checkerboard" or "wrapped_gaussians" on T²).

    Raises:
        ValueError: unknown name (lists the valid ones), bad n.
    """
    if name not in MANIFOLD_DATASETS:
        raise ValueError(f"unknown manifold data set {name!r}; choose one of {list(MANIFOLD_DATASETS)}")
    return MANIFOLD_DATASETS[name][1](n, seed=seed)

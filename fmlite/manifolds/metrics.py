"""Sample quality on a curved space: the energy distance with a metric that respects the geometry.

    E(a, b) = 2 E δ(X, Y) - E δ(X, X') - E δ(Y, Y')     (within-cloud means over distinct pairs)

is >= 0 with equality only for equal laws when δ is a metric of strong negative type. On S² δ is the
great-circle distance (of negative type on spheres). On T² δ is the chordal distance of the torus embedded
in R⁴ as (cos θ_1, sin θ_1, cos θ_2, sin θ_2): δ = sqrt(4 sin²(Δ_1 / 2) + 4 sin²(Δ_2 / 2)), a Euclidean
distance, hence of negative type. Two tempting choices fail: the flat torus's geodesic distance
sqrt(Δ_1² + Δ_2²) (wrapped) is NOT of negative type, so its "energy distance" can be negative for different
laws; and the sum of the two circle distances |Δ_1| + |Δ_2|, though of negative type, splits the energy
distance into one term per angle, so it sees only the two marginal laws: it cannot tell the checkerboard
(uniform marginals) from the uniform distribution.

Sources: Székely & Rizzo 2013, "Energy statistics", J. Stat. Plan. Inf. 143, sec. 2 and 8; Lyons 2013,
"Distance covariance in metric spaces", Ann. Prob. 41 (negative type; spheres, sec. 3); Chen & Lipman 2024
report quality on these spaces by likelihoods, this course by this distance.

Taught in notebook 12 (`notebooks/12_curved_spaces.ipynb`).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_no_overflow
from .spaces import FlatTorus, Manifold, get_space

__all__ = ["pairwise_distance", "manifold_energy_distance"]


def pairwise_distance(space: Manifold | str, a: Tensor, b: Tensor) -> Tensor:
    """The negative-type metric δ between every point of a (N, dim) and b (M, dim), float64 (N, M).

    Sphere: great-circle distance in [0, π]; torus: chordal distance in R⁴, in [0, 2√2].

    Raises:
        ValueError: points off the space (`check_point`).
    """
    space = get_space(space)
    a, b = space.check_point(a, "a").double(), space.check_point(b, "b").double()
    if isinstance(space, FlatTorus):
        half = torch.sin((a[:, None, :] - b[None, :, :]) / 2)
        return 2 * half.pow(2).sum(-1).sqrt()
    a, b = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    return torch.arccos((a @ b.T).clamp(-1, 1))   # float64: arccos is accurate enough away from 0 and π


def manifold_energy_distance(space: Manifold | str, a: Tensor, b: Tensor) -> float:
    """Energy distance between two clouds on the space with `pairwise_distance` (radians); >= 0 up to noise.

    Args:
        space: `Sphere()`, `FlatTorus()`, "sphere" or "torus". a: (N, dim), b: (M, dim), N, M >= 2.

    Returns:
        float (radians on S², chord lengths on T²): 0 for equal laws (unbiased: two samples of one law scatter around 0).

    Raises:
        ValueError: points off the space, NaN (did sampling diverge?), fewer than 2 points in a cloud.
    """
    space = get_space(space)
    for name, c in (("a", a), ("b", b)):
        if isinstance(c, Tensor) and c.is_floating_point() and not torch.isfinite(c).all():
            raise ValueError(f"point cloud {name} holds NaN or inf (did sampling diverge?)")
        if isinstance(c, Tensor) and c.dim() == 2 and len(c) < 2:
            raise ValueError(f"each cloud needs at least 2 points, got {len(c)} in {name}")
    ab = pairwise_distance(space, a, b).mean()
    n, m = len(a), len(b)
    aa = pairwise_distance(space, a, a).sum() / (n * (n - 1))
    bb = pairwise_distance(space, b, b).sum() / (m * (m - 1))
    value = 2 * ab - aa - bb
    check_no_overflow(value, "the energy distance", a.double(), b.double())
    return float(value)

"""How good are the samples? Distances between point clouds, and straightness of a flow.

- `energy_distance`: 2 E|X - Y| - E|X - X'| - E|Y - Y'| (Szekely & Rizzo 2013,
  "Energy statistics", eq. (2)); 0 iff the two laws are equal. Written here with
  torch.cdist: the library that has it for R^d (dcor) takes 10-35 s to import
  through numba, too slow for a notebook.
- `sliced_wasserstein`: the sliced 2-Wasserstein distance (Bonneel et al. 2015),
  computed by POT (`ot.sliced_wasserstein_distance`).
- `straightness`: S = integral_0^1 E|(x_1 - x_0) - dx_t/dt|^2 dt of a trajectory
  (Liu et al. 2022, "Flow Straight and Fast", eq. (5)); 0 for straight lines at
  constant speed, where one Euler step is exact.

The digit scores of notebook 07 are in their own module, `fmlite.digit_metrics`.
Taught in notebook 04 (`notebooks/04_sampling.ipynb`: energy distance) and notebook 06
(`notebooks/06_straight_paths.ipynb`: straightness).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .checks import check_batch, check_count, check_no_overflow

__all__ = ["energy_distance", "sliced_wasserstein", "straightness"]


def _as_clouds(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    for name, value in (("a", a), ("b", b)):
        if isinstance(value, Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
            raise ValueError(f"point cloud {name} holds NaN or inf (did sampling diverge?)")
    a, b = check_batch(a, "a"), check_batch(b, "b")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"a and b must be point clouds (N, *D) and (M, *D) with the same D, "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"each cloud needs at least 2 points, got {len(a)} and {len(b)}")
    return a.reshape(len(a), -1).double(), b.reshape(len(b), -1).double().to(a.device)


def _finite_result(value: Tensor, what: str, a: Tensor, b: Tensor) -> float:
    """A metric's value, refused if finite clouds overflowed float64 (values near 1e154 and above)."""
    check_no_overflow(value, what, a, b)
    return float(value)


def energy_distance(a: Tensor, b: Tensor) -> float:
    """Energy distance between two point clouds (>= 0 up to sampling noise; 0 iff the laws are equal).

    E = 2 E|X - Y| - E|X - X'| - E|Y - Y'| (Szekely & Rizzo call it the squared energy
    distance, but it is a combination of plain distances), with the within-cloud means taken over
    distinct pairs (unbiased U-statistics), so two samples of the same law give values
    scattered around 0 (possibly slightly negative).

    Args:
        a: points (N, *D). b: points (M, *D); flattened to vectors.

    Returns:
        float, in the units of the data (a difference of mean distances, not of squared
        distances: scaling both clouds by c scales it by c). Memory O(N M).

    Raises:
        ValueError: a or b not a tensor (a list or numpy array: use torch.as_tensor), 1-d, shapes that
            differ beyond the first axis, fewer than 2 points, NaN/inf, or values so large that the
            distances overflow float64 (rescale).
    """
    a, b = _as_clouds(a, b)
    n, m = len(a), len(b)
    ab = torch.cdist(a, b).mean()
    aa = torch.cdist(a, a).sum() / (n * (n - 1))
    bb = torch.cdist(b, b).sum() / (m * (m - 1))
    return _finite_result(2 * ab - aa - bb, "the energy distance", a, b)


def sliced_wasserstein(a: Tensor, b: Tensor, n_projections: int = 200, seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance: the W2 distance averaged over random 1-D projections.

    Args:
        a: points (N, *D). b: points (M, *D).
        n_projections: number of random directions, a whole number >= 1 (`fmlite.checks.check_count`).
        seed: seed of the random directions (fixed, so the metric is deterministic).

    Returns:
        float, in the units of the data.

    Raises:
        ValueError: as `energy_distance`; n_projections not a whole number >= 1, seed not a whole number >= 0.

    Source: Bonneel, Rabin, Peyre & Pfister 2015; computed with POT (Flamary et al. 2021).
    """
    import ot
    n_projections, seed = check_count(n_projections, "n_projections"), check_count(seed, "seed", 0)
    a, b = _as_clouds(a, b)
    value = ot.sliced_wasserstein_distance(a.cpu().numpy(), b.cpu().numpy(), n_projections=n_projections, seed=seed)
    return _finite_result(torch.as_tensor(float(value)), "the sliced Wasserstein distance", a, b)


def straightness(trajectory: Tensor, times: Tensor | None = None) -> float:
    """Straightness S of sampled paths (0 = perfectly straight at constant speed).

    S = sum_k h_k * mean_i |(x_end - x_start)/T - (x_{k+1} - x_k)/h_k|^2 / T, a
    discretisation of Liu et al. 2022, eq. (5) (with T = total time, 1 for a full flow).

    Args:
        trajectory: states (K + 1, B, *D), e.g. `integrate(..., return_trajectory=True).trajectory`.
        times: the K + 1 times; default K + 1 equally spaced points of [0, 1].

    Returns:
        float, in squared units of the data per squared unit of time.

    Raises:
        ValueError: trajectory not a tensor (a list or numpy array: use torch.as_tensor), fewer than
            2 states, no points (B = 0), NaN or inf in it (a diverged flow: the message says so), times of
            the wrong length, not finite or not monotonic, or a result that overflows float64.
    """
    if isinstance(trajectory, Tensor) and trajectory.is_floating_point() and not torch.isfinite(trajectory).all():
        raise ValueError("the trajectory holds NaN or inf (did sampling diverge?); straightness needs a finite "
                         "flow: use more steps or check the model")
    trajectory = check_batch(trajectory, "trajectory", owner="straightness", min_dim=3).double()
    if len(trajectory) < 2 or trajectory.shape[1] == 0:
        raise ValueError(f"trajectory must have shape (K + 1, B, *D) with K >= 1 steps and B >= 1 points, "
                         f"got {tuple(trajectory.shape)}")
    k = len(trajectory) - 1
    times = torch.linspace(0, 1, k + 1, dtype=torch.float64) if times is None else torch.as_tensor(times).double()
    if times.shape != (k + 1,):
        raise ValueError(f"times must have shape ({k + 1},), got {tuple(times.shape)}")
    if not torch.isfinite(times).all():
        raise ValueError("times hold NaN or inf; give the finite times of the trajectory")
    h = times.diff()
    if not ((h > 0).all() or (h < 0).all()):
        raise ValueError("times must be strictly increasing or strictly decreasing")
    total = times[-1] - times[0]
    flat = trajectory.reshape(k + 1, trajectory.shape[1], -1)
    chord = (flat[-1] - flat[0]) / total                       # (B, D)
    speeds = flat.diff(dim=0) / h[:, None, None]               # (K, B, D)
    per_step = ((speeds - chord) ** 2).sum(-1).mean(-1)        # (K,)
    value = (per_step * h).sum() / total
    return _finite_result(value, "straightness", flat, flat)

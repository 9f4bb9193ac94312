"""Metrics against closed forms: energy distance of shifted Gaussians (1-D: scipy), straightness of known paths."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import energy_distance as scipy_energy

from fmlite.metrics import energy_distance, sliced_wasserstein, straightness


def test_energy_distance_matches_scipy_in_one_dimension():
    """scipy returns sqrt of the V-statistic D^2 = 2E|X-Y| - E|X-X'| - E|Y-Y'|; ours uses U-statistics."""
    a, b = torch.randn(500, 1, dtype=torch.float64), torch.randn(400, 1, dtype=torch.float64) + 0.5
    n, m = len(a), len(b)
    ref_v = scipy_energy(a[:, 0].numpy(), b[:, 0].numpy()) ** 2
    ours = energy_distance(a, b)
    # convert U- to V-statistic: within-cloud means over n^2 instead of n(n-1) pairs
    aa = torch.cdist(a, a).sum().item()
    bb = torch.cdist(b, b).sum().item()
    ours_v = ours + aa / (n * (n - 1)) - aa / n**2 + bb / (m * (m - 1)) - bb / m**2
    assert math.isclose(ours_v, ref_v, rel_tol=1e-9)


def test_energy_distance_is_near_zero_for_same_law_and_grows_with_shift():
    same = energy_distance(torch.randn(2000, 2), torch.randn(2000, 2))
    shifted = energy_distance(torch.randn(2000, 2), torch.randn(2000, 2) + 1)
    assert abs(same) < 0.01 and shifted > 0.3


def test_sliced_wasserstein_of_a_shift():
    """For a shift by d, W2 of every 1-D projection is |<d, theta>|; averaged over the circle: |d| * sqrt(1/2)."""
    a = torch.randn(3000, 2, dtype=torch.float64)
    sw = sliced_wasserstein(a, a + torch.tensor([2.0, 0.0], dtype=torch.float64), n_projections=2000)
    assert abs(sw - 2 * math.sqrt(0.5)) < 0.05


def test_straightness_is_zero_for_lines_and_known_for_a_circle():
    t = torch.linspace(0, 1, 201, dtype=torch.float64)
    x0, x1 = torch.randn(10, 2, dtype=torch.float64), torch.randn(10, 2, dtype=torch.float64)
    line = (1 - t)[:, None, None] * x0 + t[:, None, None] * x1
    assert straightness(line) < 1e-20
    # a half circle of radius 1 at speed pi: chord c = (-2, 0), v = pi(-sin pi t, cos pi t);
    # |v - c|^2 = pi^2 + 4 - 4 pi sin(pi t), whose mean over [0, 1] is pi^2 + 4 - 8
    angle = math.pi * t
    circle = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)[:, None, :]
    assert abs(straightness(circle) - (math.pi**2 - 4)) < 1e-3


def test_bad_clouds():
    with pytest.raises(ValueError, match="same D"):
        energy_distance(torch.randn(10, 2), torch.randn(10, 3))
    with pytest.raises(ValueError, match="NaN"):
        energy_distance(torch.full((10, 2), float("nan")), torch.randn(10, 2))

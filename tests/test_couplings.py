"""Couplings: mini-batch OT is an exact optimal permutation (brute force and POT's exact solver agree)."""
import itertools

import numpy as np
import ot
import pytest
import torch

from fmlite.couplings import independent, minibatch_ot


def total_cost(x_0, x_1):
    return ((x_0 - x_1) ** 2).sum().item()


@pytest.mark.parametrize("n", [2, 4, 6])
def test_minibatch_ot_matches_brute_force(n):
    for _ in range(5):
        x_0, x_1 = torch.randn(n, 2, dtype=torch.float64), torch.randn(n, 2, dtype=torch.float64)
        best = min(total_cost(x_0, x_1[list(p)]) for p in itertools.permutations(range(n)))
        a, b = minibatch_ot(x_0, x_1)
        assert torch.equal(a, x_0)
        assert abs(total_cost(a, b) - best) < 1e-9


def test_minibatch_ot_matches_pot_exact_transport_and_is_a_permutation():
    x_0, x_1 = torch.randn(64, 1, 3, 3, dtype=torch.float64), torch.randn(64, 1, 3, 3, dtype=torch.float64)
    _, b = minibatch_ot(x_0, x_1)
    flat0, flat1 = x_0.flatten(1).numpy(), x_1.flatten(1).numpy()
    w = ot.emd2(np.full(64, 1 / 64), np.full(64, 1 / 64), ot.dist(flat0, flat1))  # squared Euclidean
    assert abs(total_cost(x_0, b) / 64 - w) < 1e-9
    rows = {tuple(r) for r in b.flatten(1).tolist()}
    assert rows == {tuple(r) for r in x_1.flatten(1).tolist()}  # nothing duplicated or dropped


def test_ot_cost_approaches_the_gaussian_closed_form():
    """Between N(0, I) and N(m, I) the optimal map is a shift: W2^2 = |m|^2 = 18, while an
    independent pairing costs E|x_0 - x_1|^2 = 2 + 2 + 18 = 22 per pair."""
    x_0, x_1 = torch.randn(512, 2, dtype=torch.float64), torch.randn(512, 2, dtype=torch.float64) + 3
    assert abs(total_cost(*minibatch_ot(x_0, x_1)) / 512 - 18) < 1.0
    assert abs(total_cost(*independent(x_0, x_1)) / 512 - 22) < 1.5


def test_shapes_must_match():
    with pytest.raises(ValueError, match="same shape"):
        minibatch_ot(torch.randn(4, 2), torch.randn(5, 2))
    with pytest.raises(ValueError, match="NaN"):
        minibatch_ot(torch.full((3, 2), float("nan")), torch.randn(3, 2))

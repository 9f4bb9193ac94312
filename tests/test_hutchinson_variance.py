"""Hutchinson's estimator on a non-symmetric Jacobian: Monte Carlo against the variance formulas of
`fmlite.likelihood`'s docstring and notebook 08 (per probe |A|_F^2 + tr(A^2) for Gaussian probes,
sum_{i<j} (A_ij + A_ji)^2 for Rademacher probes, divided by the number of probes), and against the
symmetric-only formulas 2|A|_F^2 and 2 sum_{i != j} A_ij^2, which they are not."""
import pytest
import torch

from fmlite.likelihood import hutchinson_divergence

A = torch.tensor([[0.5, 2.0, -1.0], [0.0, -1.5, 0.3], [1.2, -0.4, 2.5]], dtype=torch.float64)  # not symmetric


def gaussian_variance(a):
    return (a ** 2).sum() + torch.trace(a @ a)


def rademacher_variance(a):
    s = a + a.T
    return (torch.triu(s, diagonal=1) ** 2).sum()


def one_probe_estimates(noise, n=200_000, probes=1, seed=0):
    x = torch.zeros(n, 3, dtype=torch.float64)
    t = torch.full((n,), 0.5, dtype=torch.float64)
    return hutchinson_divergence(lambda x, t: x @ A.T, x, t, probes=probes, noise=noise,
                                 generator=torch.Generator().manual_seed(seed))


def test_closed_forms_and_their_difference():
    assert not torch.allclose(A, A.T)
    # Gaussian minus Rademacher is 2 sum_i A_ii^2 for any A
    assert torch.isclose(gaussian_variance(A) - rademacher_variance(A), 2 * (torch.diagonal(A) ** 2).sum())
    # for a symmetric matrix the general forms reduce to the often quoted ones
    S = (A + A.T) / 2
    assert torch.isclose(gaussian_variance(S), 2 * (S ** 2).sum())
    off = S - torch.diag(torch.diagonal(S))
    assert torch.isclose(rademacher_variance(S), 2 * (off ** 2).sum())


@pytest.mark.parametrize("noise, formula, symmetric_only", [
    ("gaussian", gaussian_variance, lambda a: 2 * (a ** 2).sum()),
    ("rademacher", rademacher_variance, lambda a: 2 * ((a - torch.diag(torch.diagonal(a))) ** 2).sum()),
])
def test_monte_carlo_variance_matches_the_general_formula(noise, formula, symmetric_only):
    est = one_probe_estimates(noise)
    assert abs(est.mean() - torch.trace(A)) < 0.03                  # unbiased
    var, expected, wrong = est.var().item(), formula(A).item(), symmetric_only(A).item()
    assert abs(var / expected - 1) < 0.03, (noise, var, expected)
    assert abs(var / wrong - 1) > 0.15, (noise, var, wrong)           # the symmetric-only formula is off here
    # k probes: the mean of k one-probe estimates, variance divided by k
    four = one_probe_estimates(noise, n=100_000, probes=4, seed=1)
    assert abs(four.var().item() / (expected / 4) - 1) < 0.04

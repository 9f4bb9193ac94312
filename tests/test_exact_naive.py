"""fmlite.exact.naive_marginal_velocity, the field of the target without sigma'(t) eps, against a Monte Carlo
average of that target near a point (an oracle that never uses the closed form), and its relation to the
correct field."""
import pytest
import torch

from fmlite.exact import marginal_velocity, naive_marginal_velocity, posterior_weights
from fmlite.paths import BridgeSigma, ConstantSigma, CosinePath, LinearPath, SineSigma


@pytest.mark.parametrize("path, t", [(LinearPath(SineSigma(1.0)), 0.4), (CosinePath(BridgeSigma(0.8)), 0.3)])
def test_naive_field_is_the_average_of_the_naive_target_near_a_point(path, t):
    g = torch.Generator().manual_seed(0)
    data = torch.tensor([[-1.0], [1.5]], dtype=torch.float64)
    n = 2_000_000
    x_1 = data[torch.randint(0, 2, (n,), generator=g)]
    x_0, eps = torch.randn(2, n, 1, generator=g, dtype=torch.float64)
    s = path.sample(x_0, x_1, torch.full((n,), t, dtype=torch.float64), eps)
    c = path.coefficients(torch.tensor([t], dtype=torch.float64))
    naive_target = c["d_alpha_t"] * x_1 + c["d_beta_t"] * x_0          # u_t without sigma'(t) eps
    gaps = []
    for x in (-1.4, 0.2, 1.6):
        near = (s.x_t[:, 0] - x).abs() < 0.02
        point = torch.tensor([[x]], dtype=torch.float64)
        naive = naive_marginal_velocity(point, t, data, path)[0, 0]
        correct = marginal_velocity(point, t, data, path)[0, 0]
        assert naive_target[near, 0].mean() == pytest.approx(float(naive), abs=0.03)
        assert s.u_t[near, 0].mean() == pytest.approx(float(correct), abs=0.05)
        gaps.append(abs(float(correct - naive)))
    assert max(gaps) > 0.15          # the two fields differ clearly here, beyond the Monte Carlo tolerance


def test_gap_is_sigma_sigma_prime_over_the_variance_times_x_minus_alpha_xbar():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(11, 3, generator=g, dtype=torch.float64)
    data = torch.randn(4, 3, generator=g, dtype=torch.float64)
    t = torch.linspace(0.0, 0.97, 11, dtype=torch.float64)
    for path in (LinearPath(SineSigma(2.0)), LinearPath(BridgeSigma(0.5)), CosinePath(SineSigma(0.5))):
        c = path.field_coefficients(t)
        xbar = posterior_weights(x, t, data, path) @ data
        gain = c["sigma_d_sigma_t"] / (c["beta_t"] ** 2 + c["sigma_t"] ** 2)
        gap = gain[:, None] * (x - c["alpha_t"][:, None] * xbar)
        diff = marginal_velocity(x, t, data, path) - naive_marginal_velocity(x, t, data, path)
        assert torch.allclose(diff, gap, atol=1e-10)


def test_naive_field_equals_the_correct_one_exactly_when_sigma_is_constant():
    x, data = torch.randn(20, 2), torch.randn(5, 2)
    t = torch.rand(20)
    path = LinearPath(ConstantSigma(0.7))
    assert torch.equal(naive_marginal_velocity(x, t, data, path), marginal_velocity(x, t, data, path))
    sine = LinearPath(SineSigma(0.7))
    assert not torch.allclose(naive_marginal_velocity(x, t, data, sine), marginal_velocity(x, t, data, sine))


def test_both_fields_are_finite_at_the_ends_for_bridge_and_sine():
    x, data = 3 * torch.randn(50, 2), torch.randn(5, 2)
    for path in (LinearPath(BridgeSigma(2.0)), LinearPath(SineSigma(2.0)), CosinePath(SineSigma(1.0))):
        for t in (0.0, 1.0):
            for fn in (marginal_velocity, naive_marginal_velocity):
                v = fn(x, t, data, path)
                assert torch.isfinite(v).all() and v.abs().max() < 100, (path, t, fn.__name__)


def test_sine_schedule_is_exactly_zero_at_both_ends():
    s = SineSigma(1.3)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert torch.equal(s(t), torch.zeros(2, dtype=torch.float64))
    assert torch.equal(s.variance_rate(t), torch.zeros(2, dtype=torch.float64))


def test_naive_field_refuses_bad_input():
    with pytest.raises(ValueError, match="x must have shape"):
        naive_marginal_velocity(torch.randn(3, 3), 0.5, torch.randn(4, 2), LinearPath(SineSigma(1.0)))

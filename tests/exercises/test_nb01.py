"""Exercises of notebook 01: wrong answers of every kind (an asymmetric σ schedule included) are rejected with
a message naming the mistake; the solutions agree with independent oracles (fmlite.paths, finite differences,
Monte Carlo); plus the numerical claims the notebook makes."""
import math

import pytest
import torch

from fmlite.datasets import sample_2d
from fmlite.exercises import solution
from fmlite.paths import BridgeSigma, ConstantSigma, LinearPath, Sigma, SineSigma

ONE_TIME = "you used one time for the whole batch"
SCHEDULES = [ConstantSigma(0.0), ConstantSigma(0.4), BridgeSigma(0.8), SineSigma(0.5),
             Sigma(lambda t: 0.6 * t ** 2 * (1 - t), name="cubic")]


def _line(x_0, x_1, t):
    return (1 - t[:, None]) * x_0 + t[:, None] * x_1


def _s(s, t):
    return s(t)[:, None]


def _ds(s, t):
    return s.derivative(t)[:, None]


@pytest.mark.parametrize("answer, message", [
    (lambda x_0, x_1, t, e, s: _line(x_0, x_1, t), "x_t is missing the noise term σ(t) ε"),
    (lambda x_0, x_1, t, e, s: _line(x_1, x_0, t) + _s(s, t) * e, "x_0 and x_1 are swapped"),          # flipped time
    (lambda x_0, x_1, t, e, s: _line(x_0, x_1, t) + _ds(s, t) * e, "you used σ'(t)"),                  # σ' for σ
    (lambda x_0, x_1, t, e, s: _line(x_0, x_1, t) + _s(s, t) ** 2 * e, "not by σ(t)² (a variance)"),   # variance
    (lambda x_0, x_1, t, e, s: _line(x_0, x_1, t) + _s(s, t).sqrt() * e, "not by its square root"),
    (lambda x_0, x_1, t, e, s: _line(x_0, x_1, t) + _s(s, 1 - t) * e, "you evaluated σ at 1 − t"),    # kind 2
    (lambda x_0, x_1, t, e, s: _line(x_0, x_1, t) + s(t.mean().expand_as(t))[:, None] * e, ONE_TIME),  # kind 1
    (lambda x_0, x_1, t, e, s: (1 - t) * x_0 + t * x_1 + s(t) * e, "use t[:, None]"),                  # kind 4
    (lambda x_0, x_1, t, e, s: _line(x_0, x_1, t) - _s(s, t) * e, "the noise term has the wrong sign"),  # sign
    (lambda x_0, x_1, t, e, s: x_1, "you returned the data x_1 itself"),                                # x_1 for x_t
    (lambda x_0, x_1, t, e, s: _line(x_0, x_1, t) + _s(s, t.clamp(0.05, 0.95)) * e, "is right except near the ends of the time range"),    # kind 5
    (lambda x_0, x_1, t, e, s: _line(x_0, x_1, t) + 2 * _s(s, t) * e, "x_t differs from the expected value"),
])
def test_stochastic_interpolant_rejects(answer, message, rejected):
    rejected("01.stochastic_interpolant", answer, message)


@pytest.mark.parametrize("answer, message", [
    (lambda x_0, x_1, t, e, s: x_1 - x_0, "you returned x_1 − x_0, the target for a constant σ only"),
    (lambda x_0, x_1, t, e, s: x_1 - x_0 + _s(s, t) * e, "you added σ(t) ε"),                          # σ for σ'
    (lambda x_0, x_1, t, e, s: x_0 - x_1 + _ds(s, t) * e, "x_1 − x_0 is flipped"),
    (lambda x_0, x_1, t, e, s: x_1 - x_0 - _ds(s, t) * e, "the σ'(t) ε term has the wrong sign"),      # sign
    (lambda x_0, x_1, t, e, s: x_1 - x_0 - _ds(s, 1 - t) * e, "you evaluated σ' at 1 − t and flipped"),  # kind 2
    (lambda x_0, x_1, t, e, s: x_1 - x_0 + _ds(s, 1 - t) * e, "you evaluated σ' at 1 − t"),           # flipped time
    (lambda x_0, x_1, t, e, s: x_1 - x_0 + s.derivative(t[:1]).expand_as(t)[:, None] * e, ONE_TIME),  # kind 1
    (lambda x_0, x_1, t, e, s: _line(x_0, x_1, t) + _s(s, t) * e, "you returned x_t, the position"),   # x_t for u_t
    (lambda x_0, x_1, t, e, s: x_1 - x_0 + s.derivative(t) * e, "use t[:, None]"),                     # kind 4
    (lambda x_0, x_1, t, e, s: x_1 - x_0 + _ds(s, t.clamp(0.05, 0.95)) * e, "is right except near the ends of the time range"),           # kind 5
    (lambda x_0, x_1, t, e, s: 2 * (x_1 - x_0 + _ds(s, t) * e), "u_t is 2 times the expected value"),
])
def test_target_velocity_rejects(answer, message, rejected):
    rejected("01.target_velocity", answer, message)


def test_the_asymmetric_schedule_is_tried():
    """σ(1 − t) equals σ(t) for constant, bridge and sine: only an asymmetric schedule catches it."""
    def flipped(x_0, x_1, t, eps, sigma):
        return _line(x_0, x_1, t) + sigma(1 - t)[:, None] * eps
    g = torch.Generator().manual_seed(0)
    x_0, x_1, eps = (torch.randn(5, 2, generator=g, dtype=torch.float64) for _ in range(3))
    t = torch.rand(5, generator=g, dtype=torch.float64)
    for sigma in (ConstantSigma(0.5), BridgeSigma(0.8), SineSigma(0.5)):
        torch.testing.assert_close(flipped(x_0, x_1, t, eps, sigma),
                                   solution("01.stochastic_interpolant")(x_0, x_1, t, eps, sigma))


# ----------------------------------------------------------------------------- independent oracles, notebook 01
@pytest.mark.parametrize("sigma", SCHEDULES, ids=repr)
def test_stochastic_interpolant_is_the_path_module_and_hits_its_ends(sigma):
    g = torch.Generator().manual_seed(5)
    x_0, x_1, eps = (torch.randn(64, 2, generator=g, dtype=torch.float64) for _ in range(3))
    t = torch.rand(64, generator=g, dtype=torch.float64)
    got = solution("01.stochastic_interpolant")(x_0, x_1, t, eps, sigma)
    torch.testing.assert_close(got, LinearPath(sigma).interpolate(x_0, x_1, t, eps))
    if float(sigma(torch.zeros(1))[0]) == 0.0:
        ends = solution("01.stochastic_interpolant")(x_0, x_1, torch.zeros(64, dtype=torch.float64), eps, sigma)
        torch.testing.assert_close(ends, x_0)


def test_stochastic_interpolant_has_the_right_law_monte_carlo():
    """For one fixed pair and many eps, x_t is Gaussian around the straight line with std sigma(t)."""
    g = torch.Generator().manual_seed(6)
    n = 200_000
    x_0, x_1 = torch.tensor([[-1.0, 2.0]]).expand(n, 2), torch.tensor([[1.5, -0.5]]).expand(n, 2)
    eps = torch.randn(n, 2, generator=g)
    t = torch.full((n,), 0.3)
    x_t = solution("01.stochastic_interpolant")(x_0, x_1, t, eps, BridgeSigma(0.8))
    torch.testing.assert_close(x_t.mean(0), torch.tensor([-0.25, 1.25]), atol=0.01, rtol=0)
    torch.testing.assert_close(x_t.std(0), torch.full((2,), 0.8 * math.sqrt(0.21)), atol=0.005, rtol=0)


@pytest.mark.parametrize("sigma", SCHEDULES, ids=repr)
def test_target_velocity_is_the_finite_difference_of_x_t(sigma):
    """Central differences of x_t in t (same x_0, x_1, eps), computed with fmlite.paths, equal the solution."""
    g = torch.Generator().manual_seed(7)
    x_0, x_1, eps = (torch.randn(64, 2, generator=g, dtype=torch.float64) for _ in range(3))
    t = 0.05 + 0.9 * torch.rand(64, generator=g, dtype=torch.float64)
    h = 1e-6
    path = LinearPath(sigma)
    fd = (path.interpolate(x_0, x_1, t + h, eps) - path.interpolate(x_0, x_1, t - h, eps)) / (2 * h)
    torch.testing.assert_close(solution("01.target_velocity")(x_0, x_1, t, eps, sigma), fd, atol=1e-6, rtol=0)


def test_naive_target_misses_by_two_sigma_prime_squared():
    """The notebook's measurement: E|x_1 - x_0 - dx_t/dt|^2 = 2 sigma'(t)^2 in two dimensions."""
    g = torch.Generator().manual_seed(8)
    x_0, x_1, eps = (torch.randn(200_000, 2, generator=g, dtype=torch.float64) for _ in range(3))
    for sigma, t in ((SineSigma(0.5), 0.1), (BridgeSigma(0.5), 0.3), (SineSigma(0.5), 0.5)):
        u = solution("01.target_velocity")(x_0, x_1, torch.full((len(x_0),), t, dtype=torch.float64), eps, sigma)
        miss = (x_1 - x_0 - u).pow(2).sum(1).mean()
        d_sigma = float(sigma.derivative(torch.tensor([t]))[0])
        assert float(miss) == pytest.approx(2 * d_sigma ** 2, rel=0.02, abs=1e-9)


def test_variance_of_the_marginal_dips_as_the_notebook_says():
    """Var[x_t] = (1 - t)^2 Var[x_0] + t^2 Var[x_1] for independent pairs (Monte Carlo)."""
    x_0, x_1 = torch.randn(100_000, 2), sample_2d("moons", 100_000, seed=9)
    for t in (0.25, 0.5, 0.75):
        measured = LinearPath().interpolate(x_0, x_1, t).var(0)
        torch.testing.assert_close(measured, (1 - t) ** 2 + t ** 2 * x_1.var(0), atol=0.01, rtol=0)
    assert LinearPath().interpolate(x_0, x_1, 0.5).var(0).sum() < min(x_0.var(0).sum(), x_1.var(0).sum())




@pytest.mark.parametrize("key, answer, message", [   # found by a new student's trial
    ("01.stochastic_interpolant", lambda x_0, x_1, t, e, sigma: (1 - t[:, None]) * x_0 + t[:, None] * x_1 + sigma * e,
     "sigma is a schedule, not a tensor"),
    ("01.target_velocity", lambda x_0, x_1, t, eps, sigma: x_1 - x_0 + sigma.derivative(t) * eps,
     "such as sigma(t), sigma.derivative(t) or a path coefficient"),
])
def test_schedule_mistakes_get_a_hint(key, answer, message, rejected):
    rejected(key, answer, message)


# ----------------------------------------------------------------------------- issue 20: sizes, dtype, the ends
@pytest.mark.parametrize("key, answer, message", [
    ("01.stochastic_interpolant", lambda x_0, x_1, t, e, s: _line(x_0, x_1, t) + s(t).reshape(7, 1) * e,
     "your code works for one batch size only"),
    ("01.stochastic_interpolant", lambda x_0, x_1, t, e, s: (_line(x_0, x_1, t) + _s(s, t) * e).float(),
     "returned float32 for float64 inputs: keep the inputs' dtype"),
    ("01.stochastic_interpolant", lambda x_0, x_1, t, e, s: _line(x_0, x_1, t) + _s(s, t.clamp(0.02, 0.98)) * e,
     "is right except near the ends of the time range"),
    ("01.target_velocity", lambda x_0, x_1, t, e, s: x_1 - x_0 + s.derivative(t).reshape(7, 1) * e,
     "your code works for one batch size only"),
    ("01.target_velocity", lambda x_0, x_1, t, e, s: (x_1 - x_0 + _ds(s, t) * e).float(),
     "returned float32 for float64 inputs: keep the inputs' dtype"),
])
def test_written_in_sizes_float32_and_clamped_times_are_rejected(key, answer, message, rejected):
    rejected(key, answer, message)

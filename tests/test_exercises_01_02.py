"""Exercises of notebooks 01 and 02: every solution passes its checker, templates say "not solved yet",
typical mistakes get their specific message, and every solution agrees with an independent oracle
(finite differences, Monte Carlo, Bayes' rule with scipy, the continuity equation); plus the numerical
claims the two notebooks make."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from fmlite.datasets import sample_2d
from fmlite.exact import log_density, marginal_velocity
from fmlite.exercises import check, passes, solution, verdict
from fmlite.paths import BridgeSigma, ConstantSigma, LinearPath, Sigma, SineSigma
from fmlite.solvers import integrate

KEYS = ["01.stochastic_interpolant", "01.target_velocity", "02.conditional_velocity", "02.posterior_weights",
        "02.marginal_velocity"]
SCHEDULES = [ConstantSigma(0.0), ConstantSigma(0.4), BridgeSigma(0.8), SineSigma(0.5),
             Sigma(lambda t: 0.6 * t ** 2 * (1 - t), name="cubic")]


def _verdict(key, answer, capsys):
    """The verdict as a student sees it: what check() prints, and whether it is correct."""
    check(key, answer)
    out = capsys.readouterr().out
    assert out == verdict(key, answer)[1] + "\n"
    return passes(key, answer), out


# ----------------------------------------------------------------------------- the framework contract
# ----------------------------------------------------------------------------- helpful messages
@pytest.mark.parametrize("answer, message", [
    (lambda x_0, x_1, t, eps, s: (1 - t[:, None]) * x_0 + t[:, None] * x_1,
     "at t = 0.30 with SineSigma(0.5): x_t is missing the noise term σ(t) ε"),
    (lambda x_0, x_1, t, eps, s: t[:, None] * x_0 + (1 - t[:, None]) * x_1 + s(t)[:, None] * eps,
     "x_0 and x_1 are swapped"),
    (lambda x_0, x_1, t, eps, s: (1 - t[:, None]) * x_0 + t[:, None] * x_1 + s.derivative(t)[:, None] * eps,
     "at t = 0.00 with SineSigma(0.5): you used σ'(t)"),
    (lambda x_0, x_1, t, eps, s: (1 - t[:, None]) * x_0 + t[:, None] * x_1 + s(t)[:, None] ** 2 * eps,
     "not by σ(t)²"),
    (lambda x_0, x_1, t, eps, s: (1 - t) * x_0 + t * x_1 + s(t) * eps, "use t[:, None]"),
    (lambda x_0, x_1, t, eps, s: (1 - t[:, None]) * x_0 + t[:, None] * x_1 + 2 * s(t)[:, None] * eps,
     "x_t differs from the expected value by up to"),
])
def test_stochastic_interpolant_mistakes(answer, message, capsys):
    ok, out = _verdict("01.stochastic_interpolant", answer, capsys)
    assert ok is False and message in out, out


@pytest.mark.parametrize("answer, message", [
    (lambda x_0, x_1, t, eps, s: x_1 - x_0,
     "at t = 0.20 with SineSigma(0.5) (σ'(t) = 1.271): you returned x_1 − x_0, the target for a constant σ only"),
    (lambda x_0, x_1, t, eps, s: x_1 - x_0 + s(t)[:, None] * eps, "you added σ(t) ε"),
    (lambda x_0, x_1, t, eps, s: x_0 - x_1 - s.derivative(t)[:, None] * eps, "x_1 − x_0 is flipped"),
    (lambda x_0, x_1, t, eps, s: x_1 - x_0 - s.derivative(t)[:, None] * eps,
     "the σ'(t) ε term has the wrong sign"),
    (lambda x_0, x_1, t, eps, s: 2 * (x_1 - x_0 + s.derivative(t)[:, None] * eps),
     "u_t is 2 times the expected value at t = 0.30"),
])
def test_target_velocity_mistakes(answer, message, capsys):
    ok, out = _verdict("01.target_velocity", answer, capsys)
    assert ok is False and message in out, out


@pytest.mark.parametrize("answer, message", [
    (lambda x, x_1, t: (x - x_1) / (1 - t)[:, None], "u_t has the wrong sign at t = 0.00"),
    (lambda x, x_1, t: x_1 - x, "at t = 0.30: you returned x_1 − x, the distance still to go"),
    (lambda x, x_1, t: (x_1 - x) / t[:, None].clamp(min=1e-3), "not by t"),
])
def test_conditional_velocity_mistakes(answer, message, capsys):
    ok, out = _verdict("02.conditional_velocity", answer, capsys)
    assert ok is False and message in out, out


def _d2(x, t, data, scale_data=True):
    centre = t[:, None, None] * data[None] if scale_data else data[None]
    return ((x[:, None, :] - centre) ** 2).sum(-1)


@pytest.mark.parametrize("answer, message", [
    (lambda x, t, d: torch.exp(-_d2(x, t, d) / (2 * (1 - t[:, None]) ** 2)), "each row of weights must sum to 1"),
    (lambda x, t, d: torch.softmax(-_d2(x, t, d, False) / (2 * (1 - t[:, None]) ** 2), dim=1),
     "at t = 0.00: compare x with t y_i, not with y_i"),
    (lambda x, t, d: torch.softmax(-_d2(x, t, d) / (2 * (1 - t[:, None])), dim=1), "not 1 − t"),
    (lambda x, t, d: torch.softmax(_d2(x, t, d) / (2 * (1 - t[:, None]) ** 2), dim=1),
     "the sign of the exponent is flipped"),
    (lambda x, t, d: torch.softmax(-_d2(x, t, d) / (2 * (1 - t[:, None]) ** 2), dim=0), "must sum to 1"),
    (lambda x, t, d: torch.softmax(-_d2(x, t, d) / (1 - t[:, None]) ** 2, dim=1),
     "the weight matrix differs from the expected value by up to"),
    (lambda x, t, d: torch.softmax(-((x[:, None, :] - t[:, None] * d[None]) ** 2).sum(-1), dim=1),
     "t[:, None], of shape (B, 1), meets a (B, N, D) tensor of all (point, data point) pairs; there use "
     "t[:, None, None], of shape (B, 1, 1)"),
    (lambda x, t, d: torch.softmax(-_d2(x, t, d) / (2 * (1 - t) ** 2), dim=1), "use t[:, None], of shape (B, 1)"),
])
def test_posterior_weights_mistakes(answer, message, capsys):
    ok, out = _verdict("02.posterior_weights", answer, capsys)
    assert ok is False and message in out, out


def test_marginal_velocity_mistakes(capsys):
    w = solution("02.posterior_weights")
    unweighted = lambda x, t, d: (d[None] - x[:, None]).mean(dim=1) / (1 - t[:, None])  # noqa: E731
    ok, out = _verdict("02.marginal_velocity", unweighted, capsys)
    assert ok is False and "at t = 0.00" not in out and "averaged over all data points equally" in out, out
    distances = lambda x, t, d: (w(x, t, d)[:, :, None] * (d[None] - x[:, None])).sum(dim=1)  # noqa: E731
    ok, out = _verdict("02.marginal_velocity", distances, capsys)
    assert ok is False and "at t = 0.40: you averaged the distances y_i − x" in out, out
    def no_last_axis(x, t, d):  # weights (B, N) times velocities (B, N, D), without w[:, :, None]
        return (w(x, t, d) * (d[None] - x[:, None]) / (1 - t)[:, None, None]).sum(dim=1)

    ok, out = _verdict("02.marginal_velocity", no_last_axis, capsys)
    assert ok is False and "give it a last axis of size 1, w[:, :, None]" in out, out


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


# ----------------------------------------------------------------------------- independent oracles, notebook 02
def test_conditional_velocity_is_the_velocity_along_the_path():
    g = torch.Generator().manual_seed(10)
    x_0, x_1 = (torch.randn(32, 2, generator=g, dtype=torch.float64) for _ in range(2))
    t = 0.05 + 0.9 * torch.rand(32, generator=g, dtype=torch.float64)
    h = 1e-6
    path = LinearPath()
    x_t = path.interpolate(x_0, x_1, t)
    fd = (path.interpolate(x_0, x_1, t + h) - path.interpolate(x_0, x_1, t - h)) / (2 * h)
    u = solution("02.conditional_velocity")(x_t, x_1, t)
    torch.testing.assert_close(u, fd, atol=1e-6, rtol=0)
    torch.testing.assert_close(u, x_1 - x_0)


def test_following_the_conditional_velocity_reaches_the_data_point():
    x_0, x_1 = torch.randn(16, 2, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)
    field = solution("02.conditional_velocity")
    end = integrate(lambda x, t: field(x, x_1, t), x_0, steps=20, method="euler").x  # evaluated at t < 1 only
    torch.testing.assert_close(end, x_1)


def test_posterior_weights_are_bayes_rule_with_scipy():
    g = torch.Generator().manual_seed(11)
    data = 1.5 * torch.randn(5, 2, generator=g, dtype=torch.float64)
    x = torch.randn(8, 2, generator=g, dtype=torch.float64)
    for t_value in (0.0, 0.3, 0.7):
        w = solution("02.posterior_weights")(x, torch.full((8,), t_value, dtype=torch.float64), data)
        like = torch.tensor([[multivariate_normal.pdf(xi.numpy(), mean=(t_value * y).numpy(),
                                                      cov=(1 - t_value) ** 2 * np.eye(2))
                              for y in data] for xi in x], dtype=torch.float64)
        torch.testing.assert_close(w, like / like.sum(1, keepdim=True), atol=1e-10, rtol=1e-8)


def test_posterior_weights_monte_carlo():
    """The fraction of paths through a small ball around x that head to y_i is w_i(x)."""
    g = torch.Generator().manual_seed(12)
    data = torch.tensor([[-1.5, 1.0], [1.5, 1.2], [0.0, -1.5]])
    n = 2_000_000
    which = torch.randint(0, 3, (n,), generator=g)
    x_t = LinearPath().interpolate(torch.randn(n, 2, generator=g), data[which], 0.5)
    x = torch.tensor([[0.2, 0.2]])
    near = (x_t - x).norm(dim=1) < 0.05
    fractions = torch.bincount(which[near], minlength=3).double() / near.sum()
    w = solution("02.posterior_weights")(x, torch.tensor([0.5]), data)[0].double()
    torch.testing.assert_close(fractions, w, atol=0.03, rtol=0)


def test_marginal_velocity_solves_the_continuity_equation():
    """d/dt log p_t + div u_t + u_t . grad log p_t = 0, by finite differences of fmlite.exact.log_density."""
    g = torch.Generator().manual_seed(13)
    data = 1.2 * torch.randn(6, 2, generator=g, dtype=torch.float64)
    x = torch.randn(10, 2, generator=g, dtype=torch.float64)
    path, h = LinearPath(), 1e-5  # the finite-difference error is O(h^2 / (1 - t)^4)
    u = solution("02.marginal_velocity")
    for t_value in (0.2, 0.5, 0.8):
        t = torch.full((10,), t_value, dtype=torch.float64)
        logp = lambda y, s: log_density(y, s, data, path)  # noqa: E731
        dt_logp = (logp(x, t + h) - logp(x, t - h)) / (2 * h)
        unit = torch.eye(2, dtype=x.dtype)
        grad_logp = torch.stack([(logp(x + h * e, t) - logp(x - h * e, t)) / (2 * h) for e in unit], 1)
        div_u = sum((u(x + h * e, t, data)[:, k] - u(x - h * e, t, data)[:, k]) / (2 * h) for k, e in enumerate(unit))
        residual = dt_logp + div_u + (u(x, t, data) * grad_logp).sum(1)
        assert residual.abs().max() < 1e-5, residual


def test_marginal_velocity_monte_carlo_and_the_package():
    g = torch.Generator().manual_seed(14)
    data = torch.tensor([[-1.5, 1.0], [1.5, 1.2], [0.0, -1.5]])
    n = 4_000_000
    x_0, x_1 = torch.randn(n, 2, generator=g), data[torch.randint(0, 3, (n,), generator=g)]
    x = torch.tensor([[0.2, 0.2]])
    near = (LinearPath().interpolate(x_0, x_1, 0.5) - x).norm(dim=1) < 0.05
    mc = (x_1 - x_0)[near].mean(0)
    u = solution("02.marginal_velocity")(x, torch.tensor([0.5]), data)[0]
    torch.testing.assert_close(mc, u, atol=0.15, rtol=0)  # about 3 standard errors
    xs = torch.randn(50, 2, generator=g)
    ts = 0.95 * torch.rand(50, generator=g)
    torch.testing.assert_close(solution("02.marginal_velocity")(xs, ts, data),
                               marginal_velocity(xs, ts, data, LinearPath()), atol=1e-5, rtol=1e-5)


def test_the_exact_field_memorises_the_training_points():
    """The notebook's claim: 100 Euler steps of the exact field land every sample on a training point."""
    data = sample_2d("moons", 30, seed=0)
    start = torch.randn(200, 2, generator=torch.Generator().manual_seed(2))
    end = integrate(lambda x, t: marginal_velocity(x, t, data, LinearPath()), start, steps=100).x
    nearest = torch.cdist(end, data).min(dim=1).values
    assert nearest.max() < 1e-3

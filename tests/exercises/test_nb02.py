"""Exercises of notebook 02: wrong answers of every kind are rejected with a message naming the mistake; the
solutions agree with independent oracles (finite differences, Monte Carlo, Bayes' rule with scipy, the
continuity equation, fmlite.exact); plus the numerical claims the notebook makes."""
import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from fmlite.datasets import sample_2d
from fmlite.exact import log_density, marginal_velocity
from fmlite.exercises import solution
from fmlite.paths import LinearPath
from fmlite.solvers import integrate

ONE_TIME = "you used one time for the whole batch"


@pytest.mark.parametrize("answer, message", [
    (lambda x, x_1, t: (x - x_1) / (1 - t)[:, None], "u_t has the wrong sign"),                         # sign
    (lambda x, x_1, t: x_1 - x, "you returned x_1 − x, the distance still to go"),
    (lambda x, x_1, t: (x_1 - x) / t[:, None].clamp(min=1e-3), "not by t"),                             # flipped time
    (lambda x, x_1, t: (x_1 - x) / (1 - t[:, None]).clamp(min=0.05), "you clamped the time left"),      # kind 5
    (lambda x, x_1, t: (x_1 - x) / (1 - t.mean()), ONE_TIME),                                           # kind 1
    (lambda x, x_1, t: (x_1 - x) / (1 - t), "use t[:, None], of shape (B, 1)"),                         # kind 4
    (lambda x, x_1, t: (x_1 - x) / (1 - t[:, None]) ** 2, "not by (1 − t)²"),                           # variance
    (lambda x, x_1, t: x_1, "you returned the data point x_1"),                                         # x_1 for u_t
    (lambda x, x_1, t: (x_1 - x) * (1 - t[:, None]), "not multiply"),
    (lambda x, x_1, t: (x_1 - x) / (1 - t[:, None] + 1e-2), "u_t differs from the expected value"),     # kind 5
])
def test_conditional_velocity_rejects(answer, message, rejected):
    rejected("02.conditional_velocity", answer, message)


def _d2(x, t, data, scale_data=True):
    centre = t[:, None, None] * data[None] if scale_data else data[None]
    return ((x[:, None, :] - centre) ** 2).sum(-1)


@pytest.mark.parametrize("answer, message", [
    (lambda x, t, d: torch.exp(-_d2(x, t, d) / (2 * (1 - t[:, None]) ** 2)), "each row of weights must sum to 1"),
    (lambda x, t, d: torch.softmax(-_d2(x, t, d, False) / (2 * (1 - t[:, None]) ** 2), dim=1),
     "compare x with t x^(i), not with x^(i)"),
    (lambda x, t, d: torch.softmax(-_d2(x, t, d) / (2 * (1 - t[:, None])), dim=1),
     "whose variance is (1 − t)², not 1 − t"),                                                          # std/variance
    (lambda x, t, d: torch.softmax(_d2(x, t, d) / (2 * (1 - t[:, None]) ** 2), dim=1),
     "the sign of the exponent is flipped"),                                                            # sign
    (lambda x, t, d: torch.softmax(-_d2(x, t, d) / (2 * (1 - t[:, None]) ** 2), dim=0), "must sum to 1"),  # kind 4
    (lambda x, t, d: torch.softmax(-_d2(x, t, d) / (1 - t[:, None]) ** 2, dim=1), "you left out the 2"),
    (lambda x, t, d: torch.softmax(-((x[:, None, :] - t[:, None] * d[None]) ** 2).sum(-1), dim=1),
     "there use t[:, None, None], of shape (B, 1, 1)"),
    (lambda x, t, d: torch.softmax(-_d2(x, t, d) / (2 * (1 - t) ** 2), dim=1), "use t[:, None], of shape (B, 1)"),
    (lambda x, t, d: torch.softmax(-_d2(x, t.mean().expand_as(t), d) / (2 * (1 - t.mean()) ** 2), dim=1),
     ONE_TIME),                                                                                          # kind 1
    (lambda x, t, d: torch.softmax(-_d2(x, 1 - t, d) / (2 * t[:, None].clamp(min=1e-3) ** 2), dim=1),
     "time runs the wrong way"),                                                                         # flipped
    (lambda x, t, d: torch.softmax(-_d2(x, t, d) / (2 * (1 - t[:, None]).clamp(min=0.05) ** 2), dim=1),
     "is right except near the ends of the time range"),                                              # kind 5
])
def test_posterior_weights_rejects(answer, message, rejected):
    rejected("02.posterior_weights", answer, message)


def _w(x, t, d):
    return solution("02.posterior_weights")(x, t, d)


@pytest.mark.parametrize("answer, message", [
    (lambda x, t, d: (d[None] - x[:, None]).mean(dim=1) / (1 - t[:, None]), "averaged over all data points equally"),
    (lambda x, t, d: (_w(x, t, d)[:, :, None] * (d[None] - x[:, None])).sum(dim=1), "you averaged the distances"),
    (lambda x, t, d: (_w(x, t, d) * (d[None] - x[:, None]) / (1 - t)[:, None, None]).sum(dim=1),
     "give it a last axis of size 1, w[:, :, None]"),                                                    # kind 4
    (lambda x, t, d: (_w(x, t, d)[:, :, None] * (x[:, None] - d[None])).sum(dim=1) / (1 - t[:, None]),
     "not x − x^(i)"),                                                                                     # sign
    (lambda x, t, d: _w(x, t, d) @ d, "this is E[x_1 | x_t = x], the denoised point"),                  # x_1 for u_t
    (lambda x, t, d: solution("02.average_velocity")(x, t.mean().expand_as(t), d), ONE_TIME),          # kind 1
    (lambda x, t, d: (_w(x, t, d)[:, :, None] * (d[None] - x[:, None])).sum(dim=1) / t[:, None].clamp(min=1e-3),
     "not by t"),                                                                                        # flipped time
    (lambda x, t, d: (_w(x, t, d)[:, :, None] * (d[None] - x[:, None])).sum(dim=1)
     / (1 - t[:, None]).clamp(min=0.05), "is right except near the ends of the time range"),                     # kind 5
    (lambda x, t, d: (torch.softmax(-_d2(x, t, d) / (2 * (1 - t[:, None])), dim=1)[:, :, None]
                      * (d[None] - x[:, None])).sum(1) / (1 - t[:, None]), "not 1 − t"),                 # std/variance
    (lambda x, t, d: (d[_w(x, t, d).argmax(1)] - x) / (1 - t[:, None]), "the most likely data point only"),
])
def test_average_velocity_rejects(answer, message, rejected):
    rejected("02.average_velocity", answer, message)


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


def test_posterior_weights_solution_agrees_with_the_package_on_random_inputs():
    """The worked solution restates `fmlite.exact.posterior_weights` for the straight path without sigma."""
    from fmlite.exact import posterior_weights
    g = torch.Generator().manual_seed(15)
    for B, D, N in ((9, 2, 5), (6, 3, 7), (1, 1, 1)):
        data = 1.5 * torch.randn(N, D, generator=g, dtype=torch.float64)
        x = 2 * torch.randn(B, D, generator=g, dtype=torch.float64)
        t = 0.99 * torch.rand(B, generator=g, dtype=torch.float64)
        torch.testing.assert_close(solution("02.posterior_weights")(x, t, data),
                                   posterior_weights(x, t, data, LinearPath()), atol=1e-10, rtol=1e-8)


def test_posterior_weights_monte_carlo():
    """The fraction of paths through a small ball around x that head to x^(i) is w_i(x)."""
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
    u = solution("02.average_velocity")
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
    u = solution("02.average_velocity")(x, torch.tensor([0.5]), data)[0]
    torch.testing.assert_close(mc, u, atol=0.15, rtol=0)  # about 3 standard errors
    xs = torch.randn(50, 2, generator=g)
    ts = 0.95 * torch.rand(50, generator=g)
    torch.testing.assert_close(solution("02.average_velocity")(xs, ts, data),
                               marginal_velocity(xs, ts, data, LinearPath()), atol=1e-5, rtol=1e-5)


def test_the_exact_field_memorises_the_training_points():
    """The notebook's claim: 100 Euler steps of the exact field land every sample on a training point."""
    data = sample_2d("moons", 30, seed=0)
    start = torch.randn(200, 2, generator=torch.Generator().manual_seed(2))
    end = integrate(lambda x, t: marginal_velocity(x, t, data, LinearPath()), start, steps=100).x
    nearest = torch.cdist(end, data).min(dim=1).values
    assert nearest.max() < 1e-3


# ----------------------------------------------------------------------------- issue 20: sizes, dtype, the ends
FIXED_SIZE = "your code works for one batch size only"
DTYPE = "returned float32 for float64 inputs: keep the inputs' dtype"
NEAR_ENDS = "is right except near the ends of the time range"


@pytest.mark.parametrize("key, answer, message", [
    ("02.conditional_velocity", lambda x, x_1, t: (x_1 - x) / (1 - t).reshape(7, 1), FIXED_SIZE),
    ("02.conditional_velocity", lambda x, x_1, t: ((x_1 - x) / (1 - t[:, None])).float(), DTYPE),
    ("02.conditional_velocity", lambda x, x_1, t: (x_1 - x) / (1 - t[:, None].clamp(max=0.99)), NEAR_ENDS),
    ("02.posterior_weights", lambda x, t, d: torch.softmax(-_d2(x, t, d) / (2 * (1 - t.view(7, 1)) ** 2), dim=1),
     FIXED_SIZE),
    ("02.posterior_weights", lambda x, t, d: _w(x, t, d).float(), DTYPE),
    ("02.posterior_weights", lambda x, t, d: torch.softmax(-_d2(x, t, d) / (2 * (1 - t[:, None]).clamp(min=0.002) ** 2),
                                                           dim=1), NEAR_ENDS),
    ("02.average_velocity", lambda x, t, d: (_w(x, t, d)[:, :, None] * (d[None] - x[:, None])).sum(dim=1)
     / (1 - t.reshape(7, 1)), FIXED_SIZE),
    ("02.average_velocity", lambda x, t, d: solution("02.average_velocity")(x, t, d).float(), DTYPE),
    ("02.average_velocity", lambda x, t, d: (_w(x, t, d)[:, :, None] * (d[None] - x[:, None])).sum(dim=1)
     / (1 - t[:, None]).clamp(min=0.005), NEAR_ENDS),
])
def test_written_in_sizes_float32_and_clamped_times_are_rejected(key, answer, message, rejected):
    rejected(key, answer, message)

"""The exact marginal field against independent oracles: importance-sampled Monte Carlo,
scipy's Gaussian densities, finite differences, and integration onto the data."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from fmlite.exact import log_density, marginal_velocity, posterior_weights
from fmlite.paths import BridgeSigma, ConstantSigma, CosinePath, LinearPath, Sigma, SineSigma
from fmlite.solvers import integrate

DATA = torch.tensor([[1.5, 0.5], [-1.0, 1.0], [0.0, -1.5], [1.0, -1.0]], dtype=torch.float64)


def monte_carlo_velocity(x, t, data, path, m=200_000):
    """E[u_t | x_t = x] by self-normalised importance sampling.

    Draw eps ~ N(0, I) and a data point y_i; x_0 is then fixed by x_t = x:
    x_0 = (x - alpha y_i - sigma eps) / beta, with weight N(x_0; 0, I) (the Jacobian 1/beta^d
    is the same for every sample). The conditional velocity comes from path.sample.
    """
    eps = torch.randn(m, 2, dtype=torch.float64)
    idx = torch.arange(m) % len(data)
    y = data[idx]
    tt = torch.full((m,), t, dtype=torch.float64)
    c = path.coefficients(tt)
    x_0 = (x - c["alpha_t"][:, None] * y - c["sigma_t"][:, None] * eps) / c["beta_t"][:, None]
    logw = -0.5 * (x_0 ** 2).sum(1)
    w = torch.softmax(logw, 0)
    u = path.sample(x_0, y, tt, eps).u_t
    return (w[:, None] * u).sum(0)


@pytest.mark.parametrize("path", [LinearPath(), CosinePath(), LinearPath(ConstantSigma(0.4)),
                                  LinearPath(BridgeSigma(0.8)), CosinePath(SineSigma(0.5))], ids=repr)
@pytest.mark.parametrize("t", [0.25, 0.6])
def test_marginal_velocity_matches_monte_carlo(path, t):
    x = torch.tensor([[0.4, -0.2]], dtype=torch.float64)
    exact = marginal_velocity(x, t, DATA, path)[0]
    mc = monte_carlo_velocity(x[0], t, DATA, path)
    assert torch.allclose(exact, mc, atol=0.03), (exact, mc)


def test_log_density_matches_scipy_mixture():
    path = LinearPath(ConstantSigma(0.3))
    x = torch.randn(10, 2, dtype=torch.float64)
    t = 0.7
    s2 = (1 - t) ** 2 + 0.3 ** 2
    ref = np.log(np.mean([multivariate_normal(t * y.numpy(), s2 * np.eye(2)).pdf(x.numpy()) for y in DATA], axis=0))
    assert np.allclose(log_density(x, t, DATA, path).numpy(), ref, atol=1e-10)


def test_posterior_weights_match_bayes_rule_with_scipy():
    path = CosinePath()
    x = torch.randn(6, 2, dtype=torch.float64)
    t = 0.5
    a, b = math.sin(math.pi * t / 2), math.cos(math.pi * t / 2)
    lik = np.stack([multivariate_normal(a * y.numpy(), b**2 * np.eye(2)).pdf(x.numpy()) for y in DATA], axis=1)
    assert np.allclose(posterior_weights(x, t, DATA, path).numpy(), lik / lik.sum(1, keepdims=True), atol=1e-10)


def test_continuity_equation_holds():
    """d/dt p_t + div(p_t u_t) = 0, checked with finite differences of the closed forms."""
    path = LinearPath(SineSigma(0.3))
    x = torch.randn(5, 2, dtype=torch.float64) * 0.8
    t, h = 0.4, 1e-5

    def p(x, t):
        return log_density(x, t, DATA, path).exp()

    dp_dt = (p(x, t + h) - p(x, t - h)) / (2 * h)
    div = torch.zeros(5, dtype=torch.float64)
    for k in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[k] = h
        flux = lambda z: p(z, t) * marginal_velocity(z, t, DATA, path)[:, k]  # noqa: E731
        div += (flux(x + e) - flux(x - e)) / (2 * h)
    assert torch.allclose(dp_dt, -div, atol=1e-6)


@pytest.mark.parametrize("path", [LinearPath(), CosinePath(), LinearPath(SineSigma(0.5))], ids=repr)
def test_finite_everywhere_including_t_0_and_1(path):
    x = torch.randn(200, 2) * 3
    for t in [0.0, 1e-7, 0.5, 1 - 1e-7, 1.0]:
        assert torch.isfinite(marginal_velocity(x, t, DATA.float(), path)).all(), t


def test_integrating_the_exact_field_lands_on_the_data():
    """Memorisation: every noise sample flows onto one of the training points."""
    path = LinearPath()
    x_0 = torch.randn(300, 2, dtype=torch.float64)
    x_1 = integrate(lambda x, t: marginal_velocity(x, t, DATA, path), x_0, steps=200, method="euler").x
    nearest = torch.cdist(x_1, DATA).min(dim=1).values
    assert nearest.max() < 0.02
    # and it uses every point (about 1/4 of the mass each)
    counts = torch.bincount(torch.cdist(x_1, DATA).argmin(1), minlength=4)
    assert counts.min() > 40


def test_t_zero_field_is_alpha_dot_times_data_mean_plus_contraction():
    """At t = 0 the posterior is uniform: u_0(x) = alpha'_0 mean(data) + beta_0 beta'_0 / s_0^2 x."""
    path = LinearPath()
    x = torch.randn(7, 2, dtype=torch.float64)
    assert torch.allclose(marginal_velocity(x, 0.0, DATA, path), DATA.mean(0) - x)


def test_density_at_t1_without_noise_is_refused():
    with pytest.raises(ValueError, match="no density"):
        log_density(torch.randn(3, 2), 1.0, DATA.float(), LinearPath())


def test_shape_mismatch():
    with pytest.raises(ValueError, match="match data"):
        marginal_velocity(torch.randn(3, 3), 0.5, DATA, LinearPath())


def test_large_batches_are_chunked_with_identical_results(monkeypatch):
    import fmlite.exact as exact
    x, t = torch.randn(50, 2, dtype=torch.float64), torch.rand(50, dtype=torch.float64) * 0.9
    path = LinearPath(SineSigma(0.3))
    whole = [f(x, t, DATA, path) for f in (marginal_velocity, log_density, posterior_weights)]
    monkeypatch.setattr(exact, "CHUNK_ELEMENTS", 7 * len(DATA) * 2)  # 7 rows per chunk
    for f, ref in zip((marginal_velocity, log_density, posterior_weights), whole):
        assert torch.equal(f(x, t, DATA, path), ref)


# ----------------------------------------------------------------------------- issue 9: bridge at t = 0, bad data
def test_bridge_field_at_t0_is_the_closed_form_and_continuous():
    """sigma sigma' = s^2 (1 - 2t) / 2, so u_0(x) = mean(data) + (-1 + s^2 / 2) x (uniform posterior at t = 0)."""
    s = 0.8
    x = torch.randn(7, 2, dtype=torch.float64)
    for path in (LinearPath(BridgeSigma(s)), LinearPath(Sigma(lambda t: s * torch.sqrt(t * (1 - t))))):
        u_0 = marginal_velocity(x, 0.0, DATA, path)
        assert torch.allclose(u_0, DATA.mean(0) + (-1 + s**2 / 2) * x, atol=1e-6), path
        assert torch.allclose(u_0, marginal_velocity(x, 1e-9, DATA, path), atol=1e-6)
        assert torch.isfinite(log_density(x, 0.0, DATA, path)).all()
        assert torch.allclose(posterior_weights(x, 0.0, DATA, path), torch.full((7, 4), 0.25, dtype=torch.float64))


def test_bridge_field_at_t1_uses_the_nearest_point_convention():
    path = LinearPath(BridgeSigma(0.8))
    x = DATA + 0.1
    assert torch.allclose(marginal_velocity(x, 1.0, DATA, path), DATA)  # alpha'_1 y(x), y(x) nearest


def test_integrating_the_bridge_field_from_t0_lands_on_the_data():
    """Every solver evaluates t = 0; the bridge's x_t approaches x_1 like sqrt(1 - t), so Euler error ~ sqrt(h)."""
    path = LinearPath(BridgeSigma(0.8))
    x_0 = torch.randn(300, 2, dtype=torch.float64)
    assert torch.cdist(x_0, DATA).min(dim=1).values.mean() > 0.5
    x_1 = integrate(lambda x, t: marginal_velocity(x, t, DATA, path), x_0, steps=400, method="euler").x
    assert torch.cdist(x_1, DATA).min(dim=1).values.max() < 0.12
    assert torch.bincount(torch.cdist(x_1, DATA).argmin(1), minlength=4).min() > 40


@pytest.mark.parametrize("fn", [marginal_velocity, log_density, posterior_weights])
def test_nan_or_inf_in_data_or_x_is_refused(fn):
    bad = DATA.clone()
    bad[1, 0] = float("nan")
    with pytest.raises(ValueError, match="data holds 1 NaN or infinite"):
        fn(torch.randn(3, 2, dtype=torch.float64), 0.5, bad, LinearPath())
    with pytest.raises(ValueError, match="x holds 1 NaN or infinite"):
        fn(torch.tensor([[0.0, float("inf")]]), 0.5, DATA, LinearPath())


@pytest.mark.parametrize("fn", [marginal_velocity, log_density, posterior_weights])
def test_empty_data_is_refused_and_an_empty_batch_gives_an_empty_result(fn):
    with pytest.raises(ValueError, match="N >= 1"):
        fn(torch.randn(3, 2), 0.5, torch.zeros(0, 2), LinearPath())
    out = fn(torch.zeros(0, 2, dtype=torch.float64), 0.5, DATA, LinearPath(SineSigma(0.3)))
    assert out.shape[0] == 0


def test_integer_points_are_converted_never_rounded():
    x = torch.tensor([[1, 2]])
    u = marginal_velocity(x, 0.5, DATA, LinearPath())
    assert u.is_floating_point()
    assert torch.allclose(u.double(), marginal_velocity(x.double(), 0.5, DATA, LinearPath()), atol=1e-6)
    assert torch.allclose(log_density(x, 0.5, DATA.long(), LinearPath()).double(),
                          log_density(x.double(), 0.5, DATA.long().double(), LinearPath()), atol=1e-5)


def test_sigma_outside_the_supported_range_is_refused_clearly():
    with pytest.raises(ValueError, match="<= 1e"):
        ConstantSigma(1e40)
    huge = LinearPath(Sigma(lambda t: 1e200 + 0 * t))
    with pytest.raises(ValueError, match="above the supported"):
        log_density(torch.randn(3, 2), 0.5, DATA, huge)
    # at the largest supported sigma the density is still finite (no overflow of s_t^2)
    assert torch.isfinite(log_density(torch.randn(3, 2) * 1e6, 0.5, DATA, LinearPath(ConstantSigma(1e6)))).all()

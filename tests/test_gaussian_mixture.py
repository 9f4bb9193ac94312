"""Gaussian-mixture ground truth against Monte Carlo, autograd, fmlite.exact and the continuity equation."""
import math

import pytest
import torch

from fmlite import exact
from fmlite.gaussian_mixture import GaussianMixture, example_mixture
from fmlite.paths import BridgeSigma, CosinePath, LinearPath, SineSigma


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py



PATHS = [LinearPath(), CosinePath(), LinearPath(0.3), LinearPath(SineSigma(0.5)), CosinePath(BridgeSigma(0.4))]
GMM = example_mixture()


def _points(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (2 * torch.randn(n, 2, generator=g, dtype=torch.float64)), torch.rand(n, generator=g, dtype=torch.float64)


def test_validation_errors():
    eye = torch.eye(2).expand(2, 2, 2)
    mu = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture([0.5, 0.6], mu, eye)
    with pytest.raises(ValueError, match=">= 0"):
        GaussianMixture([1.5, -0.5], mu, eye)
    with pytest.raises(ValueError, match=r"shape \(K, D, D\)"):
        GaussianMixture([0.5, 0.5], mu, torch.eye(3).expand(2, 3, 3))
    with pytest.raises(ValueError, match=r"weights must have shape"):
        GaussianMixture([1.0], mu, eye)
    with pytest.raises(ValueError, match="covariance 1 is not positive definite"):
        GaussianMixture([0.5, 0.5], mu, torch.stack([torch.eye(2), torch.diag(torch.tensor([1.0, -0.1]))]))
    with pytest.raises(ValueError, match="symmetric"):
        GaussianMixture([1.0], mu[:1], torch.tensor([[[1.0, 0.5], [0.0, 1.0]]]))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\)"):
        GMM.score(torch.zeros(3, 3), 0.5, LinearPath())



def test_bridge_velocity_is_finite_at_both_ends_and_continuous():
    """sigma sigma' of the bridge is finite at t = 0 and 1 (sigma' is not): the field is too, and continuous."""
    path, x = LinearPath(BridgeSigma(1.0)), torch.randn(5, 2, generator=torch.Generator().manual_seed(3))
    for end, near in ((0.0, 1e-7), (1.0, 1 - 1e-7)):
        at_end, close = GMM.velocity(x, end, path), GMM.velocity(x, near, path)
        assert torch.isfinite(at_end).all()
        assert torch.allclose(at_end, close, atol=1e-4)


def test_sampler_moments():
    x = GMM.sample(200_000, torch.Generator().manual_seed(0), dtype=torch.float64)
    mean = GMM.weights @ GMM.means
    second = (GMM.weights[:, None, None] * (GMM.covariances + GMM.means[:, :, None] * GMM.means[:, None, :])).sum(0)
    assert torch.allclose(x.mean(0), mean, atol=0.02)
    assert torch.allclose(x.T @ x / len(x), second, atol=0.04)


@pytest.mark.parametrize("path", [LinearPath(0.3), CosinePath(SineSigma(0.5))], ids=str)
def test_log_density_x1_hat_velocity_match_monte_carlo(path):
    """p_t, E[x_1 | x_t] and u_t against fmlite.exact's formulas applied to 200,000 mixture samples."""
    samples = GMM.sample(200_000, torch.Generator().manual_seed(1), dtype=torch.float64)
    x1 = GMM.sample(10, torch.Generator().manual_seed(2), dtype=torch.float64)
    x = 0.6 * x1 + 0.5 * torch.randn(10, 2, dtype=torch.float64)
    for t in (0.3, 0.7):
        assert torch.allclose(GMM.log_density(x, t, path), exact.log_density(x, t, samples, path), atol=0.01)
        mc_x1 = exact.posterior_weights(x, t, samples, path) @ samples
        assert torch.allclose(GMM.x1_hat(x, t, path), mc_x1, atol=0.015)
        assert torch.allclose(GMM.velocity(x, t, path), exact.marginal_velocity(x, t, samples, path), atol=0.02)


@pytest.mark.parametrize("path", PATHS, ids=str)
def test_tiny_covariances_match_finite_data_set(path):
    means = torch.tensor([[1.0, 0.0], [-1.0, 0.5], [0.0, -1.5], [2.0, 2.0]], dtype=torch.float64)
    tiny = GaussianMixture(torch.full((4,), 0.25), means, 1e-9 * torch.eye(2).expand(4, 2, 2))
    x, t = _points()
    t = 0.05 + 0.9 * t
    assert torch.allclose(tiny.velocity(x, t, path), exact.marginal_velocity(x, t, means, path), atol=1e-6)
    assert torch.allclose(tiny.log_density(x, t, path), exact.log_density(x, t, means, path), atol=1e-6)


@pytest.mark.parametrize("path", PATHS, ids=str)
def test_score_is_gradient_of_log_density(path):
    x, t = _points()
    t[0], t[1] = 0.0, 1.0
    if isinstance(path.sigma, BridgeSigma):
        t = t.clamp(0.01, 0.99)
    xr = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(GMM.log_density(xr, t, path).sum(), xr)
    assert torch.allclose(GMM.score(x, t, path), grad, atol=1e-10)
    beta = path.coefficients(t, derivatives=False)["beta_t"]
    assert torch.allclose(GMM.x0_hat(x, t, path), -beta[:, None] * grad, atol=1e-10)


@pytest.mark.parametrize("path", [LinearPath(), CosinePath(), LinearPath(SineSigma(0.5)), LinearPath(0.3)], ids=str)
def test_continuity_equation(path):
    """d/dt log p_t + score . u_t + div u_t = 0, everything by central finite differences."""
    x, t = _points(8)
    t = 0.1 + 0.8 * t
    h = 1e-5
    dlogp = (GMM.log_density(x, t + h, path) - GMM.log_density(x, t - h, path)) / (2 * h)
    div = sum((GMM.velocity(x + h * e, t, path) - GMM.velocity(x - h * e, t, path))[:, i] / (2 * h)
              for i, e in enumerate(torch.eye(2, dtype=torch.float64)))
    residual = dlogp + (GMM.score(x, t, path) * GMM.velocity(x, t, path)).sum(1) + div
    assert residual.abs().max() < 1e-5


def test_end_points():
    """t = 1, sigma = 0: p_1 is the mixture, x1_hat = x, u_1(x) = x for the straight path; t = 0: p_0 = N(0, I)."""
    x, _ = _points()
    path = LinearPath()
    assert torch.allclose(GMM.log_density(x, 1.0, path), GMM.log_prob(x))
    assert torch.allclose(GMM.x1_hat(x, 1.0, path), x, atol=1e-12)
    assert torch.allclose(GMM.velocity(x, 1.0, path), x, atol=1e-12)
    normal = -0.5 * (x ** 2).sum(1) - math.log(2 * math.pi)
    assert torch.allclose(GMM.log_density(x, 0.0, CosinePath()), normal)
    assert torch.allclose(GMM.x0_hat(x, 0.0, path), x, atol=1e-12)


def test_log_prob_matches_scipy():
    from scipy.stats import multivariate_normal
    x, _ = _points()
    dens = sum(float(w) * multivariate_normal(m.numpy(), c.numpy()).pdf(x.numpy())
               for w, m, c in zip(GMM.weights, GMM.means, GMM.covariances))
    assert torch.allclose(GMM.log_prob(x), torch.log(torch.as_tensor(dens)), atol=1e-10)


def test_higher_dimensional_example():
    gmm = example_mixture(dim=5, components=4)
    x = gmm.sample(6, dtype=torch.float64)
    xr = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(gmm.log_density(xr, 0.4, CosinePath()).sum(), xr)
    assert torch.allclose(gmm.score(x, 0.4, CosinePath()), grad, atol=1e-10)

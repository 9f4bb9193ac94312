"""Conversions velocity <-> score <-> x0_hat <-> x1_hat and the SDE sampler, against closed forms."""
import itertools

import pytest
import torch

from fmlite import exact
from fmlite.gaussian_mixture import example_mixture
from fmlite.metrics import energy_distance
from fmlite.paths import BridgeSigma, CosinePath, LinearPath, SineSigma
from fmlite.scores import (QUANTITIES, convert, path_coefficients, score_from_velocity, score_to_velocity,
                           velocity_to_score, velocity_to_x1_hat, x0_hat_to_score)
from fmlite.solvers import integrate, sample_sde


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


GMM = example_mixture()
PATHS = [LinearPath(), CosinePath(), LinearPath(0.3), LinearPath(SineSigma(0.5)), CosinePath(BridgeSigma(0.4))]


def _closed_forms(x, t, path):
    return {"velocity": GMM.velocity(x, t, path), "score": GMM.score(x, t, path),
            "x0_hat": GMM.x0_hat(x, t, path), "x1_hat": GMM.x1_hat(x, t, path)}


@pytest.mark.parametrize("path", PATHS, ids=str)
def test_every_conversion_matches_the_mixture_closed_forms(path):
    x = 2 * torch.randn(10, 2, dtype=torch.float64)
    t = torch.linspace(0.05, 0.95, 10, dtype=torch.float64)
    truth = _closed_forms(x, t, path)
    for source, target in itertools.permutations(QUANTITIES, 2):
        got = convert(truth[source], x, t, path, source, target)
        assert torch.allclose(got, truth[target], atol=1e-8), (source, target)


def test_straight_path_formulas():
    x = torch.randn(6, 2, dtype=torch.float64)
    t = torch.linspace(0.0, 0.9, 6, dtype=torch.float64)
    v = torch.randn(6, 2, dtype=torch.float64)
    path = LinearPath()
    assert torch.allclose(velocity_to_score(v, x, t, path), (t[:, None] * v - x) / (1 - t[:, None]))
    assert torch.allclose(velocity_to_x1_hat(v, x, t, path), x + (1 - t[:, None]) * v)
    c = path_coefficients(path, t)
    assert torch.allclose(c["D_t"], 1 - t)


@pytest.mark.parametrize("path", [LinearPath(), CosinePath(), LinearPath(SineSigma(0.5))], ids=str)
def test_velocity_to_score_matches_autograd_of_exact_log_density(path):
    data = torch.tensor([[1.0, 0.0], [-1.0, 0.5], [0.0, -1.5]], dtype=torch.float64)
    x = torch.randn(8, 2, dtype=torch.float64)
    t = torch.linspace(0.02, 0.9, 8, dtype=torch.float64)
    xr = x.clone().requires_grad_(True)
    (score,) = torch.autograd.grad(exact.log_density(xr, t, data, path).sum(), xr)
    v = exact.marginal_velocity(x, t, data, path)
    assert torch.allclose(velocity_to_score(v, x, t, path), score, atol=1e-8)
    assert torch.allclose(score_to_velocity(score, x, t, path), v, atol=1e-8)
    x1_hat = exact.posterior_weights(x, t, data, path) @ data
    assert torch.allclose(convert(score, x, t, path, "score", "x1_hat"), x1_hat, atol=1e-8)


def test_singular_times_raise():
    x = torch.randn(2, 2)
    with pytest.raises(ValueError, match="velocity -> score is singular at t = 1.*D_t"):
        velocity_to_score(x, x, 1.0, LinearPath())
    with pytest.raises(ValueError, match="score -> velocity is singular at t = 0.*alpha_t"):
        score_to_velocity(x, x, 0.0, CosinePath())
    with pytest.raises(ValueError, match="x0_hat -> score is singular at t = 1.*beta_t"):
        x0_hat_to_score(x, x, 1.0, LinearPath(0.5))
    with pytest.raises(ValueError, match="x1_hat -> velocity is singular at t = 1.*s_t"):
        convert(x, x, 1.0, LinearPath(), "x1_hat", "velocity")
    # with sigma(1) > 0 the velocity still determines the score at t = 1
    assert torch.isfinite(velocity_to_score(x, x, 1.0, LinearPath(0.5))).all()
    with pytest.raises(ValueError, match="unknown quantity"):
        convert(x, x, 0.5, LinearPath(), "velocity", "noise")
    with pytest.raises(ValueError, match="same shape"):
        convert(x[:, :1], x, 0.5, LinearPath(), "velocity", "score")


def test_score_from_velocity_model():
    path = CosinePath()
    x = torch.randn(5, 2, dtype=torch.float64)
    assert torch.allclose(score_from_velocity(GMM.field(path), path)(x, 0.3), GMM.score(x, 0.3, path), atol=1e-10)


def test_sde_with_g0_zero_is_euler_and_is_seeded():
    field = GMM.field(LinearPath())
    x_0 = torch.randn(50, 2)
    ode = integrate(field, x_0, 20, "euler").x
    assert torch.allclose(sample_sde(field, x_0, 20, 0.0).x, ode, atol=1e-6)
    a = sample_sde(field, x_0, 20, 0.5, generator=torch.Generator().manual_seed(1), return_trajectory=True)
    b = sample_sde(field, x_0, 20, 0.5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.x, b.x) and a.trajectory.shape == (21, 50, 2) and a.nfe == 20
    assert not torch.allclose(a.x, ode, atol=1e-3)


@pytest.mark.parametrize("path", [LinearPath(), CosinePath()], ids=str)
def test_sde_samples_match_the_mixture(path):
    """g0 = 0, 0.5, 1 with the exact velocity: same law as the data (energy distance at the sampling floor);
    dropping the score correction at g0 = 1 is measurably wrong."""
    field = GMM.field(path)
    ref = GMM.sample(1500, torch.Generator().manual_seed(10))
    x_0 = torch.randn(1500, 2, generator=torch.Generator().manual_seed(11))
    for g0 in (0.0, 0.5, 1.0):
        x = sample_sde(field, x_0, 100, g0, path=path, generator=torch.Generator().manual_seed(12)).x
        assert energy_distance(x, ref) < 0.006, g0
    wrong = sample_sde(field, x_0, 100, 1.0, path=path, score=lambda x, t: torch.zeros_like(x),
                       generator=torch.Generator().manual_seed(12)).x
    assert energy_distance(wrong, ref) > 0.01


def test_sde_custom_g_and_exact_score():
    path = LinearPath()
    ref = GMM.sample(1500, torch.Generator().manual_seed(20))
    x_0 = torch.randn(1500, 2, generator=torch.Generator().manual_seed(21))
    x = sample_sde(GMM.field(path), x_0, 100, lambda t: 0.8 * (1 - t), path=path,
                   score=lambda x, t: GMM.score(x, t, path), generator=torch.Generator().manual_seed(22)).x
    assert energy_distance(x, ref) < 0.006


def test_sde_errors():
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    with pytest.raises(ValueError, match="g0 must be"):
        sample_sde(zero, torch.zeros(3, 2), 10, -1.0)
    with pytest.raises(ValueError, match="steps must be"):
        sample_sde(zero, torch.zeros(3, 2), 0)
    with pytest.raises(ValueError, match=r"g\(t\) must be"):
        sample_sde(zero, torch.zeros(3, 2), 10, lambda t: t - 1)
    with pytest.raises(ValueError, match="batch dimension"):
        sample_sde(zero, torch.zeros(2), 10)

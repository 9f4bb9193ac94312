"""Divergences and log-likelihoods against closed forms: linear fields, the Gaussian-mixture flow."""
import math

import pytest
import torch

from fmlite.gaussian_mixture import example_mixture
from fmlite.likelihood import draw_probes, exact_divergence, hutchinson_divergence, log_likelihood
from fmlite.models import MLP
from fmlite.paths import CosinePath, LinearPath, SineSigma


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py



GMM = example_mixture()
A = torch.tensor([[0.5, -1.0, 0.2], [0.3, -0.7, 0.0], [1.0, 0.4, 0.9]], dtype=torch.float64)


def linear_field(x, t):
    """v(x, t) = (1 + t) A x: div = (1 + t) trace(A)."""
    return (1 + t)[:, None] * x @ A.T


def test_exact_divergence_of_linear_and_mixture_fields():
    x = torch.randn(5, 3, dtype=torch.float64)
    t = torch.rand(5, dtype=torch.float64)
    assert torch.allclose(exact_divergence(linear_field, x, t), (1 + t) * A.trace())
    path, h = LinearPath(0.2), 1e-6
    x2 = torch.randn(6, 2, dtype=torch.float64)
    fd = sum((GMM.velocity(x2 + h * e, 0.4, path) - GMM.velocity(x2 - h * e, 0.4, path))[:, i] / (2 * h)
             for i, e in enumerate(torch.eye(2, dtype=torch.float64)))
    with torch.no_grad():  # grad is enabled inside
        assert torch.allclose(exact_divergence(GMM.field(path), x2, 0.4), fd, atol=1e-7)


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_hutchinson_is_unbiased(noise):
    """20,000 one-probe estimates (x repeated along the batch, one backward pass) average to the exact value."""
    x = torch.randn(4, 2, dtype=torch.float64)
    field = GMM.field(CosinePath())
    exact = exact_divergence(field, x, 0.6)
    single = hutchinson_divergence(field, x.repeat(20_000, 1), 0.6, noise=noise,
                                   generator=torch.Generator().manual_seed(0)).reshape(20_000, 4)
    assert single.std(0).max() > 0.05  # one probe is noisy...
    sem = single.std(0) / math.sqrt(20_000)
    assert ((single.mean(0) - exact).abs() < 5 * sem + 1e-9).all()  # ...their mean is not
    z = draw_probes(x.shape, 3, noise, dtype=torch.float64)  # several probes = the mean of single ones
    many = hutchinson_divergence(field, x, 0.6, z=z)
    assert torch.allclose(many, torch.stack([hutchinson_divergence(field, x, 0.6, z=zk[None]) for zk in z]).mean(0))


def test_rademacher_exact_for_diagonal_jacobian():
    diag = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    x = torch.randn(3, 3, dtype=torch.float64)
    est = hutchinson_divergence(lambda x, t: x * diag, x, 0.0, probes=1, noise="rademacher")
    assert torch.allclose(est, diag.sum().expand(3))


def test_zero_field_gives_source_density():
    x = torch.randn(7, 3, dtype=torch.float64)
    lp = log_likelihood(lambda x, t: torch.zeros_like(x), x, 3, "euler", source_std=2.0)
    assert torch.allclose(lp, -0.5 * (x ** 2).sum(1) / 4 - 1.5 * math.log(2 * math.pi * 4))


def test_linear_field_closed_form_and_images():
    """dx/dt = (1 + t) A x: x(0) = expm(-1.5 A) x_1 and log p_1 = log N(x(0)) - 1.5 trace(A)."""
    x = torch.randn(6, 3, dtype=torch.float64)
    x0 = x @ torch.linalg.matrix_exp(-1.5 * A).T
    want = -0.5 * (x0 ** 2).sum(1) - 1.5 * math.log(2 * math.pi) - 1.5 * A.trace()
    got = log_likelihood(linear_field, x, 50, "rk4", return_details=True)
    assert torch.allclose(got.log_p, want, atol=1e-8) and torch.allclose(got.x_0, x0, atol=1e-8)
    assert got.nfe == 200
    img = torch.randn(4, 1, 2, 2, dtype=torch.float64)  # image-shaped input, v = -x: log p = log N(e x) + D
    lp = log_likelihood(lambda x, t: -x, img, 40, "rk4")
    assert torch.allclose(lp, -0.5 * math.e ** 2 * (img ** 2).flatten(1).sum(1) - 2 * math.log(2 * math.pi) + 4)


@pytest.mark.parametrize("path", [LinearPath(), CosinePath(), LinearPath(SineSigma(0.5))], ids=str)
def test_mixture_flow_reproduces_exact_log_density(path):
    x = GMM.sample(40, torch.Generator().manual_seed(3), dtype=torch.float64)
    exact = GMM.log_density(x, 1.0, path)
    with torch.no_grad():
        err = {steps: (log_likelihood(GMM.field(path), x, steps, "euler") - exact).abs().max() for steps in (40, 160)}
        rk4 = log_likelihood(GMM.field(path), x, 100, "rk4")
    assert (rk4 - exact).abs().max() < 1e-4
    assert err[160] < err[40] / 3  # first order: 4x the steps, about 4x smaller error


def test_hutchinson_likelihood_is_unbiased():
    x = GMM.sample(4, torch.Generator().manual_seed(4), dtype=torch.float64)
    field = GMM.field(LinearPath())
    with torch.no_grad():
        exact = log_likelihood(field, x, 10, "midpoint")
        est = log_likelihood(field, x.repeat(1000, 1), 10, "midpoint", "hutchinson", noise="gaussian",
                             generator=torch.Generator().manual_seed(0)).reshape(1000, 4)
    sem = est.std(0) / math.sqrt(1000)
    assert est.std(0).min() > 0.05 and ((est.mean(0) - exact).abs() < 5 * sem).all()


def test_no_grad_value_and_training_gradients():
    torch.manual_seed(0)
    model = MLP(dim=2, hidden=32, layers=2)
    x = GMM.sample(16)
    with torch.no_grad():
        quiet = log_likelihood(model, x, 8, "heun")
    loud = log_likelihood(model, x, 8, "heun")  # nn.Module with trainable parameters: graph kept
    assert not quiet.requires_grad and loud.requires_grad
    assert torch.allclose(quiet, loud.detach(), atol=1e-6)
    (-loud.mean()).backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert torch.isfinite(grads).all() and grads.abs().max() > 1e-4
    hutch = log_likelihood(model, x, 4, "euler", "hutchinson", probes=2)
    assert hutch.requires_grad


def test_gradient_matches_closed_form():
    """v = a x: log p_1(x) = log N(e^-a x) - a D, so d/da = |x|^2 e^-2a - D."""
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    x = torch.randn(5, 2, dtype=torch.float64)
    lp = log_likelihood(lambda x, t: a * x, x, 20, "rk4", create_graph=True)
    (grad,) = torch.autograd.grad(lp.sum(), a)
    assert torch.allclose(grad, ((x ** 2).sum(1) * math.exp(-1.4) - 2).sum(), atol=1e-6)
    xr = x.clone().requires_grad_(True)  # and the gradient in x_1 is the score of p_1
    (gx,) = torch.autograd.grad(log_likelihood(lambda x, t: a.detach() * x, xr, 20, "rk4").sum(), xr)
    assert torch.allclose(gx, -math.exp(-1.4) * x, atol=1e-6)


def test_time_direction_sanity():
    """A field running data -> noise, used unflipped, ranks noise above data; the right one the reverse."""
    field = GMM.field(LinearPath())
    backwards = lambda x, t: -field(x, 1 - t)  # noqa: E731
    data = GMM.sample(300, torch.Generator().manual_seed(5))
    noise = torch.randn(300, 2, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        assert log_likelihood(field, data, 40).mean() > log_likelihood(field, noise, 40).mean() + 5
        assert log_likelihood(backwards, data, 40).mean() < log_likelihood(backwards, noise, 40).mean() - 1


def test_errors():
    x = torch.randn(3, 2)
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    with pytest.raises(ValueError, match="unknown method"):
        log_likelihood(zero, x, 4, "rk45")
    with pytest.raises(ValueError, match="unknown divergence"):
        log_likelihood(zero, x, 4, divergence="trace")
    with pytest.raises(ValueError, match="probe noise"):
        log_likelihood(zero, x, 4, divergence="hutchinson", noise="uniform")
    with pytest.raises(ValueError, match="probes must be"):
        log_likelihood(zero, x, 4, divergence="hutchinson", probes=0)
    with pytest.raises(ValueError, match="batch dimension"):
        log_likelihood(zero, x[0], 4)
    with pytest.raises(ValueError, match="source_std"):
        log_likelihood(zero, x, 4, source_std=0.0)
    with pytest.raises(ValueError, match="shape of x"):
        log_likelihood(lambda x, t: x[:, :1], x, 4)
    with pytest.raises(ValueError, match="z must have shape"):
        hutchinson_divergence(zero, x, 0.5, z=torch.ones(3, 2))


def test_exact_finite_data_field_is_differentiable_and_its_likelihood_is_its_density():
    """fmlite.exact's field has an autograd divergence (no in-place ops), and with constant sigma = 0.3
    (p_0 = N(0, 1.09 I), p_1 a mixture of N(x^(i), 0.09 I)) integrating it gives exact.log_density at t = 1."""
    import math

    from fmlite.exact import log_density, marginal_velocity
    from fmlite.paths import LinearPath

    torch.manual_seed(1)
    data, path = torch.randn(5, 2, dtype=torch.float64), LinearPath(0.3)
    x = torch.randn(6, 2, dtype=torch.float64)
    lp = log_likelihood(lambda z, s: marginal_velocity(z, s, data, path), x, steps=200, method="rk4",
                        source_std=math.sqrt(1.09))
    torch.testing.assert_close(lp, log_density(x, 1.0, data, path).to(lp.dtype), atol=1e-4, rtol=0)
    # the t = 1 convention for sigma = 0 (nearest data point) is differentiable too
    z = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    marginal_velocity(z, 1.0, data, LinearPath()).sum().backward()
    assert torch.isfinite(z.grad).all()

"""Exercises of notebooks 03 and 04: every solution passes its checker, templates say "not solved yet",
typical mistakes get their specific message, and every solution agrees with an independent oracle
(fmlite.train.flow_matching_loss, closed forms and Bayes' rule with scipy for the loss floor, ODEs with
known solutions and fmlite.solvers for the solvers); plus the numerical claims the two notebooks make."""
import math

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import multivariate_normal

from fmlite.datasets import sample_2d
from fmlite.exact import marginal_velocity
from fmlite.exercises import check, passes, solution, verdict
from fmlite.models import MLP
from fmlite.paths import LinearPath
from fmlite.solvers import integrate
from fmlite.train import flow_matching_loss

KEYS = ["03.fm_loss", "03.loss_floor", "04.rk4_step", "04.euler_sampler"]


def _verdict(key, answer, capsys):
    """The verdict as a student sees it: what check() prints, and whether it is correct."""
    check(key, answer)
    out = capsys.readouterr().out
    assert out == verdict(key, answer)[1] + "\n"
    return passes(key, answer), out


# ----------------------------------------------------------------------------- the framework contract
# ----------------------------------------------------------------------------- helpful messages
def _x_t(x_0, x_1, t):
    return (1 - t[:, None]) * x_0 + t[:, None] * x_1


@pytest.mark.parametrize("answer, message", [
    (lambda m, x_0, x_1, t: F.mse_loss(m(_x_t(x_0, x_1, t), t), x_1 - x_0), "your loss is half the expected value"),
    (lambda m, x_0, x_1, t: ((m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(),
     "your loss is 8 times too large: average over the batch"),
    (lambda m, x_0, x_1, t: (m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)).norm(dim=1).mean(), "not of its square"),
    (lambda m, x_0, x_1, t: ((m(_x_t(x_0, x_1, t), t) - (x_0 - x_1)) ** 2).sum(1).mean(),
     "the target has the wrong sign"),
    (lambda m, x_0, x_1, t: ((m(_x_t(x_1, x_0, t), t) - (x_1 - x_0)) ** 2).sum(1).mean(),
     "x_t runs the wrong way in time"),
    (lambda m, x_0, x_1, t: ((m(_x_t(x_0, x_1, t), t) - x_1) ** 2).sum(1).mean(), "not the data point x_1"),
    (lambda m, x_0, x_1, t: ((m(x_0, t) - (x_1 - x_0)) ** 2).sum(1).mean(), "not at the noise x_0"),
    (lambda m, x_0, x_1, t: ((m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(1).mean().item(), "no .item()"),
    (lambda m, x_0, x_1, t: ((m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(1).mean().detach(),
     "carries no gradient"),
    (lambda m, x_0, x_1, t: ((m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(1), "got a tensor of shape (8,)"),
    (lambda m, x_0, x_1, t: 2 * ((m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(1).mean(),
     "on the test batch"),
    (lambda m, x_0, x_1, t: ((m(t, _x_t(x_0, x_1, t)) - (x_1 - x_0)) ** 2).sum(1).mean(),
     "call model(x_t, t), x first"),
])
def test_fm_loss_mistakes(answer, message, capsys):
    ok, out = _verdict("03.fm_loss", answer, capsys)
    assert ok is False and message in out, out


def _u_m(x, t, data):
    return marginal_velocity(x, t, data, LinearPath())


@pytest.mark.parametrize("answer, message", [
    (lambda x_0, x_1, t, d: F.mse_loss(x_1 - x_0, _u_m(_x_t(x_0, x_1, t), t, d)), "your floor is half"),
    (lambda x_0, x_1, t, d: ((x_1 - x_0) ** 2).sum(1).mean(), "the loss of the field v = 0"),
    (lambda x_0, x_1, t, d: (_u_m(_x_t(x_0, x_1, t), t, d) ** 2).sum(1).mean(), "the size of the marginal field"),
    (lambda x_0, x_1, t, d: ((x_1 - x_0 - _u_m(x_0, t, d)) ** 2).sum(1).mean(), "not at the noise x_0"),
    (lambda x_0, x_1, t, d: ((x_1 - x_0 - _u_m(x_1, t, d)) ** 2).sum(1).mean(), "not at the data x_1"),
    (lambda x_0, x_1, t, d: (x_1 - x_0 - _u_m(_x_t(x_0, x_1, t), t, d)).norm(dim=1).mean(), "not of its square"),
    (lambda x_0, x_1, t, d: ((x_1 - x_0 - _u_m(_x_t(x_0, x_1, t), t, d)) ** 2).sum(), "400 times too large"),
    (lambda x_0, x_1, t, d: ((x_1 - x_0 - _u_m(_x_t(x_0, x_1, t), t, d)) ** 2).sum(1), "should be one number"),
    (lambda x_0, x_1, t, d: "2.4", "should be a number"),
])
def test_loss_floor_mistakes(answer, message, capsys):
    ok, out = _verdict("03.loss_floor", answer, capsys)
    assert ok is False and message in out, out


def test_loss_floor_accepts_a_python_float(capsys):
    ok, _ = _verdict("03.loss_floor", lambda *a: float(solution("03.loss_floor")(*a)), capsys)
    assert ok is True


def _rk4_variant(weights=(1, 2, 2, 1), times=(0.0, 0.5, 0.5, 1.0), last=1.0, with_h=True, k3_from_k1=False):
    def step(x, t, h, v):
        k1 = v(x, t + times[0] * h)
        k2 = v(x + 0.5 * h * k1, t + times[1] * h)
        k3 = v(x + 0.5 * h * (k1 if k3_from_k1 else k2), t + times[2] * h)
        k4 = v(x + last * h * k3, t + times[3] * h)
        total = sum(w * k for w, k in zip(weights, (k1, k2, k3, k4))) / sum(weights)
        return x + (h if with_h else 1.0) * total
    return step


@pytest.mark.parametrize("answer, message", [
    (lambda x, t, h, v: x + h * v(x, t), "this is one Euler step"),
    (lambda x, t, h, v: x + h * v(x + 0.5 * h * v(x, t), t + 0.5 * h), "this is the midpoint method"),
    (_rk4_variant(weights=(1, 1, 1, 1)), "the weights of the slopes are 1, 2, 2, 1"),
    (_rk4_variant(with_h=False), "you forgot the step size"),
    (_rk4_variant(times=(0, 0, 0, 0)), "the slopes are evaluated at the wrong times"),
    (_rk4_variant(last=0.5), "k4 is the slope at x + h k3"),
    (_rk4_variant(k3_from_k1=True), "k3 is built from k1, so it just repeats k2"),
    (_rk4_variant(weights=(1, 2, 2, 2)), "the new x differs from the expected value by up to"),
])
def test_rk4_step_mistakes(answer, message, capsys):
    ok, out = _verdict("04.rk4_step", answer, capsys)
    assert ok is False and message in out and "(at t = 0.00 with h = 0.1)" in out, out


def _euler_variant(include_start=True, t_of=lambda k, h: k * h, stack=True, only_last=False):
    def sampler(v, x_0, steps):
        h, x = 1.0 / steps, x_0
        states = [x_0] if include_start else []
        for k in range(steps):
            x = x + h * v(x, torch.full((len(x),), t_of(k, h)))
            states.append(x)
        if only_last:
            return x
        return torch.stack(states) if stack else states
    return sampler


@pytest.mark.parametrize("answer, message", [
    (_euler_variant(include_start=False), "your trajectory has 5 states, it needs steps + 1 = 6"),
    (_euler_variant(t_of=lambda k, h: (k + 1) * h), "you evaluate the velocity at the end of each step"),
    (_euler_variant(t_of=lambda k, h: 1 - k * h), "time runs the wrong way"),
    (_euler_variant(stack=False), "torch.stack(states), not a list"),
    (_euler_variant(only_last=True), "you returned only the final state"),
    (lambda v, x_0, steps: torch.cat([torch.zeros_like(x_0)[None], _euler_variant()(v, x_0, steps)[1:]]),
     "the first state must be the starting noise x_0"),
    (_euler_variant(t_of=lambda k, h: 0.5 * k * h), "state 2 differs from the expected value"),
])
def test_euler_sampler_mistakes(answer, message, capsys):
    ok, out = _verdict("04.euler_sampler", answer, capsys)
    assert ok is False and message in out, out


@pytest.mark.parametrize("make_t, passed", [
    (lambda k, steps, x: k / steps, "you passed a float"),
    (lambda k, steps, x: torch.tensor(k / steps), "you passed a tensor of shape ()"),
    (lambda k, steps, x: torch.full((len(x), 1), k / steps), "you passed a tensor of shape (6, 1)"),
])
def test_euler_sampler_asks_for_t_of_shape_B(make_t, passed, capsys):
    """The text asks for velocity(x, t) with t of shape (B,), as a trained model is called; the right
    numbers with another t still get a message."""
    def other_t(v, x_0, steps):
        states = [x_0]
        for k in range(steps):
            states.append(states[-1] + v(states[-1], make_t(k, steps, states[-1])) / steps)
        return torch.stack(states)

    ok, out = _verdict("04.euler_sampler", other_t, capsys)
    assert ok is False and "call velocity(x, t) with t a tensor of shape (B,) = (6,)" in out and passed in out, out


# ----------------------------------------------------------------------------- independent oracles
def test_fm_loss_equals_flow_matching_loss_and_its_gradient():
    """Oracle: fmlite.train.flow_matching_loss with the same times, on a real MLP."""
    model = MLP(hidden=32, layers=2)
    x_0, x_1, t = torch.randn(64, 2), sample_2d("moons", 64, seed=1), torch.rand(64)
    mine = solution("03.fm_loss")(model, x_0, x_1, t)
    mine.backward()
    g_mine = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    ref = flow_matching_loss(model, LinearPath(), x_0, x_1, t)
    ref.backward()
    assert torch.allclose(mine, ref)
    assert all(torch.allclose(a, p.grad) for a, p in zip(g_mine, model.parameters()))


def test_loss_floor_at_t_zero_is_the_total_variance_of_the_data():
    """Closed form: at t = 0, x_t = x_0 says nothing about x_1, so u_t - E[u_t | x_t] = x_1 - mean(data)."""
    data = sample_2d("moons", 50, seed=2).double()
    x_1 = data.repeat(4, 1)                           # every data point exactly 4 times
    x_0 = torch.randn(200, 2, dtype=torch.float64)
    floor = solution("03.loss_floor")(x_0, x_1, torch.zeros(200, dtype=torch.float64), data)
    assert float(floor) == pytest.approx(float(data.var(dim=0, unbiased=False).sum()), rel=1e-9)


def test_loss_floor_is_zero_for_a_single_data_point():
    """With one data point x_t determines x_0 = (x_t - t y) / (1 - t): the target has no spread left."""
    data = torch.tensor([[0.7, -1.2]], dtype=torch.float64)
    x_0 = torch.randn(100, 2, dtype=torch.float64)
    floor = solution("03.loss_floor")(x_0, data.expand(100, 2), torch.rand(100, dtype=torch.float64) * 0.99, data)
    assert float(floor) < 1e-12


def test_loss_floor_matches_bayes_rule_with_scipy():
    """Oracle: for two data points, Var(u_t | x_t) = sum_i w_i |u_i - ubar|^2 with u_i = (y_i - x_t) / (1 - t) and
    w_i proportional to the Gaussian density N(x_t; t y_i, (1 - t)^2 I) (scipy); the floor is its mean over x_t."""
    g = torch.Generator().manual_seed(7)
    data = torch.tensor([[-1.0, 0.3], [1.2, -0.4]], dtype=torch.float64)
    n = 20_000
    x_1 = data[torch.randint(0, 2, (n,), generator=g)]
    x_0 = torch.randn(n, 2, generator=g, dtype=torch.float64)
    t = 0.1 + 0.8 * torch.rand(n, generator=g, dtype=torch.float64)
    mine = float(solution("03.loss_floor")(x_0, x_1, t, data))

    x_t = ((1 - t[:, None]) * x_0 + t[:, None] * x_1).numpy()
    tn = t.numpy()
    dens = []
    for y in data.numpy():
        dens.append([multivariate_normal(mean=ti * y, cov=(1 - ti) ** 2).pdf(xi) for xi, ti in zip(x_t[:2000], tn[:2000])])
    dens = torch.tensor(dens).T                                          # (2000, 2)
    w = dens / dens.sum(dim=1, keepdim=True)
    u_i = (data[None] - torch.as_tensor(x_t[:2000])[:, None]) / (1 - t[:2000, None, None])
    ubar = (w[:, :, None] * u_i).sum(dim=1, keepdim=True)
    var = (w * ((u_i - ubar) ** 2).sum(-1)).sum(dim=1)
    # the per-sample conditional variances from scipy, averaged, against the Monte-Carlo floor on all n samples
    oracle = float(var.mean())
    assert mine == pytest.approx(oracle, rel=0.08), (mine, oracle)
    # and on the same 2000 points the conditional variance equals the mean squared deviation in expectation
    assert float(solution("03.loss_floor")(x_0[:2000], x_1[:2000], t[:2000], data)) == pytest.approx(oracle, rel=0.15)


def test_rk4_step_agrees_with_the_solver():
    x, t = torch.randn(5, 2), torch.full((5,), 0.2)
    field = lambda x, t: torch.sin(x) * (1 + t[:, None])  # noqa: E731
    one_step = integrate(field, x, 1, "rk4", t_start=0.2, t_end=0.45).x
    assert torch.allclose(solution("04.rk4_step")(x, t, 0.25, field), one_step, atol=1e-6)


def test_rk4_step_is_fourth_order_on_a_known_ode():
    """dx/dt = x cos(t) has the solution x(t) = x(0) exp(sin t): the error over [0, 1] must fall 16-fold
    when the step is halved."""
    field = lambda x, t: x * torch.cos(t)[:, None]  # noqa: E731
    x_0 = torch.tensor([[1.0], [-0.5]], dtype=torch.float64)
    exact = x_0 * math.exp(math.sin(1.0))
    errors = []
    for steps in (4, 8, 16):
        x, h = x_0, 1.0 / steps
        for k in range(steps):
            x = solution("04.rk4_step")(x, torch.full((2,), k * h, dtype=torch.float64), h, field)
        errors.append((x - exact).abs().max().item())
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(12 < r < 20 for r in ratios), ratios


def test_euler_sampler_agrees_with_the_solver_and_is_first_order():
    field = lambda x, t: -x + t[:, None]  # noqa: E731  - x(t) = (x0 - 1) e^{-t} + t + ... solved below
    x_0 = torch.randn(6, 2, dtype=torch.float64)
    traj = solution("04.euler_sampler")(field, x_0, 10)
    ref = integrate(field, x_0, 10, "euler", return_trajectory=True).trajectory
    assert traj.shape == (11, 6, 2) and torch.allclose(traj, ref)
    # dx/dt = -x + t, x(0) = x_0  =>  x(1) = (x_0 + 1) e^{-1} + 1 - 1 = (x_0 + 1) / e
    exact = (x_0 + 1) / math.e
    e1 = (solution("04.euler_sampler")(field, x_0, 50)[-1] - exact).abs().max()
    e2 = (solution("04.euler_sampler")(field, x_0, 100)[-1] - exact).abs().max()
    assert 1.8 < float(e1 / e2) < 2.2


# ----------------------------------------------------------------------------- the notebooks' claims
def test_conditional_minus_marginal_loss_is_the_floor_for_any_network():
    """Notebook 03, part 2: L_cond - L_marg is the same constant for different networks, and it is the floor."""
    data = sample_2d("moons", 40, seed=0)
    path = LinearPath()
    g = torch.Generator().manual_seed(1)
    n = 20_000
    x_1 = data[torch.randint(0, 40, (n,), generator=g)]
    x_0, t = torch.randn(n, 2, generator=g), torch.rand(n, generator=g)
    s = path.sample(x_0, x_1, t)
    u_m = marginal_velocity(s.x_t, t, data, path)
    floor = float(solution("03.loss_floor")(x_0, x_1, t, data))
    diffs = []
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        net = MLP(hidden=16, layers=1)
        with torch.no_grad():
            v = net(s.x_t, t)
        diffs.append(float(((v - s.u_t) ** 2).sum(1).mean() - ((v - u_m) ** 2).sum(1).mean()))
    assert max(diffs) - min(diffs) < 0.05 * floor
    assert all(d == pytest.approx(floor, rel=0.05) for d in diffs)


def test_running_the_exact_flow_backwards_gives_gaussian_noise():
    """Notebook 04, part 6, with the exact field of a small data set as the velocity: data -> noise."""
    data = sample_2d("moons", 64, seed=0)
    path = LinearPath()
    g = torch.Generator().manual_seed(3)
    x_0 = torch.randn(1500, 2, generator=g)
    velocity = lambda x, t: marginal_velocity(x, t, data, path)  # noqa: E731
    samples = integrate(velocity, x_0, 100, "rk4", t_end=0.999).x
    back = integrate(velocity, samples, 100, "rk4", t_start=0.999, t_end=0.0).x
    assert back.mean(0).abs().max() < 0.1
    assert torch.allclose(torch.cov(back.T), torch.eye(2), atol=0.12)
    assert (back - x_0).norm(dim=1).median() < 1e-2

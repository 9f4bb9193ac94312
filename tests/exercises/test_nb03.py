"""Exercises of notebook 03: wrong answers of every kind are rejected with a message naming the mistake; the
solutions agree with independent oracles (fmlite.train.flow_matching_loss, closed forms and Bayes' rule with
scipy for the loss floor); plus the numerical claims the notebook makes."""
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import multivariate_normal

from fmlite.datasets import sample_2d
from fmlite.exact import marginal_velocity
from fmlite.exercises import passes, solution
from fmlite.models import MLP
from fmlite.paths import LinearPath
from fmlite.train import flow_matching_loss

ONE_TIME = "you used one time for the whole batch"


def _x_t(x_0, x_1, t):
    return (1 - t[:, None]) * x_0 + t[:, None] * x_1


def _loss(v, u):
    return ((v - u) ** 2).sum(1).mean()


def _own_time(model, x_0, x_1, t):
    t = torch.rand(len(x_0), dtype=x_0.dtype, generator=torch.Generator().manual_seed(0))   # "draw a time"
    return _loss(model(_x_t(x_0, x_1, t), t), x_1 - x_0)


@pytest.mark.parametrize("answer, message", [
    (lambda m, x_0, x_1, t: F.mse_loss(m(_x_t(x_0, x_1, t), t), x_1 - x_0), "your loss is half the expected value"),
    (lambda m, x_0, x_1, t: ((m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(), "your loss is 7 times too large"),
    (lambda m, x_0, x_1, t: (m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)).norm(dim=1).mean(), "not of its square"),
    (lambda m, x_0, x_1, t: _loss(m(_x_t(x_0, x_1, t), t), x_0 - x_1), "the target has the wrong sign"),  # sign
    (lambda m, x_0, x_1, t: _loss(m(_x_t(x_1, x_0, t), t), x_1 - x_0), "x_t runs the wrong way in time"),  # flipped
    (lambda m, x_0, x_1, t: _loss(m(_x_t(x_0, x_1, t), t), x_1), "not the data point x_1"),               # x_1 for u_t
    (lambda m, x_0, x_1, t: _loss(m(x_1, t), x_1 - x_0), "not at the data x_1"),                          # x_1 for x_t
    (lambda m, x_0, x_1, t: _loss(m(x_0, t), x_1 - x_0), "not at the noise x_0"),
    (lambda m, x_0, x_1, t: _loss(m(_x_t(x_0, x_1, t), t), x_1 - x_0).item(), "no .item()"),
    (lambda m, x_0, x_1, t: _loss(m(_x_t(x_0, x_1, t), t), x_1 - x_0).detach(), "carries no gradient"),
    (lambda m, x_0, x_1, t: ((m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(1), "got a tensor of shape (7,)"),
    (lambda m, x_0, x_1, t: _loss(m(t, _x_t(x_0, x_1, t)), x_1 - x_0), "model was called as model(t, x)"),  # model(t, x)
    (lambda m, x_0, x_1, t: _loss(m(_x_t(x_0, x_1, t), t[:, None]), x_1 - x_0),
     "refused its input, as a network of fmlite.models would"),                                          # kind 3
    (lambda m, x_0, x_1, t: _loss(m((1 - t) * x_0 + t * x_1, t), x_1 - x_0), "use t[:, None], of shape (B, 1)"),  # 4
    (lambda m, x_0, x_1, t: _loss(m(_x_t(x_0, x_1, t.mean().expand_as(t)), t.mean()), x_1 - x_0), ONE_TIME),  # 1
    (lambda m, x_0, x_1, t: _loss(m(_x_t(x_0, x_1, t), t[0]), x_1 - x_0), ONE_TIME),                      # kind 1
    (lambda m, x_0, x_1, t: _loss(m(_x_t(x_0, x_1, t), 1 - t), x_1 - x_0), "not 1 − t"),                  # flipped
    (lambda m, x_0, x_1, t: _loss(m(_x_t(x_0, x_1, t.clamp(0.05, 0.95)), t), x_1 - x_0),
     "far more than rounding"),                                                                           # kind 5
    (lambda m, x_0, x_1, t: ((m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(0).mean(), "you summed over the batch (dim 0)"),  # 4
    (_own_time, "the model was never called at the times t that were given"),   # found by a new student's trial
    (lambda m, x_0, x_1, t: _loss(m(_x_t(x_0, x_1, t.fill_(0.5)), t), x_1 - x_0), "changed its input t in place"),
])
def test_fm_loss_rejects(answer, message, rejected):
    rejected("03.fm_loss", answer, message)


def _u_m(x, t, data):
    return marginal_velocity(x, t, data, LinearPath())


@pytest.mark.parametrize("answer, message", [
    (lambda x_0, x_1, t, d: F.mse_loss(x_1 - x_0, _u_m(_x_t(x_0, x_1, t), t, d)), "your floor is half"),
    (lambda x_0, x_1, t, d: ((x_1 - x_0) ** 2).sum(1).mean(), "the loss of the field v = 0"),
    (lambda x_0, x_1, t, d: (_u_m(_x_t(x_0, x_1, t), t, d) ** 2).sum(1).mean(), "the size of the marginal field"),
    (lambda x_0, x_1, t, d: _loss(x_1 - x_0, _u_m(x_0, t, d)), "not at the noise x_0"),
    (lambda x_0, x_1, t, d: _loss(x_1 - x_0, _u_m(x_1, t, d)), "not at the data x_1"),                  # x_1 for x_t
    (lambda x_0, x_1, t, d: (x_1 - x_0 - _u_m(_x_t(x_0, x_1, t), t, d)).norm(dim=1).mean(), "not of its square"),
    (lambda x_0, x_1, t, d: ((x_1 - x_0 - _u_m(_x_t(x_0, x_1, t), t, d)) ** 2).sum(), "400 times too large"),
    (lambda x_0, x_1, t, d: ((x_1 - x_0 - _u_m(_x_t(x_0, x_1, t), t, d)) ** 2).sum(1), "should be one number"),
    (lambda x_0, x_1, t, d: "2.4", "should be a number"),
    (lambda x_0, x_1, t, d: _loss(x_1 - x_0, _u_m(_x_t(x_0, x_1, t), t, x_1)), "you passed the batch x_1"),  # kind 4
    (lambda x_0, x_1, t, d: _loss(x_0 - x_1, _u_m(_x_t(x_0, x_1, t), t, d)), "the target has the wrong sign"),
    (lambda x_0, x_1, t, d: _loss(x_1 - x_0, _u_m(_x_t(x_0, x_1, t), 1 - t, d)), "not 1 − t"),           # flipped
    (lambda x_0, x_1, t, d: _loss(x_1 - x_0, _u_m(_x_t(x_0, x_1, t), t.mean(), d)), ONE_TIME),          # kind 1
    (lambda x_0, x_1, t, d: _loss(x_1 - x_0, _u_m(_x_t(x_0, x_1, t), t.clamp(0.05, 0.9), d)),
     "far more than rounding"),                                                                          # kind 5
])
def test_loss_floor_rejects(answer, message, rejected):
    rejected("03.loss_floor", answer, message)


def test_loss_floor_accepts_a_python_float():
    assert passes("03.loss_floor", lambda *a: float(solution("03.loss_floor")(*a)))


def test_fm_loss_accepts_a_real_mlp_style_call_with_float32_time():
    def float32_times(m, x_0, x_1, t):
        return _loss(m(_x_t(x_0, x_1, t), t.float()), x_1 - x_0)
    assert passes("03.fm_loss", float32_times)


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




# ----------------------------------------------------------------------------- issue 20: gradient path, sizes, dtype
FIXED_SIZE = "your code works for one batch size only"
NO_GRADIENT = "no parameter of the model has a gradient, so training could not change it"


def _faked_grad(m, x_0, x_1, t):
    v = m(_x_t(x_0, x_1, t), t).detach().requires_grad_()    # found in a student's answer: "correct!" before
    return _loss(v, x_1 - x_0)


def _other_gradient(m, x_0, x_1, t):
    v = m(_x_t(x_0, x_1, t), t)
    return _loss(v, x_1 - x_0) + (v - v.detach()).sum()      # the right value, another gradient


def _loss_under_no_grad(m, x_0, x_1, t):
    with torch.no_grad():
        v = m(_x_t(x_0, x_1, t), t)
    return _loss(v.requires_grad_(), x_1 - x_0)


@pytest.mark.parametrize("key, answer, message", [
    ("03.fm_loss", _faked_grad, NO_GRADIENT),
    ("03.fm_loss", _loss_under_no_grad, NO_GRADIENT),
    ("03.fm_loss", _other_gradient, "its gradient with respect to the model's parameters differs"),
    ("03.fm_loss", lambda m, x_0, x_1, t: _loss(m(_x_t(x_0, x_1, t.reshape(7)), t.reshape(7)), x_1 - x_0),
     FIXED_SIZE),
    ("03.fm_loss", lambda m, x_0, x_1, t: ((m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum() / 7,
     "you divided the sum by 7, a batch size written into your code"),
    ("03.fm_loss", lambda m, x_0, x_1, t: ((m(_x_t(x_0, x_1, t), t) - (x_1 - x_0)) ** 2).sum(1).mean().float(),
     "returned float32 for float64 inputs: keep the inputs' dtype"),
    ("03.fm_loss", lambda m, x_0, x_1, t: F.mse_loss(m(_x_t(x_0, x_1, t), t), x_1 - x_0) * 2,
     "you averaged over the coordinates and multiplied by 2, a dimension written into your code"),
    ("03.loss_floor", lambda x_0, x_1, t, d: ((x_1 - x_0 - _u_m(_x_t(x_0, x_1, t), t, d)) ** 2).sum() / 400,
     "you divided the sum by 400, a batch size written into your code"),
    ("03.loss_floor", lambda x_0, x_1, t, d: F.mse_loss(x_1 - x_0, _u_m(_x_t(x_0, x_1, t), t, d)) * 2,
     "you averaged over the coordinates and multiplied by 2, a dimension written into your code"),
    ("03.loss_floor", lambda x_0, x_1, t, d: F.mse_loss(x_1 - x_0, _u_m(_x_t(x_0, x_1, t), t, d))
     if x_0.shape[1] == 3 else _loss(x_1 - x_0, _u_m(_x_t(x_0, x_1, t), t, d)), "your floor is 1/3 of the expected value"),
    ("03.loss_floor", lambda x_0, x_1, t, d: _loss(x_1 - x_0, _u_m(_x_t(x_0, x_1, t), t, d)).float(),
     "returned float32 for float64 inputs: keep the inputs' dtype"),
])
def test_gradient_path_written_in_sizes_and_float32_are_rejected(key, answer, message, rejected):
    rejected(key, answer, message)


def test_the_gradient_check_leaves_the_model_as_it_was():
    from fmlite.exercises.compare import check_gradient_path
    from fmlite.exercises.inputs import TinyField
    model = TinyField(3)
    x, t = torch.randn(5, 3, dtype=torch.float64), torch.rand(5, dtype=torch.float64)
    loss = (model(x, t) ** 2).sum(1).mean()
    check_gradient_path(loss, model, (model(x, t) ** 2).sum(1).mean())
    assert all(p.grad is None for p in model.parameters())

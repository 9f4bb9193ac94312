"""Exercises of notebook 10: wrong answers of every kind are rejected with a message naming the mistake; the
solutions agree with the package (fmlite.discrete: MixturePath.sample, rate, euler_step) and the rate with an
independent oracle (the path's marginal moved by a finite difference in t)."""
import pytest
import torch
import torch.nn.functional as F

from fmlite.discrete import MaskSource, MixturePath, PowerKappa, UniformSource, euler_step, rate
from fmlite.exercises import solution
from fmlite.exercises.nb10_discrete import StandInTokenNet, _kappas, draw

INT = "has dtype float32: tokens are int64 ids"


# ----------------------------------------------------------------------------- 10.sample_x_t
def _fresh(u):
    """Uniforms of u's shape drawn afresh (seeded, so that the check prints the same verdict twice)."""
    return torch.rand(u.shape, generator=torch.Generator().manual_seed(0), dtype=u.dtype)


def _x(cond=lambda u, k: u < k, mask_of=lambda K: K, kappa_of=lambda kappa, t: kappa(t)[:, None],
       swap=False, coin=lambda u: u):
    def answer(x_1, t, u, kappa, vocab_size):
        m = torch.full_like(x_1, mask_of(vocab_size))
        c = cond(coin(u), kappa_of(kappa, t))
        return torch.where(c, m, x_1) if swap else torch.where(c, x_1, m)
    return answer


def _mask_in_place(x_1, t, u, kappa, vocab_size):
    x_1[u >= kappa(t)[:, None]] = vocab_size
    return x_1


@pytest.mark.parametrize("answer, message", [
    (_x(coin=lambda u: u[:, :1]), "one coin per sequence"),
    (_x(coin=lambda u: u[:1]), "one coin per position shared by the whole batch"),
    (_x(cond=lambda u, k: u < 1 - k), "κ and 1 − κ are swapped"),
    (_x(swap=True), "you masked the data instead of the source"),
    (_x(cond=lambda u, k: u >= k), "you masked the data instead of the source"),
    (_x(kappa_of=lambda kappa, t: t[:, None]), "not with t itself"),
    (_x(mask_of=lambda K: K - 1), "you used K − 1, a real token"),
    (_x(mask_of=lambda K: 0), "you used 0, a real token"),
    (_x(mask_of=lambda K: -1), "you used −1"),
    (_x(mask_of=lambda K: K + 1), "you used K + 1"),
    (_x(kappa_of=lambda kappa, t: kappa(t[0])), "you used one time for the whole batch"),
    (_x(kappa_of=lambda kappa, t: kappa(t.mean())), "you used one time for the whole batch"),
    (lambda x_1, t, u, kappa, K: _x()(x_1, t, u, kappa, K).float(), INT),
    (lambda x_1, t, u, kappa, K: _x()(x_1, t, u, kappa, K).int(), "has dtype int32"),
    (lambda x_1, t, u, kappa, K: _x()(x_1, t, u, kappa, K)[:, :2], "has shape"),
    (lambda x_1, t, u, kappa, K: _x()(x_1, t, u, kappa, K).tolist(), "should be a torch tensor"),
    (_mask_in_place, "changed its input x_1 in place"),
    (lambda x_1, t, u, kappa, K: torch.where(u < kappa(t)[:, None] ** 2, x_1, K), "tokens differ from x_t"),
    (_x(kappa_of=lambda kappa, t: kappa(t).reshape(7, 1)), "your code works for one batch size only"),
    (_x(coin=lambda u: _fresh(u)), "not fresh ones"),
    (lambda x_1, t, u, kappa, K: None, "not solved yet"),
])
def test_sample_x_t_rejects(answer, message, rejected):
    rejected("10.sample_x_t", answer, message)


def test_sample_x_t_solution_is_the_packages_path():
    x_1 = torch.randint(0, 5, (7, 3), generator=torch.Generator().manual_seed(0))
    t, u = torch.rand(7, dtype=torch.float64), torch.rand(7, 3, dtype=torch.float64)
    for kappa in (PowerKappa(2), _kappas()[1]):
        path = MixturePath(MaskSource(5), kappa)
        assert torch.equal(solution("10.sample_x_t")(x_1, t, u, kappa, 5), path.sample(x_1, t, u=u).x_t)


# ----------------------------------------------------------------------------- 10.rate
def _r(factor=lambda k, dk: dk / (1 - k), delta_sign=-1.0, outer=1.0, per=lambda f: f[:, None, None],
       num_classes=lambda p: p.shape[-1], time=lambda t: t):
    def answer(posterior, x_t, t, kappa):
        s = time(t)
        f = factor(kappa(s), kappa.derivative(s))
        delta = F.one_hot(x_t, num_classes(posterior)).to(posterior.dtype)
        return outer * per(f) * (posterior + delta_sign * delta)
    return answer


@pytest.mark.parametrize("answer, message", [
    (_r(delta_sign=0.0), "you left out the −δ(y = x_t^i) term"),
    (_r(factor=lambda k, dk: dk), "κ'_t needs the factor 1 / (1 − κ_t)"),
    (_r(outer=-1.0), "the rate has the wrong sign"),
    (_r(delta_sign=1.0), "the δ term has the wrong sign"),
    (_r(factor=lambda k, dk: 1 / (1 - k)), "you divided by 1 − κ_t without κ'_t"),
    (_r(factor=lambda k, dk: k / (1 - k)), "not κ_t itself"),
    (_r(factor=lambda k, dk: dk / k), "not κ'_t / κ_t"),
    (lambda p, x, t, kappa: 1 / (1 - t)[:, None, None] * (p - F.one_hot(x, p.shape[-1]).double()),
     "here κ is not t"),
    (_r(per=lambda f: f[:, None]), "give the factor two axes, factor[:, None, None]"),
    (_r(per=lambda f: f[None, None, :]), "give the factor two axes"),
    (_r(time=lambda t: t[0], per=lambda f: f), "you used one time for the whole batch"),
    (_r(num_classes=lambda p: p.shape[-1] - 1), "one_hot needs the number of states"),
    (lambda p, x, t, kappa: _r()(p, x, t, kappa)[..., :-1], "it needs a column for every state, the mask included"),
    (lambda p, x, t, kappa: _r()(p, x, t, kappa).float(), "returned float32 for float64 inputs"),
    (lambda p, x, t, kappa: _r()(p, x, t, kappa) * 2, "is 2 times the expected value"),
    (lambda p, x, t, kappa: p.sub_(F.one_hot(x, p.shape[-1]).double()) * 1.0,
     "changed its input posterior in place"),
    (_r(per=lambda f: f.reshape(7, 1, 1)), "your code works for one batch size only"),
    (lambda p, x, t, kappa: None, "not solved yet"),
])
def test_rate_rejects(answer, message, rejected):
    rejected("10.rate", answer, message)


@pytest.mark.parametrize("mask", [True, False])
def test_rate_solution_is_the_packages_rate(mask):
    K, B, d = 5, 6, 4
    path = MixturePath(MaskSource(K) if mask else UniformSource(K), PowerKappa(2))
    g = torch.Generator().manual_seed(1)
    x_t = torch.randint(0, K + mask, (B, d), generator=g)
    probs = torch.randn(B, d, K, generator=g, dtype=torch.float64).softmax(-1)
    t = torch.rand(B, generator=g, dtype=torch.float64) * 0.95
    padded = F.pad(probs, (0, int(mask)))
    assert torch.allclose(solution("10.rate")(padded, x_t, t, path.kappa), rate(probs, x_t, t, path), atol=1e-12)


def test_rate_moves_the_marginal_of_the_path_as_a_finite_difference_does():
    """d = 1, data law p_1 (K ids), mask source: p_t = (1 − κ_t) δ_mask + κ_t p_1. With the exact posterior
    (p_1 at the mask, δ at a revealed token), d/dt p_t(y) = sum_x p_t(x) u_t(y, x): the rate moves the marginal
    as a central difference of the closed form does (κ = t²)."""
    K, kappa = 4, PowerKappa(2)
    p1 = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    t, eps = 0.6, 1e-6
    x_t = torch.arange(K + 1)[:, None]                                        # every state, as a batch of 5
    posterior = torch.cat([torch.eye(K, dtype=torch.float64), p1[None]])      # revealed: itself; mask: p_1
    posterior = F.pad(posterior, (0, 1))[:, None, :]                           # (5, 1, K + 1)
    u = solution("10.rate")(posterior, x_t, torch.full((K + 1,), t, dtype=torch.float64), kappa)[:, 0]
    marginal = lambda s: torch.cat([kappa(torch.tensor([s], dtype=torch.float64)) * p1,
                                    1 - kappa(torch.tensor([s], dtype=torch.float64))])
    flow = marginal(t) @ u
    assert torch.allclose(flow, (marginal(t + eps) - marginal(t - eps)) / (2 * eps), atol=1e-7)
    assert torch.allclose(u.sum(-1), torch.zeros(K + 1, dtype=torch.float64))


# ----------------------------------------------------------------------------- 10.euler_jump
def _factor(t, kappa):
    return kappa.derivative(t) / (1 - kappa(t))


def _e(a_of=lambda t, h, kappa: (h * _factor(t, kappa)).clamp(max=1), last=True, jump=lambda u, a: u < a,
       target=lambda post, u_jump, u_draw: draw(post, u_draw), keep=True, call_t=lambda t: t):
    def answer(model, x_t, t, h, kappa, u_jump, u_draw):
        post = model(x_t, call_t(t)).softmax(-1)
        a = a_of(t, h, kappa)
        if last:
            a = torch.where(t + h >= 1, torch.ones_like(a), a)
        new = target(post, u_jump, u_draw)
        return torch.where(jump(u_jump, a[:, None]), new, x_t) if keep else new
    return answer


def _one_uniform(clamp):
    def answer(model, x_t, t, h, kappa, u_jump, u_draw):
        post = model(x_t, t).softmax(-1)
        S = post.shape[-1] + (1 if model.mask_token is not None else 0)
        full = F.pad(post, (0, S - post.shape[-1]))
        delta = F.one_hot(x_t, S).double()
        p = delta + h * _factor(t, kappa)[:, None, None] * (full - delta)
        if clamp:
            p = p.clamp(min=0)
            p = p / p.sum(-1, keepdim=True)
        return draw(p, u_draw)
    return answer


def _in_place(model, x_t, t, h, kappa, u_jump, u_draw):
    new = _e()(model, x_t.clone(), t, h, kappa, u_jump, u_draw)
    x_t.copy_(new)
    return x_t


@pytest.mark.parametrize("answer, message", [
    (_e(a_of=lambda t, h, kappa: _factor(t, kappa).clamp(max=1)), "you left out the step size h"),
    (_e(a_of=lambda t, h, kappa: torch.full_like(t, h)), "not h alone"),
    (_e(keep=False), "tokens with u_jump ≥ a must stay as they are"),
    (_e(jump=lambda u, a: u >= a), "not where u_jump ≥ a"),
    (_e(last=False), "the last step (t + h = 1) must land on the data"),
    (_e(a_of=lambda t, h, kappa: 1 - torch.exp(-h * _factor(t, kappa))), "not 1 − exp(−h κ'/(1 − κ))"),
    (_e(target=lambda post, u_jump, u_draw: draw(post, u_jump)), "you drew with u_jump"),
    (_e(target=lambda post, u_jump, u_draw: post.argmax(-1)), "not its most likely token"),
    (lambda model, x_t, t, h, kappa, u_jump, u_draw: torch.where(
        u_jump < (h * _factor(t, kappa)).clamp(max=1).where(t + h < 1, 1.0)[:, None],
        draw(model(x_t, t), u_draw), x_t), "the model returns logits"),
    (lambda model, x_t, t, h, kappa, u_jump, u_draw: _e()(model, x_t, t, h, kappa, _fresh(u_jump), u_draw),
     "not fresh ones"),
    (_one_uniform(clamp=False), "that vector is no distribution where h κ'/(1 − κ) > 1"),
    (_one_uniform(clamp=True), "this step's convention is two uniforms"),
    (_e(a_of=lambda t, h, kappa: (h * _factor(t[:1].expand_as(t), kappa)).clamp(max=1)),
     "you used one time for the whole batch"),
    (_e(call_t=lambda t: t.flip(0)), "call the model at the current state and time"),
    (_e(call_t=lambda t: t * 2), "model(x_t, t) refused its input"),
    (lambda model, x_t, t, h, kappa, u_jump, u_draw: _e()(model, x_t.double(), t, h, kappa, u_jump, u_draw),
     "refused its input, as fmlite.discrete.TokenNet would"),
    (lambda model, x_t, t, h, kappa, u_jump, u_draw: model(t, x_t), "called as model(t, x)"),
    (lambda model, x_t, t, h, kappa, u_jump, u_draw: x_t.clone(), "call the model"),
    (lambda model, x_t, t, h, kappa, u_jump, u_draw: _e()(model, x_t, t, h, kappa, u_jump, u_draw).float(), INT),
    (_in_place, "changed its input x_t in place"),
    (_e(a_of=lambda t, h, kappa: (h * _factor(t, kappa)).clamp(max=1).reshape(7)), "one batch size only"),
    (lambda model, x_t, t, h, kappa, u_jump, u_draw: None, "not solved yet"),
])
def test_euler_jump_rejects(answer, message, rejected):
    rejected("10.euler_jump", answer, message)


@pytest.mark.parametrize("mask", [True, False])
def test_euler_jump_solution_is_the_packages_step(mask):
    K, d, B, h = 5, 3, 8, 0.25
    path = MixturePath(MaskSource(K) if mask else UniformSource(K), PowerKappa(2))
    model = StandInTokenNet(K, d, mask)
    g = torch.Generator().manual_seed(2)
    x_t = torch.randint(0, K + mask, (B, d), generator=g)
    t = torch.tensor([0.0, 0.25, 0.5, 0.75, 0.25, 0.5, 0.0, 0.5], dtype=torch.float64)
    u_jump, u_draw = torch.rand(B, d, generator=g), torch.rand(B, d, generator=g)
    ours = solution("10.euler_jump")(model, x_t, t, h, path.kappa, u_jump, u_draw)
    post = model(x_t, t).softmax(-1)
    inner = t + h < 1
    theirs = euler_step(x_t[inner], post[inner], t[inner], h, path, u_jump[inner], u_draw[inner])
    assert torch.equal(ours[inner], theirs)
    last = euler_step(x_t[~inner], post[~inner], t[~inner], h, path, u_jump[~inner], u_draw[~inner], last=True)
    assert torch.equal(ours[~inner], last)


def test_euler_jump_matches_the_step_distribution_delta_plus_h_rate():
    """Monte Carlo: over many uniforms, the solution's next state has the law δ(y = x_t) + h u_t(y, x_t) of one
    Euler step (here h κ'/(1 − κ) < 1), the rate from the worked solution of 10.rate."""
    K, d, n, h = 4, 2, 40_000, 0.2
    kappa = PowerKappa(2)
    model = StandInTokenNet(K, d, mask=True)
    x_t = torch.tensor([[K, 1]]).expand(n, d).clone()
    t = torch.full((n,), 0.4, dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    nxt = solution("10.euler_jump")(model, x_t, t, h, kappa, torch.rand(n, d, generator=g, dtype=torch.float64),
                                    torch.rand(n, d, generator=g, dtype=torch.float64))
    post = F.pad(model(x_t[:1], t[:1]).softmax(-1), (0, 1))
    law = F.one_hot(x_t[:1], K + 1).double() + h * solution("10.rate")(post, x_t[:1], t[:1], kappa)
    for i in range(d):
        freq = torch.bincount(nxt[:, i], minlength=K + 1).double() / n
        assert torch.allclose(freq, law[0, i], atol=0.01), (freq, law[0, i])

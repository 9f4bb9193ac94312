"""Exercises of notebook 09: wrong answers of every kind are rejected with a message naming the mistake; the worked
solutions agree with independent oracles (a closed-form flow, finite differences)."""
import pytest
import torch

from fmlite.exercises import passes, solution
from fmlite.exercises.nb09_flow_maps import TinyFlowMap, _trajectory, pairs

DTYPE = "returned float32 for float64 inputs: keep the inputs' dtype"   # the one dtype rule of every checker


# ----------------------------------------------------------------------------- 09.average_velocity
def _ubar(divide=lambda s, t: t - s, numerator=lambda tr: tr[-1] - tr[0], at_equal=lambda v, tr, s: v(tr[0], s)):
    def answer(velocity, trajectory, s, t):
        gap = divide(s, t)[:, None]
        same = (t == s)[:, None]
        mean = numerator(trajectory) / torch.where(gap == 0, torch.ones_like(gap), gap)
        return torch.where(same, at_equal(velocity, trajectory, s), mean)
    return answer


def _no_guard(velocity, trajectory, s, t):
    return (trajectory[-1] - trajectory[0]) / (t - s)[:, None]


def _zero_at_equal(velocity, trajectory, s, t):
    gap = (t - s)[:, None]
    return torch.where(gap == 0, torch.zeros_like(gap), (trajectory[-1] - trajectory[0]) / gap)


def _in_place(velocity, trajectory, s, t):
    trajectory -= trajectory[0].clone()
    return _ubar()(velocity, trajectory + 0, s, t)


@pytest.mark.parametrize("answer, message", [
    (_ubar(divide=lambda s, t: s - t), "you divided by (s − t): the sign is flipped"),
    (_ubar(divide=lambda s, t: t), "not by t"),
    (lambda v, tr, s, t: (tr[-1] - tr[0]) / t[:, None], "not by t"),
    (_ubar(numerator=lambda tr: tr[-1]), "you used the end point ψ_{t←s}(x) alone"),
    (_ubar(divide=lambda s, t: torch.ones_like(t)), "divide it by the time spent"),
    (_ubar(numerator=lambda tr: (tr[1] - tr[0]) * (len(tr) - 1)), "that is the first step's velocity"),
    (lambda v, tr, s, t: v(tr[0], s), "that is the velocity u_s(x) at the start"),
    (_ubar(numerator=lambda tr: (tr[-1] - tr[0]) / (len(tr) - 1)), "you divided by the number of steps"),
    (_ubar(numerator=lambda tr: tr[5] - tr[0]), "you took state 5 of the trajectory"),
    (_no_guard, "ū(x, s, s) = u_s(x)"),
    (_zero_at_equal, "ū(x, s, s) = u_s(x)"),
    (_ubar(divide=lambda s, t: t - s[0]), "one time for the whole batch"),
    (_ubar(divide=lambda s, t: t[0] - s), "one time for the whole batch"),
    (_ubar(divide=lambda s, t: (t - s).reshape(7, 1)[:, 0]), "your code works for one batch size only"),
    (lambda v, tr, s, t: _ubar()(v, tr, s, t).float(), DTYPE),
    (_in_place, "changed its input trajectory in place"),
    (lambda v, tr, s, t: _ubar()(lambda x, r: v(x, float(r[0])), tr, s, t), "t a tensor of shape (B,)"),
    (lambda v, tr, s, t: _ubar()(lambda x, r: v(r, x), tr, s, t), "velocity(t, x)"),
    (lambda v, tr, s, t: None, "not solved yet"),
])
def test_average_velocity_rejects(answer, message, rejected):
    rejected("09.average_velocity", answer, message)


def test_average_velocity_of_a_linear_flow_is_its_closed_form():
    """dx/dτ = a x has ψ_{t←s}(x) = x e^{a (t − s)}, so ū = x (e^{a (t − s)} − 1) / (t − s) and ū(x, s, s) = a x."""
    a = -0.7
    s, t = pairs(9)
    x = torch.linspace(-1, 2, 18, dtype=torch.float64).reshape(9, 2)
    traj = _trajectory(lambda y, tau: a * y, x, s, t, 200)
    got = solution("09.average_velocity")(lambda y, tau: a * y, traj, s, t)
    gap = (t - s)[:, None]
    closed = torch.where(gap == 0, a * x, x * torch.expm1(a * gap) / torch.where(gap == 0, 1.0, gap))
    assert torch.allclose(got, closed, atol=1e-10)


# ----------------------------------------------------------------------------- 09.meanflow_target
def _target(tangent=lambda u, s, t: (u, torch.ones_like(s), torch.zeros_like(t)), factor=lambda s, t: t - s,
            velocity=lambda x_0, x_1: x_1 - x_0, at=lambda x_0, x_1, s: (1 - s)[:, None] * x_0 + s[:, None] * x_1,
            sign=1.0, detach=True, first=lambda u: u):
    def answer(model, x_0, x_1, s, t):
        u = velocity(x_0, x_1)
        x = at(x_0, x_1, s)
        _, d = torch.func.jvp(model, (x, s, t), tangent(u, s, t))
        out = first(u) + sign * factor(s, t)[:, None] * d
        return out.detach() if detach else out
    return answer


def _finite_difference(h):
    def answer(model, x_0, x_1, s, t):
        x = (1 - s)[:, None] * x_0 + s[:, None] * x_1
        u = x_1 - x_0
        step = torch.where(s + h <= 1, h, -h)
        d = (model(x + step[:, None] * u, s + step, t) - model(x, s, t)) / step[:, None]
        return (u + (t - s)[:, None] * d).detach()
    return answer


def _central(h):
    def answer(model, x_0, x_1, s, t):      # central where [s − h, s + h] fits in [0, 1], one-sided at the ends
        x = (1 - s)[:, None] * x_0 + s[:, None] * x_1
        u = x_1 - x_0
        up = torch.where(s + h <= 1, h, 0.0)
        down = torch.where(s - h >= 0, h, 0.0)
        d = (model(x + up[:, None] * u, s + up, t) - model(x - down[:, None] * u, s - down, t)) / (up + down)[:, None]
        return (u + (t - s)[:, None] * d).detach()
    return answer


def _jvp_first(model, x_0, x_1, s, t):
    x, u = (1 - s)[:, None] * x_0 + s[:, None] * x_1, x_1 - x_0
    out, _ = torch.func.jvp(model, (x, s, t), (u, torch.ones_like(s), torch.zeros_like(t)))
    return (u + (t - s)[:, None] * out).detach()


@pytest.mark.parametrize("answer, message", [
    (_target(sign=-1.0), "the derivative term has the wrong sign"),
    (_target(factor=lambda s, t: s - t), "not (s − t)"),
    (_target(tangent=lambda u, s, t: (u, torch.zeros_like(s), torch.ones_like(t))), "the tangent moves t instead of s"),
    (_target(tangent=lambda u, s, t: (u, torch.ones_like(s), torch.ones_like(t))), "the tangent moves both s and t"),
    (_target(detach=False), "stop the gradient with .detach()"),
    (_finite_difference(0.1), "a finite difference with step 0.1"),
    (_finite_difference(1e-3), "a finite difference with step 0.001"),
    (_central(1e-3), "torch.func.jvp gives the exact derivative"),
    (_target(velocity=lambda x_0, x_1: x_1), "you used the data point x_1 in its place"),
    (_target(tangent=lambda u, s, t: (u * 0, torch.ones_like(s), torch.zeros_like(t))),
     "the term (∇_x ū) u_s is missing"),
    (_target(velocity=lambda x_0, x_1: x_0 - x_1), "not x_0 − x_1"),
    (_target(at=lambda x_0, x_1, s: x_0), "not at x_0"),
    (_target(at=lambda x_0, x_1, s: s[:, None] * x_0 + (1 - s)[:, None] * x_1), "not at s x_0 + (1 − s) x_1"),
    (_target(first=lambda u: 0 * u), "without u_s"),
    (_target(factor=lambda s, t: torch.ones_like(s)), "the derivative term is multiplied by (t − s)"),
    (_jvp_first, "that is the JVP's first output"),
    (lambda m, x_0, x_1, s, t: m((1 - s)[:, None] * x_0 + s[:, None] * x_1, s, t).detach(),
     "you returned the model's output"),
    (_target(factor=lambda s, t: t - s[0]), "one time for the whole batch"),
    (lambda m, x_0, x_1, s, t: torch.func.jvp(m, ((1 - s)[:, None] * x_0 + s[:, None] * x_1, s, t),
                                              (x_1 - x_0, torch.ones_like(s), torch.zeros_like(t))),
     "return the target alone"),
    (lambda m, x_0, x_1, s, t: _target()(lambda x, a, b: m(b, a, x), x_0, x_1, s, t), "takes the points first"),
    (lambda m, x_0, x_1, s, t: _target()(m, x_0, x_1, s, t).float(), DTYPE),
    (lambda m, x_0, x_1, s, t: None, "not solved yet"),
])
def test_meanflow_target_rejects(answer, message, rejected):
    rejected("09.meanflow_target", answer, message)


def test_meanflow_target_matches_finite_differences_and_the_identity():
    """The JVP equals a central finite difference of ū along (u_s, 1, 0); and for a ū that is the exact average
    velocity of the linear flow dx/dτ = a x, the target equals ū itself (the MeanFlow identity)."""
    model, (s, t) = TinyFlowMap(2), pairs(9, seed=3)
    x_0 = torch.randn(9, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x_1 = torch.randn(9, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    got = solution("09.meanflow_target")(model, x_0, x_1, s, t)
    x, u, h = (1 - s)[:, None] * x_0 + s[:, None] * x_1, x_1 - x_0, 1e-5
    inner = (s > h) & (s < 1 - h)
    x, u, s, t = x[inner], u[inner], s[inner], t[inner]
    with torch.no_grad():
        fd = (model(x + h * u, s + h, t) - model(x - h * u, s - h, t)) / (2 * h)
    assert torch.allclose(got[inner], u + (t - s)[:, None] * fd, atol=1e-8)
    a = 0.8

    def exact(y, s_, t_):     # ū(y, s, t) of dx/dτ = a x: y (e^{a (t − s)} − 1) / (t − s), a y at s = t
        g = (t_ - s_)[:, None]
        return torch.where(g == 0, a * y, y * torch.expm1(a * g) / torch.where(g == 0, 1.0, g))
    s2, t2 = pairs(9, seed=4)
    ok = s2 < t2    # the identity at s = t is trivial; the where-branches' derivative is checked where s < t
    y = torch.randn(9, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    _, d = torch.func.jvp(exact, (y, s2, t2), (a * y, torch.ones_like(s2), torch.zeros_like(t2)))
    assert torch.allclose((a * y + (t2 - s2)[:, None] * d)[ok], exact(y, s2, t2)[ok], atol=1e-10)


# ----------------------------------------------------------------------------- 09.sample_flow_map
def _sampler(grid=lambda k, dtype: torch.linspace(0, 1, k + 1, dtype=dtype), call=lambda m, x, a, b: m(x, a, b),
             step=lambda a, b: b - a):
    def answer(model, x_0, steps):
        g, x = grid(steps, x_0.dtype), x_0
        ones = torch.ones(len(x_0), dtype=x_0.dtype)
        for a, b in zip(g[:-1], g[1:]):
            x = x + step(a, b) * call(model, x, a * ones, b * ones)
        return x
    return answer


def _in_place_sampler(model, x_0, steps):
    ones = torch.ones(len(x_0), dtype=x_0.dtype)
    for k in range(steps):
        x_0 += model(x_0, k / steps * ones, (k + 1) / steps * ones) / steps
    return x_0


@pytest.mark.parametrize("answer, message", [
    (_sampler(grid=lambda k, d: torch.linspace(0, 1, k, dtype=d)), "yours called it"),
    (_sampler(grid=lambda k, d: torch.linspace(0, 1, k + 2, dtype=d)), "yours called it"),
    (_sampler(call=lambda m, x, a, b: m(x, b, a)), "you called model(x, t_{k+1}, t_k)"),
    (_sampler(call=lambda m, x, a, b: m(x, a, a)), "plain Euler"),
    (_sampler(grid=lambda k, d: torch.linspace(0, 1 - 1 / k, k + 1, dtype=d)), "not at t = 1"),
    (_sampler(grid=lambda k, d: torch.linspace(0, 1, 6, dtype=d)), "yours called it"),
    (_sampler(grid=lambda k, d: torch.linspace(0, 1, k + 1, dtype=d) ** 2), "do not follow the uniform grid"),
    (_sampler(step=lambda a, b: 1.0), "you left out the step length"),
    (_in_place_sampler, "changed its input x_0 in place"),
    (lambda m, x_0, k: _sampler(call=lambda m_, x, a, b: m_(x, float(a[0]), float(b[0])))(m, x_0, k),
     "s and t tensors of shape (B,)"),
    (lambda m, x_0, k: _sampler()(m, x_0, k).float(), DTYPE),
    (lambda m, x_0, k: None, "not solved yet"),
])
def test_sample_flow_map_rejects(answer, message, rejected):
    rejected("09.sample_flow_map", answer, message)


def test_jump_from_start_is_rejected(rejected):
    def answer(model, x_0, steps):
        x, ones = x_0, torch.ones(len(x_0), dtype=x_0.dtype)
        for k in range(steps):
            x = x_0 + model(x, k / steps * ones, (k + 1) / steps * ones) / steps
        return x
    rejected("09.sample_flow_map", answer, "you jumped from x_0 each time")


def test_sampler_with_the_exact_average_velocity_lands_on_the_exact_flow():
    """With the exact ū of dx/dτ = a x, every number of steps gives ψ_{1←0}(x_0) = x_0 e^a."""
    a = -1.3

    def exact(y, s, t):
        g = (t - s)[:, None]
        return y * torch.expm1(a * g) / g
    x_0 = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for k in (1, 2, 5, 8):
        assert torch.allclose(solution("09.sample_flow_map")(exact, x_0, k), x_0 * torch.exp(torch.tensor(a)),
                              atol=1e-12)


def test_solutions_pass_and_the_stand_in_refuses_what_the_network_refuses():
    for key in ("09.average_velocity", "09.meanflow_target", "09.sample_flow_map"):
        assert passes(key, solution(key))
    m = TinyFlowMap(2)
    x = torch.zeros(3, 2, dtype=torch.float64)
    for bad in (lambda: m(x, 1.5, 1.0), lambda: m(x[:, :1], 0.0, 1.0), lambda: m(x.long(), 0.0, 1.0),
                lambda: m(x, torch.zeros(2), 1.0)):
        with pytest.raises(Exception, match="refused its input"):
            bad()

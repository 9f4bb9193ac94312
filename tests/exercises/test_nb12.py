"""Exercises of notebook 12: wrong answers of every kind are rejected with a message naming the mistake; the
solutions agree with independent oracles (arccos distances, a finite difference of the path, exp(log) round
trips, the tangent plane)."""
import pytest
import torch

from fmlite.exercises import solution
from fmlite.exercises.nb12_curved import CALLS, H, SphereField, _log_pairs, _points, _tangent

DTYPE = "returned float32 for float64 inputs: keep the inputs' dtype"
exp_map, log_map = solution("12.exp_map"), solution("12.log_map")


def _n(v):
    return v.norm(dim=-1, keepdim=True)


def _unit(v):
    return v / _n(v)


def _safe(v):
    return v / _n(v).clamp_min(1e-12)


@pytest.mark.parametrize("answer, message", [
    (lambda x, v: x + v, "leaves the sphere"),
    (lambda x, v: _unit(x + v), "a retraction"),
    (lambda x, v: x + torch.sin(_n(v)) * _safe(v), "the cos term is missing"),
    (lambda x, v: torch.sin(_n(v)) * _safe(v), "the cos term is missing"),
    (lambda x, v: torch.cos(_n(v)) * x + torch.sin(_n(v)) * v, "normalise the direction"),
    (lambda x, v: torch.cos(_n(v)) * x + torch.sin(_n(v)) * v / _n(v), "NaN where v = 0"),
    (lambda x, v: torch.cos(v.norm()) * x + torch.sin(v.norm()) * v / v.norm(), "not of the whole batch"),
    (lambda x, v: torch.sin(_n(v)) * x + torch.cos(_n(v)) * _safe(v), "cos and sin are swapped"),
    (lambda x, v: -exp_map(x, v), "wrong sign"),
    (lambda x, v: exp_map(x, v).float(), DTYPE),
    (lambda x, v: exp_map(x, v)[:, :3], "has shape (5, 3), expected (5, 4)"),
    (lambda x, v: exp_map(x, v[:7]).reshape(7, -1), "one batch size only"),
    (lambda x, v: None, "not solved yet"),
])
def test_exp_map_rejects(answer, message, rejected):
    rejected("12.exp_map", answer, message)


def _log(angle=torch.arccos, clamp=True, project=True, normalise=True, guard=True, length=None):
    def answer(x, y):
        c = (x * y).sum(-1, keepdim=True)
        c = c.clamp(-1, 1) if clamp else c
        w = y - c * x if project else y - x
        if normalise:
            w = w / (_n(w).clamp_min(1e-12) if guard else _n(w))
        theta = angle(c) if length is None else length(x, y)
        return theta * w
    return answer


@pytest.mark.parametrize("answer, message", [
    (lambda x, y: y - x, "a chord through the ball"),
    (_log(project=False), "not the chord y − x"),
    (_log(angle=torch.arcsin), "not arcsin"),
    (_log(length=lambda x, y: _n(y - x)), "not the chord length"),
    (_log(normalise=False, angle=lambda c: 1.0), "has length sin θ, not θ"),
    (_log(normalise=False), "θ sin θ long"),
    (_log(clamp=False), "NaN where y = x"),
    (_log(guard=False), "NaN where y = x"),
    (lambda x, y: log_map(y, x), "that is log_y(x)"),
    (lambda x, y: -log_map(x, y), "wrong sign"),
    (lambda x, y: log_map(x, y).float(), DTYPE),
    (lambda x, y: 2 * log_map(x, y), "is 2 times the expected value"),
])
def test_log_map_rejects(answer, message, rejected):
    rejected("12.log_map", answer, message)


def _geo(u=lambda x_0, x_1, x_t, t: log_map(x_t, x_1) / (1 - t[:, None]), time=lambda t: t):
    def answer(x_0, x_1, t):
        s = time(t)
        x_t = exp_map(x_0, s[:, None] * log_map(x_0, x_1))
        return x_t, u(x_0, x_1, x_t, s)
    return answer


def _shared(x_0, x_1, t):
    x_t = exp_map(x_0, t[:, None] * log_map(x_0, x_1))
    return x_t, log_map(x_t, x_1) / (1 - t[0])


@pytest.mark.parametrize("answer, message", [
    (_geo(u=lambda x_0, x_1, x_t, t: x_1 - x_0), "the flat target"),
    (_geo(u=lambda x_0, x_1, x_t, t: (x_1 - x_0) - ((x_1 - x_0) * x_t).sum(-1, keepdim=True) * x_t),
     "project x_1 − x_0"),
    (_geo(u=lambda x_0, x_1, x_t, t: log_map(x_t, x_1)), "divide it by the time left"),
    (_geo(u=lambda x_0, x_1, x_t, t: log_map(x_0, x_1)), "take the log at x_t"),
    (_geo(u=lambda x_0, x_1, x_t, t: log_map(x_0, x_1) / (1 - t[:, None])), "tangent at x_0"),
    (_geo(u=lambda x_0, x_1, x_t, t: x_t), "you returned x_t as the velocity"),
    (_shared, "one time for the whole batch (t[0], t.mean(), a Python number...); keep t as a (B,) tensor and "
              "broadcast it, e.g. t[:, None] (here in 1 − t)"),
    (lambda x_0, x_1, t: _geo()(x_0, x_1, t.median().expand(len(t))), "one time for the whole batch"),
    (_geo(u=lambda x_0, x_1, x_t, t: log_map(x_t, x_1) / (1 - t[:, None]).clamp_min(0.05)), "near the ends"),
    (_geo(time=lambda t: t.clamp(0.01, 0.97)), "x_t is right except near the ends"),
    (lambda x_0, x_1, t: _geo()(x_0, x_1, t)[1], "return two tensors"),
    (_geo(u=lambda x_0, x_1, x_t, t: -log_map(x_t, x_1) / (1 - t[:, None])), "wrong sign"),
    (_geo(u=lambda x_0, x_1, x_t, t: log_map(x_t, x_1) / t[:, None]), "NaN or inf"),
    (lambda x_0, x_1, t: (x_0 + t[:, None] * (x_1 - x_0), x_1 - x_0), "x_t differs"),
])
def test_geodesic_velocity_rejects(answer, message, rejected):
    rejected("12.geodesic_velocity", answer, message)


def _proj(v, x):
    return v - (v * x).sum(-1, keepdim=True) * x


@pytest.mark.parametrize("answer, message", [
    (lambda f, x, t, h: x + h * f(x, t), "an Euler step in R^D"),
    (lambda f, x, t, h: x + h * _proj(f(x, t), x), "leaves the sphere by sqrt(1 + h²|v|²) − 1"),
    (lambda f, x, t, h: _unit(x + h * _proj(f(x, t), x)), "travels arctan(h|v|)"),
    (lambda f, x, t, h: _unit(x + h * f(x, t)), "travels arctan(h|v|)"),
    (lambda f, x, t, h: exp_map(x, h * f(x, t)), "project the velocity onto the tangent plane"),
    (lambda f, x, t, h: exp_map(x, _proj(f(x, t), x)), "not exp_x(P_x(v))"),
    (lambda f, x, t, h: exp_map(x, h * _proj(f(x, t[:1].expand(len(t))), x)), "one time for the whole batch"),
    (lambda f, x, t, h: exp_map(x, h * _proj(f(t, x), x)), "was called as velocity(t, x)"),
    (lambda f, x, t, h: exp_map(x, h * _proj(f(x[:, :2], t), x)), "refused its input"),
    (lambda f, x, t, h: exp_map(x, h * _proj(f(2 * x, t), x)), "off the sphere"),
    (lambda f, x, t, h: exp_map(x, h * _proj(f(x, t + h), x)), "not at t + h"),
    (lambda f, x, t, h: exp_map(x, h * _proj(f(x, t + 2 * h), x)), "refused its input"),
])
def test_riemannian_euler_step_rejects(answer, message, rejected):
    rejected("12.riemannian_euler_step", answer, message)


# ----------------------------------------------------------------------------- the solutions against oracles
@pytest.mark.parametrize("b, d", CALLS)
def test_exp_and_log_round_trip_and_distance(b, d):
    x, y = _log_pairs(b, d, 0)
    v = log_map(x, y)
    assert torch.allclose((v * x).sum(-1), torch.zeros(b, dtype=torch.float64), atol=1e-12)       # tangent at x
    angle = torch.arccos(torch.cosine_similarity(x, y, dim=-1).clamp(-1, 1))
    assert torch.allclose(v.norm(dim=-1), angle, atol=1e-7)                                         # geodesic distance
    assert torch.allclose(exp_map(x, v), y, atol=1e-7)                                              # exp(log) = id
    assert torch.equal(v[0], torch.zeros(d, dtype=torch.float64))                                   # log_x(x) = 0
    w = _tangent(x, 5, scale=0.5)
    assert torch.allclose(exp_map(x, w).norm(dim=-1), torch.ones(b, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(log_map(x, exp_map(x, w)), w, atol=1e-9)                                  # log(exp) = id


@pytest.mark.parametrize("b, d", CALLS)
def test_geodesic_velocity_is_the_derivative_of_the_path(b, d):
    x_0, x_1 = _points(b, d, 1), _points(b, d, 2)
    t = torch.linspace(0.05, 0.95, b, dtype=torch.float64)
    x_t, u_t = solution("12.geodesic_velocity")(x_0, x_1, t)
    eps = 1e-6
    plus, minus = (solution("12.geodesic_velocity")(x_0, x_1, t + s)[0] for s in (eps, -eps))
    assert torch.allclose((plus - minus) / (2 * eps), u_t, atol=1e-6)                              # finite difference
    dist = torch.arccos((x_0 * x_1).sum(-1).clamp(-1, 1))
    assert torch.allclose(u_t.norm(dim=-1), dist, atol=1e-9)                                        # constant speed


def test_euler_step_stays_on_the_sphere_and_moves_h_times_the_speed():
    x = _points(7, 3, 4)
    t, field = torch.full((7,), 0.2, dtype=torch.float64), SphereField(3)
    new = solution("12.riemannian_euler_step")(field, x, t, H)
    assert torch.allclose(new.norm(dim=-1), torch.ones(7, dtype=torch.float64), atol=1e-12)
    moved = torch.arccos((new * x).sum(-1).clamp(-1, 1))
    assert torch.allclose(moved, H * _proj(field(x, t), x).norm(dim=-1), atol=1e-9)

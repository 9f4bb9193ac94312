"""Exercises of notebook 08: wrong answers of every kind are rejected with a message naming the mistake; the
solutions agree with independent oracles (fmlite.likelihood, fmlite.scores, the Gaussian-mixture closed form)."""
import pytest
import torch

from fmlite.exercises import solution
from fmlite.gaussian_mixture import example_mixture
from fmlite.likelihood import exact_divergence, hutchinson_divergence
from fmlite.paths import LinearPath
from fmlite.scores import velocity_to_score

DTYPE = "returned float32 for float64 inputs: keep the inputs' dtype"   # the one dtype rule of every checker

ONE_TIME = "you used one time for the whole batch"


def _hutch(probe_left=lambda z: z, probe_right=lambda z: z, time=lambda t: t, reduce=lambda a: a.sum(1),
           sign=1.0, swap=False):
    def answer(velocity, x, t, z):
        x = x.detach().requires_grad_(True)
        v = velocity(t, x) if swap else velocity(x, time(t))
        (g,) = torch.autograd.grad(v, x, grad_outputs=probe_left(z))
        return sign * reduce(g * probe_right(z))
    return answer


def _exact_div(velocity, x, t, z):
    x = x.detach().requires_grad_(True)
    v = velocity(x, t)
    return sum(torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)[0][:, i] for i in range(x.shape[1]))


@pytest.mark.parametrize("answer, message", [
    (_exact_div, "this is the exact divergence trace(dv/dx)"),
    (_hutch(probe_right=torch.ones_like), "without multiplying by z again"),
    (_hutch(probe_left=torch.ones_like), "you used an all-ones vector on one side"),
    (_hutch(probe_left=torch.ones_like, probe_right=torch.ones_like), "you used all-ones vectors instead of the probe"),
    (lambda velocity, x, t, z: (velocity(x, t) * z).sum(1), "z^T v is the velocity seen along z"),
    (_hutch(sign=-1.0), "the estimate has the wrong sign"),
    (_hutch(reduce=lambda a: a.mean(1)), "sum over the coordinates, not the mean"),
    (_hutch(probe_left=lambda z: z * z, probe_right=lambda z: z * z), "you squared the probe"),
    (_hutch(time=lambda t: 1 - t), "time runs the wrong way"),
    (_hutch(time=lambda t: t[0]), ONE_TIME),                                                           # kind 1
    (_hutch(time=lambda t: t.mean()), ONE_TIME),                                                       # kind 1
    (_hutch(reduce=lambda a: a), "sum z * (z^T dv/dx) over the coordinates"),                         # shape
    (_hutch(reduce=lambda a: a.sum()), "you summed or averaged over the batch too"),                   # shape
    (_hutch(swap=True), "velocity was called as velocity(t, x)"),                                      # model(t, x)
    (_hutch(time=lambda t: t[:, None]), "refused its input, as a network of fmlite.models would"),     # kind 3
    (_hutch(time=lambda t: t.clamp(0.05, 0.95)), "is right except near the ends of the time range"),      # kind 5
    (lambda velocity, x, t, z: (torch.autograd.grad(velocity(x, t), x, z)[0] * z).sum(1),
     "does not require grad"),                                                                         # no leaf
])
def test_hutchinson_rejects(answer, message, rejected):
    rejected("08.hutchinson", answer, message)


def test_hutchinson_that_changes_z_in_place_is_rejected(rejected):
    def in_place(velocity, x, t, z):
        out = solution("08.hutchinson")(velocity, x, t, z)
        z.mul_(2)
        return out
    rejected("08.hutchinson", in_place, "changed x or z in place")


def _score(f):
    return lambda v, x, t: f(v, x, t[:, None])


@pytest.mark.parametrize("answer, message", [
    (_score(lambda v, x, T: (x - T * v) / (1 - T)), "the score has the wrong sign"),
    (_score(lambda v, x, T: x - T * v), "this is x0_hat = x - t v"),
    (_score(lambda v, x, T: T * v - x), "you forgot to divide by beta_t = 1 - t"),
    (_score(lambda v, x, T: (T * v - x) / T), "you divided by alpha_t = t"),                   # infinite at t = 0
    (_score(lambda v, x, T: (T * v - x) / T.clamp(min=1e-3)), "you divided by alpha_t = t"),  # finite everywhere
    (_score(lambda v, x, T: (v - x) / (1 - T)), "v is multiplied by t"),
    (_score(lambda v, x, T: x + (1 - T) * v), "this is x1_hat = x + (1 - t) v"),
    (_score(lambda v, x, T: (T * v - x) / (1 - T) ** 2), "you divided by (1 - t)^2 = s_t^2 but used x0_hat"),
    (_score(lambda v, x, T: v / (1 - T)), "you dropped alpha_t = t"),
    (_score(lambda v, x, T: ((1 - T) * v - x) / T), "time runs the wrong way"),                # infinite at t = 0
    (_score(lambda v, x, T: (T * x - v) / (1 - T)), "you swapped v and x"),
    (lambda v, x, t: (t[0] * v - x) / (1 - t[0]), ONE_TIME),                                   # kind 1
    (lambda v, x, t: (t.mean() * v - x) / (1 - t.mean()), ONE_TIME),                           # kind 1
    (lambda v, x, t: (t * v - x) / (1 - t), "t has shape (B,): use t[:, None]"),               # kind 3 (broadcast)
    (_score(lambda v, x, T: (T * v - x) / (1 - T + 1e-2)), "the score differs from the expected value"),  # eps
])
def test_score_from_velocity_rejects(answer, message, rejected):
    rejected("08.score_from_velocity", answer, message)


# ----------------------------------------------------------------------------- independent oracles
def test_hutchinson_solution_agrees_with_the_package_and_is_unbiased():
    gmm, path = example_mixture(), LinearPath()
    field = gmm.field(path)
    x = gmm.sample(5, torch.Generator().manual_seed(1), dtype=torch.float64)
    t = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=torch.float64)
    z = torch.randn(1, 5, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ours = solution("08.hutchinson")(field, x, t, z[0])
    assert torch.allclose(ours, hutchinson_divergence(field, x, t, z=z), atol=1e-10)
    many = torch.randn(4000, 5, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    mean = torch.stack([solution("08.hutchinson")(field, x, t, zk) for zk in many[:400]]).mean(0)
    exact = exact_divergence(field, x, t)
    spread = torch.stack([solution("08.hutchinson")(field, x, t, zk) for zk in many[400:800]]).std(0)
    assert ((mean - exact).abs() < 4 * spread / 400 ** 0.5 + 1e-9).all()


def test_score_from_velocity_matches_the_package_and_the_mixture_score():
    gmm, path = example_mixture(), LinearPath()
    x = gmm.sample(6, torch.Generator().manual_seed(4), dtype=torch.float64) * 0.7
    t = torch.tensor([0.0, 0.05, 0.3, 0.6, 0.9, 0.99], dtype=torch.float64)
    v = gmm.velocity(x, t, path)
    ours = solution("08.score_from_velocity")(v, x, t)
    assert torch.allclose(ours, velocity_to_score(v, x, t, path), atol=1e-10)
    assert torch.allclose(ours, gmm.score(x, t, path), atol=1e-8)


@pytest.mark.parametrize("key, answer, message", [                           # found by a trial of wrong answers
    ("08.hutchinson", lambda vel, x, t, z: solution("08.hutchinson")(vel, x, t, torch.randn_like(z)),
     "you drew your own probes"),
    ("08.hutchinson", _hutch(reduce=lambda a: a.sum(0)), "you summed over the batch (dim=0)"),
    ("08.hutchinson", lambda vel, x, t, z: solution("08.hutchinson")(vel, x, t, z).float(), DTYPE),
    ("08.score_from_velocity", _score(lambda v, x, T: (T * v - x) / (1 - T).clamp(min=0.01)),
     "do not clamp 1 - t"),
    ("08.score_from_velocity", _score(lambda v, x, T: (T * v - x) / (1 - T).clamp(min=0.005)),
     "do not clamp 1 - t"),
    ("08.score_from_velocity", _score(lambda v, x, T: (T.float() * v - x) / (1 - T.float())),
     "you rounded t to float32"),
    ("08.score_from_velocity", lambda v, x, t: x.sub_(t[:, None] * v).div_(-(1 - t[:, None])),
     "changed its input x in place"),
    ("08.score_from_velocity", lambda v, x, t: v.mul_(t[:, None]).sub_(x).div_(1 - t[:, None]),
     "changed its input v in place"),
])
def test_trial_answers_rejected(key, answer, message, rejected):
    rejected(key, answer, message)


# ----------------------------------------------------------------------------- issue 20: aimed hints, sizes
FIXED_SIZE = "your code works for one batch size only"


@pytest.mark.parametrize("key, answer, message", [
    # -x is the one-time answer at t = 0 too: it used to be told "one time for the whole batch"
    ("08.score_from_velocity", lambda v, x, t: -x, "your score ignores the velocity v: -x is the score of pure noise"),
    ("08.score_from_velocity", _score(lambda v, x, T: -x / (1 - T)), "your score ignores the velocity v"),
    ("08.score_from_velocity", lambda v, x, t: (t.reshape(7, 1) * v - x) / (1 - t.reshape(7, 1)), FIXED_SIZE),
    ("08.score_from_velocity", _score(lambda v, x, T: ((T * v - x) / (1 - T)).float()),
     "returned float32 for float64 inputs: keep the inputs' dtype"),
    ("08.hutchinson", lambda vel, x, t, z: solution("08.hutchinson")(vel, x, t.reshape(7), z), FIXED_SIZE),
    ("08.hutchinson", _hutch(time=lambda t: t.clamp(0.02, 0.98)), "is right except near the ends of the time range"),
])
def test_aimed_hints_written_in_sizes_and_float32(key, answer, message, rejected):
    rejected(key, answer, message)

"""Exercises of notebook 05: wrong answers of every kind are rejected with a message naming the mistake; the
solutions agree with independent oracles (the empirical variance of x_0 + σ(0) ε, and fmlite.exact's two fields)."""
import pytest
import torch

from fmlite.exact import marginal_velocity, naive_marginal_velocity, posterior_weights
from fmlite.exercises import solution
from fmlite.paths import BridgeSigma, ConstantSigma, CosinePath, LinearPath, SineSigma

DTYPE = "returned float32 for float64 inputs: keep the inputs' dtype"   # the one dtype rule of every checker

ONE_TIME = "you used one time for the whole batch"


def _s0(s):
    return float(s(torch.zeros(1, dtype=torch.float64))[0])


@pytest.mark.parametrize("answer, message", [
    (lambda x_0, s: x_0, "the points are unchanged"),
    (lambda x_0, s: x_0 * (1 + _s0(s) ** 2), "the variance"),
    (lambda x_0, s: x_0 * (1 + _s0(s)), "you scaled by 1 + σ(0)"),
    (lambda x_0, s: x_0 + _s0(s), "you shifted the points"),
    (lambda x_0, s: x_0 * _s0(s), "you scaled by σ(0) alone"),
    (lambda x_0, s: x_0 / (1 + _s0(s) ** 2) ** 0.5, "so multiply"),
    (lambda x_0, s: x_0 * (1 + float(s(torch.ones(1))[0]) ** 2) ** 0.5, "you used σ(1)"),
    (lambda x_0, s: x_0 * (1 + float(s(torch.full((1,), 0.5))[0]) ** 2) ** 0.5, "you used σ at t = 0.5"),
    (lambda x_0, s: x_0 * (1 + _s0(s)) ** 0.5, "so √(1 + σ(0)²)"),
    (lambda x_0, s: x_0 + _s0(s) * torch.randn(x_0.shape, generator=torch.Generator().manual_seed(0),
                                             dtype=x_0.dtype), "the starting points differ"),  # one draw
    (lambda x_0, s: (x_0 * (1 + _s0(s) ** 2) ** 0.5)[:, :2], "has shape"),
    (lambda x_0, s: None, "not solved yet"),
])
def test_start_noise_rejects(answer, message, rejected):
    rejected("05.start_noise", answer, message)


def test_start_noise_solution_agrees_with_the_package_on_random_inputs():
    """The worked solution restates `fmlite.widgets.start_noise` (same arguments: x_0 and a schedule)."""
    from fmlite.paths import Sigma
    from fmlite.widgets import start_noise
    g = torch.Generator().manual_seed(6)
    for s in (ConstantSigma(0.5), BridgeSigma(1.0), SineSigma(1.0), ConstantSigma(1.5),
              Sigma(lambda t: 0.3 + 0.5 * t, name="0.3 + 0.5 t")):
        for dtype in (torch.float64, torch.float32):
            x_0 = torch.randn(11, 3, generator=g, dtype=dtype)
            worked, package = solution("05.start_noise")(x_0, s), start_noise(x_0, s)
            assert worked.dtype == package.dtype == dtype
            torch.testing.assert_close(worked, package)


def test_start_noise_has_the_variance_of_x_t_at_t_0():
    g = torch.Generator().manual_seed(0)
    x_0, eps = torch.randn(2, 200_000, 2, generator=g, dtype=torch.float64)
    for s in (ConstantSigma(0.7), ConstantSigma(1.5)):
        x_t = LinearPath(s).interpolate(x_0, torch.zeros_like(x_0), 0.0, eps)
        assert solution("05.start_noise")(x_0, s).var(0) == pytest.approx(x_t.var(0), rel=0.02)


def _parts(x, t, data, path):
    c = path.field_coefficients(t)
    xbar = posterior_weights(x, t, data, path) @ data
    return (c["alpha_t"][:, None], c["beta_t"][:, None], c["sigma_t"][:, None], c["sigma_d_sigma_t"][:, None],
            (c["beta_t"] * c["d_beta_t"])[:, None], xbar)


def _gap(fn):
    def answer(x, t, data, path):
        a, b, s, ss, bb, xbar = _parts(x, t, data, path)
        return fn(x, t, data, path, a, b, s, ss, bb, xbar)
    return answer


@pytest.mark.parametrize("answer, message", [
    (_gap(lambda x, t, d, p, a, b, s, ss, bb, xb: -ss / (b**2 + s**2) * (x - a * xb)), "wrong sign"),
    (_gap(lambda x, t, d, p, a, b, s, ss, bb, xb: ss / (b**2 + s**2) * (x - xb)), "x̄ must be scaled by α_t"),
    (_gap(lambda x, t, d, p, a, b, s, ss, bb, xb: ss / (b**2 + s**2) * (x - a * d.mean(0))), "plain mean"),
    (_gap(lambda x, t, d, p, a, b, s, ss, bb, xb: ss / b**2 * (x - a * xb)), "you divided by β_t² only"),
    (_gap(lambda x, t, d, p, a, b, s, ss, bb, xb: ss / (b**2 + s**2).sqrt() * (x - a * xb)),
     "standard deviation"),
    (_gap(lambda x, t, d, p, a, b, s, ss, bb, xb: (bb + ss) / (b**2 + s**2) * (x - a * xb)), "whole correct gain"),
    (_gap(lambda x, t, d, p, a, b, s, ss, bb, xb: bb / (b**2 + s**2) * (x - a * xb)), "what the naive field keeps"),
    (_gap(lambda x, t, d, p, a, b, s, ss, bb, xb: (x - a * xb) / (b**2 + s**2)), "forgot the factor σ_t σ'_t"),
    (_gap(lambda x, t, d, p, a, b, s, ss, bb, xb: x - a * xb), "without the gain"),
    (lambda x, t, d, p: solution("05.naive_field_gap")(x, t[:1].expand_as(t), d, p), ONE_TIME),
    (lambda x, t, d, p: marginal_velocity(x, t, d, p) + naive_marginal_velocity(x, t, d, p), "differs"),
    (_gap(lambda x, t, d, p, a, b, s, ss, bb, xb: ss[:, 0] / (b**2 + s**2)[:, 0] * (x - a * xb)), "broadcast"),
    (lambda x, t, d, p: None, "not solved yet"),
])
def test_naive_field_gap_rejects(answer, message, rejected):
    rejected("05.naive_field_gap", answer, message)


@pytest.mark.parametrize("path", [LinearPath(SineSigma(1.0)), LinearPath(BridgeSigma(0.5)),
                                  CosinePath(SineSigma(0.7)), LinearPath(ConstantSigma(0.5))])
def test_naive_field_gap_is_the_difference_of_the_exact_fields(path):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(9, 2, generator=g, dtype=torch.float64)
    data = torch.randn(6, 2, generator=g, dtype=torch.float64)
    t = torch.linspace(0.0, 0.95, 9, dtype=torch.float64)
    gap = marginal_velocity(x, t, data, path) - naive_marginal_velocity(x, t, data, path)
    assert torch.allclose(solution("05.naive_field_gap")(x, t, data, path), gap, atol=1e-10)


def _in_place_start(x_0, s):
    return x_0.mul_((1 + _s0(s) ** 2) ** 0.5)


def _by_hand_gap(x, t, data, path):
    c = path.field_coefficients(t)
    ss = path.sigma(t) * path.sigma.derivative(t)              # 0 * inf at the bridge's t = 0
    return (ss / (c["beta_t"] ** 2 + c["sigma_t"] ** 2))[:, None] * (
        x - c["alpha_t"][:, None] * (posterior_weights(x, t, data, path) @ data))


@pytest.mark.parametrize("key, answer, message", [                           # found by a trial of wrong answers
    ("05.start_noise", _in_place_start, "changed its input x_0 in place"),
    ("05.start_noise", lambda x_0, s: (x_0 * (1 + _s0(s) ** 2) ** 0.5).float(), DTYPE),
    ("05.naive_field_gap", lambda x, t, d, p: solution("05.naive_field_gap")(x, 1 - t, d, p),
     "time runs the wrong way"),
    ("05.naive_field_gap", _by_hand_gap, "NaN or inf at t = [0.0]"),
    ("05.naive_field_gap", lambda x, t, d, p: x.copy_(solution("05.naive_field_gap")(x, t, d, p)),
     "changed its input x in place"),
])
def test_trial_answers_rejected(key, answer, message, rejected):
    rejected(key, answer, message)


# ----------------------------------------------------------------------------- issue 20: aimed hints, sizes
FIXED_SIZE = "your code works for one batch size only"


def _sigma_sigma_prime_gap(x, t, data, path):
    """σσ' written as sigma(t) * sigma.derivative(t): 0 * inf = NaN where σ' is infinite (the bridge at t = 0)."""
    return _by_hand_gap(x, t, data, path)


@pytest.mark.parametrize("key, answer, message", [
    # the missing β² used to be blamed on σσ' ("use sigma_d_sigma_t"): 0 / 0 where σ(0) = 0
    ("05.naive_field_gap", _gap(lambda x, t, d, p, a, b, s, ss, bb, xb: ss / s**2 * (x - a * xb)),
     "you divided by σ_t² only; the noise x_t − α_t x_1 = β_t x_0 + σ_t ε has variance β_t² + σ_t²"),
    ("05.naive_field_gap", _sigma_sigma_prime_gap, "use sigma_d_sigma_t (σσ'), which stays finite where σ' does not"),
    ("05.naive_field_gap", _gap(lambda x, t, d, p, a, b, s, ss, bb, xb: ss / (b**2 + s**2) * (x - a * xb) / t[:, None]
                                * t[:, None]), "check each division"),     # 0 / 0 at t = 0 where nothing divides
    ("05.naive_field_gap", _gap(lambda x, t, d, p, a, b, s, ss, bb, xb: (ss / (b**2 + s**2)).reshape(7, 1)
                                * (x - a * xb)), FIXED_SIZE),
    ("05.naive_field_gap", _gap(lambda x, t, d, p, a, b, s, ss, bb, xb: ss / (b**2 + s**2) * (x - a * xb)
                                * (t[:, None] > 0.005)), "is right except near the ends of the time range"),
    ("05.start_noise", lambda x_0, s: x_0.view(7, 2) * (1 + _s0(s) ** 2) ** 0.5, FIXED_SIZE),
])
def test_aimed_hints_and_written_in_sizes(key, answer, message, rejected):
    rejected(key, answer, message)

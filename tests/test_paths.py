"""Paths: x_t hits its end points, and u_t is the time derivative of x_t (finite differences)."""
import math

import pytest
import torch

from fmlite.checks import check_time
from fmlite.paths import BridgeSigma, ConstantSigma, CosinePath, LinearPath, Sigma, SineSigma

SCHEDULES = [0.0, ConstantSigma(0.3), BridgeSigma(0.5), SineSigma(0.4),
             Sigma(lambda t: 0.7 * t**2 * (1 - t), name="cubic")]
PATHS = [cls(sigma=s) for cls in (LinearPath, CosinePath) for s in SCHEDULES]


@pytest.mark.parametrize("path", PATHS, ids=repr)
@pytest.mark.parametrize("shape", [(64, 2), (8, 1, 4, 4)])
def test_u_t_is_the_time_derivative_of_x_t(path, shape):
    """Central finite differences of x_t in t (same x_0, x_1, eps) equal u_t, sigma'(t) eps included."""
    x_0, x_1, eps = (torch.randn(shape, dtype=torch.float64) for _ in range(3))
    t = torch.rand(shape[0], dtype=torch.float64) * 0.9 + 0.05
    h = 1e-6
    plus = path.sample(x_0, x_1, t + h, eps).x_t
    minus = path.sample(x_0, x_1, t - h, eps).x_t
    fd = (plus - minus) / (2 * h)
    assert torch.allclose(path.sample(x_0, x_1, t, eps).u_t, fd, atol=1e-6)


@pytest.mark.parametrize("path", [LinearPath(), CosinePath(), LinearPath(BridgeSigma(1.0)), CosinePath(SineSigma(1.0))],
                         ids=repr)
def test_end_points_are_noise_and_data_when_sigma_vanishes_there(path):
    x_0, x_1 = torch.randn(16, 2), torch.randn(16, 2)
    assert torch.allclose(path.interpolate(x_0, x_1, 0.0), x_0, atol=1e-6)
    assert torch.allclose(path.interpolate(x_0, x_1, 1.0), x_1, atol=1e-6)
    t = torch.rand(16) * 0.98 + 0.01
    eps = torch.randn(16, 2)
    assert torch.equal(path.interpolate(x_0, x_1, t, eps), path.sample(x_0, x_1, t, eps).x_t)


def test_naive_target_is_wrong_for_time_varying_sigma():
    """The pitfall: x_1 - x_0 is the target only for constant sigma; the sigma'(t) eps term matters."""
    x_0, x_1, eps = torch.randn(1000, 2), torch.randn(1000, 2), torch.randn(1000, 2)
    s = LinearPath(SineSigma(0.5)).sample(x_0, x_1, 0.2, eps)
    missing = s.u_t - (x_1 - x_0)
    expected = 0.5 * math.pi * math.cos(0.2 * math.pi) * eps
    assert torch.allclose(missing, expected, atol=1e-5)
    assert LinearPath(ConstantSigma(0.5)).sample(x_0, x_1, 0.2, eps).u_t.sub(x_1 - x_0).abs().max() == 0


def test_autograd_derivative_matches_closed_form():
    t = torch.linspace(0.01, 0.99, 50)
    custom = Sigma(lambda t: 0.4 * torch.sin(math.pi * t))
    assert torch.allclose(custom.derivative(t), SineSigma(0.4).derivative(t), atol=1e-5)
    assert torch.allclose(Sigma(lambda t: 0.3).derivative(t), torch.zeros_like(t))


def test_cosine_path_keeps_unit_variance():
    t = torch.linspace(0, 1, 11)
    p = CosinePath()
    assert torch.allclose(p.alpha(t) ** 2 + p.beta(t) ** 2, torch.ones_like(t), atol=1e-6)


@pytest.mark.parametrize("bad, match", [
    (torch.tensor([0.5, 1.2, 0.1, 0.0]), r"\[0, 1\]"),
    (torch.tensor([-0.1, 0.2, 0.1, 0.0]), r"\[0, 1\]"),
    (torch.rand(4, 1), "shape"),
    (torch.rand(3), "shape"),
    (torch.tensor([0.1, float("nan"), 0.1, 0.2]), "NaN"),
])
def test_bad_times_are_refused_not_clipped(bad, match):
    with pytest.raises(ValueError, match=match):
        LinearPath().sample(torch.randn(4, 2), torch.randn(4, 2), bad)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        LinearPath().sample(torch.randn(4, 2), torch.randn(5, 2), 0.5)
    with pytest.raises(ValueError, match="eps"):
        LinearPath(0.1).sample(torch.randn(4, 2), torch.randn(4, 2), 0.5, eps=torch.randn(4, 3))


def test_schedule_giving_nan_is_refused():
    path = LinearPath(Sigma(lambda t: torch.log(t - 0.5)))  # NaN for t < 0.5
    with pytest.raises(ValueError, match="sigma"):
        path.sample(torch.randn(4, 2), torch.randn(4, 2), torch.full((4,), 0.25))


def test_bridge_derivative_is_infinite_at_the_ends_and_says_so():
    with pytest.raises(ValueError, match="open interval"):
        LinearPath(BridgeSigma(1.0)).sample(torch.randn(4, 2), torch.randn(4, 2), 0.0)


def test_schedule_that_must_vanish_at_the_ends():
    Sigma(lambda t: t * (1 - t), zero_at_ends=True)
    with pytest.raises(ValueError, match="must be 0 at t = 0 and t = 1"):
        Sigma(lambda t: 0.1 + t * (1 - t), zero_at_ends=True)


def test_bad_scales_and_types():
    with pytest.raises(ValueError, match=">= 0"):
        ConstantSigma(-1.0)
    with pytest.raises(TypeError, match="number or a Schedule"):
        LinearPath(sigma="big")
    with pytest.raises(TypeError, match="callable"):
        Sigma(3.0)


def test_check_time_expands_a_number():
    assert check_time(0.3, 5).shape == (5,)


# ----------------------------------------------------------------------------- issue 9
@pytest.mark.parametrize("schedule", [ConstantSigma(0.3), BridgeSigma(0.5), SineSigma(0.4),
                                      Sigma(lambda t: 0.7 * t**2 * (1 - t), name="cubic"),
                                      Sigma(lambda t: 0.5 * torch.sqrt(t * (1 - t)), name="bridge")], ids=repr)
def test_variance_rate_is_half_the_derivative_of_sigma_squared(schedule):
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    rate = schedule.variance_rate(t)
    assert torch.isfinite(rate).all()
    h = 1e-6
    inner = t[1:-1]
    fd = (schedule(inner + h) ** 2 - schedule(inner - h) ** 2) / (4 * h)
    assert torch.allclose(rate[1:-1], fd, atol=1e-6)


def test_bridge_variance_rate_at_the_ends():
    s = 0.5
    for schedule in (BridgeSigma(s), Sigma(lambda t: s * torch.sqrt(t * (1 - t)))):
        ends = schedule.variance_rate(torch.tensor([0.0, 1.0], dtype=torch.float64))
        assert torch.allclose(ends, torch.tensor([s**2 / 2, -s**2 / 2], dtype=torch.float64), atol=1e-9)


@pytest.mark.parametrize("scale", [1e40, 1e7, float("nan"), float("inf"), "big"])
def test_sigma_scales_outside_the_supported_range_are_refused(scale):
    for cls in (ConstantSigma, BridgeSigma, SineSigma):
        with pytest.raises(ValueError, match=r"<= 1e\+06"):
            cls(scale)


def test_check_time_prints_enough_digits_and_checks_before_rounding():
    with pytest.raises(ValueError, match=r"\[1\.0000001, 1\.0000001\]"):
        check_time(1.0000001)
    with pytest.raises(ValueError, match=r"1\.0000001"):
        check_time(torch.tensor([0.5, 1.0000001]))
    with pytest.raises(ValueError, match="outside|lie in"):
        check_time(1 + 1e-9)  # would round to 1.0 in float32
    with pytest.raises(ValueError, match="real number"):
        check_time(True)


@pytest.mark.parametrize("schedule", SCHEDULES[1:] + [Sigma(lambda t: 0.5 * torch.sin(math.pi * t),
                                                            lambda t: 0.5 * math.pi * torch.cos(math.pi * t))],
                         ids=repr)
@pytest.mark.parametrize("t", [0.25, 0, 1, 0.5])
def test_a_schedule_takes_one_number(schedule, t):
    """sigma(0.5), sigma(0) (an int) and their derivatives give 0-d tensors equal to the batched values, as a
    student calls them in a notebook (they used to raise torch's own TypeError about full_like or sqrt)."""
    batch = torch.full((3,), float(t))
    for method in (schedule.__call__, schedule.variance_rate) + ((schedule.derivative,) if 0 < t < 1 else ()):
        one = method(t)
        assert one.shape == () and one.dtype == torch.get_default_dtype()
        assert torch.allclose(one.expand(3), method(batch), equal_nan=True)

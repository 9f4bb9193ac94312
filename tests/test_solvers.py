"""ODE solvers: convergence orders on an ODE with a known solution, NFE, backwards = inverse."""
import math

import pytest
import torch

from fmlite.solvers import METHODS, integrate


def rotation(x, t):
    """dx/dt = (1 + t) J x: rotation by angle theta(t) = t + t^2/2 (a time-dependent field)."""
    return (1 + t)[:, None] * torch.stack([-x[:, 1], x[:, 0]], dim=1)


def exact(x0, t):
    th = t + t * t / 2
    c, s = math.cos(th), math.sin(th)
    return torch.stack([c * x0[:, 0] - s * x0[:, 1], s * x0[:, 0] + c * x0[:, 1]], dim=1)


@pytest.mark.parametrize("method, order", [("euler", 1), ("midpoint", 2), ("heun", 2), ("rk4", 4)])
def test_order_of_convergence(method, order):
    x0 = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
    errors = [(integrate(rotation, x0, n, method).x - exact(x0, 1.0)).norm().item() for n in (20, 40, 80)]
    observed = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert all(abs(o - order) < 0.25 for o in observed), observed


@pytest.mark.parametrize("method", list(METHODS))
def test_nfe_and_trajectory_shape(method):
    calls = []

    def v(x, t):
        calls.append(t)
        return -x

    sol = integrate(v, torch.randn(5, 1, 3, 3), 7, method, return_trajectory=True)
    assert sol.nfe == 7 * METHODS[method][1] == len(calls)
    assert sol.trajectory.shape == (8, 5, 1, 3, 3)
    assert torch.equal(sol.trajectory[-1], sol.x)
    assert sol.times[0] == 0 and sol.times[-1] == 1
    assert all(0 <= c.min() and c.max() <= 1 for c in calls)


def test_backwards_integration_inverts_forwards():
    x0 = torch.randn(50, 2, dtype=torch.float64)
    x1 = integrate(rotation, x0, 100, "rk4").x
    back = integrate(rotation, x1, 100, "rk4", t_start=1.0, t_end=0.0)
    assert torch.allclose(back.x, x0, atol=1e-8)
    assert back.times[0] == 1 and back.times[-1] == 0


def test_bad_arguments_have_clear_errors():
    x = torch.randn(3, 2)
    with pytest.raises(ValueError, match="euler"):
        integrate(rotation, x, 10, "rk45")
    with pytest.raises(ValueError, match="positive integer"):
        integrate(rotation, x, 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        integrate(rotation, x, 10, t_end=1.5)
    with pytest.raises(ValueError, match="shape of x"):
        integrate(lambda x, t: x[:, :1], x, 10)


# ----------------------------------------------------------------------------- issue 9: bad input
@pytest.mark.parametrize("steps", ["3", float("nan"), 2.5, True, 0])
def test_steps_follow_the_one_rule_for_counts(steps):
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        integrate(rotation, torch.randn(3, 2), steps)


def test_a_string_count_is_shown_as_a_string():
    with pytest.raises(ValueError, match="got str '3'"):
        integrate(rotation, torch.randn(3, 2), "3")


def test_whole_float_steps_are_accepted():
    assert integrate(rotation, torch.randn(3, 2), 4.0).nfe == 4


def test_a_plain_function_keeps_the_callers_dtype_and_integer_states_become_float():
    x = torch.randn(3, 2, dtype=torch.float64)
    assert integrate(rotation, x, 10, "rk4").x.dtype == torch.float64
    seen = []
    sol = integrate(lambda x, t: seen.append(t) or torch.ones_like(x), torch.zeros(2, 1, dtype=torch.long), 4)
    assert sol.x.is_floating_point() and torch.allclose(sol.x, torch.ones(2, 1))
    assert [float(t[0]) for t in seen] == [0.0, 0.25, 0.5, 0.75]  # times are never truncated to integers


def test_times_just_outside_the_interval_are_reported_with_enough_digits():
    with pytest.raises(ValueError, match=r"1\.0000001"):
        integrate(rotation, torch.randn(3, 2), 5, t_end=1.0000001)


def test_a_velocity_that_does_not_broadcast_t_is_told_how():
    """t reaches the velocity as (B,), one time per sample; `-x * t` fails to broadcast and says so."""
    with pytest.raises(ValueError, match=r"x of shape \(4, 2\) and t of shape \(4,\).*t\[:, None\]"):
        integrate(lambda x, t: -x * t, torch.randn(4, 2), 3)

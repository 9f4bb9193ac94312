"""Exercises of notebook 04: wrong answers of every kind are rejected with a message naming the mistake; the
solutions agree with independent oracles (ODEs with known solutions and fmlite.solvers); plus the numerical
claims the notebook makes."""
import math

import pytest
import torch

from fmlite.datasets import sample_2d
from fmlite.exact import marginal_velocity
from fmlite.exercises import solution
from fmlite.paths import LinearPath
from fmlite.solvers import integrate

ONE_TIME = "you used one time for the whole batch"


def _rk4_variant(weights=(1, 2, 2, 1), times=(0.0, 0.5, 0.5, 1.0), last=1.0, with_h=True, k3_from_k1=False,
                 time=lambda t: t, sign=1.0):
    def step(x, t, h, v):
        t = time(t)
        k1 = v(x, t + times[0] * h)
        k2 = v(x + 0.5 * h * k1, t + times[1] * h)
        k3 = v(x + 0.5 * h * (k1 if k3_from_k1 else k2), t + times[2] * h)
        k4 = v(x + last * h * k3, t + times[3] * h)
        total = sum(w * k for w, k in zip(weights, (k1, k2, k3, k4))) / sum(weights)
        return x + sign * (h if with_h else 1.0) * total
    return step


@pytest.mark.parametrize("answer, message", [
    (lambda x, t, h, v: x + h * v(x, t), "this is one Euler step"),
    (lambda x, t, h, v: x + h * v(x + 0.5 * h * v(x, t), t + 0.5 * h), "this is the midpoint method"),
    (_rk4_variant(weights=(1, 1, 1, 1)), "the weights of the slopes are 1, 2, 2, 1"),
    (_rk4_variant(with_h=False), "you forgot the step size"),
    (_rk4_variant(times=(0, 0, 0, 0)), "the slopes are evaluated at the wrong times"),
    (_rk4_variant(last=0.5), "k4 is the slope at x + h k3"),
    (_rk4_variant(k3_from_k1=True), "k3 is built from k1, so it just repeats k2"),
    (_rk4_variant(sign=-1.0), "you stepped against the slopes"),                                          # sign
    (_rk4_variant(time=lambda t: float(t[0])), ONE_TIME),                                                 # kind 1
    (_rk4_variant(time=lambda t: t.mean()), ONE_TIME),                                                    # kind 1
    (lambda x, t, h, v: x + h * v(t, x), "velocity was called as velocity(t, x)"),                        # model(t, x)
    (_rk4_variant(time=lambda t: t[:, None]), "refused its input, as a network of fmlite.models would"),  # kind 3
    (_rk4_variant(times=(0.0, 0.5, 0.5, 0.5)), "the new x differs from the expected value"),              # off by half
    (_rk4_variant(time=lambda t: t.clamp(0.05, 0.85)), "is right except near the ends of the time range"),                               # kind 5
    (_rk4_variant(weights=(1, 2, 2, 2)), "the new x differs from the expected value by up to"),
    (lambda x, t, h, v: (lambda k1: (lambda k2: (lambda k3: x + h / 8 * (k1 + 3 * k2 + 3 * k3 + v(
        x + h * (k1 - k2 + k3), t + h)))(v(x + h * (k2 - k1 / 3), t + 2 * h / 3)))(v(x + h * k1 / 3, t + h / 3)))(
        v(x, t)), "this is Kutta's 3/8 rule"),                                                            # 3/8 rule
])
def test_rk4_step_rejects(answer, message, rejected):
    rejected("04.rk4_step", answer, message)


def _euler_variant(include_start=True, t_of=lambda k, h: k * h, stack=True, only_last=False, steps_of=lambda n: n,
                   h_of=lambda n: 1.0 / n, dim=0, in_place=False):
    def sampler(v, x_0, steps):
        h, x = h_of(steps), x_0
        states = [x_0] if include_start else []
        for k in range(steps_of(steps)):
            if in_place:
                x += h * v(x, torch.full((len(x),), t_of(k, h)))
            else:
                x = x + h * v(x, torch.full((len(x),), t_of(k, h)))
            states.append(x)
        if only_last:
            return x
        return torch.stack(states, dim=dim) if stack else states
    return sampler


@pytest.mark.parametrize("answer, message", [
    (_euler_variant(include_start=False), "your trajectory has 5 states, it needs steps + 1 = 6"),        # off by one
    (_euler_variant(steps_of=lambda n: n - 1), "your trajectory has 5 states"),                           # off by one
    (_euler_variant(steps_of=lambda n: n + 1), "your trajectory has 7 states"),                           # off by one
    (_euler_variant(t_of=lambda k, h: (k + 1) * h), "you evaluate the velocity at the end of each step"),
    (_euler_variant(t_of=lambda k, h: 1 - k * h), "time runs the wrong way"),                             # flipped
    (_euler_variant(stack=False), "torch.stack(states), not a list"),
    (_euler_variant(only_last=True), "you returned only the final state"),
    (_euler_variant(dim=1), "stacked along the wrong axis"),                                              # kind 4
    (_euler_variant(in_place=True), "changed the starting noise x_0 in place"),
    (_euler_variant(h_of=lambda n: 1.0 / (n + 1)), "not 1 / (steps + 1)"),
    (lambda v, x_0, n: torch.stack([x_0] + [x_0 := x_0 - v(x_0, torch.full((len(x_0),), k / n)) / n
                                              for k in range(n)]), "you stepped against the velocity"),  # sign
    (lambda v, x_0, steps: torch.cat([torch.zeros_like(x_0)[None], _euler_variant()(v, x_0, steps)[1:]]),
     "the first state must be the starting noise x_0"),
    (_euler_variant(t_of=lambda k, h: 0.5 * k * h), "state 2 differs from the expected value"),
])
def test_euler_sampler_rejects(answer, message, rejected):
    rejected("04.euler_sampler", answer, message)


def test_euler_sampler_in_place_on_a_copy_is_explained(rejected):
    def aliased(v, x_0, steps):
        x, states = x_0.clone(), [x_0]
        for k in range(steps):
            x += v(x, torch.full((len(x),), k / steps)) / steps
            states.append(x)
        return torch.stack(states)
    rejected("04.euler_sampler", aliased, "all your states are the same tensor: `x += h * ...` changes x in place")


@pytest.mark.parametrize("make_t, passed", [
    (lambda k, steps, x: k / steps, "you passed a float"),
    (lambda k, steps, x: torch.tensor(k / steps), "you passed a tensor of shape ()"),
    (lambda k, steps, x: torch.full((len(x), 1), k / steps), "you passed a tensor of shape (7, 1)"),     # kind 3
    (lambda k, steps, x: torch.full((len(x),), k / steps)[:, None].T, "you passed a tensor of shape (1, 7)"),
])
def test_euler_sampler_asks_for_t_of_shape_B(make_t, passed, rejected):
    """The text asks for velocity(x, t) with t of shape (B,), as a trained model is called."""
    def other_t(v, x_0, steps):
        states = [x_0]
        for k in range(steps):
            states.append(states[-1] + v(states[-1], make_t(k, steps, states[-1])) / steps)
        return torch.stack(states)

    out = rejected("04.euler_sampler", other_t, "call velocity(x, t) with t a tensor of shape (B,) = (7,)")
    assert passed in out, out


# ----------------------------------------------------------------------------- independent oracles
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


# ----------------------------------------------------------------------------- issue 20: sizes, dtype
@pytest.mark.parametrize("key, answer, message", [
    ("04.rk4_step", lambda x, t, h, v: _rk4_variant()(x, t.reshape(7), h, v), "your code works for one batch size only"),
    ("04.rk4_step", lambda x, t, h, v: _rk4_variant()(x, t, h, v).float(),
     "returned float32 for float64 inputs: keep the inputs' dtype"),
    ("04.euler_sampler", _euler_variant(steps_of=lambda n: 5, h_of=lambda n: 1 / 5),
     "your trajectory has 6 states, it needs steps + 1 = 9"),                    # 5 steps written in
    ("04.euler_sampler", lambda v, x_0, steps: torch.stack(
        [x_0] + [x_0 := x_0 + v(x_0, torch.full((7,), k / steps)) / steps for k in range(steps)]),
     "call velocity(x, t) with t a tensor of shape (B,) = (5,)"),                # 7 points written in
    ("04.euler_sampler", lambda v, x_0, steps: _euler_variant()(v, x_0, steps).float(),
     "returned float32 for float64 inputs: keep the inputs' dtype"),
])
def test_written_in_sizes_and_float32_are_rejected(key, answer, message, rejected):
    rejected(key, answer, message)

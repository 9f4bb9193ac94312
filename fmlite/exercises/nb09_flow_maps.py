"""Notebook 09 (flow maps): the average velocity from a trajectory, the MeanFlow target, the k-step sampler.

Worked solutions beside checkers. Every answer is called with the sizes `SIZES`: batch 7, dimension 2, data-set
size 4, steps 5, then batch 5, dimension 3, data-set size 6, steps 8, so no size can be written into the answer.
Every sample has its own pair of times s <= t (`pairs`): s = t at 0, at 1 and inside, (0, 1), and pairs near
both ends. The stand-in flow-map network `TinyFlowMap` refuses what `fmlite.models.FlowMapMLP` refuses.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .compare import check_dtype, compare, reject_known, reject_where_finite
from .framework import Mismatch, call_untouched, register
from .inputs import ONE_TIME, SIZES, StandInField
from .stand_ins import TinyFlowMap, pairs


def _marginal(data):
    from ..exact import marginal_velocity
    from ..paths import LinearPath
    path = LinearPath()
    return lambda x, t: marginal_velocity(x, t, data, path)


def _trajectory(field, x, s, t, steps: int) -> Tensor:
    """RK4 states (steps + 1, B, D) of dx/dτ = field(x, τ), each sample on its own [s_i, t_i] (the oracle)."""
    h = ((t - s) / steps)[:, None]
    states = [x]
    for k in range(steps):
        tau, mid, nxt = (torch.lerp(s, t, w) for w in (k / steps, (k + 0.5) / steps, (k + 1) / steps))
        k1 = field(x, tau)
        k2 = field(x + h / 2 * k1, mid)
        k3 = field(x + h / 2 * k2, mid)
        k4 = field(x + h * k3, nxt)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        states.append(x)
    return torch.stack(states)


def _data(seed: int, *shape) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ----------------------------------------------------------------------------- 09.average_velocity
def average_velocity(velocity, trajectory, s, t):
    """ū(x, s, t) = (ψ_{t←s}(x) − x) / (t − s) from a trajectory (K + 1, B, D) of dx/dτ = u_τ(x) run by each sample
    on its own [s_i, t_i] (trajectory[0] = x, trajectory[-1] = ψ_{t←s}(x)); where s = t, ū(x, s, s) = u_s(x)."""
    x, end = trajectory[0], trajectory[-1]                 # the start x and the end ψ_{t←s}(x), (B, D)
    gap = (t - s)[:, None]                                 # t − s per sample, (B, 1)
    same = gap == 0                                        # rows where the interval has length 0
    mean = (end - x) / torch.where(same, torch.ones_like(gap), gap)   # no 0/0 on those rows
    return torch.where(same, velocity(x, s), mean)         # there the average velocity is the velocity itself


def _check_average_velocity(answer):
    """Domain: float64 trajectories of the exact marginal field of a data set (`fmlite.exact`, linear path), RK4 with
    K steps, each sample on its own [s_i, t_i] with s_i <= t_i (`pairs`: s = t at 0, inside and at 1, (0, 1)):
    (K, B, D, N) = (5, 7, 2, 4), then (8, 5, 3, 6). The field refuses what fmlite.models.MLP refuses and wants
    t of shape (B,). Oracle: the closed form, to 1e-9."""
    for i, (B, D, N, K) in enumerate(SIZES):
        data = _data(40 + i, N, D) * 1.5
        field = _marginal(data)
        s, t = pairs(B, seed=i)
        traj = _trajectory(field, _data(50 + i, B, D), s, t, K)
        where = f" ({B} samples in {D}-d, {K} steps, each sample with its own s <= t; s = t on some rows)"
        got = call_untouched(answer, StandInField(field, dim=D, strict=True), traj, s, t,
                             names=("velocity", "trajectory", "s", "t"))
        expected = average_velocity(field, traj, s, t)
        check_dtype(got, torch.float64, "ū", where)
        same = s == t
        x, end = traj[0], traj[-1]
        reject_where_finite(got, [("divide by the length of the interval, t − s, not by t", (end - x) / t[:, None])],
                            where)
        if isinstance(got, Tensor) and got.shape == expected.shape:
            g = got.detach().double()
            if not torch.isfinite(g[same]).all() or (g[same] == 0).all():
                raise Mismatch("where s = t the interval has length 0 and (ψ − x) / (t − s) is 0 / 0: there the "
                               "average velocity is the velocity itself, ū(x, s, s) = u_s(x) = velocity(x, s); use "
                               "torch.where(t == s, ...)" + where)
        gap, u = (t - s)[:, None], field(x, s)

        def fill(v):     # a wrong formula with the s = t rows done right, so only the formula itself is judged
            return torch.where(same[:, None], u, v)
        mistakes = [
            ("the average velocity is (ψ_{t←s}(x) − x) / (t − s); you divided by (s − t): the sign is flipped",
             fill((end - x) / -gap)),
            ("divide by the length of the interval, t − s, not by t: ū is the displacement per unit of time "
             "spent between s and t", fill((end - x) / t[:, None])),
            ("ū is the displacement ψ_{t←s}(x) − x divided by t − s: you used the end point ψ_{t←s}(x) alone",
             fill(end / gap)),
            ("that is the displacement ψ_{t←s}(x) − x itself; divide it by the time spent, t − s", fill(end - x)),
            ("that is the first step's velocity, close to u_s(x): the average velocity uses the whole trajectory, "
             "(trajectory[-1] − trajectory[0]) / (t − s)", fill((traj[1] - x) / gap * K)),
            ("that is the velocity u_s(x) at the start: the average velocity uses the whole trajectory, "
             "(trajectory[-1] − trajectory[0]) / (t − s)", u),
            ("you divided by the number of steps as well: ū = (trajectory[-1] − trajectory[0]) / (t − s), whatever "
             "the number of steps", fill((end - x) / gap / K)),
            (f"you took state {SIZES[0].K} of the trajectory; take the last one, trajectory[-1] (the number of "
             "steps changes between calls)", fill((traj[min(SIZES[0].K, K)] - x) / gap)),
        ] + [(ONE_TIME, fill((end - x) / (t - s0)[:, None])) for s0 in (torch.full_like(s, float(s[0])),)]
        mistakes += [(ONE_TIME, fill((end - x) / (t0 - s)[:, None])) for t0 in (torch.full_like(t, float(t[0])),)]
        reject_known(got, mistakes, expected, where)
        compare(got, expected, "ū", where, atol=1e-9, rtol=1e-9)
    return "ū(x, s, t) is the slope of the chord from x to ψ_{t←s}(x): one jump of length t − s along it lands exactly."


register("09.average_velocity", "the average velocity from a trajectory", average_velocity, _check_average_velocity)


# ----------------------------------------------------------------------------- 09.meanflow_target
def meanflow_target(model, x_0, x_1, s, t):
    """The MeanFlow regression target at x_s = (1 − s) x_0 + s x_1 on the linear path (our time: 0 noise, 1 data):
    u_s + (t − s) (∂_s ū + (∇_x ū) u_s), with the conditional velocity u_s = u_s(x_s | z) = x_1 − x_0 and one
    forward-mode JVP of model(x, s, t) with tangent (u_s, 1, 0); the gradient is stopped (Geng et al. 2025, eq. (8),
    with time reversed). x_0, x_1 (B, D); s, t (B,) with s <= t. Returns (B, D), no autograd graph."""
    x_s = (1 - s)[:, None] * x_0 + s[:, None] * x_1          # a point of the conditional path at time s
    u_s = x_1 - x_0                                          # its conditional velocity u_s(x_s | z)
    tangent = (u_s, torch.ones_like(s), torch.zeros_like(t))  # move x along u_s, s forward, keep t fixed
    _, dudt = torch.func.jvp(model, (x_s, s, t), tangent)    # d/ds ū(x_s, s, t) along the trajectory, (B, D)
    return (u_s + (t - s)[:, None] * dudt).detach()          # stop-gradient: a target, not a second prediction


def _jvp(model, x, s, t, tangent):
    return torch.func.jvp(model, (x, s, t), tangent)[1].detach()


def _check_meanflow_target(answer):
    """Domain: float64 x_0 ~ N(0, I) and data-like x_1, each sample its own s <= t (`pairs`: s = t at 0, inside and at
    1, (0, 1)), 7 in 2-d then 5 in 3-d (`SIZES`); the stand-in `TinyFlowMap` refuses what FlowMapMLP refuses.
    Oracle: the closed form with one JVP, to 1e-8 (a finite difference of step 1e-4 is 1e-5 off)."""
    for i, (B, D, _, _) in enumerate(SIZES):
        model = TinyFlowMap(D)
        x_0, x_1 = _data(60 + i, B, D), 2 * _data(70 + i, B, D).tanh() + 0.5
        s, t = pairs(B, seed=10 + i)
        where = f" ({B} samples in {D}-d, each with its own s <= t; s = t on some rows)"
        got = call_untouched(answer, model, x_0, x_1, s, t, names=("model", "x_0", "x_1", "s", "t"))
        if isinstance(got, (tuple, list)):
            raise Mismatch(f"return the target alone, one tensor of shape {(B, D)}, not a {type(got).__name__} "
                           "(torch.func.jvp returns (output, derivative): keep the derivative)")
        if isinstance(got, Tensor) and got.requires_grad:
            raise Mismatch("the target still carries an autograd graph to the model's parameters: stop the gradient "
                           "with .detach() (MeanFlow regresses ū on a fixed target; differentiating through the JVP "
                           "would need second derivatives and trains something else)" + where)
        expected = meanflow_target(model, x_0, x_1, s, t)
        check_dtype(got, torch.float64, "the target", where)
        gap = (t - s)[:, None]
        x_s = (1 - s)[:, None] * x_0 + s[:, None] * x_1
        u = x_1 - x_0
        one, zero = torch.ones_like(s), torch.zeros_like(s)
        d = _jvp(model, x_s, s, t, (u, one, zero))
        mistakes = [
            ("the derivative term has the wrong sign: ū = u_s + (t − s) dū/ds in our time (t = 0 noise), with the "
             "factor (t − s), not (s − t); the minus sign belongs to Meta's reversed time, where the data sit at 0",
             u - gap * d),
            ("the tangent moves t instead of s: the trajectory's left end s moves while the end time t stays, so the "
             "tangent is (u_s, 1, 0), not (u_s, 0, 1)", u + gap * _jvp(model, x_s, s, t, (u, zero, one))),
            ("the tangent moves both s and t; t is the fixed end of the jump: tangent (u_s, 1, 0)",
             u + gap * _jvp(model, x_s, s, t, (u, one, one))),
            ("the total derivative along the trajectory also moves x with velocity u_s: the term (∇_x ū) u_s is "
             "missing; use the tangent (u_s, 1, 0), not (0, 1, 0)",
             u + gap * _jvp(model, x_s, s, t, (0 * u, one, zero))),
            ("the x-part of the tangent is the velocity u_s = x_1 − x_0, not the data point x_1",
             u + gap * _jvp(model, x_s, s, t, (x_1, one, zero))),
            ("the velocity u_s(x_s | z) is x_1 − x_0; you used the data point x_1 in its place",
             x_1 + gap * _jvp(model, x_s, s, t, (x_1, one, zero))),
            ("the velocity u_s(x_s | z) is x_1 − x_0; you used the data point x_1 in its place",
             x_1 + gap * d),
            ("the velocity of the path is x_1 − x_0 (from noise to data), not x_0 − x_1",
             -u + gap * _jvp(model, x_s, s, t, (-u, one, zero))),
            ("evaluate the model at x_s = (1 − s) x_0 + s x_1, the point of the path at time s, not at x_0",
             u + gap * _jvp(model, x_0, s, t, (u, one, zero))),
            ("evaluate the model at x_s = (1 − s) x_0 + s x_1, not at s x_0 + (1 − s) x_1 (t = 0 is noise)",
             u + gap * _jvp(model, s[:, None] * x_0 + (1 - s)[:, None] * x_1, s, t, (u, one, zero))),
            ("the target is u_s + (t − s) dū/ds; you returned (t − s) dū/ds without u_s", gap * d),
            ("the target adds (t − s) dū/ds to the velocity u_s; you returned the model's output ū",
             model(x_s, s, t).detach()),
            ("that is the JVP's first output, ū itself; torch.func.jvp returns (output, derivative): use the "
             "derivative", u + gap * model(x_s, s, t).detach()),
            ("the derivative term is multiplied by (t − s): ū = u_s + (t − s) dū/ds", u + d),
        ] + [(ONE_TIME, u + (t - s0)[:, None] * j) for s0 in (torch.full_like(s, float(s[0])),)
             for j in (d, _jvp(model, x_s, s0, t, (u, one, zero)))] \
          + [(ONE_TIME, u + (t0 - s)[:, None] * j) for t0 in (torch.full_like(t, float(t[0])),)
             for j in (d, _jvp(model, x_s, s, t0, (u, one, zero)))]
        reject_known(got, mistakes, expected, where, atol=1e-8)
        _reject_finite_difference(got, expected, model, x_s, u, s, t, where)
        compare(got, expected, "the target", where, atol=1e-8, rtol=1e-8)
    return "one JVP gives the whole derivative along the trajectory, at about the cost of one more forward pass."


def _reject_finite_difference(got, expected, model, x_s, u, s, t, where):
    """Name a finite-difference stand-in for the JVP: a step h in s (forward where s + h <= 1, else backward) and
    h u_s in x, for h = 0.1 ... 1e-4; and any answer within a small distance of the target."""
    if not isinstance(got, Tensor) or got.shape != expected.shape:
        return
    g = got.detach().double()
    gap = (t - s)[:, None]
    with torch.no_grad():
        for h in (0.1, 0.05, 0.01, 1e-3, 1e-4):
            step = torch.where(s + h <= 1, h, -h)
            fd = (model(x_s + step[:, None] * u, s + step, t) - model(x_s, s, t)) / step[:, None]
            if torch.allclose(g, u + gap * fd, atol=1e-7, rtol=1e-7):
                raise Mismatch(f"that is a finite difference with step {h:g}, off by up to "
                               f"{(g - expected).abs().max():.2g}: its error shrinks only with the step; "
                               "torch.func.jvp gives the exact derivative in one pass" + where)
    err = float((g - expected).abs().max())
    if 1e-8 < err < 1e-2 * max(1.0, float(expected.abs().max())):
        raise Mismatch(f"close, but off by up to {err:.2g}: if you took a finite difference, its error shrinks "
                       "only with the step; torch.func.jvp gives the exact derivative" + where)


register("09.meanflow_target", "the MeanFlow target with one JVP", meanflow_target, _check_meanflow_target)


# ----------------------------------------------------------------------------- 09.sample_flow_map
def sample_flow_map(model, x_0, steps):
    """k-step flow-map sampling from noise x_0 (B, D) at t = 0 to t = 1: on the grid t_k = k / steps,
    x_{k+1} = x_k + (t_{k+1} − t_k) ū(x_k, t_k, t_{k+1}); one network call per step. Returns x at t = 1, (B, D)."""
    grid = torch.linspace(0, 1, steps + 1, dtype=x_0.dtype)   # steps + 1 times: steps jumps, ending at 1
    x, ones = x_0, torch.ones(len(x_0), dtype=x_0.dtype)
    for k in range(steps):
        s, t = grid[k] * ones, grid[k + 1] * ones             # (B,) each: one time per sample, as a model wants
        x = x + (grid[k + 1] - grid[k]) * model(x, s, t)      # a new tensor: the caller's x_0 stays as it was
    return x


def _sample(model, x_0, grid):
    x, ones = x_0, torch.ones(len(x_0), dtype=x_0.dtype)
    for a, b in zip(grid[:-1], grid[1:]):
        x = x + (b - a) * model(x, a * ones, b * ones)
    return x


def _check_sample_flow_map(answer):
    """Domain: float64 noise, 7 points in 2-d with 5 steps, then 5 in 3-d with 8 steps (`SIZES`); the stand-in
    `TinyFlowMap` (strict: s, t tensors of shape (B,)) records its calls, so the grid is checked call by call;
    x_0 must be left unchanged. Oracle: the closed-form update on t_k = k / steps, to 1e-7 (a float32 grid passes)."""
    for i, (B, D, _, K) in enumerate(SIZES):
        model = TinyFlowMap(D, strict=True)
        x_0 = _data(80 + i, B, D)
        where = f" ({B} points in {D}-d, steps = {K})"
        got = call_untouched(answer, model, x_0, K, names=("model", "x_0"))
        calls = model.calls
        grid = torch.linspace(0, 1, K + 1, dtype=torch.float64)
        if len(calls) != K:
            raise Mismatch(f"{K} steps call the network {K} times, one jump each; yours called it {len(calls)} "
                           "times: the grid has steps + 1 times t_0 = 0, ..., t_steps = 1 (torch.linspace(0, 1, "
                           "steps + 1)), and each jump goes from t_k to t_{k+1}" + where)
        starts = torch.stack([c[0] for c in calls])
        ends = torch.stack([c[1] for c in calls])
        if (starts > ends).all():
            raise Mismatch("you called model(x, t_{k+1}, t_k): s is where the jump starts and t where it lands, "
                           "model(x, t_k, t_{k+1}) with t_k < t_{k+1}" + where)
        if torch.allclose(starts, ends):
            raise Mismatch("you called model(x, t_k, t_k): that is the instantaneous velocity u_{t_k}, plain Euler; "
                           "a flow map jumps with the average velocity over the step, model(x, t_k, t_{k+1})" + where)
        if not torch.allclose(ends[-1], torch.ones_like(ends[-1])):
            raise Mismatch(f"the last jump lands at t = {float(ends[-1][0]):.4g}, not at t = 1: the grid must end at "
                           "the data, t_steps = 1" + where)
        if not (torch.allclose(starts, grid[:-1, None].expand_as(starts))
                and torch.allclose(ends, grid[1:, None].expand_as(ends))):
            raise Mismatch("the jumps do not follow the uniform grid t_k = k / steps, k = 0..steps: call "
                           "model(x, t_k, t_{k+1}) with t_k = k / steps" + where)
        expected = _sample(TinyFlowMap(D), x_0, grid)
        mistakes = [
            ("each jump is x + (t_{k+1} − t_k) ū(x, t_k, t_{k+1}): you left out the step length t_{k+1} − t_k",
             _no_step(TinyFlowMap(D), x_0, grid)),
            ("every jump starts from the previous jump's result; you jumped from x_0 each time",
             _from_start(TinyFlowMap(D), x_0, grid)),
        ]
        reject_known(got, mistakes, expected, where)
        compare(got, expected, "the samples", where, atol=1e-7, rtol=1e-7)   # a float32 grid (k / 5) passes
    return "one network call per jump: with an exact ū any number of steps lands on the exact flow."


def _no_step(model, x_0, grid):
    x, ones = x_0, torch.ones(len(x_0), dtype=x_0.dtype)
    for a, b in zip(grid[:-1], grid[1:]):
        x = x + model(x, a * ones, b * ones)
    return x


def _from_start(model, x_0, grid):
    x, ones = x_0, torch.ones(len(x_0), dtype=x_0.dtype)
    for a, b in zip(grid[:-1], grid[1:]):
        x = x_0 + (b - a) * model(x, a * ones, b * ones)
    return x


register("09.sample_flow_map", "the k-step flow-map sampler", sample_flow_map, _check_sample_flow_map)

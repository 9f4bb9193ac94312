"""Notebook 06 (straight paths): the straightness of a trajectory, and an optimal pairing of a batch.

Worked solutions beside checkers. Steps (5), paths (7) and dimension (3) of the trajectory differ, so a sum
or mean over the wrong axis changes the answer; one test trajectory is a straight line run at a varying
speed, which a purely geometric measure would call straight.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .compare import as_number, check_dtype, compare, reject_known
from .framework import Mismatch, call_untouched, register

K, B, D = 5, 7, 3          # straightness: steps, paths, dimension
N_OT = 9                   # ot_pairing: batch size (2-D points)


def straightness(trajectory):
    """Straightness S of paths sampled at K + 1 equally spaced times of [0, 1] (Liu et al. 2022, eq. (5))."""
    steps = trajectory.shape[0] - 1
    h = 1.0 / steps
    chord = trajectory[-1] - trajectory[0]                  # (B, D): the straight line's constant velocity
    speeds = (trajectory[1:] - trajectory[:-1]) / h         # (K, B, D): the velocity of each step
    return (((speeds - chord) ** 2).sum(-1).mean(-1) * h).sum()


def _s(traj: Tensor, speed_scale=1.0, weight=None, reduce_d="sum", reduce_b="mean", power=2.0,
       chord_of=lambda tr: tr[-1] - tr[0], sqrt=False, per_path=False):
    k = traj.shape[0] - 1
    h = 1.0 / k
    speeds = (traj[1:] - traj[:-1]) / h * speed_scale
    diff = speeds - chord_of(traj)
    sq = diff.abs() ** power if power != 2.0 else diff ** 2
    per = sq.sum(-1) if reduce_d == "sum" else sq.mean(-1)
    if power == 1.0:
        per = diff.norm(dim=-1)
    per_b = per.mean(-1) if reduce_b == "mean" else per.sum(-1)
    w = h if weight is None else weight
    if per_path:
        return (per * w).sum(0)
    out = (per_b * w).sum()
    return out.sqrt() if sqrt else out


def _trajectories():
    g = torch.Generator().manual_seed(11)
    wiggly = torch.randn(K + 1, B, D, generator=g, dtype=torch.float64).cumsum(0)
    start = torch.randn(B, D, generator=g, dtype=torch.float64)
    end = torch.randn(B, D, generator=g, dtype=torch.float64)
    s = torch.tensor([0.0, 0.05, 0.15, 0.4, 0.8, 1.0], dtype=torch.float64)[:, None, None]   # accelerating
    accelerating = start + s * (end - start)
    other = torch.randn(9, 4, 2, generator=g, dtype=torch.float64).cumsum(0)   # 8 steps, 4 paths, 2-d: new sizes
    return [("a random walk", wiggly), ("straight lines run at a varying speed", accelerating),
            ("a random walk of 8 steps, 4 paths in 2-d", other)]


def _check_straightness(answer):
    """Domain: float64 trajectories on the uniform grid of [0, 1], two of shape (K + 1, B, D) = (6, 7, 3): a random
    walk, and straight lines run at a varying speed (S > 0: one Euler step would not follow them); a random walk of
    shape (9, 4, 2) (so no size can be hard-coded); then a straight line at constant speed (S = 0)."""
    for name, traj in _trajectories():
        where = f" (on {name}, shape (steps + 1, B, D) = {tuple(traj.shape)})"
        got = call_untouched(answer, traj, names=("trajectory",))
        check_dtype(got, torch.float64, "S", where)
        expected = straightness(traj)
        k, b = traj.shape[0] - 1, traj.shape[1]
        if isinstance(got, Tensor) and got.shape == (b,):
            raise Mismatch("S is one number: average the squared deviation over the B paths (dimension 1) "
                           f"instead of returning one value per path{where}")
        value = as_number(got, "S")
        h = 1.0 / k
        chord = traj[-1] - traj[0]
        along = chord / chord.norm(dim=-1, keepdim=True)
        off = traj - traj[0] - ((traj - traj[0]) * along).sum(-1, keepdim=True) * along
        reject_known(value, [
            ("the velocity of step k is (x_{k+1} − x_k) / h, not the bare difference x_{k+1} − x_k",
             _s(traj, speed_scale=h)),
            ("the integral over t weights each step by h = 1 / steps: take a mean over the steps, not a sum",
             _s(traj, weight=1.0)),
            ("|·|² sums over the coordinates (dimension 2); you took their mean", _s(traj, reduce_d="mean")),
            ("average over the B paths (dimension 1), do not sum", _s(traj, reduce_b="sum")),
            ("S uses the squared distance |v − (x_1 − x_0)|², not the distance", _s(traj, power=1.0)),
            ("S is the squared deviation itself; do not take a square root", _s(traj, sqrt=True)),
            ("compare each step's velocity with the chord x_K − x_0 (from the noise to the sample), not with "
             "its negative", _s(traj, chord_of=lambda tr: tr[0] - tr[-1])),
            ("compare with the chord of the whole path, x_K − x_0, not with the first step's velocity",
             _s(traj, chord_of=lambda tr: (tr[1] - tr[0]) * k)),
            ("there are K = steps + 1 − 1 steps of size h = 1 / K; you divided by the number of states",
             _s(traj, weight=1.0 / (k + 1))),
            (f"you hard-coded {K} steps (h = 1/{K}); take K from the trajectory: trajectory.shape[0] − 1",
             _s(traj, speed_scale=K / k, weight=1.0 / K)),
            (f"you hard-coded {B} paths; average over dimension 1 with .mean(1) (trajectory.shape[1] paths)",
             _s(traj) * b / B),
            ("S measures the speed too, not only the distance from the straight line: a straight path run at a "
             "varying speed needs more than one Euler step, so S > 0 there",
             float((off ** 2).sum(-1).mean(-1).mean())),
            ("S measures the speed too, not only the distance from the straight line: a straight path run at a "
             "varying speed needs more than one Euler step, so S > 0 there", 0.0),
        ], float(expected), where)
        compare(torch.tensor(value, dtype=torch.float64), expected, "S", where)
    line = torch.linspace(0, 1, K + 1, dtype=torch.float64)[:, None, None] * torch.ones(1, B, D, dtype=torch.float64)
    value = as_number(call_untouched(answer, line, names=("trajectory",)), "S")
    if abs(value) > 1e-9:
        raise Mismatch(f"a straight line at constant speed has S = 0, you got {value:.4g}")
    return "S = 0 only for straight lines at constant speed, where one Euler step is exact."


register("06.straightness", "the straightness of sampled paths", straightness, _check_straightness)


def ot_pairing(x_0, x_1):
    """Re-order x_1 so that sum_i |x_0[i] - x_1[i]|^2 is as small as possible (an optimal assignment)."""
    from scipy.optimize import linear_sum_assignment
    cost = torch.cdist(x_0, x_1) ** 2
    rows, cols = linear_sum_assignment(cost.numpy())
    return x_1[torch.as_tensor(cols)]


def _batch(n: int = N_OT, d: int = 2):
    """x_0 ~ N(0, I) and x_1 a shifted, stretched cloud, n points each in d dimensions (d = 2 or 3); chosen (seed 8)
    so that, for (9, 2) and (11, 3), the assignments for squared, plain and cubed distance, the inverse permutation
    and sorting all differ."""
    g = torch.Generator().manual_seed(8)
    scale = torch.tensor([2.0, 0.5, 1.0][:d], dtype=torch.float64)
    shift = torch.tensor([1.0, -0.5, 0.3][:d], dtype=torch.float64)
    x_0 = torch.randn(n, d, generator=g, dtype=torch.float64)
    x_1 = torch.randn(n, d, generator=g, dtype=torch.float64) * scale + shift
    return x_0, x_1


def _assign(cost: Tensor, maximize: bool = False) -> Tensor:
    from scipy.optimize import linear_sum_assignment
    rows, cols = linear_sum_assignment(cost.numpy(), maximize=maximize)
    return torch.as_tensor(cols)


def _check_ot_pairing(answer):
    """Domain: 9 float64 points in 2-D, then 11 in 3-D; the answer must be x_1 re-ordered (each point once) with the
    least total squared distance to x_0, row by row, in x_1's dtype, leaving x_0 and x_1 unchanged."""
    for n, d in ((N_OT, 2), (11, 3)):
        _check_one_batch(answer, *_batch(n, d), f" ({n} points in {d}-d)")
    return "a permutation of x_1 with the least total squared distance: the mini-batch OT pairing."


def _check_one_batch(answer, x_0, x_1, where):
    n = len(x_0)
    got = call_untouched(answer, x_0, x_1, names=("x_0", "x_1"))
    cost = torch.cdist(x_0, x_1) ** 2
    perm = _assign(cost)
    expected = x_1[perm]
    if isinstance(got, (tuple, list)):
        raise Mismatch(f"return only the re-ordered x_1, one tensor of shape {tuple(x_1.shape)}, not a "
                       f"{type(got).__name__}")
    if isinstance(got, Tensor) and got.dim() == 1 and len(got) == n and not got.is_floating_point():
        raise Mismatch("you returned the indices; return the points themselves, x_1[cols]")
    if not isinstance(got, Tensor):
        raise Mismatch(f"the pairing should be a torch tensor (x_1[cols]), got {type(got).__name__}")
    if got.shape != x_1.shape:
        raise Mismatch(f"the re-ordered x_1 has shape {tuple(got.shape)}, expected {tuple(x_1.shape)}{where}")
    check_dtype(got, x_1.dtype, "the re-ordered x_1", where)
    got = got.detach().double()
    match = torch.cdist(got, x_1) < 1e-9                     # (N, N): which x_1 each row is
    if torch.allclose(got, x_0) or (torch.cdist(got, x_0) < 1e-9).any(1).all() and not match.any(1).all():
        raise Mismatch("you re-ordered x_0; keep x_0 in its order and re-order x_1")
    if not match.any(1).all():
        raise Mismatch("every row must be one of the x_1 points, re-ordered; some rows are new points" + where)
    used = match.float().argmax(1)
    if len(set(used.tolist())) < n:
        raise Mismatch("some x_1 points are used twice and others not at all: a pairing is a permutation. Picking "
                       "the nearest x_1 for each x_0 (argmin per row) is not one; solve the assignment problem")
    sort_x0, sort_x1 = x_0[:, 0].argsort(), x_1[:, 0].argsort()
    by_coordinate = torch.empty_like(x_1)
    by_coordinate[sort_x0] = x_1[sort_x1]
    reject_known(got, [
        ("that is x_1 as given, the independent pairing: re-order it by the assignment that minimises the cost",
         x_1),
        ("you applied the inverse permutation: row i of the answer is x_1[cols[i]] (or, with the cost "
         "transposed, find the row of each column)", x_1[perm.argsort()]),
        ("you maximised the cost; the optimal pairing minimises it", x_1[_assign(cost, maximize=True)]),
        ("the cost is the squared distance |x_0[i] − x_1[j]|² (torch.cdist(x_0, x_1) ** 2), not the distance",
         x_1[_assign(cost.sqrt())]),
        ("the cost is the squared distance |x_0[i] − x_1[j]|² (torch.cdist(x_0, x_1) ** 2), not another power "
         "of it: a different power gives a different pairing", x_1[_assign(cost ** 1.5)]),
        ("sorting by one coordinate is optimal only in one dimension; solve the assignment problem on the "
         "squared distances", by_coordinate),
    ], expected, where)
    total, best = float(((got - x_0) ** 2).sum()), float(cost[torch.arange(n), perm].sum())
    if total > best + 1e-9:
        raise Mismatch(f"a permutation, but not the optimal one: total squared distance {total:.4f}, the optimum "
                       f"is {best:.4f}; use scipy.optimize.linear_sum_assignment on the squared distances{where}")
    compare(got, expected, "the re-ordered x_1", where)


register("06.ot_pairing", "pair a batch by an optimal assignment", ot_pairing, _check_ot_pairing)

"""Exercises of notebook 06: wrong answers of every kind are rejected with a message naming the mistake; the
solutions agree with independent oracles (fmlite.metrics.straightness, fmlite.couplings.minibatch_ot)."""
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from fmlite.couplings import minibatch_ot
from fmlite.exercises import solution
from fmlite.exercises.nb06_straight import _batch, _trajectories
from fmlite.metrics import straightness

DTYPE = "returned float32 for float64 inputs: keep the inputs' dtype"   # the one dtype rule of every checker


def _s(chord=lambda tr: tr[-1] - tr[0], speed=lambda tr, h: (tr[1:] - tr[:-1]) / h, weight=lambda h: h,
       over_d=lambda sq: sq.sum(-1), over_b=lambda s: s.mean(-1), finish=lambda s: s):
    def answer(trajectory):
        h = 1.0 / (trajectory.shape[0] - 1)
        sq = (speed(trajectory, h) - chord(trajectory)) ** 2
        return finish((over_b(over_d(sq)) * weight(h)).sum())
    return answer


def _perpendicular(trajectory):
    chord = trajectory[-1] - trajectory[0]
    along = chord / chord.norm(dim=-1, keepdim=True)
    rel = trajectory - trajectory[0]
    off = rel - (rel * along).sum(-1, keepdim=True) * along
    return (off ** 2).sum(-1).mean()


@pytest.mark.parametrize("answer, message", [
    (_s(speed=lambda tr, h: tr[1:] - tr[:-1]), "not the bare difference"),
    (_s(weight=lambda h: 1.0), "take a mean over the steps, not a sum"),
    (_s(over_d=lambda sq: sq.mean(-1)), "sums over the coordinates"),
    (_s(over_b=lambda s: s.sum(-1)), "average over the B paths"),
    (_s(finish=torch.sqrt), "do not take a square root"),
    (_s(chord=lambda tr: tr[0] - tr[-1]), "not with its negative"),
    (_s(chord=lambda tr: (tr[1] - tr[0]) * (len(tr) - 1)), "not with the first step's velocity"),
    (_s(weight=lambda h: 1.0 / (1.0 / h + 1)), "you divided by the number of states"),
    (lambda tr: ((tr[1:] - tr[:-1]) * (len(tr) - 1) - (tr[-1] - tr[0])).norm(dim=-1).mean(-1).sum() / (len(tr) - 1),
     "not the distance"),
    (_perpendicular, "S measures the speed too"),
    (lambda tr: ((tr[1:] - tr[:-1]) * (len(tr) - 1) - (tr[-1] - tr[0])).pow(2).sum(-1).mean(0),
     "S is one number"),
    (lambda tr: float("nan"), "S is nan"),
    (lambda tr: None, "not solved yet"),
    (lambda tr: tr.sum() * 0 + 1.0, "S is 0.01474 times the expected value"),
])
def test_straightness_rejects(answer, message, rejected):
    rejected("06.straightness", answer, message)


def _by(cost_of=lambda a, b: torch.cdist(a, b) ** 2, maximize=False, inverse=False):
    def answer(x_0, x_1):
        rows, cols = linear_sum_assignment(cost_of(x_0, x_1).numpy(), maximize=maximize)
        cols = torch.as_tensor(cols)
        return x_1[cols.argsort()] if inverse else x_1[cols]
    return answer


def _greedy_unique(x_0, x_1):
    cost, free, out = torch.cdist(x_0, x_1) ** 2, list(range(len(x_1))), []
    for i in range(len(x_0)):
        j = min(free, key=lambda j: float(cost[i, j]))
        free.remove(j)
        out.append(x_1[j])
    return torch.stack(out)


def _sort_first(x_0, x_1):
    out = torch.empty_like(x_1)
    out[x_0[:, 0].argsort()] = x_1[x_1[:, 0].argsort()]
    return out


@pytest.mark.parametrize("answer, message", [
    (lambda x_0, x_1: x_1, "the independent pairing"),
    (_by(inverse=True), "you applied the inverse permutation"),
    (_by(maximize=True), "you maximised the cost"),
    (_by(cost_of=torch.cdist), "the cost is the squared distance"),
    (_sort_first, "sorting by one coordinate is optimal only in one dimension"),
    (lambda x_0, x_1: x_1[(torch.cdist(x_0, x_1) ** 2).argmin(1)], "a pairing is a permutation"),
    (_greedy_unique, "a permutation, but not the optimal one"),
    (lambda x_0, x_1: minibatch_ot(x_0, x_1), "return only the re-ordered x_1"),
    (lambda x_0, x_1: torch.as_tensor(linear_sum_assignment((torch.cdist(x_0, x_1) ** 2).numpy())[1]),
     "you returned the indices"),
    (lambda x_0, x_1: x_0[torch.as_tensor(linear_sum_assignment((torch.cdist(x_1, x_0) ** 2).numpy())[1])],
     "you re-ordered x_0"),
    (lambda x_0, x_1: (x_0 + x_1) / 2, "some rows are new points"),
    (lambda x_0, x_1: x_1[:-1], "has shape (8, 2), expected (9, 2)"),
    (lambda x_0, x_1: x_1.numpy(), "should be a torch tensor"),
])
def test_ot_pairing_rejects(answer, message, rejected):
    rejected("06.ot_pairing", answer, message)


def test_the_greedy_pairing_is_a_permutation_that_is_not_optimal():
    x_0, x_1 = _batch()
    greedy, best = _greedy_unique(x_0, x_1), solution("06.ot_pairing")(x_0, x_1)
    assert ((greedy - x_0) ** 2).sum() > ((best - x_0) ** 2).sum() + 1e-6


def test_solutions_agree_with_the_package():
    for _, traj in _trajectories():
        assert float(solution("06.straightness")(traj)) == pytest.approx(straightness(traj), rel=1e-12)
    x_0, x_1 = _batch()
    assert torch.equal(solution("06.ot_pairing")(x_0, x_1), minibatch_ot(x_0, x_1)[1])
    # brute force over all 9! permutations would be slow; check optimality against 2000 random ones
    best = ((solution("06.ot_pairing")(x_0, x_1) - x_0) ** 2).sum()
    g = torch.Generator().manual_seed(0)
    assert all(((x_1[torch.randperm(9, generator=g)] - x_0) ** 2).sum() >= best - 1e-12 for _ in range(2000))


def _cols(cost):
    return torch.as_tensor(linear_sum_assignment(cost.numpy())[1])


def _in_place_walk(tr):
    tr -= tr[0].clone()
    return _s()(tr)


@pytest.mark.parametrize("key, answer, message", [                           # found by a trial of wrong answers
    ("06.straightness", _s(speed=lambda tr, h: (tr[1:] - tr[:-1]) * 5, weight=lambda h: 0.2), "you hard-coded 5 steps"),
    ("06.straightness", _s(over_b=lambda s: s.sum(-1) / 7), "you hard-coded 7 paths"),
    ("06.straightness", lambda tr: _s()(tr).float(), DTYPE),
    ("06.straightness", _in_place_walk, "changed its input trajectory in place"),
    ("06.ot_pairing", lambda a, b: b[_cols(torch.cdist(a, b) ** 3)], "not another power"),
    ("06.ot_pairing", lambda a, b: b.float()[_cols(torch.cdist(a, b) ** 2)], DTYPE),
    ("06.ot_pairing", lambda a, b: b.copy_(b[_cols(torch.cdist(a, b) ** 2)]), "changed its input x_1 in place"),
])
def test_trial_answers_rejected(key, answer, message, rejected):
    rejected(key, answer, message)

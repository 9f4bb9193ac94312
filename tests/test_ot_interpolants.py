"""Mini-batch OT with squared distances (notebook 06): optimal segments may cross in the plane, but two OT
interpolants x_t = (1 - t) a_i + t b_i are never at the same place at the same time."""
import torch

from fmlite.couplings import minibatch_ot


def crossing_times(u, w):
    """(s, r) for every pair of segments u_i -> w_i, u_j -> w_j that cross: the times each one passes there."""
    out = []
    for i in range(len(u)):
        for j in range(i + 1, len(u)):
            m = torch.stack([w[i] - u[i], u[j] - w[j]], 1)
            if torch.det(m).abs() > 1e-12:
                s, r = torch.linalg.solve(m, u[j] - u[i])
                if 0 <= s <= 1 and 0 <= r <= 1:
                    out.append((s.item(), r.item()))
    return out


def closest_at_equal_t(u, w):
    """min over i != j and t in [0, 1] of |x_t^(i) - x_t^(j)|, a quadratic in t per pair (closed form)."""
    da = u[:, None] - u[None]
    dd = (w[:, None] - w[None]) - da
    t = (-(da * dd).sum(-1) / (dd ** 2).sum(-1).clamp_min(1e-300)).clamp(0, 1)
    gap = (da + t[..., None] * dd).norm(dim=-1)
    return gap.fill_diagonal_(float("inf")).min().item()


def test_ot_segments_cross_but_interpolants_never_meet():
    g = torch.Generator().manual_seed(0)
    total_crossings = 0
    for _ in range(5):
        a = torch.randn(40, 2, generator=g, dtype=torch.float64)
        b = torch.randn(40, 2, generator=g, dtype=torch.float64) * torch.tensor([2.0, 0.5], dtype=torch.float64) + 1
        a_ot, b_ot = minibatch_ot(a, b)
        # a permutation of b, cheaper than the independent pairing
        assert torch.equal(torch.sort(b_ot[:, 0]).values, torch.sort(b[:, 0]).values)
        assert ((b_ot - a_ot) ** 2).sum() <= ((b - a) ** 2).sum()
        # the two-swap optimality condition: <a_i - a_j, b_i - b_j> >= 0 for every pair
        inner = ((a_ot[:, None] - a_ot[None]) * (b_ot[:, None] - b_ot[None])).sum(-1)
        assert inner.min() >= -1e-9
        crossed = crossing_times(a_ot, b_ot)
        total_crossings += len(crossed)
        assert all(abs(s - r) > 1e-6 for s, r in crossed)     # crossing segments are passed at different times
        assert closest_at_equal_t(a_ot, b_ot) > 1e-6          # so no two interpolants ever coincide
    assert total_crossings > 0   # the statement "optimal segments do not cross" would be false here


def test_a_swap_that_makes_segments_meet_is_never_optimal():
    # two segments that meet at the same time (their midpoints coincide) are re-paired by OT
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)   # the two lines meet at (0.5, 0.5), t = 0.5
    assert closest_at_equal_t(a, b) < 1e-12
    a_ot, b_ot = minibatch_ot(a, b)
    assert closest_at_equal_t(a_ot, b_ot) > 0.5

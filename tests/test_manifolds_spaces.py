"""fmlite.manifolds.spaces and datasets against independent oracles: exp/log round trips, the geodesic distance
against arccos and against the minimum over the 2π shifts, tangent projection, uniform sampling moments, the
vMF sampler against SciPy's, and the errors for points off the space and antipodal pairs."""
import math

import pytest
import torch

from fmlite.manifolds import (FlatTorus, Sphere, get_space, sample_torus_checkerboard, sample_vmf,
                              sample_vmf_mixture, sample_wrapped_gaussians)

pytestmark = pytest.mark.usefixtures("one_thread")
G = lambda seed: torch.Generator().manual_seed(seed)  # noqa: E731


def _tangent(x, seed):
    return Sphere()._project(x, torch.randn(x.shape, generator=G(seed), dtype=x.dtype))


def test_sphere_exp_log_round_trips_and_distance_against_arccos():
    S = Sphere()
    x, y = S.sample_uniform(500, G(0), torch.float64), S.sample_uniform(500, G(1), torch.float64)
    v = S.log_map(x, y)
    torch.testing.assert_close(S.exp_map(x, v), y, atol=1e-12, rtol=0)
    assert (x * v).sum(1).abs().max() < 1e-12                                  # tangent
    oracle = torch.arccos((x * y).sum(1).clamp(-1, 1))
    torch.testing.assert_close(S.distance(x, y), oracle, atol=1e-7, rtol=0)
    torch.testing.assert_close(v.norm(dim=1), oracle, atol=1e-7, rtol=0)      # |log_x y| = d(x, y)
    w = _tangent(x, 2)
    w = w * (3.0 * torch.rand(500, 1, generator=G(3), dtype=torch.float64) / w.norm(dim=1, keepdim=True))
    torch.testing.assert_close(S.log_map(x, S.exp_map(x, w)), w, atol=1e-10, rtol=0)   # |w| < π
    torch.testing.assert_close(S.log_map(x, x), torch.zeros_like(x))            # y = x: 0, not NaN


def test_sphere_exp_follows_the_great_circle_by_arc_length():
    S = Sphere()
    x = torch.tensor([[1.0, 0, 0]], dtype=torch.float64)
    for a in (0.0, 1e-9, 0.3, 2.0, math.pi - 1e-3):
        y = S.exp_map(x, torch.tensor([[0, a, 0]], dtype=torch.float64))
        torch.testing.assert_close(y, torch.tensor([[math.cos(a), math.sin(a), 0]], dtype=torch.float64))


def test_torus_exp_log_and_distance_against_the_minimum_over_shifts():
    T = FlatTorus()
    x, y = T.sample_uniform(400, G(4), torch.float64), T.sample_uniform(400, G(5), torch.float64)
    v = T.log_map(x, y)
    assert (v >= -math.pi).all() and (v < math.pi).all()
    torch.testing.assert_close(T.exp_map(x, v), y, atol=1e-12, rtol=0)
    d = y - x
    shifts = torch.stack([(d + 2 * math.pi * k).abs() for k in (-1, 0, 1)]).min(0).values
    torch.testing.assert_close(T.distance(x, y), shifts.norm(dim=1))
    out = T.exp_map(x, 9 * torch.randn(400, 2, generator=G(6), dtype=torch.float64))
    assert (out >= 0).all() and (out < 2 * math.pi).all()
    # the cut locus: a difference of exactly π gets the convention -π, not an error
    torch.testing.assert_close(T.log_map(torch.tensor([[0.0, 1.0]]), torch.tensor([[math.pi, 1.0]])),
                               torch.tensor([[-math.pi, 0.0]]))


def test_projection_and_uniform_sampling():
    S = Sphere()
    x = S.sample_uniform(20000, G(7), torch.float64)
    assert (x.norm(dim=1) - 1).abs().max() < 1e-12
    assert x.mean(0).abs().max() < 0.02
    torch.testing.assert_close(x.T @ x / len(x), torch.eye(3, dtype=torch.float64) / 3, atol=0.01, rtol=0)
    v = torch.randn(x.shape, generator=G(8), dtype=torch.float64)
    p = S.project_tangent(x, v)
    assert (x * p).sum(1).abs().max() < 1e-12
    torch.testing.assert_close(S.project_tangent(x, p), p)
    T = FlatTorus()
    a = T.sample_uniform(20000, G(9))
    assert (a >= 0).all() and (a < 2 * math.pi).all() and (a.mean(0) - math.pi).abs().max() < 0.05
    torch.testing.assert_close(T.project_tangent(a, a), a)


def test_vmf_sampler_against_scipy_and_the_mean_resultant_length():
    stats = pytest.importorskip("scipy.stats")
    if not hasattr(stats, "vonmises_fisher"):   # SciPy >= 1.11; pyproject pins >= 1.10 (fmlite samples vMF itself)
        pytest.skip("scipy.stats.vonmises_fisher needs SciPy >= 1.11")
    mu = torch.tensor([0.0, 0.6, 0.8])
    for kappa in (0.5, 5.0, 50.0):
        x = sample_vmf(mu, kappa, 20000, G(10))
        w = (x @ mu.double()).numpy()
        ref = stats.vonmises_fisher(mu.numpy(), kappa).rvs(20000, random_state=1) @ mu.numpy()
        assert stats.ks_2samp(w, ref).pvalue > 1e-3
        assert abs(w.mean() - (1 / math.tanh(kappa) - 1 / kappa)) < 0.01     # A_3(κ) = coth κ - 1/κ
        around = x - torch.as_tensor(w)[:, None] * mu.double()
        assert around.mean(0).norm() < 0.02                                    # uniform direction about mu
    m = sample_vmf_mixture(3000, seed=1)
    assert m.shape == (3000, 3) and (m.norm(dim=1) - 1).abs().max() < 1e-5
    torch.testing.assert_close(sample_vmf_mixture(10, seed=3), sample_vmf_mixture(10, seed=3))


def test_torus_data_sets():
    c = sample_torus_checkerboard(8000, seed=0, cells=4)
    cell = (c / (math.pi / 2)).floor().long()
    assert ((cell.sum(1) % 2) == 0).all() and (c >= 0).all() and (c < 2 * math.pi).all()
    counts = torch.bincount(cell[:, 0] * 4 + cell[:, 1], minlength=16)
    assert counts[counts > 0].numel() == 8 and counts[counts > 0].min() > 800
    g = sample_wrapped_gaussians(4000, seed=0)
    assert (g >= 0).all() and (g < 2 * math.pi).all()
    near_seam = ((g < 0.5) | (g > 2 * math.pi - 0.5)).all(1)   # the mean at (0, 0) wraps to all four corners
    assert near_seam.float().mean() > 0.15


@pytest.mark.parametrize("call,words", [
    (lambda: Sphere().log_map(torch.tensor([[1.0, 0, 0]]), torch.tensor([[1.1, 0, 0]])),
     r"off the unit sphere by more than 0.0001 \(\|y\| = 1.1\).*y / y.norm"),
    (lambda: Sphere().log_map(torch.tensor([[0.0, 0, 1]]), torch.tensor([[0.0, 0, -1]])),
     r"antipodal.*log_x\(y\) is undefined"),
    (lambda: Sphere().exp_map(torch.tensor([[0.0, 0, 1]]), torch.tensor([[0.0, 0, 0.5]])),
     r"not tangent.*project_tangent"),
    (lambda: Sphere().distance(torch.tensor([[1.0, 0]]), torch.tensor([[1.0, 0]])), r"shape \(B, 3\)"),
    (lambda: Sphere().distance(torch.tensor([[1.0, 0, 0]]), [[1.0, 0, 0]]), "torch.as_tensor"),
    (lambda: FlatTorus().distance(torch.tensor([[7.0, 0]]), torch.tensor([[1.0, 0]])),
     r"outside \[0, 2π\].*x % \(2 \* math.pi\)"),
    (lambda: FlatTorus().exp_map(torch.tensor([[-0.1, 0]]), torch.tensor([[1.0, 0]])), r"outside \[0, 2π\]"),
    (lambda: FlatTorus().log_map(torch.tensor([[float("nan"), 0]]), torch.tensor([[1.0, 0]])), "NaN"),
    (lambda: get_space("cube"), r"unknown space 'cube'.*\['sphere', 'torus'\]"),
    (lambda: Sphere().sample_uniform(0), "n"),
    (lambda: sample_vmf(torch.tensor([1.0, 1, 0]), 3.0, 5), "unit vector"),
    (lambda: sample_torus_checkerboard(10, cells=3), "even"),
])
def test_bad_input_is_refused_with_the_fix(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_points_within_the_stated_tolerance_are_accepted():
    S, T = Sphere(), FlatTorus()
    x = torch.tensor([[1.0 + 5e-5, 0, 0]])
    assert S.distance(x, torch.tensor([[0.0, 1, 0]])).item() == pytest.approx(math.pi / 2, abs=1e-6)
    assert T.distance(torch.tensor([[2 * math.pi + 5e-6, 0]]), torch.tensor([[0.0, 0]])).item() < 1e-5

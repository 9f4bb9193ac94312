"""fmlite.manifolds paths, exact field, solvers, loss and networks against independent oracles: the target velocity
against a finite difference of the path, the closed-form conditional densities against Monte Carlo histograms,
the exact field's flow carrying the uniform source onto the data set, the solvers' order on a rotation whose
solution is known (Rodrigues), the naive step's arctan lag, the loss measured in the tangent plane."""
import math

import pytest
import torch

from fmlite.batches import Batch
from fmlite.checkpoints import load_checkpoint, save_checkpoint
from fmlite.manifolds import (FlatTorus, GeodesicFlowMatchingLoss, GeodesicPath, ManifoldMLP, Sphere,
                              conditional_density, integrate_manifold, manifold_energy_distance, marginal_density,
                              marginal_velocity, pairwise_distance, sample_torus_checkerboard,
                              sample_vmf_mixture)
from fmlite.manifolds.spaces import wrap
from fmlite.schedules import Sigma

pytestmark = pytest.mark.usefixtures("one_thread")
G = lambda seed: torch.Generator().manual_seed(seed)  # noqa: E731
SQUARE = Sigma(lambda t: t ** 2, derivative=lambda t: 2 * t, name="t^2")


@pytest.mark.parametrize("space", [Sphere(), FlatTorus()])
@pytest.mark.parametrize("kappa", [None, SQUARE])
def test_target_velocity_is_the_time_derivative_of_the_path(space, kappa):
    path = GeodesicPath(space, kappa)
    x_0, x_1 = space.sample_uniform(300, G(0), torch.float64), space.sample_uniform(300, G(1), torch.float64)
    t = 0.02 + 0.96 * torch.rand(300, generator=G(2), dtype=torch.float64)
    s = path.sample(x_0, x_1, t)
    h = 1e-6
    fd = wrap(path.interpolate(x_0, x_1, t + h) - path.interpolate(x_0, x_1, t - h)) / (2 * h) \
        if isinstance(space, FlatTorus) else (path.interpolate(x_0, x_1, t + h) - path.interpolate(x_0, x_1, t - h)) / (2 * h)
    torch.testing.assert_close(s.u_t, fd, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(path.target_velocity(s.x_t, x_1, t), s.u_t, atol=1e-8, rtol=1e-8)
    torch.testing.assert_close(path.interpolate(x_0, x_1, 0.0), x_0)
    torch.testing.assert_close(path.interpolate(x_0, x_1, 1.0), x_1, atol=1e-12, rtol=0)
    k = t ** 2 if kappa is SQUARE else t
    torch.testing.assert_close(space.distance(x_0, s.x_t), k * space.distance(x_0, x_1), atol=1e-9, rtol=0)


def test_path_refuses_bad_schedules_and_t_1_in_the_log_form():
    with pytest.raises(ValueError, match="kappa_0 = 0"):
        GeodesicPath("sphere", Sigma(lambda t: 0.5 + 0 * t, derivative=lambda t: 0 * t))
    with pytest.raises(TypeError, match="Schedule"):
        GeodesicPath("sphere", lambda t: t)
    x = Sphere().sample_uniform(3, G(0))
    with pytest.raises(ValueError, match="kappa_t < 1"):
        GeodesicPath("sphere").target_velocity(x, x, 1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        GeodesicPath("torus").sample(FlatTorus().sample_uniform(3), FlatTorus().sample_uniform(3), 1.5)


def test_sphere_conditional_density_against_a_monte_carlo_histogram():
    S, t = Sphere(), 0.4
    y = torch.tensor([[0.0, 0, 1]], dtype=torch.float64)
    x_0 = S.sample_uniform(200000, G(3), torch.float64)
    x_t = GeodesicPath(S).interpolate(x_0, y.expand(len(x_0), 3), t)
    r = S.distance(x_t, y.expand(len(x_0), 3))
    edges = torch.linspace(0, math.pi, 31, dtype=torch.float64)
    mc = torch.histc(r, 30, 0, math.pi) / len(r)
    # the closed form integrated over each ring: p_t(r) 2π sin r dr by the midpoint rule on 200 sub-points
    fine = torch.linspace(0, math.pi, 30 * 200 + 1, dtype=torch.float64)
    mid = (fine[1:] + fine[:-1]) / 2
    pts = torch.stack([torch.sin(mid), torch.zeros_like(mid), torch.cos(mid)], 1)
    p = conditional_density(S, pts, y.expand(len(pts), 3), t)
    ring = (p * 2 * math.pi * torch.sin(mid) * (fine[1] - fine[0])).reshape(30, 200).sum(1)
    assert ring.sum().item() == pytest.approx(1.0, abs=1e-4)
    assert (mc - ring).abs().max() < 0.004
    assert (ring[edges[1:] > (1 - t) * math.pi + 0.11] == 0).all()


def test_torus_conditional_density_against_a_monte_carlo_histogram():
    T, t = FlatTorus(), 0.55
    y = torch.tensor([[0.3, 6.0]], dtype=torch.float64)        # near the seam: the box wraps
    x_0 = T.sample_uniform(200000, G(4), torch.float64)
    x_t = GeodesicPath(T).interpolate(x_0, y.expand(len(x_0), 2), t)
    hist = torch.histogramdd(x_t, bins=[12, 12], range=[0, 2 * math.pi, 0, 2 * math.pi]).hist / len(x_t)
    c = (torch.arange(12 * 8, dtype=torch.float64) + 0.5) * (2 * math.pi / 96)
    grid = torch.stack(torch.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 2)
    p = conditional_density(T, grid, y.expand(len(grid), 2), t).reshape(96, 96)
    expected = p.reshape(12, 8, 12, 8).sum((1, 3)) * (2 * math.pi / 96) ** 2
    assert expected.sum().item() == pytest.approx(1.0, abs=0.01)
    assert (hist - expected).abs().max() < 0.004
    assert conditional_density(T, y, y, t).item() == pytest.approx(1 / (2 * math.pi * (1 - t)) ** 2)


@pytest.mark.parametrize("space,data", [
    (Sphere(), torch.nn.functional.normalize(torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [-1, -1, -1]]), dim=1)),
    (FlatTorus(), torch.tensor([[0.2, 0.2], [3.0, 6.1], [5.0, 2.0]]))])
def test_the_exact_field_carries_the_uniform_source_onto_the_data(space, data):
    x_0 = space.sample_uniform(1500, G(5))
    x_1 = integrate_manifold(space, lambda x, t: marginal_velocity(space, x, data, t), x_0, 200, "midpoint").x
    d = torch.stack([space.distance(x_1, q.expand(len(x_1), -1)) for q in data], 1)
    # on the torus the field jumps at the edges of the shrinking boxes: a step that overshoots the edge of the
    # support lands where every weight is 0, where the field is 0, and stays (5 of 1,500 points here; none with
    # 800 steps in float64); on the sphere the density falls to 0 continuously at the cap edge and none strand
    arrived = d.min(1).values < 0.02
    assert arrived.float().mean() > (0.995 if isinstance(space, FlatTorus) else 0.9999)
    share = torch.bincount(d[arrived].argmin(1), minlength=len(data)).float() / int(arrived.sum())
    assert (share - 1 / len(data)).abs().max() < 0.05        # each point gets its share of the uniform mass


def test_the_exact_field_is_zero_where_no_mass_is_and_the_weighted_log_average_elsewhere():
    S = Sphere()
    data = torch.tensor([[0.0, 0, 1]])
    x = torch.tensor([[0.0, 0, -1], [1.0, 0, 0]])
    u = marginal_velocity(S, x, data, 0.9)                      # cap radius 0.1π: both points outside
    assert (u == 0).all() and (marginal_density(S, x, data, 0.9) == 0).all()
    u = marginal_velocity(S, x, data, 0.2)                      # (1, 0, 0) is inside now
    torch.testing.assert_close(u[1], S.log_map(x[1:], data)[0] / 0.8)
    torch.testing.assert_close(marginal_density(S, S.sample_uniform(4), data, 0.0),
                               torch.full((4,), 1 / (4 * math.pi), dtype=torch.float64))
    with pytest.raises(ValueError, match="t < 1"):
        marginal_velocity(S, x, data, 1.0)


def _rotate(x, axis, angle):
    """Rodrigues' rotation of x (B, 3) about the unit axis by angle: the exact flow of v = angle (axis × x)."""
    k = axis.expand_as(x)
    return x * math.cos(angle) + torch.linalg.cross(k, x) * math.sin(angle) + k * (k * x).sum(1, keepdim=True) * \
        (1 - math.cos(angle))


def test_riemannian_solvers_have_their_order_and_the_naive_step_lags_by_arctan():
    S = Sphere()
    axis = torch.tensor([0.3, -0.4, math.sqrt(0.75)], dtype=torch.float64)
    field = lambda x, t: (1 + t[:, None]) * torch.linalg.cross(axis.expand_as(x), x)  # noqa: E731  angle 1.5
    x_0 = S.sample_uniform(50, G(6), torch.float64)
    exact = _rotate(x_0, axis, 1.5)
    for method, order in (("euler", 1), ("midpoint", 2)):
        e = [(integrate_manifold(S, field, x_0, n, method).x - exact).norm(dim=1).max().item() for n in (40, 80)]
        assert e[0] / e[1] == pytest.approx(2 ** order, rel=0.15)
    x = torch.tensor([[1.0, 0, 0]], dtype=torch.float64)
    spin = lambda x, t: torch.linalg.cross(torch.tensor([[0, 0, 1.0]], dtype=x.dtype).expand_as(x), x)  # noqa: E731
    for h_steps in (1, 4):
        sol = integrate_manifold(S, spin, x, h_steps, "naive", return_trajectory=True)
        angle = torch.atan2(sol.x[0, 1], sol.x[0, 0]).item()
        assert angle == pytest.approx(h_steps * math.atan(1 / h_steps), abs=1e-12)
        assert sol.trajectory.shape == (h_steps + 1, 1, 3) and sol.nfe == h_steps
        assert torch.atan2(*integrate_manifold(S, spin, x, h_steps).x[0, [1, 0]]).item() == pytest.approx(1.0)
    T = FlatTorus()
    a = T.sample_uniform(5, G(7), torch.float64)
    out = integrate_manifold(T, lambda x, t: torch.ones_like(x) * 7, a, 3, "midpoint")
    torch.testing.assert_close(out.x, torch.remainder(a + 7, 2 * math.pi))
    assert out.nfe == 6
    with pytest.raises(ValueError, match="unknown method"):
        integrate_manifold(S, spin, x, 3, "rk4")


def test_the_loss_is_measured_in_the_tangent_plane_and_keeps_its_gradient():
    S = Sphere()
    model = ManifoldMLP(S, hidden=16, layers=2)
    x_1 = sample_vmf_mixture(64, seed=0)
    loss = GeodesicFlowMatchingLoss(S)
    torch.manual_seed(3)
    value = loss(model, Batch(x_1, None))
    torch.manual_seed(3)
    x_0 = S.sample_uniform(64)
    from fmlite.losses import sample_time
    t = sample_time(64)
    s = GeodesicPath(S).sample(x_0, x_1, t)
    manual = ((model(s.x_t, t) - s.u_t) ** 2).sum(1).mean()
    torch.testing.assert_close(value, manual)
    value.backward()
    assert model.mlp.net[0].weight.grad.abs().sum() > 0

    class Normal(torch.nn.Module):       # adds a normal component: the loss must not see it
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x, t):
            return self.inner(x, t) + 5 * x
    torch.manual_seed(3)
    torch.testing.assert_close(loss(Normal(), Batch(x_1, None)), manual.detach(), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="GeodesicPath on Sphere"):
        GeodesicFlowMatchingLoss(S, GeodesicPath("torus"))


def test_networks_are_tangent_continuous_across_the_seam_and_checkpoint():
    S, T = Sphere(), FlatTorus()
    m = ManifoldMLP(S, hidden=16)
    x = S.sample_uniform(20, G(8))
    assert (m(x, 0.3) * x).sum(1).abs().max() < 1e-5
    mt = ManifoldMLP(T, hidden=16)
    a = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    b = torch.tensor([[2 * math.pi, 1.0], [1.0, 2 * math.pi]])
    torch.testing.assert_close(mt(a, 0.5), mt(b, 0.5))
    with pytest.raises(ValueError, match="off the unit sphere"):
        m(2 * x, 0.3)
    with pytest.raises(ValueError, match=r"outside \[0, 2π\]"):
        mt(a - 1, 0.3)


def test_checkpoint_round_trip_and_energy_distance(tmp_path):
    T = FlatTorus()
    mt = ManifoldMLP(T, hidden=16)
    save_checkpoint(tmp_path / "m.pt", mt.mlp, manifold="torus")
    mlp, meta = load_checkpoint(tmp_path / "m.pt")
    back = ManifoldMLP.from_mlp(meta["manifold"], mlp)
    a = T.sample_uniform(9, G(9))
    torch.testing.assert_close(back(a, 0.2), mt(a, 0.2))
    S = Sphere()
    same = manifold_energy_distance(S, S.sample_uniform(800, G(10)), S.sample_uniform(800, G(11)))
    differ = manifold_energy_distance(S, S.sample_uniform(800, G(10)), sample_vmf_mixture(800))
    assert abs(same) < 0.01 and differ > 0.03
    assert manifold_energy_distance(T, T.sample_uniform(800, G(12)), T.sample_uniform(800, G(13))) < 0.01
    # the torus metric sees more than the marginals: the checkerboard (uniform marginals) differs from uniform
    # (weakly: 0.0044 against 0.0012 for two uniform clouds; the sum of circle distances would give ~0)
    board = sample_torus_checkerboard(800, seed=0)
    assert manifold_energy_distance(T, T.sample_uniform(800, G(12)), board) > 0.003
    a, b = T.sample_uniform(50, G(14), torch.float64), T.sample_uniform(60, G(15), torch.float64)
    emb = lambda x: torch.cat([torch.cos(x), torch.sin(x)], 1)  # noqa: E731   the embedding in R⁴ as an oracle
    torch.testing.assert_close(pairwise_distance(T, a, b), torch.cdist(emb(a), emb(b)))

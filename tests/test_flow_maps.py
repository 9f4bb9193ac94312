"""Flow maps, average velocities, the MeanFlow target and the flow-map sampler against independent oracles.

Oracles: closed-form flow maps of linear ODEs (a scaling and a rotation with time-dependent rate), the closed
form of the exact field of a one-point data set, fine RK4 of `fmlite.exact.marginal_velocity` by plain
`integrate` (not the per-sample rescaling of `flow_map`), finite differences for the MeanFlow identity and for
the JVP, and Meta's time-reversed formula for the sign.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from fmlite.batches import Batch
from fmlite.checkpoints import load_checkpoint, save_checkpoint
from fmlite.exact import marginal_velocity
from fmlite.flow_map_losses import DistillationLoss, MeanFlowLoss, distillation_pairs, sample_time_pairs
from fmlite.flow_maps import average_velocity, flow_map, meanflow_target, sample_flow_map
from fmlite.metrics import energy_distance
from fmlite.models import MLP, FlowMapMLP
from fmlite.paths import LinearPath
from fmlite.solvers import integrate
from fmlite.train import train

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")]
D64 = torch.float64


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- closed-form linear ODEs
# dx/dt = (1 + t) M x with M = -I (shrink) or M = J (rotation): psi_{t<-s}(x) = exp(theta M) x,
# theta = (t - s) + (t^2 - s^2) / 2.
J = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=D64)


def rotation(x, t):
    return (1 + t)[:, None] * (x @ J.T)


def rotation_map(x, s, t):
    theta = (t - s) + (t ** 2 - s ** 2) / 2
    c, n = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    return c * x + n * (x @ J.T)


def shrink(x, t):
    return -(1 + t)[:, None] * x


def shrink_map(x, s, t):
    return torch.exp(-((t - s) + (t ** 2 - s ** 2) / 2))[:, None] * x


CASES = {"shrink": (shrink, shrink_map), "rotation": (rotation, rotation_map)}


def _times(batch, seed):
    g = _gen(seed)
    s, t = torch.rand(batch, generator=g, dtype=D64), torch.rand(batch, generator=g, dtype=D64)
    t[:2] = s[:2]          # some s == t
    s[2], t[2] = 0.0, 1.0  # the whole range
    s[3], t[3] = 1.0, 0.0  # backwards
    return s, t


@pytest.mark.parametrize("batch", [7, 5])
@pytest.mark.parametrize("case", list(CASES))
def test_flow_map_and_average_velocity_match_the_closed_form_per_sample(case, batch):
    velocity, exact = CASES[case]
    x = torch.randn(batch, 2, generator=_gen(batch), dtype=D64)
    s, t = _times(batch, batch + 1)
    psi = flow_map(velocity, x, s, t, steps=40)
    assert psi.dtype == D64 and torch.allclose(psi, exact(x, s, t), atol=1e-9)
    u_bar = average_velocity(velocity, x, s, t, steps=40)
    moving = s != t
    want = (exact(x, s, t)[moving] - x[moving]) / (t - s)[moving][:, None]
    assert torch.allclose(u_bar[moving], want, atol=1e-8)
    assert torch.equal(u_bar[~moving], velocity(x[~moving], s[~moving]))   # u_bar(x, s, s) = u_s(x)
    # the limit t -> s is the velocity (continuity of u_bar)
    near = average_velocity(velocity, x, s, (s + 1e-6).clamp(max=1.0), steps=4)
    assert torch.allclose(near[s < 0.99], velocity(x, s)[s < 0.99], atol=1e-5)


def test_the_solver_order_shows_in_the_error():
    x = torch.randn(6, 2, generator=_gen(0), dtype=D64)
    err = [(flow_map(rotation, x, 0.0, 1.0, steps=k, method="euler") - rotation_map(x, torch.zeros(6, dtype=D64),
                                                                                   torch.ones(6, dtype=D64))).norm()
           for k in (50, 100)]
    assert 1.8 < float(err[0] / err[1]) < 2.2   # first order: halving h halves the error


# ----------------------------------------------------------------------------- the exact field of a finite data set
def test_one_data_point_has_a_closed_form_flow_map():
    """p_1 = delta(x*): u_t(x) = (x* - x) / (1 - t), psi_{t<-s}(x) = x* + (1 - t) / (1 - s) (x - x*)."""
    star = torch.tensor([[0.7, -1.2]], dtype=D64)
    x = torch.randn(6, 2, generator=_gen(3), dtype=D64)
    s = torch.tensor([0.0, 0.1, 0.3, 0.5, 0.2, 0.6], dtype=D64)
    t = torch.tensor([0.9, 0.4, 0.3, 0.95, 0.05, 0.8], dtype=D64)
    got = flow_map(lambda y, tau: marginal_velocity(y, tau, star, LinearPath()), x, s, t, steps=50)
    want = star + ((1 - t) / (1 - s))[:, None] * (x - star)
    assert torch.allclose(got, want, atol=1e-9)


def test_average_velocity_of_a_data_set_matches_plain_fine_rk4():
    data = torch.randn(5, 2, generator=_gen(4), dtype=D64) * 1.5
    field = lambda y, tau: marginal_velocity(y, tau, data, LinearPath())  # noqa: E731
    x = torch.randn(4, 2, generator=_gen(5), dtype=D64)
    s = torch.tensor([0.0, 0.2, 0.5, 0.7], dtype=D64)
    t = torch.tensor([0.9, 0.6, 0.5, 0.3], dtype=D64)
    got = average_velocity(field, x, s, t, steps=60)
    for i in range(4):
        if s[i] == t[i]:
            want = field(x[i:i + 1], s[i:i + 1])
        else:
            end = integrate(field, x[i:i + 1], 300, "rk4", t_start=float(s[i]), t_end=float(t[i])).x
            want = (end - x[i:i + 1]) / (t[i] - s[i])
        assert torch.allclose(got[i:i + 1], want, atol=1e-7), i
    assert torch.allclose(distillation_pairs(field, x, s, t, steps=60), x + (t - s)[:, None] * got, atol=1e-9)


# ----------------------------------------------------------------------------- the MeanFlow identity and target
class Exact(nn.Module):
    """The closed-form average velocity of a linear ODE as a float64 flow-map 'network'."""

    def __init__(self, exact):
        super().__init__()
        self.exact, self.anchor = exact, nn.Parameter(torch.zeros((), dtype=D64))  # gives the model's dtype

    def forward(self, x, s, t):
        gap = (t - s)[:, None]
        safe = torch.where(gap == 0, torch.ones_like(gap), gap)
        return (self.exact(x, s, t) - x) / safe + 0 * self.anchor


@pytest.mark.parametrize("case", list(CASES))
def test_the_meanflow_identity_holds_by_finite_differences(case):
    """u_bar(x_s, s, t) = u_s(x_s) + (t - s) d/ds u_bar(x_s, s, t) along the trajectory, d/ds by central
    differences of the closed form (the trajectory moved by the exact flow map)."""
    velocity, exact = CASES[case]
    x = torch.randn(6, 2, generator=_gen(6), dtype=D64)
    s = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.15, 0.05], dtype=D64)
    t = torch.tensor([0.9, 0.7, 0.35, 1.0, 0.6, 0.5], dtype=D64)
    u_bar = Exact(exact)
    h = 1e-5
    ahead, back = exact(x, s, s + h), exact(x, s, s - h)
    d_ds = (u_bar(ahead, s + h, t) - u_bar(back, s - h, t)) / (2 * h)
    assert torch.allclose(u_bar(x, s, t), velocity(x, s) + (t - s)[:, None] * d_ds, atol=1e-7)
    pred, target = meanflow_target(u_bar, x, s, t, velocity(x, s))   # the JVP gives the same identity
    assert torch.allclose(pred, target, atol=1e-10)
    assert not torch.allclose(pred, velocity(x, s) - (t - s)[:, None] * d_ds, atol=1e-3)   # the sign matters


@pytest.mark.parametrize("batch, dim", [(7, 2), (5, 3)])
def test_the_target_jvp_matches_finite_differences_and_stops_the_gradient(batch, dim):
    torch.manual_seed(0)
    model = FlowMapMLP(dim=dim, hidden=16, layers=2).double()
    g = _gen(batch)
    x, u = torch.randn(batch, dim, generator=g, dtype=D64), torch.randn(batch, dim, generator=g, dtype=D64)
    s = 0.1 + 0.6 * torch.rand(batch, generator=g, dtype=D64)
    t = s + (0.95 - s) * torch.rand(batch, generator=g, dtype=D64)
    pred, target = meanflow_target(model, x, s, t, u)
    h = 1e-6
    d_ds = (model(x + h * u, s + h, t) - model(x - h * u, s - h, t)) / (2 * h)
    assert torch.allclose(target, u + (t - s)[:, None] * d_ds, atol=1e-7)
    assert torch.allclose(pred, model(x, s, t), atol=1e-12)
    assert pred.requires_grad and not target.requires_grad


def test_our_target_is_metas_time_reversed_target():
    """Meta's 2d_mean_flow.ipynb (time tau = 1 - t, model(z, r, t) with r <= t, tangent (dx, 0, 1), target
    dx - (t - r) d/dt u): with their network written through ours, u_meta(z, r, t) = -u_bar(z, 1 - t, 1 - r),
    and dx = -u_s, their target is minus ours."""
    torch.manual_seed(1)
    model = FlowMapMLP(hidden=16, layers=2).double()
    meta = lambda z, r, t: -model(z, 1 - t, 1 - r)  # noqa: E731
    g = _gen(9)
    x, u = torch.randn(6, 2, generator=g, dtype=D64), torch.randn(6, 2, generator=g, dtype=D64)
    s = 0.4 * torch.rand(6, generator=g, dtype=D64)
    t = s + 0.5 * torch.rand(6, generator=g, dtype=D64)
    _, ours = meanflow_target(model, x, s, t, u)
    r_m, t_m, dx = 1 - t, 1 - s, -u
    v, dv_dt = torch.func.jvp(meta, (x, r_m, t_m), (dx, torch.zeros_like(r_m), torch.ones_like(t_m)))
    assert torch.allclose(dx - (t_m - r_m)[:, None] * dv_dt, -ours, atol=1e-12)


# ----------------------------------------------------------------------------- the k-step sampler
@pytest.mark.parametrize("case", list(CASES))
def test_the_k_step_sampler_with_the_exact_average_velocity_is_exact_for_every_k(case):
    _, exact = CASES[case]
    x_0 = torch.randn(5, 2, generator=_gen(7), dtype=D64)
    zeros = torch.zeros(5, dtype=D64)
    for k in range(1, 9):
        sol = sample_flow_map(Exact(exact), x_0, k, return_trajectory=True)
        assert sol.nfe == k and sol.trajectory.shape == (k + 1, 5, 2)
        assert torch.allclose(sol.times, torch.linspace(0, 1, k + 1, dtype=D64))
        for i, tau in enumerate(sol.times):
            assert torch.allclose(sol.trajectory[i], exact(x_0, zeros, zeros + tau), atol=1e-12), (k, i)
    calls = []
    sample_flow_map(lambda x, s, t: calls.append((s[0].item(), t[0].item())) or x, x_0, 4)
    assert calls == [(0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)]


# ----------------------------------------------------------------------------- the network
def test_flow_map_mlp_uses_both_times_checks_its_input_and_round_trips(tmp_path):
    torch.manual_seed(0)
    model = FlowMapMLP(dim=3, hidden=16, layers=2, time_dim=8)
    x = torch.randn(4, 3)
    out = model(x, 0.2, torch.tensor([0.3, 0.5, 0.7, 0.9]))
    assert out.shape == (4, 3)
    assert not torch.allclose(model(x, 0.2, 0.6), model(x, 0.3, 0.6))
    assert not torch.allclose(model(x, 0.2, 0.6), model(x, 0.2, 0.7))
    assert model.net[0].in_features == 3 + 2 * 8 and model.config["max_freq"] == 10.0
    assert float(model.time_embedding.freqs.max()) == pytest.approx(10.0)
    assert model(x.double(), 0.1, 0.2).dtype == torch.float32
    for bad, words in [((x[:, :2], 0.1, 0.2), r"\(B, 3\)"), ((x, 1.2, 0.2), r"\[0, 1\]"),
                       ((x, 0.1, torch.rand(3)), r"shape \(4,\)"), ((x.long(), 0.1, 0.2), r"x\.float\(\)")]:
        with pytest.raises(ValueError, match=words):
            model(*bad)
    save_checkpoint(tmp_path / "m.pt", model, note="test")
    loaded, meta = load_checkpoint(tmp_path / "m.pt")
    assert type(loaded) is FlowMapMLP and torch.equal(loaded(x, 0.2, 0.6), model(x, 0.2, 0.6))


# ----------------------------------------------------------------------------- time pairs and losses
def test_time_pairs_are_ordered_with_the_asked_share_of_equal_pairs():
    torch.manual_seed(0)
    s, t = sample_time_pairs(4000, "logit_normal", 0.4, 1.0, 0.75)
    assert (s <= t).all() and ((s > 0) & (t < 1)).all()
    assert int((s == t).sum()) == 3000
    single = s[s == t]
    assert abs(float(torch.logit(single).mean()) - 0.4) < 0.06 and abs(float(torch.logit(single).std()) - 1) < 0.06
    s, t = sample_time_pairs(4000, "uniform", equal_share=0.0)
    assert (s < t).all() and abs(float(s.mean()) - 1 / 3) < 0.02 and abs(float(t.mean()) - 2 / 3) < 0.02


def test_meanflow_loss_is_the_weighted_error_of_its_draws_and_keeps_the_gradient_path():
    torch.manual_seed(0)
    model = FlowMapMLP(hidden=16, layers=2)
    x_1 = torch.randn(32, 2)
    for weighting in ("none", "adaptive"):
        loss = MeanFlowLoss(weighting=weighting, equal_share=0.5)
        torch.manual_seed(3)
        value = loss(model, Batch(x_1, None))
        torch.manual_seed(3)
        x_0 = torch.randn_like(x_1)
        s, t = sample_time_pairs(32, "logit_normal", 0.4, 1.0, 0.5)
        pred, target = meanflow_target(model, s[:, None] * x_1 + (1 - s[:, None]) * x_0, s, t, x_1 - x_0)
        err = ((pred - target) ** 2).sum(1)
        want = err.mean() if weighting == "none" else (err / (err.detach() + 1e-3)).mean()
        assert torch.allclose(value, want, rtol=1e-5)
        grads = torch.autograd.grad(value, list(model.parameters()))
        assert all(torch.isfinite(g).all() for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0


def _blob(n):
    return torch.tensor([1.5, -1.0]) + 0.5 * torch.randn(n, 2)


def test_meanflow_and_distillation_train_a_one_step_sampler():
    """Short runs on a Gaussian blob away from the noise: one call of the trained map lands near the data
    (MeanFlow with its default adaptive weighting; distillation of the exact field of 64 blob points)."""
    torch.manual_seed(0)
    fresh, data = _blob(1000), _blob(64)
    x_0 = torch.randn(1000, 2, generator=_gen(11))
    before = energy_distance(sample_flow_map(FlowMapMLP(hidden=32, layers=2), x_0, 1).x, fresh)
    torch.manual_seed(0)
    model = FlowMapMLP(hidden=32, layers=2)
    history = train(model, None, _blob, steps=300, batch_size=128, lr=3e-3, progress=False, loss=MeanFlowLoss())
    meanflow = energy_distance(sample_flow_map(model, x_0, 1).x, fresh)
    teacher = lambda x, t: marginal_velocity(x, t, data, LinearPath())  # noqa: E731
    torch.manual_seed(0)
    student = FlowMapMLP(hidden=32, layers=2)
    distil = DistillationLoss(teacher, steps=4)
    value = distil(student, Batch(_blob(16), None))
    assert value.requires_grad and value.grad_fn is not None
    train(student, None, lambda n: data[torch.randint(0, 64, (n,))], steps=300, batch_size=128, lr=3e-3,
          progress=False, loss=distil)
    distilled = energy_distance(sample_flow_map(student, x_0, 1).x, fresh)
    assert len(history.loss) == 300 and before > 1.0
    assert meanflow < 0.1 * before and distilled < 0.1 * before, (before, meanflow, distilled)


def test_distillation_loss_regresses_on_the_teachers_average_velocity():
    torch.manual_seed(0)
    student = FlowMapMLP(hidden=8, layers=1)
    teacher = MLP(hidden=8, layers=1).requires_grad_(False)
    x_1 = torch.randn(16, 2)
    loss = DistillationLoss(teacher, steps=3, equal_share=0.5)
    torch.manual_seed(5)
    value = loss(student, Batch(x_1, None))
    torch.manual_seed(5)
    x_0 = torch.randn_like(x_1)
    s, t = sample_time_pairs(16, "uniform", 0.0, 1.0, 0.5)
    x_s = s[:, None] * x_1 + (1 - s[:, None]) * x_0
    target = average_velocity(teacher, x_s, s, t, steps=3)
    assert torch.allclose(value, ((student(x_s, s, t) - target) ** 2).sum(1).mean(), rtol=1e-5)
    assert math.isfinite(value.item())

"""Closed forms of fmlite.gaussian_ot against the Gaussian-mixture oracle and an ODE solver; reflow pairs
(fmlite.reflow) against a flow whose end map is known; the shipped straight-path checkpoints."""
import pytest
import torch

from fmlite.gaussian_mixture import GaussianMixture
from fmlite.gaussian_ot import GaussianToGaussian
from fmlite.metrics import straightness
from fmlite.models import MLP
from fmlite.paths import LinearPath
from fmlite.reflow import PairedData, reflow_pairs
from fmlite.solvers import integrate
from fmlite.train import train

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


MEAN = torch.tensor([1.5, -0.5], dtype=torch.float64)
COV = torch.tensor([[2.0, 0.6], [0.6, 0.3]], dtype=torch.float64)


@pytest.fixture
def g():
    return GaussianToGaussian(MEAN, COV)


def _x0(n=64, seed=1):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_independent_velocity_is_the_mixture_field_of_one_component(g):
    mixture = GaussianMixture([1.0], MEAN[None], COV[None])
    x = 2 * _x0(200)
    t = torch.rand(200, dtype=torch.float64)
    t[:2] = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert torch.allclose(g.independent_velocity(x, t), mixture.velocity(x, t, LinearPath()), atol=1e-10)


def test_the_flow_of_the_mixture_field_follows_the_formula_and_ends_at_the_ot_map(g):
    mixture = GaussianMixture([1.0], MEAN[None], COV[None])
    x_0 = _x0()
    sol = integrate(lambda x, t: mixture.velocity(x, t, LinearPath()), x_0, 100, "rk4", return_trajectory=True)
    for k in (0, 25, 50, 75, 100):
        assert torch.allclose(sol.trajectory[k], g.independent_flow(x_0, k / 100), atol=1e-8), k
    root = torch.linalg.cholesky(COV)  # a square root, but not the symmetric one: the map needs Sigma^(1/2)
    assert torch.allclose(sol.x, MEAN + x_0 @ g.sqrt_covariance().T, atol=1e-8)
    assert torch.allclose(g.ot_map(x_0), sol.x, atol=1e-8)
    assert not torch.allclose(sol.x, MEAN + x_0 @ root.T, atol=1e-3)
    assert torch.allclose(g.sqrt_covariance() @ g.sqrt_covariance(), COV, atol=1e-12)


def test_independent_flow_has_the_marginals_of_independent_pairing(g):
    """Monte Carlo: x_t = t x_1 + (1 - t) x_0 with x_1 ~ N(m, Sigma) has mean t m and covariance
    (1 - t)^2 I + t^2 Sigma, and so has the flow of x_0 ~ N(0, I)."""
    n, t = 200_000, 0.4
    x_0 = _x0(n, 3)
    flowed = g.independent_flow(x_0, t)
    cov = (1 - t) ** 2 * torch.eye(2, dtype=torch.float64) + t ** 2 * COV
    assert torch.allclose(flowed.mean(0), t * MEAN, atol=0.01)
    assert torch.allclose(torch.cov(flowed.T), cov, atol=0.01)


def test_ot_path_is_straight_and_its_field_generates_it(g):
    x_0 = _x0()
    sol = integrate(g.ot_velocity, x_0, 100, "rk4", return_trajectory=True)
    for k in (0, 30, 100):
        assert torch.allclose(sol.trajectory[k], g.ot_path(x_0, k / 100), atol=1e-9)
    assert torch.allclose(integrate(g.ot_velocity, x_0, 1, "euler").x, g.ot_map(x_0), atol=1e-12)
    assert straightness(sol.trajectory) < 1e-12
    curved = integrate(g.independent_velocity, x_0, 100, "rk4", return_trajectory=True).trajectory
    assert straightness(curved) > 0.05


def test_identity_covariance_without_mean_still_runs_in_and_out():
    g = GaussianToGaussian(torch.zeros(2), torch.eye(2))
    x_0 = _x0(5)
    assert torch.allclose(g.independent_flow(x_0, 0.5), x_0 / 2 ** 0.5, atol=1e-12)
    assert torch.allclose(g.independent_velocity(x_0, 0.0), -x_0)  # one Euler step lands every point at 0


@pytest.mark.parametrize("mean, cov, message", [
    (torch.zeros(3), torch.eye(2), r"covariance \(D, D\)"),
    (torch.zeros(2), torch.tensor([[1.0, 0.5], [0.0, 1.0]]), "symmetric"),
    (torch.zeros(2), torch.tensor([[1.0, 0.0], [0.0, -1.0]]), "positive definite"),
    (torch.tensor([float("nan"), 0.0]), torch.eye(2), "NaN"),
])
def test_bad_gaussians_are_refused(mean, cov, message):
    with pytest.raises(ValueError, match=message):
        GaussianToGaussian(mean, cov)


def test_bad_points_and_times_are_refused(g):
    with pytest.raises(ValueError, match=r"shape \(B, 2\)"):
        g.ot_map(torch.zeros(3))
    with pytest.raises(ValueError, match="t"):
        g.independent_flow(torch.zeros(3, 2), 1.5)


def test_reflow_pairs_of_the_gaussian_flow_are_the_ot_map(g):
    x_0 = _x0(300, 4)
    a, b = reflow_pairs(g.independent_velocity, x_0, steps=60, method="rk4", batch_size=128)
    assert a is not None and torch.equal(a, x_0)
    assert torch.allclose(b, g.ot_map(x_0), atol=1e-8)


def test_reflow_pairs_refuses_bad_input(g):
    with pytest.raises(ValueError, match="unknown method"):
        reflow_pairs(g.independent_velocity, _x0(), method="rk5")
    with pytest.raises(ValueError, match="batch dimension"):
        reflow_pairs(g.independent_velocity, torch.zeros(2))
    with pytest.raises(ValueError, match="NaN"):
        reflow_pairs(lambda x, t: x / 0.0, _x0(), steps=2)


def test_paired_data_keeps_partners_and_training_on_pairs_learns_their_line():
    x_0 = torch.randn(500, 2)
    shift = torch.tensor([2.0, -1.0])
    pairs = PairedData(x_0, x_0 + shift)
    x_1 = pairs(64)
    partner, same = pairs.coupling(torch.randn(64, 2), x_1)
    assert same is x_1 and torch.allclose(x_1 - partner, shift.expand(64, 2))
    with pytest.raises(ValueError, match="batch just drawn"):
        pairs.coupling(torch.randn(10, 2), torch.randn(10, 2))
    with pytest.raises(ValueError, match="same shape"):
        PairedData(x_0, x_0[:10])
    model = MLP(hidden=32, layers=2)
    train(model, LinearPath(), pairs, steps=300, batch_size=128, lr=1e-2, coupling=pairs.coupling, progress=False)
    with torch.no_grad():
        v = model(torch.randn(200, 2), torch.rand(200))
    assert (v - shift).norm(dim=1).mean() < 0.3


@pytest.mark.parametrize("name, coupling", [("moons_independent", "independent"), ("moons_ot", "minibatch_ot"),
                                            ("moons_reflow", "reflow")])
def test_shipped_straight_models_load_and_record_their_recipe(name, coupling):
    from fmlite.pretrained import load_pretrained
    from fmlite.tools.recipes import STRAIGHT_RECIPE
    model = load_pretrained(name)
    assert model.config == dict(dim=2, hidden=STRAIGHT_RECIPE["hidden"], layers=STRAIGHT_RECIPE["layers"], time_dim=32)
    assert model.meta["coupling"] == coupling and model.meta["steps"] == STRAIGHT_RECIPE["steps"]
    assert model.meta["command"].startswith(f"python -m fmlite train {name}")


def test_the_straight_models_need_fewer_steps_than_the_independent_one():
    """The claim of notebook 06, on fresh noise and data: at 2 Euler steps OT and reflow beat independent
    pairing by a wide margin, and come within 3x of what independent pairing reaches with 32 steps."""
    from fmlite.datasets import sample_2d
    from fmlite.metrics import energy_distance
    from fmlite.pretrained import load_pretrained
    fresh = sample_2d("moons", 1500, seed=11)
    x_0 = torch.randn(1500, 2, generator=torch.Generator().manual_seed(12))
    ed = {name: [energy_distance(integrate(load_pretrained(name), x_0, k).x, fresh) for k in (2, 32)]
          for name in ("moons_independent", "moons_ot", "moons_reflow")}
    for name in ("moons_ot", "moons_reflow"):
        assert ed[name][0] < ed["moons_independent"][0] / 20
        assert ed[name][0] < 3 * max(ed["moons_independent"][1], 0.002)


def test_cli_rebuilds_a_straight_model_and_refuses_options_that_do_not_apply(tmp_path, capsys):
    from fmlite.checkpoints import load_checkpoint
    from fmlite.tools.cli import main
    out = tmp_path / "ot.pt"
    assert main(["train", "moons_ot", "--steps", "3", "--out", str(out), "--no-progress"]) == 0
    model, meta = load_checkpoint(out)
    assert meta["coupling"] == "minibatch_ot" and meta["steps"] == 3 and set(meta["energy_distance_2000"]) == {
        "euler_1", "euler_2", "euler_4", "euler_8", "euler_32"}
    with pytest.raises(SystemExit):
        main(["train", "moons_reflow", "--width", "32", "--out", str(tmp_path / "r.pt")])
    assert "--width does not apply to 'moons_reflow'" in capsys.readouterr().err


def test_train_straight_refuses_unknown_kinds_and_keys():
    from fmlite.tools.recipes import train_straight
    with pytest.raises(ValueError, match="unknown kind"):
        train_straight("sinkhorn")
    with pytest.raises(ValueError, match="unknown recipe keys"):
        train_straight("independent", width=3)

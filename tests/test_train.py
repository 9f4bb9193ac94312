"""Training: the loss, its gradient identity, learning moons, errors, Ctrl-C, checkpoints, label dropout."""
import pytest
import torch

from fmlite import load_checkpoint, save_checkpoint
from fmlite.exact import marginal_velocity
from fmlite.datasets import sample_2d
from fmlite.metrics import energy_distance
from fmlite.models import MLP, ConvNet
from fmlite.paths import LinearPath, SineSigma
from fmlite.solvers import integrate
from fmlite.optim import resolve_device
from fmlite.train import TrainingDiverged, drop_labels, flow_matching_loss, sample_time, train


def test_conditional_and_marginal_losses_have_the_same_gradient():
    """Lipman et al. 2023, Thm 2: E|v - u_t|^2 and E|v - u_t(x_t)|^2 differ by a constant in theta."""
    data = sample_2d("moons", 5, seed=0).double()
    path = LinearPath(SineSigma(0.3))
    model = MLP(hidden=16, layers=1).double()
    n = 200_000
    x_1 = data[torch.randint(0, 5, (n,))]
    x_0 = torch.randn_like(x_1)
    t = sample_time(n, dtype=torch.float64)
    s = path.sample(x_0, x_1, t)
    grads = []
    for target in (s.u_t, marginal_velocity(s.x_t, t, data, path)):
        model.zero_grad()
        ((model(s.x_t, t) - target) ** 2).sum(1).mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=0.02 * grads[1].abs().max())


def test_training_moons_beats_the_untrained_model():
    data = lambda n: sample_2d("moons", n)  # noqa: E731
    model = MLP()
    ref = sample_2d("moons", 1000, seed=123)
    torch.manual_seed(1)
    before = energy_distance(integrate(model, torch.randn(1000, 2), 20).x, ref)
    history = train(model, LinearPath(), data, steps=300, batch_size=256, lr=2e-3, progress=False, device="cpu")
    torch.manual_seed(1)
    after = energy_distance(integrate(model, torch.randn(1000, 2), 20).x, ref)
    assert len(history.loss) == history.steps == 300
    assert sum(history.loss[-30:]) < sum(history.loss[:30])
    assert after < 0.5 * before, (before, after)


def test_training_is_deterministic_with_a_seed():
    data = lambda n: sample_2d("circles", n)  # noqa: E731
    runs = []
    for _ in range(2):
        torch.manual_seed(5)  # the initial weights
        runs.append(train(MLP(), LinearPath(), data, steps=20, batch_size=32, seed=5, progress=False,
                          device="cpu").loss)
    assert runs[0] == runs[1]


def test_nan_loss_stops_and_names_the_step():
    def data(n, drawn=[0]):  # noqa: B006 - counts the rows drawn so far, whatever the pool sizes
        x = torch.randn(n, 2)
        rows = torch.arange(drawn[0], drawn[0] + n)
        drawn[0] += n
        x[rows >= 3 * 8] = float("nan")   # the batch of step 3 (batch 8) is the first with NaN
        return x

    with pytest.raises(TrainingDiverged, match="at step 3; the data contains NaN") as info:
        train(MLP(), LinearPath(), data, steps=10, batch_size=8, progress=False, device="cpu")
    assert info.value.step == 3 and len(info.value.history.loss) == 3


def test_ctrl_c_keeps_model_and_history(capsys):
    def stop(step, model):
        if step == 5:
            raise KeyboardInterrupt

    model = MLP()
    history = train(model, LinearPath(), lambda n: torch.randn(n, 2), steps=100, batch_size=8, progress=False,
                    device="cpu", callback=stop, eval_every=1)
    assert history.interrupted and history.steps == 5 and len(history.loss) == 5
    assert "Ctrl-C after 5 steps" in capsys.readouterr().out


def test_ema_model_is_an_average_of_the_weights():
    model = MLP(hidden=8, layers=1)
    history = train(model, LinearPath(), lambda n: torch.randn(n, 2), steps=5, batch_size=4, lr=0.1, ema=0.5,
                    progress=False, device="cpu")
    p_ema = next(history.ema_model.parameters())
    assert not torch.equal(p_ema, next(model.parameters())) and not p_ema.requires_grad


def test_unknown_device_and_coupling():
    with pytest.raises(ValueError, match="'auto', 'cpu'"):
        resolve_device("tpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="minibatch_ot"):
        flow_matching_loss(MLP(), LinearPath(), torch.randn(4, 2), torch.randn(4, 2), coupling="sinkhorn")


def test_label_dropout_drops_the_fraction_it_says():
    y = torch.randint(0, 10, (200_000,))
    dropped = (drop_labels(y, 0.1, 10) == 10).float().mean().item()
    assert abs(dropped - 0.1) < 0.005
    assert (drop_labels(y, 0.0, 10) == y).all() and (drop_labels(y, 1.0, 10) == 10).all()


def test_checkpoint_round_trip_and_architecture_check(tmp_path):
    model = MLP(hidden=32, layers=2)
    file = tmp_path / "m.pt"
    save_checkpoint(file, model, data="moons", steps=7)
    loaded, meta = load_checkpoint(file)
    x, t = torch.randn(5, 2), torch.rand(5)
    assert meta == {"data": "moons", "steps": 7} and torch.equal(loaded(x, t), model(x, t))
    same, _ = load_checkpoint(file, MLP(hidden=32, layers=2))
    assert torch.equal(same(x, t), model(x, t))
    with pytest.raises(ValueError, match="hidden: file 32, model 64"):
        load_checkpoint(file, MLP(hidden=64, layers=2))
    with pytest.raises(ValueError, match="architecture: file MLP, model ConvNet"):
        load_checkpoint(file, ConvNet())


def test_models_refuse_wrong_shapes():
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        MLP()(torch.randn(4, 3), torch.rand(4))
    with pytest.raises(ValueError, match="no labels"):
        ConvNet(width=16, blocks=1)(torch.randn(2, 1, 8, 8), torch.rand(2), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"\[0, 10\]"):
        ConvNet(width=16, blocks=1, num_classes=10)(torch.randn(2, 1, 8, 8), torch.rand(2), torch.tensor([1, 11]))


def test_convnet_refuses_a_width_where_groupnorm_erases_the_embedding():
    with pytest.raises(ValueError, match="at least 16"):
        ConvNet(width=8)


# ----------------------------------------------------------------------------- issue 9: bad input
def test_loss_and_train_take_float64_data_from_numpy():
    import numpy as np
    data = torch.from_numpy(np.random.default_rng(0).normal(size=(64, 2)))  # float64
    model = MLP(hidden=16, layers=1)
    t = torch.full((64,), 0.4)
    x_0 = torch.randn(64, 2, dtype=torch.float64)
    loss = flow_matching_loss(model, LinearPath(), x_0, data, t=t)
    assert loss.dtype == torch.float32
    assert torch.allclose(loss, flow_matching_loss(model, LinearPath(), x_0.float(), data.float(), t=t))
    history = train(model, LinearPath(), lambda n: data[:n], steps=3, batch_size=16, progress=False, device="cpu")
    assert history.steps == 3


def test_integer_data_is_refused_with_the_dtype_and_the_fix():
    model = MLP(hidden=16, layers=1)
    with pytest.raises(ValueError, match=r"torch.int64.*\.float\(\)"):
        flow_matching_loss(model, LinearPath(), torch.zeros(4, 2), torch.ones(4, 2, dtype=torch.long))
    images = lambda n: torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8)  # noqa: E731
    with pytest.raises(ValueError, match=r"torch.uint8.*127.5") as error:
        train(ConvNet(width=16, blocks=1), LinearPath(), images, steps=2, batch_size=4, progress=False, device="cpu")
    # the fix is code a student can run: x_1.float(), not a description pasted into code
    assert "sample_data" in str(error.value) and "convert it with x_1.float() (and" in str(error.value)
    with pytest.raises(ValueError, match=r"got ndarray; use torch.as_tensor\(x_1, dtype=torch.float32\)"):
        train(MLP(hidden=16, layers=1), LinearPath(), lambda n: torch.randn(n, 2).numpy(), steps=2, batch_size=4,
              progress=False, device="cpu")


def test_labelled_data_for_an_unconditional_model_says_it_takes_no_labels():
    labelled = lambda n: (torch.randn(n, 2), torch.zeros(n, dtype=torch.long))  # noqa: E731
    with pytest.raises(ValueError, match="takes no labels"):
        train(MLP(hidden=16, layers=1), LinearPath(), labelled, steps=2, batch_size=4, progress=False, device="cpu")
    with pytest.raises(ValueError, match="takes no labels"):
        flow_matching_loss(MLP(hidden=16, layers=1), LinearPath(), torch.randn(4, 2), torch.randn(4, 2),
                           y=torch.zeros(4, dtype=torch.long))


def test_float_labels_are_refused_not_truncated():
    labelled = lambda n: (torch.randn(n, 1, 8, 8), torch.full((n,), 2.7))  # noqa: E731
    with pytest.raises(ValueError, match="integer class labels"):
        train(ConvNet(width=16, blocks=1, num_classes=10), LinearPath(), labelled, steps=1, batch_size=4,
              progress=False, device="cpu")


@pytest.mark.parametrize("steps, batch_size", [("3", 4), (float("nan"), 4), (2.5, 4), (True, 4), (3, 4.5),
                                               (3, "8"), (0, 4)])
def test_train_counts_follow_the_one_rule(steps, batch_size):
    with pytest.raises(ValueError, match="positive integer"):
        train(MLP(hidden=16, layers=1), LinearPath(), lambda n: torch.randn(n, 2), steps=steps,
              batch_size=batch_size, progress=False, device="cpu")


def test_a_data_tensor_instead_of_a_sampler_says_how_to_wrap_it():
    with pytest.raises(ValueError, match=r"sample_data must be a function n -> data .* got a Tensor; .*randint"):
        train(MLP(hidden=16, layers=1), LinearPath(), torch.randn(100, 2), steps=2, progress=False, device="cpu")

"""One training loop for every loss (issue 21): token cross-entropy and a MeanFlow-style loss through `train`.

Both losses get what the flow matching loss gets from `train`: progress bar, seeds, device, EMA, the NaN
check, Ctrl-C safety and the evaluation callback. The default loss keeps its order of random draws.
"""
import copy
import math

import pytest
import torch
from torch import nn

from fmlite.batches import Batch, BatchPool
from fmlite.datasets import sample_2d
from fmlite.models import MLP, ConvNet
from fmlite.paths import LinearPath, SineSigma
from fmlite.train import FlowMatchingLoss, Loss, TrainingDiverged, sample_time, train

K, D = 8, 4                                                   # vocabulary size, tokens per sequence
P = torch.tensor([0.8, 0.1, 0.05, 0.05, 0.0, 0.0, 0.0, 0.0])   # the fixed token distribution to learn
#: torch's forward-mode AD (torch.func.jvp) scripts its decompositions on first use, with a DeprecationWarning
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def tokens(n):
    """n sequences of D independent tokens drawn from P: int64 (n, D)."""
    return torch.multinomial(P, n * D, replacement=True).reshape(n, D)


class TokenNet(nn.Module):
    """Logits (B, D, K) of x_1 given masked tokens x_t (B, D) in 0..K (K = mask) and t (B,)."""

    def __init__(self, hidden=32):
        super().__init__()
        self.embed, self.time = nn.Embedding(K + 1, hidden), nn.Linear(1, hidden)
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, K))

    def forward(self, x_t, t):
        return self.out(self.embed(x_t) + self.time(t[:, None, None]))


class MaskedTokenLoss:
    """Cross-entropy of the posterior p_{1|t}(x_1 | x_t) on the mask-source mixture path (kappa_t = t)."""

    tokens = True

    def __init__(self):
        self.devices = []

    def __call__(self, model, batch):
        x_1 = batch.x_1
        assert x_1.dtype == torch.int64 and x_1.shape[1:] == (D,)
        self.devices.append(x_1.device.type)
        t = sample_time(len(x_1), device=x_1.device)
        keep = torch.rand(x_1.shape, device=x_1.device) < t[:, None]       # P(x_t^i = x_1^i) = kappa_t = t
        x_t = torch.where(keep, x_1, torch.full_like(x_1, K))              # else the mask token K
        logits = model(x_t, t)
        return nn.functional.cross_entropy(logits.reshape(-1, K), x_1.reshape(-1))


class FlowMapNet(nn.Module):
    """Average velocity u_bar(x, s, t) for 2-D points; records whether every call had s <= t."""

    def __init__(self, hidden=32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, hidden), nn.SiLU(), nn.Linear(hidden, 2))
        self.ordered = []

    def forward(self, x, s, t):
        self.ordered.append(bool((s <= t).all()))
        return self.net(torch.cat([x, s[:, None], t[:, None]], 1))


def mean_flow_loss(model, batch):
    """MeanFlow on the straight path: u_bar(x_s, s, t) = u + (t - s) d/ds u_bar, d/ds = u . grad_x + d_s.

    Geng et al. 2025, "Mean Flows for One-step Generative Modeling", eq. (6) and Alg. 1 (JVP, stop-gradient
    target), in this course's time (s <= t, t = 1 data).
    """
    x_1 = batch.x_1
    x_0 = torch.randn_like(x_1)
    a, b = sample_time(len(x_1), device=x_1.device), sample_time(len(x_1), device=x_1.device)
    s, t = torch.minimum(a, b), torch.maximum(a, b)
    x_s, u = s[:, None] * x_1 + (1 - s[:, None]) * x_0, x_1 - x_0
    u_bar, du_ds = torch.func.jvp(model, (x_s, s, t), (u, torch.ones_like(s), torch.zeros_like(t)))
    target = (u + (t - s)[:, None] * du_ds).detach()
    return ((u_bar - target) ** 2).sum(1).mean()


def moons(n):
    return sample_2d("moons", n)


#: name -> (network, loss, sample_data, a call of the trained network on the training device)
CASES = {
    "tokens": (TokenNet, MaskedTokenLoss, tokens,
               lambda m, dev: m(torch.full((3, D), K, device=dev), torch.zeros(3, device=dev))),
    "mean_flow": (FlowMapNet, lambda: mean_flow_loss, moons,
                  lambda m, dev: m(torch.randn(3, 2, device=dev), torch.zeros(3, device=dev),
                                   torch.ones(3, device=dev))),
}


def _train(case, steps=20, loss=None, **kw):
    """(model, history) of `steps` steps of the case's network on its loss (or `loss`), batch 16, on the CPU."""
    make, make_loss, data, _ = CASES[case]
    torch.manual_seed(0)
    model = make()
    kw = {"batch_size": 16, "progress": False, "device": "cpu", **kw}
    return model, train(model, None, data, steps, loss=loss if loss is not None else make_loss(), **kw)


# ----------------------------------------------------------------------------- the two losses learn
def test_the_token_cross_entropy_learns_the_token_distribution():
    loss = MaskedTokenLoss()
    torch.manual_seed(0)
    model = TokenNet()
    history = train(model, None, tokens, 200, batch_size=64, lr=1e-2, loss=loss, progress=False, device="cpu")
    start, end = history.loss[0], sum(history.loss[-30:]) / 30
    assert start > 0.8 * math.log(K) and end < 0.5 * math.log(K), (start, end)   # the floor: about H(P) / 2
    with torch.no_grad():   # all masked, t ~ 0: the posterior is the token distribution itself
        p = model(torch.full((1, D), K), torch.full((1,), 1e-3)).softmax(-1)[0]
    assert torch.allclose(p, P.expand(D, K), atol=0.08), p


def test_the_mean_flow_loss_gets_x_s_t_with_s_before_t_and_decreases():
    model, history = _train("mean_flow", steps=150, batch_size=64, lr=3e-3)
    assert model.ordered and all(model.ordered)
    assert sum(history.loss[-20:]) < 0.85 * sum(history.loss[:20]), history.loss


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("device", DEVICES)
def test_the_loss_trains_on_the_device_with_a_progress_bar(case, device, capsys):
    model, history = _train(case, steps=6, device=device, progress=True)
    assert history.device.startswith(device) and history.steps == 6
    assert all(p.device.type == device for p in model.parameters())
    assert "training" in capsys.readouterr().err   # tqdm's bar, labelled as for flow matching
    out = CASES[case][3](model, device)
    assert out.device.type == device and torch.isfinite(out).all()


def test_token_batches_arrive_on_the_device_as_int64():
    loss = MaskedTokenLoss()
    _train("tokens", steps=3, loss=loss)
    assert loss.devices == ["cpu"] * 3


@pytest.mark.parametrize("case", list(CASES))
def test_one_seed_gives_identical_runs_and_another_seed_does_not(case):
    runs = [_train(case, seed=seed, ema=0.9) for seed in (3, 3, 4)]
    (m1, h1), (m2, h2), (_, h3) = runs
    assert h1.loss == h2.loss and h1.loss != h3.loss
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(h1.ema_model.parameters(), h2.ema_model.parameters()))


@pytest.mark.parametrize("case", list(CASES))
def test_the_ema_copy_is_an_average_of_the_weights(case):
    model, history = _train(case, steps=5, lr=0.1, ema=0.5)
    ema = history.ema_model
    assert type(ema) is type(model) and not ema.training
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        assert not p_ema.requires_grad
    assert any(not torch.equal(a, b) for a, b in zip(ema.parameters(), model.parameters()))
    assert torch.isfinite(CASES[case][3](ema, "cpu")).all()


def _after(n, then, inner):
    """A loss that calls `inner` and applies `then` to its result from the n-th call on (0-based)."""
    calls = []

    def loss(model, batch):
        calls.append(1)
        value = inner(model, batch)
        return then(value) if len(calls) > n else value

    loss.tokens = getattr(inner, "tokens", False)
    return loss


@pytest.mark.parametrize("case", list(CASES))
def test_a_nan_loss_stops_with_the_step_and_the_usual_message(case):
    nan_at_3 = _after(3, lambda v: v * float("nan"), CASES[case][1]())
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 3; lower the learning rate \(lr=0.01\)") \
            as info:
        _train(case, loss=nan_at_3)
    assert info.value.step == 3 and info.value.history.loss and len(info.value.history.loss) == 3


@pytest.mark.parametrize("case", list(CASES))
def test_ctrl_c_inside_the_loss_keeps_a_usable_model_and_counts_the_steps(case, capsys):
    def interrupt(value):
        raise KeyboardInterrupt

    model, history = _train(case, loss=_after(5, interrupt, CASES[case][1]()), ema=0.9)
    assert history.interrupted and history.steps == 5 and len(history.loss) == 5
    assert "Ctrl-C after 5 steps" in capsys.readouterr().out
    assert not model.training and torch.isfinite(CASES[case][3](model, "cpu")).all()
    assert torch.isfinite(CASES[case][3](history.ema_model, "cpu")).all()


@pytest.mark.parametrize("case", list(CASES))
def test_the_eval_callback_sees_the_ema_copy_every_eval_every_steps(case):
    seen = []

    def callback(step, m):
        seen.append((step, m, m.training, CASES[case][3](m, "cpu").detach()))
        return step >= 8

    _, history = _train(case, steps=20, ema=0.9, callback=callback, eval_every=4)
    assert [s for s, *_ in seen] == [4, 8] and history.stopped_early and history.steps == 8
    assert all(m is history.ema_model and not training for _, m, training, _ in seen)
    assert not torch.equal(seen[0][3], seen[1][3])


# ----------------------------------------------------------------------------- the protocol and its errors
def test_the_default_loss_is_the_flow_matching_loss_object():
    path, data = LinearPath(SineSigma(0.3)), moons
    runs = []
    for kw in ({"path": path, "coupling": "minibatch_ot"},
               {"path": None, "loss": FlowMatchingLoss(path, "minibatch_ot")}):
        torch.manual_seed(1)
        runs.append(train(MLP(hidden=16, layers=1), kw.pop("path"), data, 10, batch_size=16, progress=False,
                          device="cpu", **kw).loss)
    assert runs[0] == runs[1]
    assert isinstance(FlowMatchingLoss(path), Loss) and isinstance(mean_flow_loss, Loss)
    assert FlowMatchingLoss(path, "independent").coupling is FlowMatchingLoss(path, "independent").coupling


def test_the_default_loss_draws_pool_dropout_source_coupling_time_eps_in_that_order():
    """Replay step 0 by hand: labels, label dropout, x_0, t, eps from one seeded generator."""
    path = LinearPath(SineSigma(0.3))

    def data(n):
        y = torch.randint(0, 3, (n,))
        return torch.randn(n, 1, 4, 4) + y[:, None, None, None], y

    torch.manual_seed(0)
    model = ConvNet(width=16, blocks=1, num_classes=3)
    start = copy.deepcopy(model)
    history = train(model, path, data, 1, batch_size=8, label_dropout=0.5, seed=11, progress=False, device="cpu")
    torch.manual_seed(11)
    x_1, y = data(8)                                              # the first pool is one batch
    y = torch.where(torch.rand(8) < 0.5, torch.full_like(y, 3), y)   # label dropout
    x_0 = torch.randn_like(x_1)                                   # source, then (independent) coupling
    t = sample_time(8)                                            # time
    s = path.sample(x_0, x_1, t)                                  # eps
    expected = ((start(s.x_t, s.t, y) - s.u_t) ** 2).flatten(1).sum(1).mean().item()
    assert history.loss[0] == expected


def test_paths_couplings_and_losses_are_not_mixed_up():
    data, model = moons, MLP(hidden=8, layers=1)
    kw = {"progress": False, "device": "cpu"}
    with pytest.raises(ValueError, match="needs a path for the flow matching loss"):
        train(model, None, data, 2, **kw)
    with pytest.raises(ValueError, match="a path was given together with loss=function.*path=None"):
        train(model, LinearPath(), data, 2, loss=mean_flow_loss, **kw)
    with pytest.raises(ValueError, match="a coupling was given together with loss="):
        train(model, None, data, 2, loss=mean_flow_loss, coupling="minibatch_ot", **kw)
    with pytest.raises(ValueError, match="loss must be called as loss\\(model, batch\\)"):
        train(model, None, data, 2, loss="mse", **kw)
    with pytest.raises(ValueError, match="unknown coupling 'sinkhorn'"):
        FlowMatchingLoss(LinearPath(), "sinkhorn")


@pytest.mark.parametrize("result, message", [
    (lambda m, b: 1.0, "a float"),
    (lambda m, b: (m(b.x_1, torch.rand(len(b.x_1))) ** 2).sum(1), r"shape \(4,\); reduce it"),
    (lambda m, b: torch.tensor(0.5), "without a gradient path"),
])
def test_a_loss_that_returns_no_scalar_with_a_gradient_is_named(result, message):
    with pytest.raises(ValueError, match=f"must return a scalar tensor with a gradient, got .*{message}"):
        train(MLP(hidden=8, layers=1), None, moons, 2, batch_size=4, loss=result, progress=False, device="cpu")


def test_a_token_loss_refuses_floating_data_and_takes_any_integer_dtype():
    with pytest.raises(ValueError, match=r"integer token ids, got dtype torch.float32.*x_1.long\(\)"):
        train(TokenNet(), None, lambda n: tokens(n).float(), 2, batch_size=4, loss=MaskedTokenLoss(),
              progress=False, device="cpu")
    pool = BatchPool(lambda n: tokens(n).to(torch.uint8), 4, TokenNet(), torch.device("cpu"), tokens=True)
    x_1, y = pool.next(3)
    assert x_1.dtype == torch.int64 and x_1.shape == (4, D) and y is None
    with pytest.raises(ValueError, match=r"floating-point x_1, got dtype torch.int64"):   # the default refuses tokens
        BatchPool(tokens, 4, MLP(), torch.device("cpu")).next()


def test_batch_holds_data_and_labels():
    b = Batch(torch.zeros(2, 3))
    assert b.y is None and Batch(b.x_1, torch.tensor([0, 1])).y.tolist() == [0, 1]

"""The training loop's machinery: the evaluation callback, data pools, fused Adam, CPU threads, determinism."""
import time

import pytest
import torch

from fmlite.batches import POOL_BATCHES, BatchPool
from fmlite.datasets import sample_2d
from fmlite.models import MLP, ConvNet
from fmlite.paths import LinearPath
from fmlite.optim import make_optimizer
from fmlite.train import train


def _noise(n):
    return torch.randn(n, 2)


def test_callback_runs_after_every_eval_every_steps_with_the_trained_model():
    calls = []
    model = MLP(hidden=8, layers=1)
    history = train(model, LinearPath(), _noise, steps=23, batch_size=4, progress=False, device="cpu",
                    callback=lambda step, m: calls.append((step, m, m.training)), eval_every=5)
    assert [c[0] for c in calls] == [5, 10, 15, 20]
    assert all(c[1] is model and c[2] is False for c in calls)   # the trained model, in eval mode for the call
    assert history.steps == 23 and not history.stopped_early


def test_callback_gets_the_ema_copy_and_sees_its_weights_move():
    seen = []
    model = MLP(hidden=8, layers=1)
    history = train(model, LinearPath(), _noise, steps=6, batch_size=4, lr=0.1, ema=0.5, progress=False,
                    device="cpu", eval_every=3,
                    callback=lambda step, m: seen.append((m, next(m.parameters()).clone())))
    assert [m for m, _ in seen] == [history.ema_model] * 2 and history.ema_model is not model
    assert not torch.equal(seen[0][1], seen[1][1])


def test_callback_returning_true_stops_early():
    history = train(MLP(hidden=8, layers=1), LinearPath(), _noise, steps=100, batch_size=4, progress=False,
                    device="cpu", callback=lambda step, m: step >= 20, eval_every=10)
    assert history.stopped_early and history.steps == 20 and len(history.loss) == 20


def test_time_in_the_callback_is_left_out_of_seconds():
    pause = 0.2
    history = train(MLP(hidden=8, layers=1), LinearPath(), _noise, steps=4, batch_size=4, progress=False,
                    device="cpu", callback=lambda step, m: time.sleep(pause), eval_every=2)
    assert history.eval_seconds >= 2 * pause
    assert history.seconds >= 0
    plain = train(MLP(hidden=8, layers=1), LinearPath(), _noise, steps=4, batch_size=4, progress=False, device="cpu")
    assert plain.eval_seconds == 0.0


@pytest.mark.parametrize("eval_every", [0, -3, 2.5, "10", True, float("nan")])
def test_bad_eval_every_is_refused(eval_every):
    with pytest.raises(ValueError, match="eval_every must be a positive integer"):
        train(MLP(hidden=8, layers=1), LinearPath(), _noise, steps=2, batch_size=4, progress=False, device="cpu",
              callback=lambda step, m: None, eval_every=eval_every)


@pytest.mark.parametrize("threads", [None, 1, 2])
def test_threads_are_set_for_training_and_restored(threads):
    inside = []
    before = torch.get_num_threads()
    train(MLP(hidden=8, layers=1), LinearPath(), _noise, steps=2, batch_size=4, progress=False, device="cpu",
          callback=lambda step, m: inside.append(torch.get_num_threads()), eval_every=1, threads=threads)
    assert torch.get_num_threads() == before
    assert inside == [1 if threads is None else threads] * 2


def test_threads_are_restored_after_an_error_and_bad_counts_refused():
    before = torch.get_num_threads()

    def boom(step, m):
        raise RuntimeError("evaluation failed")

    with pytest.raises(RuntimeError, match="evaluation failed"):
        train(MLP(hidden=8, layers=1), LinearPath(), _noise, steps=3, batch_size=4, progress=False, device="cpu",
              callback=boom, eval_every=1, threads=2)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        train(MLP(hidden=8, layers=1), LinearPath(), _noise, steps=2, batch_size=4, progress=False, device="cpu",
              threads=0)


def test_two_runs_with_one_seed_give_identical_losses_and_weights():
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = MLP(hidden=32, layers=2)
        h = train(model, LinearPath(), lambda n: sample_2d("moons", n), steps=150, batch_size=64, lr=3e-3,
                  ema=0.9, seed=3, progress=False, device="cpu")
        runs.append((h.loss, [p.detach().clone() for p in h.ema_model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_the_pool_is_drawn_in_whole_batches_and_sliced_in_order():
    asked, drawn = [], []

    def data(n):
        asked.append(n)
        x = torch.arange(sum(asked) - n, sum(asked), dtype=torch.float32)[:, None].expand(n, 2).contiguous()
        return x

    pool = BatchPool(data, 5, MLP(hidden=8, layers=1), torch.device("cpu"))
    for left in range(200, 0, -1):
        drawn.append(pool.next(left)[0][:, 0])
    assert asked[0] == 5 and asked[1] == POOL_BATCHES * 5 and asked[-1] % 5 == 0
    assert torch.equal(torch.cat(drawn), torch.arange(1000.0))   # every row once, in order
    assert sum(asked) == 1000                                     # no pool larger than the steps left


def test_pools_of_images_stay_within_the_element_budget():
    asked = []

    def images(n):
        asked.append(n)
        return torch.zeros(n, 3, 64, 64), torch.zeros(n, dtype=torch.long)

    pool = BatchPool(images, 128, ConvNet(width=16, blocks=1, num_classes=10), torch.device("cpu"))
    x, y = pool.next(100)
    pool.next(100)
    pool.next(100)
    assert x.shape == (128, 3, 64, 64) and y.shape == (128,)
    assert max(asked[1:]) * 3 * 64 * 64 <= 2 ** 20 + 128 * 3 * 64 * 64


def test_a_sampler_returning_the_wrong_number_is_refused_with_the_reason():
    data = torch.randn(64, 2)
    with pytest.raises(ValueError, match=r"sample_data\(304\) returned \(64, 2\); it must return exactly 304 samples"):
        train(MLP(hidden=8, layers=1), LinearPath(), lambda n: data[:n], steps=20, batch_size=16, progress=False,
              device="cpu")


def test_labelled_pools_keep_labels_with_their_data():
    model = ConvNet(width=16, blocks=1, num_classes=3)

    def data(n):
        y = torch.randint(0, 3, (n,))
        return y.float()[:, None, None, None].expand(n, 1, 4, 4) / 3, y

    pool = BatchPool(data, 4, model, torch.device("cpu"))
    for left in (10, 9, 8):
        x, y = pool.next(left)
        assert torch.equal(x[:, 0, 0, 0] * 3, y.float())


def test_fused_adam_is_used_on_cpu_when_available_and_matches_plain_adam():
    w = torch.nn.Parameter(torch.randn(5))
    opt = make_optimizer([w], 1e-2)
    assert opt.defaults["fused"] is True   # torch >= 2.4 has the fused kernel on the CPU
    torch.manual_seed(0)
    a, b = torch.nn.Parameter(torch.randn(7)), None
    b = torch.nn.Parameter(a.detach().clone())
    fused, plain = make_optimizer([a], 1e-2), torch.optim.Adam([b], lr=1e-2)
    for _ in range(5):
        for p, o in ((a, fused), (b, plain)):
            o.zero_grad()
            (p ** 2).sum().backward()
            o.step()
    assert torch.allclose(a, b, atol=1e-6)


def test_lr_decays_follow_their_closed_forms_and_unknown_names_are_refused():
    from fmlite.optim import LR_DECAYS
    cosine, linear = LR_DECAYS["cosine"], LR_DECAYS["linear"]
    assert cosine(0, 40) == 1 and abs(cosine(40, 40)) < 1e-12 and abs(cosine(10, 40) - (2 + 2 ** 0.5) / 4) < 1e-12
    assert linear(0, 40) == 1 and linear(30, 40) == 0.25 and linear(40, 40) == 0
    losses = {}
    for decay in ("constant", "cosine"):
        torch.manual_seed(0)
        losses[decay] = train(MLP(hidden=8, layers=1), LinearPath(), _noise, steps=4, batch_size=8,
                                 lr_decay=decay, progress=False, device="cpu").loss
    assert losses["constant"][:2] == losses["cosine"][:2] and losses["constant"][2:] != losses["cosine"][2:]
    with pytest.raises(ValueError, match=r"unknown lr_decay 'cos'.*'cosine'"):
        train(MLP(hidden=8, layers=1), LinearPath(), _noise, steps=2, lr_decay="cos", progress=False, device="cpu")

"""The shipped copies of notebook 04's and 07's training cells (`RETRAIN = False` loads them).

Oracle: the notebook cell's own code, run for the first 20 steps, must reproduce the first 20
losses stored in the checkpoint; a change of recipe, data, seed or training loop that leaves the
shipped file stale fails here (rebuild with `python -m fmlite train moons_sampling|digits_short --force`).
"""
import pytest
import torch

from fmlite.datasets import sample_2d
from fmlite.models import MLP
from fmlite.paths import LinearPath
from fmlite.pretrained import load_pretrained
from fmlite.tools.recipes import SHORT_RUN, train_digits
from fmlite.train import train


def test_moons_sampling_is_what_notebook_04_trains(one_thread):
    model = load_pretrained("moons_sampling")
    assert model.config == dict(dim=2, hidden=128, layers=3, time_dim=32)
    assert model.meta["command"].startswith("python -m fmlite train moons_sampling")
    assert model.meta["steps"] == 2000 and model.meta["loss"].shape == (2000,)
    pool = sample_2d("moons", 20_000, seed=0)
    torch.manual_seed(0)
    # the full run's steps, stopped after 20 by the callback: `train` sizes its data pools by the steps left
    history = train(MLP(), LinearPath(), lambda n: pool[torch.randint(0, len(pool), (n,))],
                    steps=2000, batch_size=256, lr=3e-3, ema=0.995, seed=0, device="cpu", progress=False,
                    callback=lambda step, model: True, eval_every=20)
    assert history.steps == 20
    torch.testing.assert_close(torch.tensor(history.loss), model.meta["loss"][:20], rtol=1e-4, atol=1e-5)


def test_digits_short_is_what_notebook_07_trains(one_thread):
    model = load_pretrained("digits_short")
    assert model.config["width"] == SHORT_RUN["width"] and model.config["blocks"] == SHORT_RUN["blocks"]
    assert model.meta["command"].startswith("python -m fmlite train digits_short")
    assert model.meta["steps"] == SHORT_RUN["steps"] and model.meta["loss"].shape == (SHORT_RUN["steps"],)
    _, history = train_digits(**SHORT_RUN, device="cpu", progress=False, callback=lambda step, model: True,
                              eval_every=20)   # stopped after 20 of the run's steps (pools are sized by steps left)
    torch.testing.assert_close(torch.tensor(history.loss), model.meta["loss"][:20], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name, config", [("moons_sampling", dict(hidden=128)), ("digits_short", dict(width=32))])
def test_cli_builds_the_lecture_copies_from_their_recipe(tmp_path, name, config):
    from fmlite.checkpoints import load_checkpoint
    from fmlite.tools.cli import main
    out = tmp_path / f"{name}.pt"
    assert main(["train", name, "--steps", "3", "--out", str(out), "--no-progress"]) == 0
    model, meta = load_checkpoint(out)
    assert all(model.config[k] == v for k, v in config.items())
    assert meta["steps"] == 3 and meta["loss"].shape == (3,) and meta["seed"] == 0

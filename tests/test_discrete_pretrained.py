"""The shipped token networks of notebook 10: small files, their path in the meta, samples that look like the data."""
import pytest
import torch

from fmlite.discrete import (MixturePath, TokenNet, checkerboard_probabilities, path_of, sample_discrete,
                             tokens_to_digits)
from fmlite.pretrained import PRETRAINED, data_dir, load_pretrained

NAMES = [n for n in PRETRAINED if n.startswith("discrete_")]


def test_three_token_networks_are_shipped():
    assert NAMES == ["discrete_checkerboard_mask", "discrete_checkerboard_uniform", "discrete_digits"]


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_token_network_loads_with_its_path_and_samples(name):
    assert (data_dir() / PRETRAINED[name]).stat().st_size < 1_000_000
    model = load_pretrained(name)
    path = path_of(model)
    assert isinstance(model, TokenNet) and isinstance(path, MixturePath)
    assert (model.mask_token is not None) == (path.source.name == "mask") == (model.meta["source"] == "mask")
    assert "python -m fmlite train " + name in model.meta["command"]
    x = sample_discrete(model, path.source.sample(2000, model.length), 16, path,
                        generator=torch.Generator().manual_seed(0)).x
    assert x.min() >= 0 and x.max() < model.vocab_size   # no mask left
    if model.meta["data"] == "checkerboard":
        law = checkerboard_probabilities(model.vocab_size)
        on_board = (law[x[:, 0], x[:, 1]] > 0).float().mean()
        assert on_board > 0.85, on_board   # 16 steps; the data has 1.0, a model of TV 0.2 about 0.9
    else:
        images = tokens_to_digits(x, model.meta["levels"])
        assert images.shape == (2000, 1, 8, 8)
        assert model.meta["quality"]["ratio"] >= 0.9


def test_path_of_needs_a_loaded_model():
    with pytest.raises(ValueError, match="load_pretrained"):
        path_of(TokenNet(3, 2))


def test_the_train_command_rebuilds_a_token_network_and_refuses_other_options(tmp_path, capsys):
    from fmlite.checkpoints import load_checkpoint
    from fmlite.tools.cli import main
    out = tmp_path / "d.pt"
    assert main(["train", "discrete_digits", "--steps", "3", "--batch-size", "16", "--seed", "2", "--out", str(out),
                 "--device", "cpu", "--no-progress"]) == 0
    model, meta = load_checkpoint(out)
    assert isinstance(model, TokenNet) and meta["steps"] == 3 and meta["batch_size"] == 16 and meta["seed"] == 2
    assert meta["source"] == "mask" and meta["kappa"] == "linear" and len(meta["loss"]) == 3
    assert set(meta["quality"]) >= {"confidence", "real_confidence", "class_shares", "nn_distance"}
    with pytest.raises(SystemExit) as info:
        main(["train", "discrete_checkerboard_mask", "--width", "64", "--out", str(tmp_path / "c.pt")])
    assert info.value.code == 2 and "--width does not apply to 'discrete_checkerboard_mask'" in capsys.readouterr().err
    assert not (tmp_path / "c.pt").exists()

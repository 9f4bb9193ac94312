"""Checkpoints: metadata checked at save time (issue 9, kind 1), corrupt files refused clearly (kind 2)."""
import pathlib
import re

import numpy as np
import pytest
import torch

from fmlite.checkpoints import load_checkpoint, save_checkpoint
from fmlite.models import MLP, ConvNet
from fmlite.train import History


def test_numpy_metadata_is_stored_as_python_numbers(tmp_path):
    f = tmp_path / "m.pt"
    save_checkpoint(f, MLP(hidden=8, layers=1), final_loss=np.mean([0.1, 0.2]), steps=np.int64(3),
                    flags=[np.bool_(True), np.float32(0.5)], curve=np.arange(3.0))
    model, meta = load_checkpoint(f)
    assert type(meta["final_loss"]) is float and meta["final_loss"] == pytest.approx(0.15)
    assert type(meta["steps"]) is int and meta["steps"] == 3
    assert meta["flags"] == [True, 0.5] and type(meta["flags"][0]) is bool
    assert torch.equal(meta["curve"], torch.arange(3.0, dtype=torch.float64))
    assert isinstance(model, MLP)


@pytest.mark.parametrize("key, value, where", [
    ("out", pathlib.Path("model.pt"), "meta['out']"),
    ("history", History(), "meta['history']"),
    ("runs", {"a": [1, object()]}, "meta['runs']['a'][1]"),
])
def test_metadata_that_cannot_be_loaded_is_refused_at_save_time(tmp_path, key, value, where):
    f = tmp_path / "m.pt"
    with pytest.raises(TypeError, match=re.escape(where)):
        save_checkpoint(f, MLP(hidden=8, layers=1), **{key: value})
    assert not f.exists()


def test_numpy_sizes_in_the_config_round_trip(tmp_path):
    f = tmp_path / "c.pt"
    save_checkpoint(f, ConvNet(width=np.int64(16), blocks=1, num_classes=np.int32(3)))
    model, _ = load_checkpoint(f)
    assert model.config["width"] == 16 and type(model.config["num_classes"]) is int


def _truncated(tmp_path):
    good = tmp_path / "good.pt"
    save_checkpoint(good, MLP(hidden=8, layers=1), steps=1)
    data = good.read_bytes()
    return data[: len(data) // 2]


@pytest.mark.parametrize("content", [b"", b"hello world\n", "truncated", b"\x80\x02K\x01."])
def test_corrupt_files_are_refused_with_the_file_name(tmp_path, content):
    f = tmp_path / "broken.pt"
    f.write_bytes(_truncated(tmp_path) if content == "truncated" else content)
    with pytest.raises(ValueError, match="broken.pt.*not a readable fmlite checkpoint"):
        load_checkpoint(f)


def test_a_missing_file_is_still_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        load_checkpoint(tmp_path / "nothere.pt")

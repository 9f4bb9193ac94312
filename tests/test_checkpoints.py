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


def test_a_missing_file_is_still_file_not_found(tmp_path):  # and a ValueError (CheckpointNotFound)
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        load_checkpoint(tmp_path / "nothere.pt")


# ----------------------------------------------------------------- issue 20: nothing lost, nothing silently wrong
from fmlite.checkpoints import CheckpointNotFound  # noqa: E402
from fmlite.files import TEMP_PREFIX  # noqa: E402


def test_ctrl_c_while_saving_leaves_the_old_checkpoint_byte_identical(tmp_path, monkeypatch):
    f = tmp_path / "m.pt"
    save_checkpoint(f, MLP(hidden=8, layers=1), steps=1)
    before = f.read_bytes()
    real_save = torch.save

    def interrupted(obj, file):  # write half a checkpoint, then Ctrl-C
        real_save(obj, file)
        pathlib.Path(file).write_bytes(pathlib.Path(file).read_bytes()[:100])
        raise KeyboardInterrupt
    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(f, MLP(hidden=16, layers=2), steps=2)
    assert f.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # no temporary file left behind
    monkeypatch.setattr(torch, "save", real_save)
    assert load_checkpoint(f)[1]["steps"] == 1


def test_a_new_checkpoint_gets_the_usual_permissions(tmp_path):
    f = tmp_path / "m.pt"
    save_checkpoint(f, MLP(hidden=8, layers=1))
    g = tmp_path / "plain"
    g.write_bytes(b"")
    assert f.stat().st_mode == g.stat().st_mode  # not mkstemp's 0600


def test_float64_weights_come_back_float64(tmp_path):
    f = tmp_path / "d.pt"
    model = MLP(hidden=8, layers=1).double()
    save_checkpoint(f, model)
    loaded, _ = load_checkpoint(f)
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert b.dtype == a.dtype == torch.float64 and torch.equal(a, b), k
    with pytest.raises(ValueError, match=r"d.pt.*float64.*model is torch.float32.*model.to\(torch.float64\)"):
        load_checkpoint(f, MLP(hidden=8, layers=1))
    loaded, _ = load_checkpoint(f, MLP(hidden=8, layers=1).double())
    assert next(loaded.parameters()).dtype == torch.float64


def test_shipped_checkpoints_load_exactly_as_stored():
    from fmlite.pretrained import PRETRAINED, data_dir
    for name, file in PRETRAINED.items():
        stored = torch.load(data_dir() / file, map_location="cpu", weights_only=True)
        model, meta = load_checkpoint(data_dir() / file)
        assert set(meta) == set(stored["meta"]), name
        for k, v in stored["state_dict"].items():
            got = model.state_dict()[k]
            assert got.dtype == v.dtype and torch.equal(got, v), (name, k)


def _edited(tmp_path, edit):
    good = tmp_path / "good.pt"
    save_checkpoint(good, MLP(hidden=8, layers=1), steps=1)
    ckpt = torch.load(good, weights_only=True)
    edit(ckpt)
    f = tmp_path / "edited.pt"
    torch.save(ckpt, f)
    return f


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.pop("state_dict"), r"edited.pt' is an incomplete fmlite checkpoint \(no 'state_dict'\); write it"),
    (lambda c: c.pop("config"), r"edited.pt' is an incomplete fmlite checkpoint \(no 'config'\)"),
    (lambda c: c["config"].update(depth=3), r"edited.pt': its config has keys MLP does not take \('depth'.*rebuild it"),
    (lambda c: c["state_dict"].pop("net.0.bias"), r"edited.pt': its weights do not fit MLP.*net.0.bias.*write it"),
    (lambda c: c.update(architecture="UNet"), r"edited.pt' holds an unknown architecture 'UNet'"),
])
def test_a_damaged_checkpoint_is_one_value_error_naming_the_file_and_the_fix(tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        load_checkpoint(_edited(tmp_path, edit))


def test_paths_that_are_not_checkpoint_files_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="is a folder, not a checkpoint file; give the .pt file inside it"):
        load_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="its folder '.*nofolder' does not exist; check the path"):
        load_checkpoint(tmp_path / "nofolder" / "m.pt")
    with pytest.raises(CheckpointNotFound):  # both a FileNotFoundError (as before) and a ValueError
        load_checkpoint(tmp_path / "m.pt")
    with pytest.raises(ValueError, match="is a folder; give a file name such as"):
        save_checkpoint(tmp_path, MLP(hidden=8, layers=1))
    with pytest.raises(ValueError, match="folder .*nofolder does not exist; create it first"):
        save_checkpoint(tmp_path / "nofolder" / "m.pt", MLP(hidden=8, layers=1))
    assert list(tmp_path.iterdir()) == []
    assert not any(p.name.startswith(TEMP_PREFIX) for p in tmp_path.iterdir())

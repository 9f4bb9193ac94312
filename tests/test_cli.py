"""The command line (fmlite.tools.cli): every value given is honoured or refused before training starts; .npz input
is checked array by array; the recorded loss is the mean of the losses that exist."""
import os

import numpy as np
import pytest
import torch

import fmlite
from fmlite.tools import recipes
from fmlite.tools.cli import main
from fmlite.models import MLP
from fmlite.pretrained import load_pretrained
from fmlite.tools.recipes import FLOW_RECIPE, check_images, train_images
from fmlite.train import History

FAST = ["--device", "cpu", "--no-progress"]


def _refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2, argv
    return capsys.readouterr().err


@pytest.fixture
def no_training(monkeypatch):
    """Make any training attempt fail loudly, to prove a refusal comes before training."""
    def boom(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr(recipes, "train_flow", boom)
    monkeypatch.setattr(recipes, "train_images", boom)


@pytest.mark.parametrize("steps", [["--steps=3"], ["--ste", "3"], ["--steps", "3"]])
def test_flow_honours_steps_in_every_spelling_and_keeps_its_own_defaults(tmp_path, steps):
    out = tmp_path / "f.pt"
    assert main(["train", "flow", *steps, "--out", str(out), *FAST]) == 0
    _, meta = fmlite.load_checkpoint(out)
    assert meta["steps"] == 3
    for key in ("batch_size", "lr", "hidden", "layers", "ema", "seed", "text"):  # FLOW_RECIPE, not the digits one
        assert meta[key] == FLOW_RECIPE[key], key


def test_flow_honours_batch_size_lr_and_seed(tmp_path):
    out = tmp_path / "f.pt"
    assert main(["train", "flow", "--steps", "2", "--batch-size=16", "--lr", "0.01", "--seed", "5", "--ema", "0",
                 "--out", str(out), *FAST]) == 0
    _, meta = fmlite.load_checkpoint(out)
    assert (meta["steps"], meta["batch_size"], meta["lr"], meta["seed"], meta["ema"]) == (2, 16, 0.01, 5, None)
    assert meta["weights"] == "raw"


def test_values_and_paths_are_refused_before_training(tmp_path, capsys, no_training):
    out = ["--out", str(tmp_path / "f.pt")]
    for argv, message in ((["flow", "--width", "32", *out], "--width does not apply to 'flow'"),
                          (["flow", "--blocks", "2", "--label-dropout", "0.1", *out], "do not apply to 'flow'"),
                          (["flow", "--steps", "0", *out], "invalid --steps 0"),
                          (["flow", "--lr", "nan", *out], "invalid --lr nan"),
                          (["digits", "--label-dropout", "nan", *out], "invalid --label-dropout nan"),
                          (["flow", "--seed", "-1", *out], "invalid --seed -1"),
                          (["flow", "--out", str(tmp_path / "missing" / "f.pt")], "folder"),
                          (["flow", "--out", str(tmp_path)], "is a folder"),
                          (["flow", "--device", "gpu", *out], "--device: unknown device 'gpu'"),
                          (["digits", "--steps=x", *out], "invalid int value")):
        assert message in _refused(["train", *argv], capsys), argv


def test_recorded_loss_is_the_mean_of_the_losses_that_exist(tmp_path, monkeypatch):
    def fake_train_flow(device="auto", progress=True, **overrides):
        return MLP(dim=2, hidden=16, layers=2).eval(), History(loss=[1.0, 2.0, 3.0], steps=3)
    monkeypatch.setattr(recipes, "train_flow", fake_train_flow)
    out = tmp_path / "f.pt"
    assert main(["train", "flow", "--steps", "3", "--out", str(out), *FAST]) == 0
    assert fmlite.load_checkpoint(out)[1]["final_loss"] == 2.0


# ---------------------------------------------------------------------------------------------- .npz input
def _npz(tmp_path, **arrays):
    file = tmp_path / "d.npz"
    np.savez(file, **arrays)
    return str(file)


def test_npz_refusals_name_the_array_what_was_found_and_how_to_convert(tmp_path, capsys, no_training):
    good = np.random.default_rng(0).uniform(-1, 1, (6, 1, 8, 8)).astype(np.float32)
    out = ["--out", str(tmp_path / "m.pt")]
    cases = ((dict(images=good.transpose(0, 2, 3, 1).repeat(3, axis=3)), ["(6, 8, 8, 3)", "channels-last",
                                                                        "transpose(0, 3, 1, 2)"]),
             (dict(images=((good + 1) * 127.5).astype(np.uint8)), ["integers", "uint8", "[0, 254]", "/ 127.5 - 1"]),
             (dict(images=(good + 1) * 127.5), ["values in [", "(N, C, H, W) float in [-1, 1]"]),
             (dict(images=good, labels=np.arange(6) + 0.5), ["labels", "float64", "integers"]),
             (dict(images=good, labels=np.arange(5)), ["labels", "(5,)", "(6,)"]))
    for arrays, messages in cases:
        err = _refused(["train", _npz(tmp_path, **arrays), *out], capsys)
        assert "'images'" in err
        for message in messages:
            assert message in err, (message, err)
    corrupt = tmp_path / "c.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip")
    err = _refused(["train", str(corrupt), *out], capsys)
    assert "c.npz is not a readable .npz file" in err and "np.savez" in err


def test_check_images_accepts_the_expected_form_and_train_images_refuses_the_rest():
    x, y = check_images(np.zeros((2, 3, 4, 4), np.float64), np.array([0, 1]))
    assert x.dtype == torch.float32 and x.shape == (2, 3, 4, 4) and y.dtype == torch.int64
    with pytest.raises(ValueError, match="integers"):
        train_images(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), steps=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="labels.*float32"):
        train_images(torch.zeros(4, 1, 8, 8), torch.tensor([0.0, 1, 2, 3]), steps=1, device="cpu", progress=False)


# ---------------------------------------------------------------------------------------------- devices
def test_load_pretrained_resolves_devices_as_train_does():
    model = load_pretrained("flow", device="auto")
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(model.parameters()).device.type == want
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        load_pretrained("flow", device="gpu")


# ---------------------------------------------------------------------------------------------- Ctrl-C (issue 20)
def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture
def finished(tmp_path):
    """A finished checkpoint the interrupted runs below must leave byte-identical."""
    out = tmp_path / "f.pt"
    fmlite.save_checkpoint(out, MLP(dim=2, hidden=16, layers=2), steps=5000)
    return out


def _interrupted_train_flow(steps_done):
    def fake(device="auto", progress=True, **overrides):
        loss = [1.0] * steps_done
        return MLP(dim=2, hidden=16, layers=2).eval(), History(loss=loss, steps=steps_done, interrupted=True)
    return fake


def test_ctrl_c_during_training_saves_beside_the_output_records_the_steps_done_and_exits_130(
        finished, monkeypatch, capsys):
    monkeypatch.setattr(recipes, "train_flow", _interrupted_train_flow(7))
    before = _files(finished.parent)
    code = main(["train", "flow", "--steps", "50", "--out", str(finished), "--force", *FAST])
    assert code == 130
    after = _files(finished.parent)
    assert after.pop("f.interrupted-7.pt") and after == before  # the finished checkpoint is byte-identical
    _, meta = fmlite.load_checkpoint(finished.parent / "f.interrupted-7.pt")
    assert (meta["steps"], meta["steps_requested"], meta["interrupted"]) == (7, 50, True)
    err = capsys.readouterr().err
    assert "after 7 of 50 steps" in err and "f.pt is unchanged" in err and "f.interrupted-7.pt" in err
    first = (finished.parent / "f.interrupted-7.pt").read_bytes()
    assert main(["train", "flow", "--steps", "50", "--out", str(finished), "--force", *FAST]) == 130
    assert (finished.parent / "f.interrupted-7-2.pt").is_file()  # an earlier partial model is kept too
    assert (finished.parent / "f.interrupted-7.pt").read_bytes() == first


def test_ctrl_c_before_the_first_step_saves_nothing(finished, monkeypatch, capsys):
    monkeypatch.setattr(recipes, "train_flow", _interrupted_train_flow(0))
    before = _files(finished.parent)
    assert main(["train", "flow", "--out", str(finished), "--force", *FAST]) == 130
    assert _files(finished.parent) == before
    assert "nothing saved" in capsys.readouterr().err


def test_ctrl_c_outside_the_training_loop_and_while_saving_keeps_the_output(finished, monkeypatch, capsys):
    before = _files(finished.parent)

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(recipes, "train_straight", ctrl_c)  # e.g. while reflow pairs are drawn
    assert main(["train", "moons_reflow", "--out", str(finished), "--force", *FAST]) == 130
    assert "nothing written" in capsys.readouterr().err and _files(finished.parent) == before

    monkeypatch.setattr(recipes, "train_flow", lambda **kw: (MLP(dim=2, hidden=16, layers=2).eval(),
                                                            History(loss=[1.0], steps=1)))
    real_save = torch.save

    def half_then_ctrl_c(obj, file):
        real_save(obj, file)
        with open(file, "r+b") as f:
            f.truncate(64)
        raise KeyboardInterrupt
    monkeypatch.setattr(torch, "save", half_then_ctrl_c)
    assert main(["train", "flow", "--steps", "1", "--out", str(finished), "--force", *FAST]) == 130
    assert _files(finished.parent) == before  # byte-identical, no temporary file left


def test_reflow_stops_when_its_base_model_is_interrupted(monkeypatch):
    calls = []

    def fake_train(model, path, sample_data, steps, **kwargs):
        calls.append(steps)
        return History(loss=[1.0], steps=1, interrupted=True)
    monkeypatch.setattr(recipes, "train", fake_train)
    with pytest.raises(KeyboardInterrupt):
        recipes.train_straight("reflow", device="cpu", progress=False, steps=5, reflow_pairs=8, reflow_steps=1)
    assert len(calls) == 1  # the reflow model was not trained on a half-trained base


def test_the_output_folder_is_checked_for_writing_before_training(tmp_path, capsys, no_training):
    from fmlite.files import TEMP_PREFIX
    if os.access("/sys", os.W_OK) and not os.path.ismount("/sys"):
        pytest.skip("/sys is not a read-only mount here")
    err = _refused(["train", "flow", "--out", "/sys/f.pt", *FAST], capsys)
    assert err.count("\n") == 1 and "/sys is not writable" in err and "choose a folder you can write to" in err
    assert not list(tmp_path.glob(TEMP_PREFIX + "*"))


def test_a_diverged_run_says_so_on_one_line_exits_1_and_keeps_the_output(finished, monkeypatch, capsys):
    from fmlite.train import TrainingDiverged

    def diverges(**kwargs):
        raise TrainingDiverged("loss became nan at step 3; lower the learning rate (lr=10.0)", 3, History())
    monkeypatch.setattr(recipes, "train_flow", diverges)
    before = _files(finished.parent)
    assert main(["train", "flow", "--lr", "10", "--out", str(finished), "--force", *FAST]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lower the learning rate" in err and "f.pt is unchanged" in err
    assert _files(finished.parent) == before


def test_ctrl_c_while_scoring_a_finished_digits_model_keeps_the_model_beside_the_output(tmp_path, monkeypatch,
                                                                                      capsys):
    from fmlite.tools import cli_train
    from fmlite.models import ConvNet
    monkeypatch.setattr(recipes, "train_images", lambda *a, **k: (ConvNet(width=16, blocks=1, num_classes=10).eval(),
                                                                 History(loss=[1.0] * 4, steps=4)))

    def ctrl_c(model):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli_train, "_digit_quality", ctrl_c)
    out = tmp_path / "digits.pt"
    assert main(["train", "digits", "--steps", "4", "--out", str(out), *FAST]) == 130
    assert not out.exists() and "while scoring samples" in capsys.readouterr().err
    _, meta = fmlite.load_checkpoint(tmp_path / "digits.interrupted-4.pt")
    assert meta["steps"] == meta["steps_requested"] == 4 and "quality" not in meta

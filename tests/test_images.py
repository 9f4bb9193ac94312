"""Images (notebook 07): guidance formula, shipped model, digit metrics, CLI (its explorers: tests/test_explorers_07.py)."""
import numpy as np
import pytest
import torch

import fmlite
from fmlite.__main__ import main
from fmlite.datasets import load_digits
from fmlite.digit_metrics import (DigitScores, digit_classifier, digit_probabilities, digit_scores,
                                  nearest_neighbour_distance, real_digit_scores)
from fmlite.models import MLP, ConvNet, guided_velocity
from fmlite.paths import LinearPath
from fmlite.pretrained import PRETRAINED, data_dir, load_pretrained, sample_images
from fmlite.solvers import integrate
from fmlite.tools.recipes import train_digits


def _conditional_model(seed=0):
    torch.manual_seed(seed)
    model = ConvNet(width=16, blocks=1, num_classes=10)
    torch.nn.init.normal_(model.conv_out[-1].weight, std=0.3)  # the zero start would make every output 0
    return model.eval()


@pytest.fixture(scope="module")
def shipped():
    return load_pretrained("digits")


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


# ---------------------------------------------------------------------------------------------- guidance formula
def test_guidance_is_unconditional_at_0_conditional_at_1_and_linear_in_w():
    model = _conditional_model()
    x, t, y = torch.randn(6, 1, 8, 8), torch.rand(6), torch.tensor([0, 1, 2, 3, 8, 9])
    with torch.no_grad():
        v_cond, v_uncond = model(x, t, y), model(x, t, torch.full_like(y, 10))
        assert (v_cond - v_uncond).abs().max() > 0.1  # the labels matter, so the checks below mean something
        assert torch.equal(guided_velocity(model, y, 0.0)(x, t), v_uncond)
        assert torch.equal(guided_velocity(model, y, 1.0)(x, t), v_cond)
        v = {w: guided_velocity(model, y, w)(x, t) for w in (0.5, 2.0, 3.5)}
    # the independent oracle: two separate calls, combined by hand (the package batches them into one)
    for w, got in v.items():
        torch.testing.assert_close(got, v_uncond + w * (v_cond - v_uncond), atol=1e-5, rtol=1e-5)
    # linear (affine) in w: equal steps in w give equal steps in v
    torch.testing.assert_close(v[3.5] - v[2.0], v[2.0] - v[0.5], atol=1e-5, rtol=1e-5)


def test_guidance_accepts_one_int_label_and_integrates():
    model = _conditional_model()
    x_0 = torch.randn(4, 1, 8, 8)
    out = integrate(guided_velocity(model, 3, 2.0), x_0, steps=3, method="heun").x
    same = integrate(guided_velocity(model, torch.full((4,), 3), 2.0), x_0, steps=3, method="heun").x
    assert out.shape == (4, 1, 8, 8) and torch.allclose(out, same, atol=1e-6)


def test_guidance_refuses_bad_input():
    model = _conditional_model()
    with pytest.raises(ValueError, match="class-conditional"):
        guided_velocity(ConvNet(width=16, blocks=1), 1, 2.0)
    with pytest.raises(ValueError, match="class-conditional"):
        guided_velocity(MLP(), 1, 2.0)
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        guided_velocity(model, torch.tensor([3, 11]), 2.0)
    with pytest.raises(ValueError, match="integer"):
        guided_velocity(model, torch.tensor([0.5]), 2.0)
    with pytest.raises(ValueError, match="finite"):
        guided_velocity(model, 1, float("nan"))
    with pytest.raises(ValueError, match="must be a number"):
        guided_velocity(model, 1, "strong")
    with pytest.raises(ValueError, match="3 labels y for a batch of 4"):
        guided_velocity(model, torch.tensor([1, 2, 3]), 2.0)(torch.randn(4, 1, 8, 8), torch.rand(4))


# ---------------------------------------------------------------------------------------------- shipped model
def test_shipped_checkpoint_is_small_and_documented():
    file = data_dir() / PRETRAINED["digits"]
    assert file.exists() and file.stat().st_size < 3e6
    readme = (data_dir() / "README.md").read_text()
    assert "python -m fmlite train digits" in readme


def test_load_pretrained_samples_the_right_shape(shipped):
    assert isinstance(shipped, ConvNet) and shipped.num_classes == 10 and not shipped.training
    assert "command" in shipped.meta and shipped.meta["steps"] >= 1000
    x = sample_images(shipped, 5, steps=4)
    assert x.shape == (5, 1, 8, 8) and x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, sample_images(shipped, 5, steps=4))  # seeded: the same images again
    assert not torch.equal(x, sample_images(shipped, 5, steps=4, seed=1))


def test_conditional_samples_are_the_requested_digits(shipped):
    labels = torch.arange(10).repeat(5)
    x = sample_images(shipped, 50, labels=labels, w=2.0, steps=5)
    agreement = (digit_probabilities(x).argmax(1) == labels).float().mean().item()
    assert agreement > 0.8  # chance is 0.1


def test_sample_images_refuses_bad_input(shipped):
    with pytest.raises(ValueError, match="n \\(the number of images\\) must be a positive integer"):
        sample_images(shipped, 0)
    with pytest.raises(ValueError, match="unknown method"):
        sample_images(shipped, 2, method="rk5")
    with pytest.raises(ValueError, match="needs labels"):
        sample_images(shipped, 2, w=3.0)
    with pytest.raises(ValueError, match="one label per sample"):
        sample_images(shipped, 3, labels=[1, 2])
    with pytest.raises(ValueError, match=r"0\.\.9"):
        sample_images(shipped, 2, labels=[1, 10])
    with pytest.raises(ValueError, match="unconditional"):
        sample_images(ConvNet(width=16, blocks=1), 2, labels=1)
    with pytest.raises(ValueError, match="unknown pretrained model 'mnist'; choose one of .*'digits'"):
        load_pretrained("mnist")


def test_short_training_run_learns_something():
    model, history = train_digits(width=16, blocks=1, steps=30, batch_size=32, ema=None, progress=False,
                                  device="cpu")
    assert history.steps == 30 and np.mean(history.loss[-10:]) < np.mean(history.loss[:10])
    assert model.num_classes == 10 and sample_images(model, 3, labels=[0, 1, 2], steps=2).shape == (3, 1, 8, 8)


# ---------------------------------------------------------------------------------------------- metrics
def test_real_digits_score_at_the_ceiling_and_noise_scores_low():
    ceiling = real_digit_scores()
    assert isinstance(ceiling, DigitScores) and ceiling.n == 450
    assert ceiling.confidence > 0.85 and ceiling.agreement > 0.95
    assert 1.0 < ceiling.nn_distance < 3.5  # two different real digits are this far apart
    images, labels = load_digits()
    real = digit_scores(images[:200], labels[:200])
    assert real.confidence > 0.85 and real.agreement > 0.95 and sum(real.histogram) == 200
    noise = digit_scores(torch.rand(200, 1, 8, 8) * 2 - 1)
    assert noise.confidence < 0.4 and noise.agreement is None
    assert noise.nn_distance > 2 * ceiling.nn_distance


def test_classifier_is_cached_and_probabilities_sum_to_one():
    assert digit_classifier() is digit_classifier()
    p = digit_probabilities(load_digits()[0][:7])
    assert p.shape == (7, 10) and torch.allclose(p.sum(1), torch.ones(7, dtype=p.dtype))


def test_nearest_neighbour_distance_of_a_training_image_is_zero():
    images = load_digits()[0]
    assert torch.equal(nearest_neighbour_distance(images[:10]), torch.zeros(10, dtype=torch.float64))
    assert (nearest_neighbour_distance(images[:10], exclude_self=True) > 0).all()
    shifted = images[:3].clone()
    shifted[:, :, 0, 0] += 0.5  # one pixel changed by 0.5 -> distance at most 0.5
    assert (nearest_neighbour_distance(shifted) <= 0.5 + 1e-9).all()
    # the oracle: a brute-force loop
    x, ref = torch.rand(4, 1, 8, 8), torch.rand(6, 1, 8, 8)
    brute = torch.tensor([min(float((a - b).norm()) for b in ref) for a in x], dtype=torch.float64)
    torch.testing.assert_close(nearest_neighbour_distance(x, ref), brute)


def test_agreement_and_spread_against_hand_counts():
    images, labels = load_digits()
    x, y = images[:20], labels[:20]
    predicted = digit_probabilities(x).argmax(1)
    wrong = (y + 1) % 10
    s = digit_scores(x, wrong)
    assert s.agreement == pytest.approx((predicted == wrong).float().mean().item())
    same = torch.stack([images[0]] * 5)
    assert digit_scores(same, torch.zeros(5, dtype=torch.long)).spread == 0.0


def test_digit_metrics_refuse_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        digit_scores(torch.zeros(3, 64))
    with pytest.raises(ValueError, match="NaN"):
        digit_scores(torch.full((2, 1, 8, 8), float("nan")))
    with pytest.raises(ValueError, match="3 integers in 0..9"):
        digit_scores(torch.zeros(3, 1, 8, 8), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="3 integers in 0..9"):
        digit_scores(torch.zeros(3, 1, 8, 8), torch.tensor([1, 2, 10]))


# ---------------------------------------------------------------------------------------------- command line
def test_cli_argument_errors(tmp_path, capsys):
    existing = tmp_path / "old.pt"
    existing.write_bytes(b"")
    for argv, message in ((["train", "mnist"], "unknown data 'mnist'"),
                          (["train", "digits", "--steps", "0"], "invalid --steps 0"),
                          (["train", "digits", "--width", "12"], "invalid --width 12"),
                          (["train", "digits", "--ema", "1.5"], "invalid --ema 1.5"),
                          (["train", "digits", "--out", str(existing)], "exists; pass --force"),
                          (["train", str(tmp_path / "x.npz")], "--out is required"),
                          (["train", "digits", "--out", str(tmp_path / "no" / "m.pt")], "does not exist"),
                          ([], "required: COMMAND"), (["fly"], "invalid choice")):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2, argv
        assert message in capsys.readouterr().err, argv
    np.savez(tmp_path / "bad.npz", pixels=np.zeros(3))
    for argv, message in (([str(tmp_path / "x.npz")], "x.npz not found"),
                          ([str(tmp_path / "bad.npz")], "no array 'images'")):
        with pytest.raises(SystemExit) as info:
            main(["train", *argv, "--out", str(tmp_path / "m.pt")])
        assert info.value.code == 2 and message in capsys.readouterr().err


def test_cli_trains_from_an_npz_file(tmp_path, capsys):
    images, labels = load_digits()
    np.savez(tmp_path / "d.npz", images=images[:64].numpy(), labels=labels[:64].numpy())
    out = tmp_path / "m.pt"
    assert main(["train", str(tmp_path / "d.npz"), "--steps", "3", "--width", "16", "--blocks", "1",
                 "--batch-size", "8", "--device", "cpu", "--no-progress", "--out", str(out)]) == 0
    model, meta = fmlite.load_checkpoint(out)
    assert model.num_classes == 10 and meta["steps"] == 3 and meta["command"].startswith("python -m fmlite train")
    assert "saved" in capsys.readouterr().out


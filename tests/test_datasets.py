"""Data: shapes, dtypes, ranges, seeds, and that the digits are scikit-learn's."""
import pytest
import torch

from fmlite.datasets import DATASETS_2D, load_digits, sample_2d, text_points


@pytest.mark.parametrize("name", sorted(DATASETS_2D))
def test_2d_sets_are_float32_in_a_common_range_and_seeded(name):
    x = sample_2d(name, 3000, seed=1)
    assert x.shape == (3000, 2) and x.dtype == torch.float32
    assert x.abs().max() < 3.0 and 0.4 < x.std() < 1.6
    assert torch.equal(x, sample_2d(name, 3000, seed=1))
    assert not torch.equal(x, sample_2d(name, 3000, seed=2))


def test_global_seed_makes_unseeded_calls_reproducible():
    torch.manual_seed(3)
    a = sample_2d("moons", 100)
    torch.manual_seed(3)
    assert torch.equal(a, sample_2d("moons", 100))


def test_checkerboard_fills_alternate_squares():
    x = sample_2d("checkerboard", 4000, seed=0)
    parity = (torch.floor(x[:, 0]) + torch.floor(x[:, 1])) % 2
    assert parity.unique().numel() == 1


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="moons"):
        sample_2d("bananas", 10)


def test_text_points_follow_the_letters():
    x = text_points("IO", 4000, seed=0)
    assert x.shape == (4000, 2) and x.dtype == torch.float32
    assert x[:, 0].min() > -2.05 and x[:, 0].max() < 2.05
    # the hole of the "O" stays empty: its centre is the centre of the right half
    right = x[x[:, 0] > -1.1]  # the I ends near x = -1.3
    centre = torch.tensor([(right[:, 0].min() + right[:, 0].max()) / 2, (right[:, 1].min() + right[:, 1].max()) / 2])
    assert ((right - centre).norm(dim=1) < 0.15).sum() == 0
    with pytest.raises(ValueError, match="non-empty"):
        text_points("  ", 10)


def test_digits_are_sklearn_images_scaled_to_plus_minus_one():
    from sklearn.datasets import load_digits as sk
    images, labels = load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == torch.float32
    assert images.min() == -1 and images.max() == 1
    d = sk()
    assert torch.allclose((images[:, 0] + 1) * 8, torch.as_tensor(d.images, dtype=torch.float32))
    assert torch.equal(labels, torch.as_tensor(d.target))


# ----------------------------------------------------------------------------- issue 9: bad input
def test_a_character_the_font_cannot_draw_is_refused():
    with pytest.raises(ValueError, match="cannot draw '流'"):
        text_points("流", 100)
    with pytest.raises(ValueError, match="cannot draw"):
        text_points("A\tB", 100)
    assert text_points("Über €5", 50, seed=0).shape == (50, 2)


def test_dollar_signs_are_drawn_literally_not_as_math():
    from fmlite.datasets import _text_mask
    # literally: "$x$" is three glyphs side by side; as mathtext it would be one italic x
    assert _text_mask("$x$").shape[1] > 2.5 * _text_mask("x").shape[1]
    assert _text_mask(r"$\alpha$").shape[1] > 4 * _text_mask("x").shape[1]


@pytest.mark.parametrize("n", [2.5, "3", float("nan"), True, 0, -1])
def test_counts_follow_the_one_rule(n):
    with pytest.raises(ValueError, match="positive integer"):
        sample_2d("moons", n)
    with pytest.raises(ValueError, match="positive integer"):
        text_points("FLOW", n)


def test_whole_float_counts_and_numpy_ints_are_accepted():
    import numpy as np
    assert sample_2d("moons", 3.0, seed=0).shape == (3, 2)
    assert torch.equal(sample_2d("moons", np.int64(5), seed=np.int64(2)), sample_2d("moons", 5, seed=2))
    with pytest.raises(ValueError, match="seed"):
        sample_2d("moons", 5, seed=1.5)

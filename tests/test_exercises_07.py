"""Exercises of notebook 07: solutions pass, templates are "not solved yet", wrong answers get help,
and the solutions agree with independent oracles (the package's path and guided velocity)."""
import pytest
import torch

from fmlite.exercises import EXERCISES, check, passes, solution
from fmlite.models import ConvNet, guided_velocity
from fmlite.paths import LinearPath

KEYS = ["07.interpolate_images", "07.guided_velocity"]


def test_registered_under_notebook_07():
    assert set(KEYS) <= set(EXERCISES)


@pytest.mark.parametrize("wrong, hint", [
    (lambda x_0, x_1, t: t * x_1 + (1 - t) * x_0, "t[:, None, None, None]"),
    (lambda x_0, x_1, t: t[:, None] * x_1 + (1 - t[:, None]) * x_0, "t[:, None, None, None]"),
    (lambda x_0, x_1, t: (1 - t[:, None, None, None]) * x_1 + t[:, None, None, None] * x_0, "should be the noise x_0"),
])
def test_wrong_time_broadcast_gets_the_helpful_message(wrong, hint, capsys):
    assert not passes("07.interpolate_images", wrong)
    check("07.interpolate_images", wrong)
    out = capsys.readouterr().out
    assert "not quite" in out and hint in out


def test_silent_wrong_broadcast_is_caught():
    """With 8 images of 8 x 8 pixels, t[:, None] runs without an error but mixes the times of the batch."""
    def rows(x_0, x_1, t):
        if len(t) != 8:  # pass the batch of 5 so that only the silent case is left
            return solution("07.interpolate_images")(x_0, x_1, t)
        return t[:, None] * x_1 + (1 - t[:, None]) * x_0

    from fmlite.exercises import Mismatch
    with pytest.raises(Mismatch, match="spread along the rows"):
        EXERCISES["07.interpolate_images"].checker(rows)


def _guided_variants():
    def parts(m, x, t, y):
        return m(x, t, y), m(x, t, torch.full_like(y, m.null_label))

    def conditional(m, x, t, y, w):
        return m(x, t, y)

    def one_plus_w(m, x, t, y, w):
        c, u = parts(m, x, t, y)
        return u + (1 + w) * (c - u)

    def swapped(m, x, t, y, w):
        c, u = parts(m, x, t, y)
        return c + w * (u - c)

    def label_zero_as_null(m, x, t, y, w):
        c, u = m(x, t, y), m(x, t, torch.zeros_like(y))
        return u + w * (c - u)

    return [(conditional, "whatever w is"), (one_plus_w, "(1 + w) form of Ho & Salimans"),
            (swapped, "swapped"), (label_zero_as_null, "with null = model.null_label")]


@pytest.mark.parametrize("wrong, hint", _guided_variants())
def test_wrong_guidance_gets_the_helpful_message(wrong, hint, capsys):
    assert not passes("07.guided_velocity", wrong)
    check("07.guided_velocity", wrong)
    out = capsys.readouterr().out
    assert "not quite" in out and hint in out, out


def test_interpolate_images_agrees_with_the_package_path():
    x_0, x_1, t = torch.randn(7, 1, 8, 8), torch.randn(7, 1, 8, 8), torch.rand(7)
    oracle = LinearPath().sample(x_0, x_1, t).x_t
    torch.testing.assert_close(solution("07.interpolate_images")(x_0, x_1, t), oracle)
    # pixel by pixel, as a loop: x_t[i] = t[i] x_1[i] + (1 - t[i]) x_0[i]
    loop = torch.stack([t[i] * x_1[i] + (1 - t[i]) * x_0[i] for i in range(7)])
    torch.testing.assert_close(solution("07.interpolate_images")(x_0, x_1, t), loop)


def test_guided_solution_agrees_with_the_package():
    torch.manual_seed(3)
    model = ConvNet(width=16, blocks=2, num_classes=10).eval()
    torch.nn.init.normal_(model.conv_out[-1].weight, std=0.3)
    x, t, y = torch.randn(5, 1, 8, 8), torch.rand(5), torch.tensor([2, 4, 6, 8, 0])
    with torch.no_grad():
        for w in (0.0, 1.0, 2.5, -0.5):
            torch.testing.assert_close(solution("07.guided_velocity")(model, x, t, y, w),
                                       guided_velocity(model, y, w)(x, t), atol=1e-5, rtol=1e-5)

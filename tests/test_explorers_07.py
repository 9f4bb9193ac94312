"""Explorers of notebook 07 (images): the image flow and guidance explorers move with their
sliders; the guidance fast path leaves the picture a fresh draw gives.
"""
import pytest
import torch

from fmlite import widgets as W
from fmlite.datasets import load_digits
from fmlite.digit_metrics import digit_scores
from fmlite.models import ConvNet
from fmlite.solvers import integrate


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def _conditional_model(seed=0):
    torch.manual_seed(seed)
    model = ConvNet(width=16, blocks=1, num_classes=10)
    torch.nn.init.normal_(model.conv_out[-1].weight, std=0.3)  # the zero start would make every output 0
    return model.eval()


def test_image_flow_explorer_moves_with_its_slider():
    from fmlite.widgets import image_flow_explorer
    trajectory = integrate(_conditional_model(), torch.randn(4, 1, 8, 8), steps=4, return_trajectory=True).trajectory
    ex = image_flow_explorer(trajectory)
    first, draws = ex.image.value, ex.draws
    ex.controls["t"].value = 1.0
    assert ex.draws == draws + 1 and ex.image.value != first and ex.label.value == "t = 1.00"
    assert ex.figure.axes[0].get_title() == "t = 1.00"


def test_guidance_explorer_moves_with_its_slider():
    from fmlite.widgets import guidance_explorer
    images = load_digits()[0]
    samples = {0.0: images[:6].reshape(2, 3, 1, 8, 8), 2.0: images[6:12].reshape(2, 3, 1, 8, 8)}
    scores = {w: digit_scores(x.reshape(-1, 1, 8, 8)) for w, x in samples.items()}
    ex = guidance_explorer(samples, scores)
    first = ex.image.value
    ex.controls["w"].value = 2.0
    assert ex.image.value != first and ex.label.value == "w = 2.00"
    assert ex.figure.axes[0].get_title().startswith("w = 2.00\nconfidence")
    with pytest.raises(Exception):
        ex.controls["w"].value = 1.0  # only the precomputed weights are offered


def test_guidance_fast_path(update_equals_fresh_draw):
    g = torch.Generator().manual_seed(3)
    samples = {w: torch.rand(3, 4, 1, 8, 8, generator=g) * 2 - 1 for w in (0.0, 1.0, 2.0)}
    ex = W.guidance_explorer(samples, w=0.0, size=2.5)
    update_equals_fresh_draw(ex, [("w", 1.0), ("w", 2.0)])

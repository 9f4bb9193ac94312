"""Networks: input dtypes (issue 9, kind 4), labels and sizes (kind 12)."""
import numpy as np
import pytest
import torch

from fmlite.models import MLP, ConvNet, guided_velocity


def test_mlp_converts_float64_and_half_input_to_its_dtype():
    model = MLP(hidden=16, layers=1)
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(4, 2)))  # float64
    out = model(x, 0.5)
    assert out.dtype == torch.float32
    assert torch.allclose(out, model(x.float(), 0.5))
    assert model(x.half(), torch.full((4,), 0.5, dtype=torch.float64)).dtype == torch.float32
    assert model.double()(x.float(), 0.5).dtype == torch.float64


def test_convnet_converts_floating_images_and_refuses_integer_ones():
    model = ConvNet(width=16, blocks=1)
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64) * 2 - 1
    assert torch.allclose(model(x, 0.3), model(x.float(), 0.3))
    assert model(x.half(), 0.3).dtype == torch.float32
    with pytest.raises(ValueError, match=r"torch.uint8.*x.float\(\)"):
        model(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), 0.3)
    with pytest.raises(ValueError, match="torch.int64"):
        MLP()(torch.zeros(3, 2, dtype=torch.long), 0.3)


def test_convnet_refuses_float_labels_and_a_wrong_number_of_labels():
    model = ConvNet(width=16, blocks=1, num_classes=10)
    x = torch.randn(3, 1, 8, 8)
    with pytest.raises(ValueError, match="integer class labels.*float32"):
        model(x, 0.5, torch.tensor([1.7, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"one label per sample.*\(3,\).*\(2,\)"):
        model(x, 0.5, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="lie in"):
        model(x, 0.5, torch.tensor([1, 2, 11]))
    assert model(x, 0.5, 4).shape == x.shape  # one int for the whole batch
    assert model(x, 0.5, np.int64(4)).shape == x.shape


@pytest.mark.parametrize("make", [
    lambda: MLP(hidden=2.5), lambda: MLP(layers="3"), lambda: MLP(dim=True), lambda: MLP(layers=0),
    lambda: ConvNet(blocks=float("nan")), lambda: ConvNet(num_classes=2.5), lambda: ConvNet(channels=0),
])
def test_sizes_follow_the_one_rule_for_counts(make):
    with pytest.raises(ValueError, match="whole number|positive integer"):
        make()


def test_whole_float_sizes_are_accepted_as_ints():
    model = MLP(hidden=16.0, layers=np.int64(2))
    assert model.config == dict(dim=2, hidden=16, layers=2, time_dim=32)
    assert all(type(v) is int for v in model.config.values())


def test_guided_velocity_takes_float64_images():
    model = ConvNet(width=16, blocks=1, num_classes=3)
    v = guided_velocity(model, 1, w=2.0)
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    assert torch.allclose(v(x, torch.full((2,), 0.5)), v(x.float(), torch.full((2,), 0.5)).to(torch.float32))


def test_mlp_called_with_t_first_says_x_comes_first():
    with pytest.raises(ValueError, match=r"got \(5,\); it is called as model\(x, t\), points first"):
        MLP()(torch.rand(5), torch.randn(5, 2))

"""A GPU, where present, is used automatically: the package on CUDA tensors end to end.

Skipped without CUDA (CI has none); run on a machine with a GPU with
`pytest -p no:nbval -o addopts="" tests/test_gpu.py`. Each test compares the GPU result with
the same computation on the CPU (an independent run, not a copy of the code).
"""
import tempfile
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_train_picks_the_gpu_and_samples_on_it():
    from fmlite.datasets import sample_2d
    from fmlite.metrics import energy_distance
    from fmlite.models import MLP
    from fmlite.paths import LinearPath
    from fmlite.solvers import integrate
    from fmlite.train import train

    model = MLP(dim=2)
    history = train(model, LinearPath(), lambda n: sample_2d("moons", n), steps=1500, batch_size=256,
                    lr=1e-3, device="auto", progress=False)
    assert next(model.parameters()).device.type == "cuda"
    assert len(history.loss) == 1500 and history.device.startswith("cuda")
    x_0 = torch.randn(2000, 2, device="cuda")
    samples = integrate(model, x_0, steps=50, method="rk4").x
    assert samples.device.type == "cuda"
    assert energy_distance(samples.cpu(), sample_2d("moons", 2000, seed=1)) < 0.05


def test_checkpoint_saved_on_gpu_loads_on_cpu_with_the_same_outputs():
    from fmlite import load_checkpoint, save_checkpoint
    from fmlite.models import MLP

    model = MLP(dim=2).cuda()
    x, t = torch.randn(7, 2), torch.rand(7)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "m.pt"
        save_checkpoint(f, model, final_loss=0.5)
        loaded = load_checkpoint(f)
    loaded = loaded[0] if isinstance(loaded, tuple) else loaded
    assert next(loaded.parameters()).device.type == "cpu"
    torch.testing.assert_close(loaded(x, t), model(x.cuda(), t.cuda()).cpu(), atol=1e-5, rtol=1e-5)


def test_pretrained_digits_on_auto_device_match_cpu():
    from fmlite.pretrained import load_pretrained, sample_images

    gpu, cpu = load_pretrained("digits", device="auto"), load_pretrained("digits", device="cpu")
    assert next(gpu.parameters()).device.type == "cuda"
    x, t, y = torch.randn(5, 1, 8, 8), torch.rand(5), torch.arange(5)
    # cuDNN convolutions use TF32 on Ampere and newer by default: about 3 decimal digits, seen 1.8e-3 on an H200
    torch.testing.assert_close(gpu(x.cuda(), t.cuda(), y.cuda()).cpu(), cpu(x, t, y), atol=5e-3, rtol=0)
    images = sample_images(gpu, 6, labels=3, w=2.0, steps=4)
    assert images.shape[0] == 6 and torch.isfinite(images).all()


def test_exact_field_and_likelihood_on_gpu_match_cpu():
    from fmlite.exact import marginal_velocity
    from fmlite.likelihood import log_likelihood
    from fmlite.paths import BridgeSigma, LinearPath

    path, data = LinearPath(BridgeSigma(0.5)), torch.randn(6, 2)
    x, t = torch.randn(9, 2), torch.rand(9)
    v_cpu = marginal_velocity(x, t, data, path)
    v_gpu = marginal_velocity(x.cuda(), t.cuda(), data.cuda(), path)
    assert v_gpu.device.type == "cuda"
    torch.testing.assert_close(v_gpu.cpu(), v_cpu, atol=1e-5, rtol=1e-5)

    def field(device):
        d = data.to(device)
        return lambda z, s: marginal_velocity(z, s, d, LinearPath())

    points = torch.randn(4, 2)
    lp_cpu = log_likelihood(field("cpu"), points, steps=20, method="rk4")
    lp_gpu = log_likelihood(field("cuda"), points.cuda(), steps=20, method="rk4")
    torch.testing.assert_close(lp_gpu.cpu(), lp_cpu, atol=1e-3, rtol=1e-4)


def test_sde_sampler_on_gpu():
    from fmlite.exact import marginal_velocity
    from fmlite.paths import LinearPath
    from fmlite.solvers import sample_sde

    data = torch.randn(5, 2, device="cuda")
    out = sample_sde(lambda z, s: marginal_velocity(z, s, data, LinearPath()), torch.randn(300, 2, device="cuda"),
                     steps=50, g=0.5, generator=torch.Generator("cuda").manual_seed(0))
    assert out.x.device.type == "cuda" and torch.isfinite(out.x).all()

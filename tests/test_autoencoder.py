"""The autoencoder, the VAE's KL term and reparameterisation, the latent scale, and latent flow matching (notebook 11),
against independent oracles: the closed form and a Monte Carlo estimate of the KL divergence, finite differences
of the reparameterisation, the std of the scaled training latents, a round trip through a checkpoint, and the
class-conditional MLP's guidance checked against two separate calls."""
import math

import pytest
import torch

from fmlite.autoencoder import Autoencoder, AutoencoderLoss, kl_divergence, reparameterise
from fmlite.batches import Batch
from fmlite.checkpoints import load_checkpoint, save_checkpoint
from fmlite.latent_flows import decode_samples, latent_data, latent_fm_target, sample_latent_images
from fmlite.models import MLP, guided_velocity
from fmlite.paths import CosinePath, LinearPath
from fmlite.train import train

pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def _images(n=20, seed=0):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ----------------------------------------------------------------------------- KL and reparameterisation
def test_kl_matches_the_closed_form_per_dimension_and_monte_carlo():
    g = torch.Generator().manual_seed(1)
    mu, log_var = torch.randn(3, 4, generator=g, dtype=torch.float64), torch.randn(3, 4, generator=g,
                                                                                     dtype=torch.float64)
    # closed form written independently, per dimension: log(1/sigma) + (sigma^2 + mu^2) / 2 - 1/2
    sigma = torch.exp(0.5 * log_var)
    expected = (torch.log(1 / sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5).sum(1)
    torch.testing.assert_close(kl_divergence(mu, log_var), expected)
    # Monte Carlo: E_q[log q(z) - log p(z)] with torch.distributions, 200,000 draws per sample
    q = torch.distributions.Normal(mu, sigma)
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    torch.testing.assert_close(kl_divergence(mu, log_var), mc, atol=0.03, rtol=0.01)
    # zero exactly at the prior, positive elsewhere
    assert kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max() == 0
    assert (kl_divergence(mu, log_var) > 0).all()


def test_reparameterise_uses_the_standard_deviation_and_the_given_noise():
    mu, log_var = torch.tensor([[1.0, -2.0]]), torch.tensor([[math.log(4.0), 0.0]])
    eps = torch.tensor([[0.5, -1.0]])
    torch.testing.assert_close(reparameterise(mu, log_var, eps), torch.tensor([[1.0 + 2.0 * 0.5, -3.0]]))
    torch.manual_seed(3)
    z = reparameterise(mu.expand(100_000, 2), log_var.expand(100_000, 2))
    torch.testing.assert_close(z.mean(0), mu[0], atol=0.03, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([2.0, 1.0]), atol=0.02, rtol=0)


def test_reparameterisation_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(2)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    log_var = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    eps = torch.randn(4, 3, generator=g, dtype=torch.float64)
    weights = torch.randn(4, 3, generator=g, dtype=torch.float64)

    def f(m, lv):
        return (weights * reparameterise(m, lv, eps) ** 2).sum()

    f(mu, log_var).backward()
    h = 1e-6
    for tensor, grad, other in ((mu, mu.grad, "mu"), (log_var, log_var.grad, "log_var")):
        fd = torch.zeros_like(tensor)
        for i in range(tensor.numel()):
            d = torch.zeros(tensor.numel(), dtype=torch.float64)
            d[i] = h
            d = d.reshape(tensor.shape)
            args_p = (mu.detach() + d, log_var.detach()) if other == "mu" else (mu.detach(), log_var.detach() + d)
            args_m = (mu.detach() - d, log_var.detach()) if other == "mu" else (mu.detach(), log_var.detach() - d)
            fd.view(-1)[i] = (f(*args_p) - f(*args_m)) / (2 * h)
        torch.testing.assert_close(grad, fd, atol=1e-6, rtol=1e-6)


# ----------------------------------------------------------------------------- the autoencoder
@pytest.mark.parametrize("variational", [False, True])
def test_encode_decode_shapes_dtype_and_range(variational):
    ae = Autoencoder(latent_dim=3, hidden=16, layers=1, variational=variational)
    x = _images(5)
    z = ae.encode(x)
    assert z.shape == (5, 3) and z.dtype == torch.float32
    assert ae.encode(x.flatten(1).double()).dtype == torch.float32  # converted to the network's dtype
    out = ae.decode(z)
    assert out.shape == (5, 1, 8, 8) and out.dtype == torch.float32 and out.abs().max() < 1
    assert ae(x).shape == (5, 1, 8, 8)
    if variational:
        mu, log_var = ae.posterior(x)
        torch.testing.assert_close(mu, z)
        assert log_var.shape == (5, 3)
    ae64 = Autoencoder(latent_dim=3, hidden=16, layers=1, variational=variational).double()
    assert ae64.decode(ae64.encode(x)).dtype == torch.float64


def test_autoencoder_loss_is_the_documented_sum_and_trains_through_train():
    torch.manual_seed(0)
    ae = Autoencoder(latent_dim=2, hidden=16, layers=1, variational=True)
    x = _images(6)
    torch.manual_seed(5)
    loss = AutoencoderLoss(beta=0.3)(ae, Batch(x, None))
    torch.manual_seed(5)
    mu, log_var = ae.posterior(x)
    x_hat = ae.decode(mu + torch.exp(0.5 * log_var) * torch.randn_like(mu))
    expected = (((x_hat - x) ** 2).flatten(1).sum(1) + 0.3 * kl_divergence(mu, log_var)).mean()
    torch.testing.assert_close(loss, expected)
    data = _images(64, seed=3)
    history = train(ae, None, lambda n: data[torch.randint(0, 64, (n,))], 60, batch_size=32, lr=3e-3, device="cpu",
                    progress=False, loss=AutoencoderLoss(beta=0.3))
    assert sum(history.loss[-10:]) < sum(history.loss[:10])


def test_scaled_training_latents_have_unit_std_and_the_scale_is_in_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    ae = Autoencoder(latent_dim=4, hidden=32, layers=1)
    data = _images(200, seed=4)
    train(ae, None, lambda n: data[torch.randint(0, 200, (n,))], 30, batch_size=32, lr=3e-3, device="cpu",
          progress=False, loss=AutoencoderLoss())
    scale = ae.fit_latent_scale(data)
    std = ae.scale_latents(ae.encode(data)).std(0, correction=0)
    assert ((std - 1).abs() <= 0.02).all(), std
    assert not torch.allclose(scale, torch.ones(4))  # a real spread, not the initial ones
    torch.testing.assert_close(ae.unscale_latents(ae.scale_latents(ae.encode(data))), ae.encode(data))
    save_checkpoint(tmp_path / "ae.pt", ae, steps=30)
    loaded, meta = load_checkpoint(tmp_path / "ae.pt")
    assert isinstance(loaded, Autoencoder) and meta["steps"] == 30
    torch.testing.assert_close(loaded.latent_scale, scale)
    raw = torch.load(tmp_path / "ae.pt", weights_only=True)
    torch.testing.assert_close(raw["state_dict"]["latent_scale"], scale)


def test_shipped_autoencoders_scale_their_training_latents_to_unit_std():
    from fmlite.datasets import load_digits
    from fmlite.pretrained import load_pretrained
    images, _ = load_digits()
    for name in ("digits_ae", "digits_vae"):
        ae = load_pretrained(name)
        std = ae.scale_latents(ae.encode(images)).std(0, correction=0)
        assert ((std - 1).abs() <= 0.02).all(), (name, std)


# ----------------------------------------------------------------------------- MLP with labels, shared guidance
def test_mlp_with_labels_uses_the_null_label_and_the_shared_guidance():
    torch.manual_seed(0)
    model = MLP(dim=3, hidden=16, layers=2, num_classes=4)
    assert model.null_label == 4 and model.config["num_classes"] == 4
    assert "num_classes" not in MLP(dim=3).config  # unconditional checkpoints keep their config
    x, t, y = torch.randn(5, 3), torch.rand(5), torch.tensor([0, 1, 2, 3, 1])
    torch.testing.assert_close(model(x, t), model(x, t, torch.full((5,), 4)))  # y=None is the null label
    assert not torch.allclose(model(x, t, y), model(x, t))
    w = 2.5
    guided = guided_velocity(model, y, w)(x, t)
    torch.testing.assert_close(guided, model(x, t, torch.full((5,), 4)) + w * (model(x, t, y) - model(x, t)))


def test_mlp_labels_are_checked():
    model = MLP(dim=2, hidden=8, num_classes=3)
    x, t = torch.randn(4, 2), torch.rand(4)
    with pytest.raises(ValueError, match="integer class labels"):
        model(x, t, torch.tensor([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\]"):
        model(x, t, torch.tensor([0, 1, 4, 1]))
    with pytest.raises(ValueError, match="one label per sample"):
        model(x, t, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="unconditional"):
        MLP(dim=2, hidden=8)(x, t, torch.tensor([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="num_classes must be"):
        MLP(num_classes=0)
    with pytest.raises(AttributeError):
        MLP().null_label


def test_label_dropout_trains_the_null_label_of_an_mlp():
    torch.manual_seed(0)
    model = MLP(dim=2, hidden=16, layers=2, num_classes=2)
    data = torch.cat([torch.randn(100, 2) + 3, torch.randn(100, 2) - 3])
    labels = torch.cat([torch.zeros(100), torch.ones(100)]).long()
    before = model.label_embedding.weight[2].clone()

    def sample(n):
        i = torch.randint(0, 200, (n,))
        return data[i], labels[i]
    train(model, LinearPath(), sample, 20, batch_size=32, lr=1e-2, label_dropout=0.5, device="cpu", progress=False)
    assert not torch.allclose(model.label_embedding.weight[2], before)


# ----------------------------------------------------------------------------- latent flow matching
def test_latent_fm_target_is_the_path_sample_of_the_scaled_codes():
    ae = Autoencoder(latent_dim=3, hidden=16, layers=1)
    x_1, x_0, t = _images(4), torch.randn(4, 3), torch.tensor([0.0, 0.3, 0.7, 1.0])
    scale = torch.tensor([0.5, 2.0, 4.0])
    s = latent_fm_target(ae.encode, x_1, x_0, t, scale)
    z_1 = ae.encode(x_1) / scale
    torch.testing.assert_close(s.x_t, t[:, None] * z_1 + (1 - t[:, None]) * x_0)
    torch.testing.assert_close(s.u_t, z_1 - x_0)
    cos = latent_fm_target(ae.encode, x_1, x_0, t, scale, path=CosinePath())
    torch.testing.assert_close(cos.x_t, CosinePath().sample(x_0, z_1, t).x_t)


def test_decode_samples_integrates_in_scaled_space_then_undoes_the_scale():
    # v(z, t) = c - z0 constant: z_1 = z_0 + (c - ...) exactly; take v = c so z_1 = z_0 + c
    c, scale = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.5])
    z_0 = torch.randn(5, 2)
    got = decode_samples(lambda z: z * 10, lambda z, t: c.expand_as(z), z_0, scale, steps=3, method="euler")
    torch.testing.assert_close(got, (z_0 + c) * scale * 10)


def test_sample_latent_images_runs_the_flow_then_the_decoder():
    torch.manual_seed(0)
    ae = Autoencoder(latent_dim=2, hidden=16, layers=1)
    ae.latent_scale.copy_(torch.tensor([2.0, 0.5]))
    flow = MLP(dim=2, hidden=16, layers=1, num_classes=3).eval()
    x, z = sample_latent_images(flow, ae, 6, labels=torch.tensor([0, 1, 2, 0, 1, 2]), w=2.0, steps=4, seed=7,
                                return_latents=True)
    z_0 = torch.randn(6, 2, generator=torch.Generator().manual_seed(7))
    expected = decode_samples(ae.decode, guided_velocity(flow, torch.tensor([0, 1, 2, 0, 1, 2]), 2.0), z_0,
                              ae.latent_scale, 4)
    torch.testing.assert_close(x, expected)
    torch.testing.assert_close(ae.decode(ae.unscale_latents(z)), x)
    data = latent_data(ae, _images(10), torch.arange(10) % 3)
    z, y = data(7)
    assert z.shape == (7, 2) and y.dtype == torch.int64


# ----------------------------------------------------------------------------- bad input
BAD = [
    (lambda: kl_divergence(torch.zeros(3, 2), torch.zeros(3, 3)), r"same shape \(B, k\)"),
    (lambda: kl_divergence([[0.0]], torch.zeros(1, 1)), r"torch\.as_tensor"),
    (lambda: reparameterise(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(1, 2)), "one independent noise"),
    (lambda: reparameterise(torch.zeros(3, 2), torch.full((3, 2), float("nan"))), "NaN"),
    (lambda: Autoencoder(latent_dim=0), "latent_dim must be"),
    (lambda: Autoencoder(variational=1), "True or False"),
    (lambda: Autoencoder().encode(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)), r"\.float\(\)"),
    (lambda: Autoencoder().encode(torch.zeros(2, 1, 7, 7)), r"\(B, 1, 8, 8\) or \(B, 64\)"),
    (lambda: Autoencoder().encode(torch.full((2, 64), 3.0)), r"\[-1, 1\].*nothing is clipped"),
    (lambda: Autoencoder().encode(torch.full((2, 64), float("nan"))), "NaN"),
    (lambda: Autoencoder(latent_dim=3).decode(torch.zeros(2, 4)), r"\(B, 3\)"),
    (lambda: Autoencoder().posterior(torch.zeros(2, 64)), "no posterior"),
    (lambda: Autoencoder().fit_latent_scale(torch.zeros(1, 64)), "at least 2"),
    (lambda: AutoencoderLoss(beta=-1), "beta must be"),
    (lambda: AutoencoderLoss(beta=0.5)(Autoencoder(), Batch(torch.zeros(2, 1, 8, 8), None)), "needs a VAE"),
    (lambda: AutoencoderLoss()(MLP(), Batch(torch.zeros(2, 2), None)), "trains an fmlite Autoencoder"),
    (lambda: latent_fm_target(lambda x: torch.zeros(2, 3), torch.zeros(2, 64), torch.zeros(2, 4), 0.5, 1.0),
     "shape of x_0"),
    (lambda: decode_samples(lambda z: z, lambda z, t: z, torch.zeros(2, 2), torch.tensor([1.0, -1.0]), 2),
     "finite and > 0"),
    (lambda: decode_samples(lambda z: z, lambda z, t: z, torch.zeros(2, 2), torch.ones(3), 2), r"expected \(2,\)"),
    (lambda: sample_latent_images(MLP(dim=3), Autoencoder(latent_dim=2), 2), "3 dimensions"),
    (lambda: sample_latent_images(MLP(dim=2), Autoencoder(latent_dim=2), 2, labels=1), "unconditional"),
    (lambda: sample_latent_images(MLP(dim=2, num_classes=3), Autoencoder(latent_dim=2), 2, labels=3), r"0\.\.2"),
    (lambda: sample_latent_images(MLP(dim=2, num_classes=3), Autoencoder(latent_dim=2), 2, w=2.0), "needs labels"),
    (lambda: sample_latent_images(MLP(dim=2), Autoencoder(latent_dim=2), 0), "n .*must be"),
    (lambda: latent_data(Autoencoder(), torch.zeros(3, 64), torch.tensor([0.0, 1.0, 2.0])), "integers"),
]


@pytest.mark.parametrize("call, words", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_is_refused_with_the_fix(call, words):
    with pytest.raises(ValueError, match=words):
        call()


# ----------------------------------------------------------------------------- the command line
def test_the_train_command_builds_an_autoencoder_and_a_latent_flow(tmp_path, capsys):
    from fmlite.datasets import load_digits
    from fmlite.tools.cli import main
    images, _ = load_digits()
    fast = ["--device", "cpu", "--no-progress"]
    assert main(["train", "digits_vae", "--steps", "3", "--out", str(tmp_path / "vae.pt"), *fast]) == 0
    ae, meta = load_checkpoint(tmp_path / "vae.pt")
    assert isinstance(ae, Autoencoder) and ae.variational and meta["steps"] == 3 and meta["beta"] == 0.05
    std = ae.scale_latents(ae.encode(images)).std(0, correction=0)
    assert ((std - 1).abs() <= 0.02).all()
    torch.testing.assert_close(meta["latent_scale"], ae.latent_scale)
    assert main(["train", "latent_flow_vae", "--steps", "2", "--ema", "0", "--out", str(tmp_path / "f.pt"),
                 *fast]) == 0
    flow, meta = load_checkpoint(tmp_path / "f.pt")
    assert flow.num_classes == 10 and meta["autoencoder"] == "digits_vae" and set(meta["quality"]) == {"w=0", "w=1",
                                                                                                        "w=2"}
    for argv, words in ((["digits_ae", "--ema", "0.9"], "--ema do not apply to 'digits_ae'"),
                        (["latent_flow_ae", "--width", "32"], "--width do not apply"),
                        (["digits_vae", "--steps", "0"], "invalid --steps 0")):
        with pytest.raises(SystemExit):
            main(["train", *argv, "--out", str(tmp_path / "x.pt"), *fast])
        assert words in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()

"""fmlite.discrete losses and TokenNet: the cross-entropy's minimiser is the exact posterior; the network's checks."""
import pytest
import torch

from discrete_oracle import joint
from fmlite.checkpoints import load_checkpoint, save_checkpoint
from fmlite.discrete import (DiscreteFlowLoss, MaskSource, MixturePath, TokenNet, exact_posterior, make_source,
                             posterior_cross_entropy)
from fmlite.train import train

DATA = torch.tensor([[0, 1, 2], [0, 2, 2], [1, 1, 0], [2, 0, 1]])


def test_posterior_cross_entropy_is_the_mean_negative_log_likelihood():
    logits = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(0), requires_grad=True)
    x_1 = torch.tensor([[0, 4, 2], [1, 1, 1], [3, 0, 4], [2, 2, 0]])
    want = -logits.log_softmax(-1).gather(-1, x_1[..., None]).mean()
    got = posterior_cross_entropy(logits, x_1)
    assert torch.allclose(got, want) and got.requires_grad
    with pytest.raises(ValueError, match=r"x_1 must lie in 0..4"):
        posterior_cross_entropy(logits, x_1 + 1)


@pytest.mark.parametrize("source, kappa_t", [("mask", 0.3), ("uniform", 0.55)])
def test_the_expected_cross_entropy_is_minimised_by_the_exact_posterior(source, kappa_t):
    """E_{x_t, x_1} CE(q(x_t), x_1) over the enumerated joint law: convex in the logits, with zero gradient at
    log p_{1|t} (exact_posterior): the global minimiser; a perturbation raises it."""
    K, d = 3, 3
    law = joint(DATA, K, source, kappa_t)
    states = torch.tensor(list(law))
    p_state = torch.tensor([v[0] for v in law.values()], dtype=torch.float64)
    p_point = torch.zeros(len(states), len(DATA), dtype=torch.float64)
    for s, (_, per_point) in enumerate(law.values()):
        for n, q in per_point.items():
            p_point[s, n] = q
    path = MixturePath(make_source(source, K), "linear")
    post = exact_posterior(states, kappa_t, DATA, path)

    def expected_ce(logits):
        logp = logits.log_softmax(-1)                                             # (S, d, K)
        per = -logp[:, torch.arange(d)[None, :], DATA]                            # (S, N, d)
        return (p_point * per.mean(-1)).sum()

    best = post.clamp_min(1e-30).log().requires_grad_(True)
    value = expected_ce(best)
    (grad,) = torch.autograd.grad(value, best)
    assert grad.abs().max() < 1e-12
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        other = best.detach() + 0.3 * torch.randn(best.shape, generator=g, dtype=torch.float64)
        assert expected_ce(other) > value
    assert torch.allclose(p_state.sum(), torch.tensor(1.0, dtype=torch.float64))


def test_training_with_the_loss_learns_the_exact_posterior():
    """train(model, None, data, steps, loss=DiscreteFlowLoss(path)) on three sequences: the network's posterior
    approaches the exact one at the states the path visits."""
    data = torch.tensor([[0, 1], [2, 2], [0, 2]])
    path = MixturePath(MaskSource(3), "linear")
    torch.manual_seed(0)
    model = TokenNet(3, 2, embed=16, hidden=64, layers=2)
    history = train(model, None, lambda n: data[torch.randint(3, (n,))], 400, batch_size=256, lr=3e-3,
                    lr_decay="cosine", loss=DiscreteFlowLoss(path), progress=False, device="cpu")
    assert history.steps == 400
    x_t = torch.tensor([[3, 3], [0, 3], [3, 2], [2, 3]])
    for t in (0.2, 0.5):
        with torch.no_grad():
            learned = model(x_t, t).softmax(-1).double()
        exact = exact_posterior(x_t, t, data, path)
        assert (learned - exact).abs().max() < 0.08, (t, learned, exact)


def test_the_loss_refuses_data_outside_the_vocabulary_and_wrong_paths():
    path = MixturePath(MaskSource(3), "linear")
    model = TokenNet(3, 2, hidden=8, layers=1)
    with pytest.raises(ValueError, match=r"ids in 0..2"):
        train(model, None, lambda n: torch.full((n, 2), 3), 2, batch_size=4, loss=DiscreteFlowLoss(path),
              progress=False)
    with pytest.raises(ValueError, match=r"integer token ids"):
        train(model, None, lambda n: torch.zeros(n, 2), 2, batch_size=4, loss=DiscreteFlowLoss(path), progress=False)
    with pytest.raises(TypeError, match="MixturePath"):
        DiscreteFlowLoss(None)


def test_token_net_shapes_checks_and_checkpoints(tmp_path):
    model = TokenNet(5, 3, mask=True, embed=4, hidden=16, layers=2)
    x = torch.tensor([[0, 5, 4], [5, 5, 5]])
    assert model(x, torch.tensor([0.0, 1.0])).shape == (2, 3, 5) and model(x, 0.5).dtype == torch.float32
    for bad, words in [(x.float(), r"integer token ids, got dtype torch.float32"),
                       (x + 1, r"ids in 0..4 or the mask id 5, got values in \[1, 6\]"),
                       (x[:, :2], r"expects x of shape \(B, 3\)"), (x[0], r"shape \(B, d\)")]:
        with pytest.raises(ValueError, match=words):
            model(bad, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model(x, 1.5)
    with pytest.raises(ValueError, match=r"this source has no mask"):
        TokenNet(5, 3, mask=False)(x, 0.5)
    with pytest.raises(ValueError, match="vocab_size"):
        TokenNet(0, 3)
    save_checkpoint(tmp_path / "m.pt", model, source="mask", kappa="linear")
    loaded, meta = load_checkpoint(tmp_path / "m.pt")
    assert isinstance(loaded, TokenNet) and meta["source"] == "mask"
    assert torch.equal(loaded(x, 0.3), model(x, 0.3))

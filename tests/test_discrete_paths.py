"""fmlite.discrete: tokens, sources, kappa schedules and the mixture path, against Monte Carlo and closed forms."""
import math

import pytest
import torch

from fmlite.discrete import (KAPPA_SCHEDULES, LinearKappa, MaskSource, MixturePath, PowerKappa, UniformSource,
                             check_kappa, check_tokens, check_vocab, checkerboard_probabilities, checkerboard_tokens,
                             digit_tokens, digits_to_tokens, kappa_schedule, make_source, points_to_tokens,
                             tokens_to_digits, tokens_to_points)
from fmlite.schedules import Schedule, Sigma


@pytest.mark.parametrize("name", list(KAPPA_SCHEDULES))
def test_kappa_schedules_are_schedules_with_the_right_derivative(name):
    kappa = kappa_schedule(name)
    assert isinstance(kappa, Schedule)
    t = torch.tensor([0.0, 0.13, 0.5, 0.77, 1.0], dtype=torch.float64)
    assert kappa(0.0) == 0 and kappa(1.0) == 1
    h = 1e-6
    inner = t[1:-1]
    numeric = (kappa(inner + h) - kappa(inner - h)) / (2 * h)
    assert torch.allclose(kappa.derivative(inner), numeric, atol=1e-6)
    assert torch.equal(kappa(t), t if name == "linear" else t ** 2)


def test_any_course_schedule_can_be_a_kappa_and_bad_ones_are_refused():
    cubic = check_kappa(Sigma(lambda t: t ** 3, name="cubic"))
    assert torch.allclose(cubic.derivative(torch.tensor([0.5])), torch.tensor([0.75]), atol=1e-4)
    for bad, words in [(Sigma(lambda t: 1 - t), r"from 0 at t = 0 to 1"),
                       (Sigma(lambda t: 0.5 * t), r"kappa\(1\) = 0.5"),
                       (Sigma(lambda t: t + 0.3 * torch.sin(2 * math.pi * t)), r"decreases near")]:
        with pytest.raises(ValueError, match=words):
            check_kappa(bad)
    with pytest.raises(TypeError, match="fmlite Schedule"):
        check_kappa(lambda t: t)
    with pytest.raises(ValueError, match="unknown kappa"):
        kappa_schedule("cubic")
    assert PowerKappa(3)(0.5) == 0.125 and LinearKappa().derivative(0.3) == 1


def test_sources():
    mask, uniform = MaskSource(5), UniformSource(5)
    assert mask.mask_token == 5 and mask.states == 6 and uniform.mask_token is None and uniform.states == 5
    assert torch.equal(mask.sample(3, 4), torch.full((3, 4), 5))
    x = uniform.sample(20000, 1, torch.Generator().manual_seed(0))
    assert x.min() == 0 and x.max() == 4
    assert torch.allclose(torch.bincount(x[:, 0]).float() / 20000, torch.full((5,), 0.2), atol=0.015)
    assert torch.equal(mask.prob(torch.tensor([[5, 0]])), torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    assert torch.equal(uniform.prob(torch.tensor([[4, 0]])), torch.full((1, 2), 0.2, dtype=torch.float64))
    assert make_source("mask", 3) == MaskSource(3) and make_source("uniform", 3) != MaskSource(3)
    with pytest.raises(ValueError, match=r"ids in 0..4 \(vocab_size = 5; this source has no mask"):
        uniform.prob(torch.tensor([[5]]))


@pytest.mark.parametrize("bad, words", [
    (torch.tensor([[0.0, 1.0]]), r"integer token ids, got dtype torch.float32.*never rounded"),
    (torch.tensor([[True, False]]), r"integer token ids, got dtype torch.bool"),
    (torch.tensor([[0, 3]]), r"ids in 0..2 \(vocab_size = 3"),
    (torch.tensor([[-1, 0]]), r"got values in \[-1, 0\]"),
    (torch.tensor([0, 1]), r"shape \(B, d\).*\[None\]"),
    ([[0, 1]], r"torch tensor.*torch.as_tensor"),
])
def test_bad_tokens_are_refused(bad, words):
    with pytest.raises(ValueError, match=words):
        check_tokens(bad, 3)


def test_the_mask_is_the_extra_id_k():
    assert check_vocab(4, 4) == (4, 4)
    assert torch.equal(check_tokens(torch.tensor([[3, 4]], dtype=torch.int32), 4, 4), torch.tensor([[3, 4]]))
    with pytest.raises(ValueError, match=r"mask_token 2 lies inside the vocabulary 0..3"):
        check_vocab(4, 2)
    with pytest.raises(ValueError, match=r"extra id K = vocab_size = 4, got 7"):
        check_vocab(4, 7)
    with pytest.raises(ValueError, match=r"ids in 0..3 or the mask id 4, got values in \[0, 5\]"):
        check_tokens(torch.tensor([[0, 5]]), 4, 4)
    with pytest.raises(ValueError, match="vocab_size"):
        MaskSource(0)


@pytest.mark.parametrize("source", ["mask", "uniform"])
@pytest.mark.parametrize("kappa", ["linear", "quadratic"])
def test_the_marginal_of_each_position_is_kappa_p1_plus_one_minus_kappa_p0_by_monte_carlo(source, kappa):
    """p_t(x^i) = kappa_t p_1(x^i) + (1 - kappa_t) p_0(x^i), per position, against 40,000 draws of the path."""
    K, n = 4, 40_000
    g = torch.Generator().manual_seed(1)
    data = torch.tensor([[0, 1, 3], [2, 1, 0], [3, 3, 3]])
    path = MixturePath(make_source(source, K), kappa)
    x_1 = data[torch.randint(3, (n,), generator=g)]
    t = torch.full((n,), 0.6)
    x_t = path.sample(x_1, t, generator=g).x_t
    kt = 0.6 if kappa == "linear" else 0.36
    states = path.source.states
    p1 = torch.stack([torch.bincount(data[:, i], minlength=states).float() / 3 for i in range(3)])
    p0 = torch.zeros(states)
    if source == "mask":
        p0[K] = 1
    else:
        p0[:K] = 1 / K
    for i in range(3):
        empirical = torch.bincount(x_t[:, i], minlength=states).float() / n
        assert torch.allclose(empirical, kt * p1[i] + (1 - kt) * p0, atol=0.012), (i, empirical)
    # positions are independent given x_1: the coins of positions 0 and 1 do not move together
    same = (x_t[:, 0] == x_1[:, 0]) & (x_t[:, 1] == x_1[:, 1])
    if source == "mask":
        assert abs(same.float().mean() - kt ** 2) < 0.012


def test_the_path_uses_the_uniforms_passed_in():
    path = MixturePath(MaskSource(3), "linear")
    x_1 = torch.tensor([[0, 1, 2], [2, 2, 2]])
    u = torch.tensor([[0.1, 0.5, 0.9], [0.0, 0.29, 0.31]])
    s = path.sample(x_1, torch.tensor([0.5, 0.3]), u=u)
    assert torch.equal(s.x_t, torch.tensor([[0, 3, 3], [2, 2, 3]]))
    assert torch.equal(path.sample(x_1, 0.0, u=u).x_t, torch.full((2, 3), 3))
    assert torch.equal(path.sample(x_1, 1.0, u=torch.full((2, 3), 0.9999)).x_t, x_1)
    with pytest.raises(ValueError, match=r"u must lie in \[0, 1\)"):
        path.sample(x_1, 0.5, u=torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"u must have shape \(2, 3\)"):
        path.sample(x_1, 0.5, u=torch.zeros(2, 1))
    with pytest.raises(ValueError, match=r"x_1 must hold ids in 0..2 \(vocab_size = 3; this source has no mask"):
        path.sample(torch.tensor([[3, 0, 0]]), 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        path.sample(x_1, 1.5)


def test_quantising_points_and_digits_round_trips():
    x = torch.tensor([[-2.0, 2.0], [0.0, -0.01], [1.99, -1.99]])
    tok = points_to_tokens(x)
    assert torch.equal(tok, torch.tensor([[0, 127], [64, 63], [127, 0]]))
    assert (tokens_to_points(tok) - x).abs().max() <= 4 / 128 / 2 + 1e-6
    with pytest.raises(ValueError, match="nothing is clipped"):
        points_to_tokens(torch.tensor([[2.5, 0.0]]))
    images = torch.tensor([-1.0, -0.5, -0.01, 0.0, 0.49, 0.5, 1.0]).repeat(10)[:64].reshape(1, 1, 8, 8)
    tok = digits_to_tokens(images, 4)
    assert tok.shape == (1, 64) and torch.equal(tok[0, :7], torch.tensor([0, 1, 1, 2, 2, 3, 3]))
    back = tokens_to_digits(tok, 4)
    assert back.shape == (1, 1, 8, 8) and (back - images).abs().max() <= 0.25 + 1e-6
    with pytest.raises(ValueError, match="floating images"):
        digits_to_tokens(torch.zeros(1, 1, 8, 8, dtype=torch.long))


def test_the_checkerboard_law_matches_its_samples():
    law = checkerboard_probabilities(128)
    assert abs(float(law.sum()) - 1) < 1e-12 and int((law > 0).sum()) == 128 * 128 // 2
    x = checkerboard_tokens(200_000, seed=0)
    counts = torch.bincount(x[:, 0] // 32 * 4 + x[:, 1] // 32, minlength=16).double() / 200_000
    squares = law.reshape(4, 32, 4, 32).sum((1, 3)).flatten()
    assert torch.allclose(counts, squares, atol=0.004)
    assert law[0, 0] > 0 and law[0, 32] == 0 and law[32, 32] > 0   # the x column 0 holds y rows 0 and 2
    assert torch.allclose(checkerboard_probabilities(6).sum(), torch.tensor(1.0, dtype=torch.float64))
    d = digit_tokens(4)
    assert d.shape == (1797, 64) and d.dtype == torch.int64 and d.max() == 3

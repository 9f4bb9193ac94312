"""fmlite.discrete.exact: the exact posterior against brute-force enumeration; the fallback when every weight is 0."""
import pytest
import torch

from discrete_oracle import posterior
from fmlite.discrete import (ExactPosterior, MaskSource, MixturePath, all_weights_zero, data_weights, exact_posterior,
                             in_data, make_source)

DATA = torch.tensor([[0, 1, 2], [0, 2, 2], [1, 1, 0], [2, 0, 1]])


@pytest.mark.parametrize("source", ["mask", "uniform"])
@pytest.mark.parametrize("kappa, t", [("linear", 0.35), ("quadratic", 0.8), ("linear", 0.0)])
def test_the_exact_posterior_matches_enumeration(source, kappa, t):
    K = 3
    path = MixturePath(make_source(source, K), kappa)
    kt = float(path.kappa(torch.tensor(t)))
    table = posterior(DATA, K, source, kt)
    states = torch.tensor(list(table))
    want = torch.stack([post for _, post in table.values()])
    got = exact_posterior(states, t, DATA, path)
    assert got.dtype == torch.float64 and torch.allclose(got, want, atol=1e-12)
    assert not all_weights_zero(states, t, DATA, path).any()   # every state the path reaches has a data point
    logits = ExactPosterior(DATA, path)(states, torch.full((len(states),), t))
    assert torch.allclose(logits.softmax(-1), want, atol=1e-12)
    assert torch.allclose(data_weights(states, t, DATA, path).sum(1), torch.ones(len(states), dtype=torch.float64))


def test_at_t_1_the_posterior_is_the_data_point_itself():
    path = MixturePath(make_source("uniform", 3), "linear")
    got = exact_posterior(DATA, 1.0, DATA, path)
    assert torch.equal(got, torch.nn.functional.one_hot(DATA, 3).double())


def test_when_every_weight_is_zero_the_best_agreeing_points_are_used():
    path = MixturePath(MaskSource(3), "linear")
    data = torch.tensor([[0, 0, 0], [1, 1, 1], [0, 0, 2]])
    x_t = torch.tensor([[0, 1, 3],      # agrees with point 0 at one position, with point 1 at one, point 2 at one
                        [0, 0, 1],      # points 0 and 2 disagree once, point 1 twice
                        [0, 3, 3]])     # a reachable state: weights of points 0 and 2 positive
    assert all_weights_zero(x_t, 0.5, data, path).tolist() == [True, True, False]
    w = data_weights(x_t, 0.5, data, path)
    assert torch.allclose(w[0], torch.full((3,), 1 / 3, dtype=torch.float64))
    assert torch.allclose(w[1], torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64))
    assert torch.allclose(w[2], torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64))
    p = exact_posterior(x_t, 0.5, data, path)
    assert torch.allclose(p[1, 2], torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64))
    assert torch.isfinite(p).all() and torch.allclose(p.sum(-1), torch.ones(3, 3, dtype=torch.float64))


def test_in_data_and_bad_input():
    assert in_data(torch.tensor([[0, 1, 2], [2, 1, 0]]), DATA).tolist() == [True, False]
    path = MixturePath(MaskSource(3), "linear")
    with pytest.raises(ValueError, match="data never holds the mask|data points never hold the mask"):
        exact_posterior(DATA, 0.5, torch.tensor([[3, 0, 0]]), path)
    with pytest.raises(ValueError, match="x_t has 2 tokens per sequence, data 3"):
        exact_posterior(DATA[:, :2], 0.5, DATA, path)
    with pytest.raises(ValueError, match="integer token ids"):
        exact_posterior(DATA.float(), 0.5, DATA, path)
    with pytest.raises(TypeError, match="MixturePath"):
        exact_posterior(DATA, 0.5, DATA, None)
    with pytest.raises(ValueError, match="empty"):
        ExactPosterior(DATA[:0], path)
    with pytest.raises(ValueError, match=r"in_data: x must be an integer tensor"):
        in_data(DATA.float(), DATA)

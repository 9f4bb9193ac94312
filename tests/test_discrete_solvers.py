"""fmlite.discrete rates and the CTMC Euler sampler: rate rows, jump probabilities, exactness for d = 1 (chi-square)."""
import pytest
import torch
from scipy.stats import chisquare

from fmlite.discrete import (ExactPosterior, MaskSource, MixturePath, UniformSource, draw_tokens, euler_step,
                             exact_posterior, in_data, jump_probability, make_source, rate, sample_discrete)
from fmlite.schedules import Sigma
from fmlite.solvers import Solution

DATA = torch.tensor([[0, 1, 2], [0, 2, 2], [1, 1, 0], [2, 0, 1]])


@pytest.mark.parametrize("source", ["mask", "uniform"])
@pytest.mark.parametrize("kappa", ["linear", "quadratic"])
def test_rate_rows_sum_to_zero_and_are_non_negative_off_the_diagonal(source, kappa):
    path = MixturePath(make_source(source, 3), kappa)
    g = torch.Generator().manual_seed(0)
    t = torch.rand(40, generator=g) * 0.98
    x_t = path.sample(DATA[torch.randint(4, (40,), generator=g)], t, generator=g).x_t
    probs = exact_posterior(x_t, t, DATA, path)
    u = rate(probs, x_t, t, path)
    assert u.shape == (40, 3, path.source.states)
    assert torch.allclose(u.sum(-1), torch.zeros(40, 3, dtype=torch.float64), atol=1e-12)
    off = torch.ones_like(u, dtype=torch.bool).scatter_(-1, x_t[..., None], False)
    assert (u[off] >= 0).all() and (u.gather(-1, x_t[..., None]) <= 0).all()
    coef = path.kappa.derivative(t).double() / (1 - path.kappa(t).double())
    i = 5
    want = coef[i] * torch.nn.functional.pad(probs[i], (0, path.source.states - 3))
    want[torch.arange(3), x_t[i]] -= coef[i]
    assert torch.allclose(u[i], want)
    with pytest.raises(ValueError, match="kappa_t = 1"):
        rate(probs, x_t, 1.0, path)
    with pytest.raises(ValueError, match=r"softmax\(-1\), not the logits"):
        rate(probs.log(), x_t, t, path)


def test_jump_probability_and_its_cap_at_one():
    path = MixturePath(MaskSource(3), "quadratic")
    t = torch.tensor([0.0, 0.5, 0.9])
    assert torch.allclose(jump_probability(t, 0.1, path), 0.1 * 2 * t / (1 - t ** 2))
    assert jump_probability(torch.tensor([1.0]), 0.1, path).item() == 1.0
    concave = MixturePath(MaskSource(3), Sigma(lambda s: 1 - (1 - s) ** 2, name="concave"))
    # h kappa' / (1 - kappa) = 0.5 * 1 / 0.25 = 2 > 1: a full draw from the posterior, never a probability of 2
    assert torch.allclose(jump_probability(torch.tensor([0.5]), 0.5, concave), torch.tensor([1.0]))
    with pytest.raises(ValueError, match=r"step size h must be a number in \(0, 1\]"):
        jump_probability(t, 0.0, path)


def test_draw_tokens_is_the_inverse_cdf_and_never_picks_a_zero_probability():
    probs = torch.tensor([[[0.2, 0.0, 0.8]]]).expand(1, 4, 3)
    u = torch.tensor([[0.1, 0.2, 0.5, 0.9999999]])
    assert draw_tokens(probs, u).tolist() == [[0, 2, 2, 2]]
    tail = torch.tensor([[[0.3, 0.7 - 1e-7, 0.0]]])      # sums to 1 - 1e-7 in float32: never token 2
    assert draw_tokens(tail, torch.tensor([[0.99999994]])).item() == 1


def test_one_euler_step_with_the_uniforms_passed_in():
    path = MixturePath(MaskSource(3), "linear")
    x_t = torch.tensor([[3, 3, 1], [0, 3, 3]])
    probs = torch.tensor([[0.1, 0.6, 0.3]]).expand(2, 3, 3)
    u_jump = torch.tensor([[0.1, 0.3, 0.1], [0.9, 0.2, 0.5]])
    u_draw = torch.tensor([[0.05, 0.5, 0.95], [0.5, 0.8, 0.2]])
    # t = 0.5, h = 0.25: a = 0.25 / 0.5 = 0.5; jump where u_jump < 0.5, to the inverse-CDF draw of u_draw
    got = euler_step(x_t, probs, 0.5, 0.25, path, u_jump, u_draw)
    assert got.tolist() == [[0, 1, 2], [0, 2, 3]]   # u_jump = 0.5 is not < a = 0.5: the mask stays
    assert euler_step(x_t, probs, 0.5, 0.25, path, torch.full((2, 3), 0.7), u_draw, last=True).tolist() == \
        [[0, 1, 2], [1, 2, 1]]
    with pytest.raises(ValueError, match=r"u_jump must lie in \[0, 1\)"):
        euler_step(x_t, probs, 0.5, 0.25, path, torch.full((2, 3), 1.0), u_draw)


@pytest.mark.parametrize("source", ["mask", "uniform"])
@pytest.mark.parametrize("steps", [1, 2, 5])
def test_for_d_1_and_linear_kappa_euler_with_the_exact_posterior_samples_the_data_law(source, steps):
    """p_{t+h} = (1 - a) p_t + a p_1 with a = h / (1 - t): exact at any step count (chi-square, 20,000 samples)."""
    data = torch.tensor([0, 0, 0, 1, 2, 2, 4, 4, 4, 4])[:, None]
    p1 = torch.bincount(data[:, 0], minlength=5).double() / 10
    path = MixturePath(make_source(source, 5), "linear")
    g = torch.Generator().manual_seed(steps)
    n = 20_000
    sol = sample_discrete(ExactPosterior(data, path), path.source.sample(n, 1, g), steps, path, return_trajectory=True,
                          generator=g)
    assert isinstance(sol, Solution) and sol.nfe == steps and sol.trajectory.shape == (steps + 1, n, 1)
    counts = torch.bincount(sol.x[:, 0], minlength=5).double()
    keep = p1 > 0
    assert counts[~keep].sum() == 0
    assert chisquare(counts[keep].numpy(), (n * p1[keep]).numpy()).pvalue > 1e-3
    if steps == 5:   # the intermediate law at t = 0.4: 0.4 p_1 + 0.6 p_0
        mid = torch.bincount(sol.trajectory[2, :, 0], minlength=path.source.states).double()
        p0 = torch.zeros(path.source.states, dtype=torch.float64)
        p0[5:] = 1.0
        if source == "uniform":
            p0[:] = 0.2
        want = 0.4 * torch.nn.functional.pad(p1, (0, path.source.states - 5)) + 0.6 * p0
        assert chisquare(mid[want > 0].numpy(), (n * want[want > 0]).numpy()).pvalue > 1e-3


def test_one_step_from_all_mask_draws_positions_independently_and_mixes_data_points():
    """One step = one draw of every token from the t = 0 posterior: the product of the per-position data laws,
    so sequences that are no data point appear (the exact posterior of a finite data set, at a finite step)."""
    data = torch.tensor([[0, 0], [1, 1]])
    path = MixturePath(MaskSource(2), "quadratic")
    g = torch.Generator().manual_seed(3)
    x = sample_discrete(ExactPosterior(data, path), path.source.sample(8000, 2), 1, path, generator=g).x
    assert abs(in_data(x, data).float().mean().item() - 0.5) < 0.03
    many = sample_discrete(ExactPosterior(data, path), path.source.sample(2000, 2), 200, path, generator=g).x
    assert in_data(many, data).float().mean() > 0.97


def test_the_sampler_leaves_no_mask_and_checks_its_inputs():
    path = MixturePath(MaskSource(3), "quadratic")
    x = sample_discrete(ExactPosterior(DATA, path), path.source.sample(500, 3), 3, path).x
    assert (x < 3).all() and x.dtype == torch.int64
    x = sample_discrete(ExactPosterior(DATA, path), path.source.sample(50, 3), 4, path, t_start=0.5).x
    assert (x < 3).all()
    with pytest.raises(ValueError, match=r"steps must be a positive integer.*got 0"):
        sample_discrete(ExactPosterior(DATA, path), path.source.sample(5, 3), 0, path)
    with pytest.raises(ValueError, match=r"steps must be a positive integer"):
        sample_discrete(ExactPosterior(DATA, path), path.source.sample(5, 3), -2, path)
    with pytest.raises(ValueError, match=r"logits of shape \(5, 3, 3\), got \(5, 3, 4\)"):
        sample_discrete(lambda x, t: torch.zeros(5, 3, 4), path.source.sample(5, 3), 2, path)
    with pytest.raises(ValueError, match="NaN or inf"):
        sample_discrete(lambda x, t: torch.full((5, 3, 3), float("nan")), path.source.sample(5, 3), 2, path)
    with pytest.raises(ValueError, match=r"x_0 must hold ids in 0..2 \(vocab_size = 3; this source has no mask"):
        sample_discrete(ExactPosterior(DATA, path), MaskSource(3).sample(5, 3),
                        2, MixturePath(UniformSource(3), "linear"))


def test_grouping_equal_sequences_gives_the_same_samples(monkeypatch):
    """The sampler evaluates the posterior once per distinct sequence of a large batch: bitwise the same draws."""
    import fmlite.discrete.solvers as solvers
    path = MixturePath(UniformSource(3), "quadratic")
    x_0 = path.source.sample(3000, 3, torch.Generator().manual_seed(0))
    post = ExactPosterior(DATA, path)
    calls = []

    def counted(x, t):
        calls.append(len(x))
        return post(x, t)

    grouped = sample_discrete(counted, x_0, 4, path, generator=torch.Generator().manual_seed(1)).x
    assert max(calls) <= 27                      # 3^3 distinct sequences at most
    monkeypatch.setattr(solvers, "_distinct", lambda x, states: (x, torch.arange(len(x))))
    plain = sample_discrete(post, x_0, 4, path, generator=torch.Generator().manual_seed(1)).x
    assert torch.equal(grouped, plain)

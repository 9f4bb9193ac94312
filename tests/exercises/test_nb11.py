"""Exercises of notebook 11: wrong answers of every kind are rejected with a message naming the mistake, and the
worked solutions agree with independent oracles (closed forms, Monte Carlo, finite differences, the package)."""
import pytest
import torch

from fmlite.exercises import EXERCISES, solution
from fmlite.exercises.nb11_latent import StandInDecoder, StandInEncoder


def _kl(mu, lv, var=None, log=None, half=0.5, reduce=lambda per: per.sum(-1).mean()):
    var = lv.exp() if var is None else var
    log = lv if log is None else log
    return reduce(half * (mu ** 2 + var - 1 - log))


@pytest.mark.parametrize("answer, message", [
    (lambda mu, lv: _kl(mu, lv, var=lv, log=lv.log()), "the KL term is NaN: log_var is the log of the variance"),
    (lambda mu, lv: _kl(mu, lv, var=lv), "you used log_var as if it were the variance"),
    (lambda mu, lv: _kl(mu, lv, var=(lv / 2).exp()), "the standard deviation σ, where the variance"),
    (lambda mu, lv: _kl(mu, lv, var=(2 * lv).exp(), log=2 * lv), "you treated log_var as log σ"),
    (lambda mu, lv: _kl(mu, lv, half=1.0), "the ½ is missing"),
    (lambda mu, lv: _kl(mu, lv, reduce=lambda per: per.sum()), "you summed over the batch instead of averaging"),
    (lambda mu, lv: _kl(mu, lv, reduce=lambda per: per.mean()), "you averaged over the latent dimensions too"),
    (lambda mu, lv: -_kl(mu, lv), "the KL term has the wrong sign"),
    (lambda mu, lv: 0.5 * (mu ** 2 + lv.exp() - lv).sum(-1).mean(), "the −1 is missing"),
    (lambda mu, lv: _kl(mu, lv, reduce=lambda per: per.sum(-1)), "you returned one KL per sample"),
    (lambda mu, lv: _kl(mu.detach(), lv), "its gradient with respect to mu is zero: you detached mu"),
    (lambda mu, lv: _kl(mu, lv).detach(), "no gradient path"),
    (lambda mu, lv: _kl(mu, lv).item(), "no gradient path"),
    (lambda mu, lv: _kl(mu, lv).float(), "returned float32 for float64 inputs"),
    (lambda mu, lv: _kl(mu.reshape(7, -1), lv.reshape(7, -1)), "your code works for one batch size only"),
    (lambda mu, lv: None, "not solved yet"),
])
def test_kl_divergence_rejects(answer, message, rejected):
    rejected("11.kl_divergence", answer, message)


def _reparam(mu, lv, eps):
    return mu + (0.5 * lv).exp() * eps


@pytest.mark.parametrize("answer, message", [
    (lambda mu, lv, eps: mu + lv.exp() * eps, "you used the variance σ² = exp(log_var) where the standard deviation"),
    (lambda mu, lv, eps: mu + lv.sqrt() * eps, "z contains NaN"),
    (lambda mu, lv, eps: mu + lv * eps, "you used log_var itself as the standard deviation"),
    (lambda mu, lv, eps: mu + (-0.5 * lv).exp() * eps, "exp(−½ log_var) is 1/σ"),
    (lambda mu, lv, eps: _reparam(mu, lv, eps[0]), "the noise is shared across the batch"),
    (lambda mu, lv, eps: _reparam(mu, lv, eps[:1].expand_as(eps)), "the noise is shared across the batch"),
    (lambda mu, lv, eps: mu, "you returned the mean μ"),
    (lambda mu, lv, eps: (0.5 * lv).exp() * eps, "you returned σ ε only"),
    (lambda mu, lv, eps: mu + (0.5 * lv).exp(), "you added σ without the noise"),
    (lambda mu, lv, eps: mu + eps, "you added ε without scaling it"),
    (lambda mu, lv, eps: mu - (0.5 * lv).exp() * eps, "not μ − σ ε"),
    (lambda mu, lv, eps: _reparam(mu.detach(), lv, eps), "with respect to mu is zero: you detached mu"),
    (lambda mu, lv, eps: _reparam(mu, lv.detach(), eps), "with respect to log_var is zero: you detached log_var"),
    (lambda mu, lv, eps: _reparam(mu, lv, eps).detach(), "no gradient path"),
    (lambda mu, lv, eps: _reparam(mu, lv, torch.randn_like(eps)), "you drew your own noise"),
    (lambda mu, lv, eps: _reparam(mu, lv, eps).float(), "returned float32 for float64 inputs"),
    (lambda mu, lv, eps: mu.add_(0) + eps.mul_((0.5 * lv).exp()), "changed its input eps in place"),
])
def test_reparameterise_rejects(answer, message, rejected):
    rejected("11.reparameterise", answer, message)


def _target(enc, x_1, x_0, t, scale, code=lambda enc, x_1, scale: enc(x_1) / scale, t_of=lambda t: t[:, None],
            sign=1.0):
    z_1, tt = code(enc, x_1, scale), t_of(t)
    return tt * z_1 + (1 - tt) * x_0, sign * (z_1 - x_0)


@pytest.mark.parametrize("answer, message", [
    (lambda e, x_1, x_0, t, s: _target(e, x_1, x_0, t, s, code=lambda e, x, s: e(x)), "z_t forgot the scale"),
    (lambda e, x_1, x_0, t, s: _target(e, x_1, x_0, t, s, code=lambda e, x, s: e(x) / s ** 2),
     "z_t applied the scale twice"),
    (lambda e, x_1, x_0, t, s: _target(e, x_1, x_0, t, s, code=lambda e, x, s: e(x) * s), "z_t multiplied by the scale"),
    (lambda e, x_1, x_0, t, s: (_target(e, x_1, x_0, t, s)[0], e(x_1) - x_0), "u_t forgot the scale"),
    (lambda e, x_1, x_0, t, s: (_target(e, x_1, x_0, t, s)[0], e(x_1) / s ** 2 - x_0), "u_t applied the scale twice"),
    (lambda e, x_1, x_0, t, s: _target(e, x_1, x_0, t, s, sign=-1.0), "u_t has the wrong sign"),
    (lambda e, x_1, x_0, t, s: _target(e, x_1, x_0, t, s, t_of=lambda t: 1 - t[:, None]), "z_t runs backwards"),
    (lambda e, x_1, x_0, t, s: _target(e, x_1, x_0, t, s, t_of=lambda t: t.mean()),
     "you used one time for the whole batch"),
    (lambda e, x_1, x_0, t, s: _target(e, x_1, x_0, t, s, t_of=lambda t: t[:, None].clamp(0.05, 0.95)),
     "z_t is right except near the ends of the time range"),
    (lambda e, x_1, x_0, t, s: _target(e, x_1, x_0, t, s)[::-1], "z_t is the point on the path"),
    (lambda e, x_1, x_0, t, s: (_target(e, x_1, x_0, t, s)[0], e(x_1) / s), "u_t is the velocity z_1 − x_0, not the code"),
    (lambda e, x_1, x_0, t, s: (_target(e, x_1, x_0, t, s)[0], e(x_1) / s - e(x_0)),
     "x_0 is already noise in the latent space, so encode only the data x_1"),
    (lambda e, x_1, x_0, t, s: (e(x_1.flatten(1)), x_0), "encoder(x) got a tensor of shape (7, 64)"),
    (lambda e, x_1, x_0, t, s: _target(e, x_1, x_0, t, s)[1], "return two tensors, (z_t, u_t)"),
    (lambda e, x_1, x_0, t, s: _target(e, x_1, x_0, t.reshape(7), s), "your code works for one batch size only"),
    (lambda e, x_1, x_0, t, s: tuple(v.float() for v in _target(e, x_1, x_0, t, s)), "returned float32"),
])
def test_latent_fm_target_rejects(answer, message, rejected):
    rejected("11.latent_fm_target", answer, message)


def _euler(dec, vel, z_0, scale, steps, n=None, unscale=lambda z, s: z * s, t_of=lambda i, h: i * h, start=None):
    n = steps if n is None else n
    z, h = (z_0 if start is None else start), 1.0 / n
    for i in range(n):
        z = z + h * vel(z, torch.full((z.shape[0],), t_of(i, h), dtype=z.dtype))
    return dec(unscale(z, scale))


@pytest.mark.parametrize("answer, message", [
    (lambda d, v, z, s, k: _euler(d, v, z, s, k, unscale=lambda z, s: z), "you forgot the scale"),
    (lambda d, v, z, s, k: _euler(d, v, z, s, k, unscale=lambda z, s: z * s ** 2), "you applied the scale twice"),
    (lambda d, v, z, s, k: _euler(d, v, z, s, k, unscale=lambda z, s: z / s), "you divided by the scale"),
    (lambda d, v, z, s, k: _euler(d, v, z, s, k, n=5), "use the argument steps, never a number written in"),
    (lambda d, v, z, s, k: _euler(d, v, z, s, k, n=10), "you called velocity 10 times"),
    (lambda d, v, z, s, k: _euler(d, v, z, s, k, start=d(z * s)), "you decoded before integrating"),
    (lambda d, v, z, s, k: (_euler(lambda z: z, v, z, s, k), d(z * s))[1], "you decoded the noise z_0"),
    (lambda d, v, z, s, k: d(z * s), "you never called velocity"),
    (lambda d, v, z, s, k: _euler(d, v, z, s, k, t_of=lambda i, h: 1 - i * h), "you integrated from t = 1 to t = 0"),
    (lambda d, v, z, s, k: _euler(d, v, z, s, k, t_of=lambda i, h: (i + 1) * h), "the decoded images differ"),
    (lambda d, v, z, s, k: [d(z * s)] and _euler(d, v, z, s, k), "you called the decoder 2 times"),
    (lambda d, v, z, s, k: _euler(lambda z: d(z).float(), v, z, s, k), "returned float32"),
])
def test_decode_samples_rejects(answer, message, rejected):
    rejected("11.decode_samples", answer, message)


def test_decode_samples_with_velocity_called_badly(rejected):
    def scalar_t(d, v, z, s, k):
        for i in range(k):
            z = z + v(z, i / k) / k
        return d(z * s)

    def swapped(d, v, z, s, k):
        for i in range(k):
            z = z + v(torch.full((z.shape[0],), i / k, dtype=z.dtype), z) / k
        return d(z * s)
    rejected("11.decode_samples", scalar_t, "call velocity(x, t) with t a tensor of shape (B,)")
    rejected("11.decode_samples", swapped, "velocity was called as velocity(t, x)")
    rejected("11.decode_samples", lambda d, v, z, s, k: _euler(d, v, d(z * s).flatten(1), s, k),
             "velocity(x, t) refused its input")


# ----------------------------------------------------------------------------- the solutions against oracles
def test_kl_solution_matches_the_closed_form_and_monte_carlo():
    """½ Σ (μ² + σ² − 1 − log σ²) equals torch.distributions' KL, and a Monte Carlo estimate E[log q − log p]."""
    from torch.distributions import Independent, Normal, kl_divergence
    g = torch.Generator().manual_seed(5)
    mu, lv = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g, dtype=torch.float64)
    q = Independent(Normal(mu, (0.5 * lv).exp()), 1)
    p = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    ours = solution("11.kl_divergence")(mu, lv)
    torch.testing.assert_close(ours, kl_divergence(q, p).mean())
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).mean()
    assert abs(float(mc) - float(ours)) < 0.02


def test_reparameterise_solution_has_the_right_law_and_gradient():
    """Samples have mean μ and variance exp(log_var); dz/dμ = 1 and dz/dlog_var = ½ σ ε (finite differences)."""
    mu, lv = torch.tensor([[0.3, -1.2]], dtype=torch.float64), torch.tensor([[-0.7, 0.9]], dtype=torch.float64)
    eps = torch.randn(400_000, 2, dtype=torch.float64)
    z = solution("11.reparameterise")(mu, lv, eps)
    torch.testing.assert_close(z.mean(0), mu[0], atol=0.01, rtol=0)
    torch.testing.assert_close(z.var(0), lv[0].exp(), atol=0.02, rtol=0)
    e, h = eps[:3], 1e-6
    f = lambda lv_: solution("11.reparameterise")(mu, lv_, e)
    fd = (f(lv + torch.tensor([[h, 0.0]])) - f(lv - torch.tensor([[h, 0.0]])))[:, 0] / (2 * h)
    torch.testing.assert_close(fd, 0.5 * (0.5 * lv[0, 0]).exp() * e[:, 0])


def test_kl_and_reparameterise_agree_with_the_package():
    from fmlite import autoencoder as A
    g = torch.Generator().manual_seed(6)
    mu, lv, eps = (torch.randn(5, 4, generator=g, dtype=torch.float64) for _ in range(3))
    torch.testing.assert_close(solution("11.kl_divergence")(mu, lv), A.kl_divergence(mu, lv).mean())
    torch.testing.assert_close(solution("11.reparameterise")(mu, lv, eps), A.reparameterise(mu, lv, eps))


def test_latent_target_and_sampler_agree_with_the_package():
    """The worked solutions equal fmlite.latent_flows' target (the linear path on encoder(x_1) / scale) and its
    sampler with Euler steps."""
    from fmlite.latent_flows import decode_samples, latent_fm_target
    g = torch.Generator().manual_seed(7)
    enc, dec, scale = StandInEncoder(3), StandInDecoder(3), torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    x_1, x_0 = torch.rand(6, 1, 8, 8, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g,
                                                                                       dtype=torch.float64)
    t = torch.rand(6, generator=g, dtype=torch.float64)
    z_t, u_t = solution("11.latent_fm_target")(enc, x_1, x_0, t, scale)
    sample = latent_fm_target(enc, x_1, x_0, t, scale)
    torch.testing.assert_close((z_t, u_t), (sample.x_t, sample.u_t))

    def velocity(z, t):
        return torch.sin(z) - t[:, None] * z
    ours = solution("11.decode_samples")(dec, velocity, x_0, scale, 6)
    torch.testing.assert_close(ours, decode_samples(dec, velocity, x_0, scale, 6, method="euler"))


def test_decode_samples_solution_converges_to_the_exact_flow():
    """For velocity(z, t) = −z the flow is z_0 e^{−t}: Euler with many steps decodes decoder(z_0 e^{−1} · scale)."""
    dec, scale = StandInDecoder(2), torch.tensor([0.7, 1.9], dtype=torch.float64)
    z_0 = torch.randn(4, 2, dtype=torch.float64)
    got = solution("11.decode_samples")(dec, lambda z, t: -z, z_0, scale, 4000)
    torch.testing.assert_close(got, dec(z_0 * torch.e ** -1 * scale), atol=1e-4, rtol=0)


def test_every_exercise_of_11_is_registered_and_its_solution_passes():
    from fmlite.exercises import passes
    keys = sorted(k for k in EXERCISES if k.startswith("11."))
    assert keys == ["11.decode_samples", "11.kl_divergence", "11.latent_fm_target", "11.reparameterise"]
    assert all(passes(k, solution(k)) for k in keys)

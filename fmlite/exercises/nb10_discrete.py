"""Notebook 10 (discrete flows): a sample of the mixture path, the rate built from a posterior, one CTMC Euler step.

Worked solutions beside checkers; the package's versions are `fmlite.discrete` (`MixturePath.sample`, `rate`,
`euler_step`: tests/exercises/test_nb10.py compares them). Tokens are int64 (B, d) in 0..K-1, the mask is the
extra id K. Every checker calls the answer twice, with batch size B, length d, vocabulary K (and number of
states S) pairwise different within a call and between the calls, one time per sample spread over the
formula's domain, and asymmetric κ schedules (κ = t², κ = t(1 + t)/2, κ = 1 − (1 − t)²), so κ(1 − t) or
1 − κ cannot pass for κ.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .compare import check_dtype, compare, reject_known, reject_where_finite
from .framework import Mismatch, call_untouched, register
from .inputs import domain_times, one_time_variants
from .stand_ins import StandInTokenNet, tokens, uniforms

#: (B, d, K) of the two calls of every checker: pairwise different within and between the calls.
TOKEN_SIZES = ((7, 10, 5), (5, 12, 4))


def _kappas():
    """Two asymmetric κ schedules with closed-form derivatives (fmlite.schedules.Sigma): κ = t², κ = t (1 + t) / 2;
    both rise from 0 to 1, and neither equals 1 − κ(1 − t)."""
    from ..schedules import Sigma
    return (Sigma(lambda t: t ** 2, lambda t: 2 * t, name="t^2"),
            Sigma(lambda t: t * (1 + t) / 2, lambda t: 0.5 + t, name="t (1 + t) / 2"))


def _check_tokens_out(got, shape, name: str, where: str) -> Tensor:
    """got must be an int64 tensor of `shape` (the one dtype rule for tokens)."""
    if not isinstance(got, Tensor):
        raise Mismatch(f"{name} should be a torch tensor of tokens, got {type(got).__name__}")
    if got.shape != shape:
        raise Mismatch(f"{name} has shape {tuple(got.shape)}, expected {tuple(shape)} (B, d){where}")
    if got.dtype != torch.int64:
        raise Mismatch(f"{name} has dtype {str(got.dtype).replace('torch.', '')}: tokens are int64 ids "
                       f"(torch.where(cond, x_1, mask) keeps x_1's dtype; no .float()){where}")
    return got


# ----------------------------------------------------------------------------- 10.1 a sample of the mixture path
def sample_x_t(x_1, t, u, kappa, vocab_size):
    """x_t on the mixture path from the all-mask source: token i shows x_1^i where u^i < κ_t, else the mask id K.
    x_1 (B, d) int64 in 0..K-1, t (B,), u (B, d) uniforms in [0, 1), kappa a schedule; returns (B, d) int64."""
    mask = torch.full_like(x_1, vocab_size)                 # x_0: every token is the mask id K
    return torch.where(u < kappa(t)[:, None], x_1, mask)    # one coin per token, κ_t per sample


def _check_sample_x_t(answer):
    """Domain: t over [0, 1], ends included (κ_0 = 0: all masks, κ_1 = 1: the data), one t per sample; κ = t² then
    κ = t (1 + t) / 2; (B, d, K) = (7, 3, 5), then (5, 6, 4)."""
    for (B, d, K), kappa, seed in zip(TOKEN_SIZES, _kappas(), (1, 2)):
        x_1, u, t = tokens(B, d, K, seed), uniforms(B, d, seed + 10), domain_times(B, seed=seed)
        where = f" (B = {B} sequences of d = {d} tokens, K = {K}, κ = {kappa.name}, one t per sequence)"
        got = _check_tokens_out(call_untouched(answer, x_1, t, u, kappa, K, names=("x_1", "t", "u")),
                                (B, d), "x_t", where)
        expected = sample_x_t(x_1, t, u, kappa, K)
        k = kappa(t)[:, None]
        m = torch.full_like(x_1, K)
        mistakes = [
            ("one coin per sequence: every token i needs its own coin u[:, i], so that tokens are revealed "
             "independently (compare u itself, (B, d), with κ_t[:, None])", torch.where(u[:, :1] < k, x_1, m)),
            ("one coin per position shared by the whole batch: use u itself, (B, d), one coin per token of "
             "each sequence", torch.where(u[:1] < k, x_1, m)),
            ("κ and 1 − κ are swapped: token i shows the data with probability κ_t, so reveal where u < κ_t",
             torch.where(u < 1 - k, x_1, m)),
            ("you masked the data instead of the source: where u < κ_t (probability κ_t) the token shows x_1, "
             "the data, elsewhere the mask", torch.where(u < k, m, x_1)),
            ("compare with κ_t = kappa(t), not with t itself: the schedule sets how fast tokens appear",
             torch.where(u < t[:, None], x_1, m)),
        ]
        for wrong_mask, what in ((K - 1, "K − 1"), (0, "0"), (-1, "−1"), (K + 1, "K + 1")):
            mistakes.append((f"the mask token is the id K = vocab_size = {K}, one past the vocabulary 0..K−1; you "
                             f"used {what}" + (", a real token, so a masked token could not be told from data"
                                                if 0 <= wrong_mask < K else ""),
                             torch.where(u < k, x_1, torch.full_like(x_1, wrong_mask))))
        mistakes += [(m_, torch.where(u < kappa(s)[:, None], x_1, m))
                     for m_, s in one_time_variants(lambda s: s, t)]
        reject_known(got, mistakes, expected, where)
        if not torch.equal(got, expected):
            wrong = (got != expected).sum().item()
            raise Mismatch(f"{wrong} of {B * d} tokens differ from x_t = where(u < κ_t, x_1, K) (with the uniforms u "
                           f"given, not fresh ones){where}")
    return "x_t = where(u < κ_t, x_1, K): each token is revealed by its own coin, with probability κ_t."


register("10.sample_x_t", "a sample of the mixture path (mask source)", sample_x_t, _check_sample_x_t)


# ----------------------------------------------------------------------------- 10.2 the rate of the mixture path
def rate(posterior, x_t, t, kappa):
    """u_t^i(y, x_t) = κ'_t / (1 − κ_t) [p_{1|t}(y | x_t) − δ(y = x_t^i)] for every state y.

    posterior (B, d, S): p_{1|t} over the S states x_t can take (S = K + 1 with the mask source, whose last
    column, the mask, is 0); x_t (B, d) int64 in 0..S-1; t (B,) in [0, 1); returns (B, d, S)."""
    factor = kappa.derivative(t) / (1 - kappa(t))                      # (B,)
    delta = torch.nn.functional.one_hot(x_t, posterior.shape[-1]).to(posterior.dtype)   # (B, d, S)
    return factor[:, None, None] * (posterior - delta)


def _rate_inputs(B: int, d: int, K: int, mask: bool, seed: int):
    """x_t (B, d) with masks (mask source) or without, and a posterior (B, d, S), float64, its mask column 0."""
    g = torch.Generator().manual_seed(seed)
    S = K + 1 if mask else K
    x_t = torch.randint(0, S, (B, d), generator=g)
    x_t.view(-1)[:S] = torch.arange(S)
    logits = torch.randn(B, d, K, generator=g, dtype=torch.float64) * 1.5
    probs = logits.softmax(-1)
    if mask:
        probs = torch.cat([probs, torch.zeros(B, d, 1, dtype=torch.float64)], -1)
    return x_t, probs


def _check_rate(answer):
    """Domain: t in [0, 0.98] (the rate is infinite at t = 1), one t per sample; first the mask source with
    (B, d, S) = (7, 3, 6) and κ = t², then the uniform source with (5, 6, 4) and κ = t (1 + t) / 2; float64."""
    for (B, d, K), kappa, mask, seed in zip(TOKEN_SIZES, _kappas(), (True, False), (3, 4)):
        x_t, posterior = _rate_inputs(B, d, K, mask, seed)
        S = posterior.shape[-1]
        t = domain_times(B, 0.0, 0.98, seed=seed)
        where = (f" (B = {B}, d = {d}, {'mask' if mask else 'uniform'} source: S = {S} states, κ = {kappa.name}, "
                 "one t per sequence)")
        try:
            got = call_untouched(answer, posterior, x_t, t, kappa, names=("posterior", "x_t", "t"))
        except Mismatch as e:
            if "do not broadcast" in str(e):
                raise Mismatch(f"the shapes do not broadcast: κ'_t / (1 − κ_t) has shape (B,), the posterior "
                               f"(B, d, S); give the factor two axes, factor[:, None, None], of shape (B, 1, 1), "
                               f"so that each sequence gets its own time{where}") from None
            raise
        except RuntimeError as e:
            if "num_classes" in str(e) or "smaller than" in str(e):
                raise Mismatch(f"one_hot needs the number of states, one_hot(x_t, posterior.shape[-1]): with "
                               f"the mask source x_t holds the id K, so there are S = K + 1 states ({e}){where}"
                               ) from None
            raise
        expected = rate(posterior, x_t, t, kappa)
        if isinstance(got, Tensor) and got.shape == (B, d, K) and mask:
            raise Mismatch(f"the rate has shape {tuple(got.shape)}: it needs a column for every state, the mask "
                           f"included, (B, d, S) = {(B, d, S)} like the posterior{where}")
        k, dk = kappa(t)[:, None, None], kappa.derivative(t)[:, None, None]
        delta = torch.nn.functional.one_hot(x_t, S).to(torch.float64)
        factor = dk / (1 - k)
        mistakes = [
            ("you left out the −δ(y = x_t^i) term: the rate of staying put is negative, so every row sums to 0 "
             "(probability leaves x_t^i as fast as it arrives elsewhere)", factor * posterior),
            ("κ'_t needs the factor 1 / (1 − κ_t): the fewer tokens are left to reveal, the faster each one "
             "goes; use κ'_t / (1 − κ_t)", dk * (posterior - delta)),
            ("the rate has the wrong sign: u = κ'/(1 − κ) [p_{1|t}(y) − δ(y = x_t^i)], positive towards other "
             "states, negative on the diagonal", factor * (delta - posterior)),
            ("the δ term has the wrong sign: the posterior minus δ(y = x_t^i), not plus",
             factor * (posterior + delta)),
            ("the factor is κ'_t / (1 − κ_t); you divided by 1 − κ_t without κ'_t", (posterior - delta) / (1 - k)),
            ("the factor is κ'_t / (1 − κ_t), the derivative κ'_t = kappa.derivative(t), not κ_t itself",
             k / (1 - k) * (posterior - delta)),
            ("the factor is κ'_t / (1 − κ_t); for κ = t that is 1 / (1 − t), but here κ is not t: use kappa(t) and "
             "kappa.derivative(t)", 1 / (1 - t[:, None, None]) * (posterior - delta)),
        ] + [(m_, kappa.derivative(s)[:, None, None] / (1 - kappa(s)[:, None, None]) * (posterior - delta))
             for m_, s in one_time_variants(lambda s: s, t)]
        check_dtype(got, torch.float64, "the rate", where)
        with torch.no_grad():
            reject_where_finite(got, [("the factor is κ'_t / (1 − κ_t), not κ'_t / κ_t", dk / k * (posterior - delta))],
                                where, expected=expected)
        reject_known(got, mistakes, expected, where)
        compare(got, expected, "the rate", where)
    return "every row sums to 0 and is ≥ 0 off the diagonal: a rate matrix, one row per token."


register("10.rate", "the rate of the mixture path from a posterior", rate, _check_rate)


# ----------------------------------------------------------------------------- 10.3 one CTMC Euler step
def draw(posterior, u):
    """Inverse-CDF draw: for each token the smallest k with posterior[..., :k+1].sum() > u; (B, d, K), (B, d)."""
    cdf = posterior.cumsum(-1)
    return (cdf <= u[..., None]).sum(-1).clamp(max=posterior.shape[-1] - 1)


def euler_jump(model, x_t, t, h, kappa, u_jump, u_draw):
    """One Euler step of the CTMC from t to t + h: token i jumps with probability a = min(h κ'_t / (1 − κ_t), 1)
    (a = 1 on the last step, t + h >= 1), to a draw from the posterior p_{1|t}( · | x_t) = model(x_t, t).softmax(-1).

    x_t (B, d) int64, t (B,) in [0, 1), h > 0, u_jump and u_draw (B, d) uniforms in [0, 1); returns (B, d) int64,
    a new tensor (x_t is left as it is)."""
    posterior = model(x_t, t).softmax(-1)                               # (B, d, K)
    a = (h * kappa.derivative(t) / (1 - kappa(t))).clamp(max=1.0)      # (B,): the jump probability
    a = torch.where(t + h >= 1, torch.ones_like(a), a)                  # the last step lands on the data
    return torch.where(u_jump < a[:, None], draw(posterior, u_draw), x_t)


def _jump_cases():
    """(B, d, K, mask, kappa, h): the uniform source with κ = t² (3 − 2t) and h = 1/4 (there h κ'/(1 − κ) =
    6ht / ((1 − t)(1 + 2t)) rises from 0 and passes 1 for t > 0.6, before the last step), then the mask source
    with κ = t² and h = 1/8."""
    from ..schedules import Sigma
    early = Sigma(lambda t: t ** 2 * (3 - 2 * t), lambda t: 6 * t * (1 - t), name="t^2 (3 − 2t)")
    (B1, d1, K1), (B2, d2, K2) = TOKEN_SIZES
    return [(B1, d1, K1, False, early, 0.25), (B2, d2, K2, True, _kappas()[0], 0.125)]


def _jump_times(B: int, h: float, seed: int) -> Tensor:
    """B float64 times in [0, 1 − h] (exact binary fractions, multiples of 1/64): an inner time first, then the
    first step (t = 0), the last step (t = 1 − h, so t + h = 1 exactly), the rest spread between."""
    g = torch.Generator().manual_seed(seed)
    top = round((1 - h) * 64)
    inner = torch.randint(1, top, (B - 2,), generator=g)
    return torch.cat([inner[:1], torch.tensor([0, top]), inner[1:]]).double() / 64


#: The message for a step drawn with one uniform from the Euler vector δ + h u (clamped or not).
ONE_UNIFORM = ("you drew each token with one uniform from the Euler vector δ + h·u; that vector is no distribution where "
               "h κ'/(1 − κ) > 1 (its stay probability 1 − h·rate drops below 0), and this step's convention is two "
               "uniforms: jump where u_jump < a, a = min(h κ'/(1 − κ), 1), to a draw from the posterior with u_draw")


def _check_euler_jump(answer):
    """Domain: t in [0, 1 − h], the first step (t = 0) and the last (t + h = 1) included, one t per sample; the
    uniform source (B, d, K) = (7, 10, 5), κ = t² (3 − 2t), h = 1/4 (h κ'/(1 − κ) > 1 on some rows), then the mask
    source (5, 12, 4) with 60 % masks, κ = t², h = 1/8; uniforms chosen away from the posterior's CDF steps."""
    for i, (B, d, K, mask, kappa, h) in enumerate(_jump_cases()):
        _check_euler_jump_once(answer, B, d, K, mask, kappa, h, seed=20 + i)
    return ("tokens jump with probability h κ'/(1 − κ) (at most 1, and 1 on the last step) to a draw from the "
            "posterior; the others stay.")


def _check_euler_jump_once(answer, B, d, K, mask, kappa, h, seed):
    model = StandInTokenNet(K, d, mask)
    g = torch.Generator().manual_seed(seed)
    x_t = torch.randint(0, K, (B, d), generator=g)
    if mask:   # about 60 % masks
        x_t = torch.where(torch.rand(B, d, generator=g) < 0.6, K, x_t)
    t = _jump_times(B, h, seed)
    u_jump = uniforms(B, d, seed + 1)
    last_rows = t + h >= 1
    u_jump[last_rows, 0] = 0.97            # the last step must draw even where h κ'/(1 − κ) < 0.97 (κ = t²)
    if mask:
        x_t[last_rows, 0] = K
    logits = model(x_t, t)
    posterior = logits.softmax(-1)
    model.times.clear()
    u_draw = uniforms(B, d, seed + 2)
    cdf = posterior.cumsum(-1)
    near = (cdf - u_draw[..., None]).abs().min(-1).values < 1e-6     # keep the draws away from the CDF's steps
    u_draw = torch.where(near, (u_draw + 1e-3) % 1, u_draw)
    where = (f" ({'mask' if mask else 'uniform'} source, B = {B}, d = {d}, K = {K}, κ = {kappa.name}, "
             f"h = {h}, one t per sequence)")
    got = _check_tokens_out(call_untouched(answer, model, x_t, t, h, kappa, u_jump, u_draw,
                                           names=("model", "x_t", "t", "h", "kappa", "u_jump", "u_draw")),
                            (B, d), "the next state", where)
    if not model.times:
        raise Mismatch("the step needs the posterior p_{1|t}( · | x_t) = model(x_t, t).softmax(-1): call the model")
    if not any(s.shape == t.shape and torch.allclose(s, t, atol=1e-6) for s in model.times):
        raise Mismatch("call the model at the current state and time, model(x_t, t), with t of shape (B,)" + where)
    expected = euler_jump(model, x_t, t, h, kappa, u_jump, u_draw)
    factor = kappa.derivative(t) / (1 - kappa(t))
    last = (t + h >= 1)[:, None]
    drawn = draw(posterior, u_draw)

    def step(a, last_rule=True, jump_if=lambda u, a: u < a, target=drawn):
        a = a[:, None] if a.dim() == 1 else a
        if last_rule:
            a = torch.where(last, torch.ones_like(a), a)
        return torch.where(jump_if(u_jump, a), target, x_t)

    cap = (h * factor).clamp(max=1)
    one_hot = torch.nn.functional.one_hot(x_t, posterior.shape[-1] + (1 if mask else 0)).double()
    full = torch.cat([posterior, torch.zeros(B, d, 1, dtype=torch.float64)], -1) if mask else posterior
    step_probs = one_hot + h * factor[:, None, None] * (full - one_hot)   # δ + h u: negative where h·rate > 1
    mistakes = [
        ("the jump probability of one step is h κ'_t / (1 − κ_t): you left out the step size h", step(factor.clamp(max=1))),
        ("the jump probability is h κ'_t / (1 − κ_t), the step size times the rate factor, not h alone", step(torch.full_like(t, h))),
        ("tokens with u_jump ≥ a must stay as they are: you redrew every token from the posterior", drawn),
        ("a token jumps where u_jump < a (with probability a), not where u_jump ≥ a", step(cap, jump_if=lambda u, a: u >= a)),
        ("the last step (t + h = 1) must land on the data: there a = 1, every token is drawn from the posterior; "
         "with κ = t² the formula gives a < 1 and would leave masks at t = 1", step(cap, last_rule=False)),
        ("this step uses a = h κ'/(1 − κ) (capped at 1), not 1 − exp(−h κ'/(1 − κ)), the jump probability of a "
         "rate held constant over the step", step(1 - torch.exp(-h * factor))),
        ("the jump target is a draw from the posterior with u_draw, the smallest k whose cumulative probability "
         "exceeds u_draw; you drew with u_jump", step(cap, target=draw(posterior, u_jump))),
        ("the jump target is a draw from the posterior (the inverse CDF at u_draw), not its most likely token",
         step(cap, target=posterior.argmax(-1))),
        ("the model returns logits: the posterior is model(x_t, t).softmax(-1)", step(cap, target=draw(logits, u_draw))),
        (ONE_UNIFORM, draw(step_probs, u_draw)),
        (ONE_UNIFORM, draw(step_probs.clamp(min=0) / step_probs.clamp(min=0).sum(-1, keepdim=True), u_draw)),
    ] + [(m_, step((h * kappa.derivative(s) / (1 - kappa(s))).clamp(max=1)))
         for m_, s in one_time_variants(lambda s: s, t)]
    reject_known(got, mistakes, expected, where)
    if not torch.equal(got, expected):
        wrong = (got != expected).sum().item()
        raise Mismatch(f"{wrong} of {B * d} tokens differ from where(u_jump < a, draw(posterior, u_draw), x_t) (with "
                       f"the uniforms given, not fresh ones){where}")


register("10.euler_jump", "one Euler step of the CTMC", euler_jump, _check_euler_jump)

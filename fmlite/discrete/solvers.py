"""The Euler sampler of the continuous-time Markov chain (CTMC) that the rate of the mixture path defines.

One step of size h from t, every position i independently (Gat et al. 2024, "Discrete Flow Matching",
sec. 6, eq. (24); Campbell et al. 2024, "Generative Flows on Discrete State-Spaces", sec. 3.3; Lipman et
al. 2024, "Flow Matching Guide and Code", sec. 7.5):

    P(x_{t+h}^i = y | x_t) = delta(y = x_t^i) + h u_t^i(y, x_t)
                          = (1 - a) delta(y = x_t^i) + a p_{1|t}(y | x_t),   a = h kappa'_t / (1 - kappa_t),

so a step is: with probability a, draw token i afresh from the posterior (it may land on the value it
had), else keep it. Uniforms `u_jump`, `u_draw` (B, d) can be passed in for deterministic checks.

**h * rate > 1.** When a > 1 the Euler formula is no probability (it gives the kept token a negative
mass); this sampler uses a = min(a, 1), a full draw from the posterior, i.e. the step jumps to kappa = 1
for that position. For kappa_t = t^n and h <= 1 - t it never happens (a <= h / (1 - t) <= 1); concave
schedules such as 1 - (1 - t)^2 reach it.

**The last step** (ending at t = 1) draws every token from the posterior (a = 1), as Meta's
`MixtureDiscreteEulerSolver` does: with kappa_t = t this is the Euler step itself (a = h / (1 - t) = 1),
with kappa_t = t^2 the Euler step would leave a share of masks in place.

With d = 1 and kappa_t = t the step is exact: p_{t+h} = (1 - a) p_t + a p_1 (tested at any step count).

Taught in notebook 10 (`notebooks/10_discrete_flows.ipynb`).
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from ..checks import check_count, check_time, check_time_value
from ..solvers import Solution
from .paths import MixturePath, check_uniforms
from .rates import check_posterior
from .tokens import check_tokens

__all__ = ["jump_probability", "draw_tokens", "euler_step", "sample_discrete"]


def _check_h(h) -> float:
    if isinstance(h, bool) or not isinstance(h, numbers.Real) or not 0 < float(h) <= 1:
        raise ValueError(f"the step size h must be a number in (0, 1], got {h!r}")
    return float(h)


def jump_probability(t, h: float, path: MixturePath) -> Tensor:
    """a = min(1, h kappa'_t / (1 - kappa_t)): the probability that a token is drawn afresh in one Euler step.

    Args:
        t: a number or (B,) times in [0, 1]. h: step size in (0, 1]. path: the `MixturePath`.

    Returns:
        (B,) float32 in [0, 1] (1 where kappa_t = 1 and where h kappa'/(1 - kappa) > 1: see the module docstring).

    Raises:
        ValueError: t outside [0, 1], h not in (0, 1]. TypeError: path not a MixturePath.
    """
    if not isinstance(path, MixturePath):
        raise TypeError(f"jump_probability needs a MixturePath, got {type(path).__name__}")
    h = _check_h(h)
    t = check_time(t).float()
    kappa, dkappa = path.kappa(t).float(), path.kappa.derivative(t).float()
    gap = 1 - kappa
    a = torch.where(gap > 0, h * dkappa / gap.clamp_min(1e-30), torch.ones_like(gap))
    return a.clamp(0, 1)   # min(a, 1): a > 1 is no probability (module docstring); a >= 0 as kappa' >= 0


def draw_tokens(probs: Tensor, u: Tensor) -> Tensor:
    """One draw per position from categorical probabilities by the inverse CDF: the smallest k with u < F(k).

    Args:
        probs: floating (B, d, K), >= 0, rows summing to 1 (they are renormalised by their sum, so a row
            summing to 1 - 1e-7 in float32 never yields an id with probability 0).
        u: uniforms (B, d) in [0, 1).

    Returns:
        int64 (B, d) in 0..K-1, never an id of probability 0.

    Raises:
        ValueError: probs not (B, d, K) probabilities, u of the wrong shape or outside [0, 1).
    """
    if not isinstance(probs, Tensor) or probs.dim() != 3:
        raise ValueError("draw_tokens: probs must be a floating tensor (B, d, K)")
    probs = check_posterior(probs, torch.zeros(probs.shape[:2], dtype=torch.long), probs.shape[2], "draw_tokens")
    u = check_uniforms(u, probs.shape[:2], "u")
    return _inverse_cdf(probs, torch.arange(len(probs), device=probs.device), u)


def _inverse_cdf(probs: Tensor, rows: Tensor, u: Tensor) -> Tensor:
    """Sample b draws from probs[rows[b]] (S, d, K) with uniforms u (B, d): one searchsorted in one sorted array.

    Row r of position i holds its normalised CDF shifted by r d + i, so the (S d K) values increase through the
    whole table and u + r d + i falls inside its own row; nothing of size B x K is built."""
    S, d, K = probs.shape
    cdf = probs.double().cumsum(-1)
    cdf = cdf / cdf[..., -1:]                                 # last entry exactly 1
    offset = torch.arange(S * d, dtype=torch.float64, device=probs.device).view(S, d, 1)
    which = rows[:, None] * d + torch.arange(d, device=probs.device)          # (B, d)
    index = torch.searchsorted((cdf + offset).flatten(), (which.double() + u.double()).flatten(), right=True)
    return (index.view(u.shape) - which * K).clamp(0, K - 1)


def euler_step(x_t: Tensor, probs: Tensor, t, h: float, path: MixturePath, u_jump: Tensor | None = None,
               u_draw: Tensor | None = None, last: bool = False) -> Tensor:
    """One CTMC Euler step: x_{t+h}^i = draw from p_{1|t}(. | x_t) if u_jump^i < a, else x_t^i.

    Args:
        x_t: int64 (B, d) (0..K-1, or K for the mask). probs: posterior (B, d, K) (`model(x_t, t).softmax(-1)`).
        t: a number or (B,) in [0, 1]. h: step size in (0, 1]. path: the `MixturePath`.
        u_jump, u_draw: uniforms (B, d) in [0, 1); default torch.rand.
        last: True for the step that ends at t = 1: a = 1, every token drawn from the posterior.

    Returns:
        int64 (B, d).

    Raises:
        ValueError: bad tokens, posterior, t, h or uniforms (each names what was wrong).
    """
    if not isinstance(path, MixturePath):
        raise TypeError(f"euler_step needs a MixturePath, got {type(path).__name__}")
    x_t = check_tokens(x_t, path.vocab_size, path.mask_token, "x_t", "euler_step")
    probs = check_posterior(probs, x_t, path.vocab_size, "euler_step")
    t = check_time(t, x_t.shape[0])
    u_jump = torch.rand(x_t.shape) if u_jump is None else check_uniforms(u_jump, x_t.shape, "u_jump")
    u_draw = torch.rand(x_t.shape) if u_draw is None else check_uniforms(u_draw, x_t.shape, "u_draw")
    a = torch.ones_like(t) if last else jump_probability(t, h, path)
    fresh = draw_tokens(probs, u_draw)
    return torch.where(u_jump.to(x_t.device) < a.to(x_t.device)[:, None], fresh, x_t)


def _distinct(x: Tensor, states: int) -> tuple[Tensor, Tensor]:
    """(distinct rows of x, index of each row of x among them) when that halves the work, else (x, arange).
    Rows are told apart by one int64 key (x^1 + x^2 S + ... with S ids per token), so only short sequences
    (S^d < 2^62) are grouped; torch.unique(dim=0) is many times slower than unique on keys."""
    d = x.shape[1]
    if len(x) > 1000 and d * math.log2(states) < 62:
        weights = states ** torch.arange(d, device=x.device)
        keys, rows = torch.unique((x * weights).sum(1), return_inverse=True)
        if 2 * len(keys) <= len(x):
            first = torch.empty(len(keys), dtype=torch.long, device=x.device)
            first[rows] = torch.arange(len(x), device=x.device)   # any row of x with that key
            return x[first], rows
    return x, torch.arange(len(x), device=x.device)


def sample_discrete(model, x_0: Tensor, steps: int, path: MixturePath, t_start: float = 0.0,
                    return_trajectory: bool = False, generator: torch.Generator | None = None) -> Solution:
    """Sample by `steps` CTMC Euler steps from t_start to 1 with a token network's posterior.

    Args:
        model: callable model(x, t) -> logits (B, d, K) (a `TokenNet`, an `ExactPosterior`); softmax taken here.
        x_0: int64 (B, d) tokens at t_start (a draw of the path's source at t_start = 0).
        steps: a whole number >= 1; h = (1 - t_start) / steps; NFE = steps.
        path: the `MixturePath` the model was trained on. t_start: in [0, 1).
        return_trajectory: keep every state, (steps + 1, B, d).
        generator: for the uniforms of the steps (None: torch's global generator).

    Returns:
        `fmlite.solvers.Solution(x (B, d) int64, trajectory or None, times (steps + 1,), nfe=steps)`; the last step
        draws every token from the posterior (no masks remain). The posterior depends on (x, t) only, so each
        step evaluates the model once per distinct sequence of the batch when that halves the work (a million
        2-D checkerboard samples hold at most 129^2 distinct states); nfe counts steps, as for one sequence.

    Raises:
        ValueError: steps <= 0 or not whole, t_start outside [0, 1), bad tokens, a model output that is not
            (B, d, K) or not finite.
        TypeError: path not a MixturePath, model not callable.
    """
    if not isinstance(path, MixturePath):
        raise TypeError(f"sample_discrete needs a MixturePath, got {type(path).__name__}")
    if not callable(model):
        raise TypeError(f"model must be callable as model(x, t), got {type(model).__name__}")
    steps = check_count(steps, "steps")
    t_start = check_time_value(t_start, "t_start")
    if t_start >= 1:
        raise ValueError("t_start must be < 1: sampling runs from t_start to t = 1")
    x = check_tokens(x_0, path.vocab_size, path.mask_token, "x_0", "sample_discrete")
    times = torch.linspace(t_start, 1.0, steps + 1)
    h = (1.0 - t_start) / steps
    trajectory = [x] if return_trajectory else None
    with torch.no_grad():
        for k in range(steps):
            states, rows = _distinct(x, path.source.states)
            logits = model(states, times[k].expand(len(states)))
            if not isinstance(logits, Tensor) or tuple(logits.shape) != (*states.shape, path.vocab_size):
                raise ValueError(f"model(x, t) must return logits of shape {(*states.shape, path.vocab_size)}, got "
                                 f"{tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__}")
            top = logits.amax()                                      # one reduction: NaN propagates; -inf is allowed
            if bool(torch.isnan(top)) or bool(top == float("inf")):
                raise ValueError("model(x, t) returned NaN or inf logits: did training diverge?")
            u_jump = torch.rand(x.shape, generator=generator).to(x.device)
            u_draw = torch.rand(x.shape, generator=generator).to(x.device)
            a = 1.0 if k == steps - 1 else float(jump_probability(times[k], h, path)[0])
            fresh = _inverse_cdf(logits.softmax(-1), rows, u_draw)
            x = torch.where(u_jump < a, fresh, x)
            if return_trajectory:
                trajectory.append(x)
    return Solution(x=x, trajectory=torch.stack(trajectory) if return_trajectory else None, times=times, nfe=steps)

"""Discrete flow matching: tokens instead of points (notebook 10, `notebooks/10_discrete_flows.ipynb`).

Rooms mirror the top-level package:
- `tokens`: the mask and uniform sources, token checks, quantising 2-D points and digits.
- `datasets`: the checkerboard on a 128 x 128 grid and the quantised digits as tokens.
- `paths`: kappa_t schedules (`fmlite.schedules.Schedule` objects) and the mixture path.
- `exact`: the exact posterior p_{1|t} of a finite data set.
- `rates`: the rate (probability velocity) built from a posterior.
- `losses`: the cross-entropy loss for `fmlite.train.train(model, None, data, steps, loss=...)`.
- `solvers`: the CTMC Euler sampler, returning `fmlite.solvers.Solution`.
- `models`: `TokenNet`, called model(x, t) -> logits (B, d, K).

Sources: Gat et al. 2024, "Discrete Flow Matching"; Campbell et al. 2024, "Generative Flows on Discrete
State-Spaces"; Lipman et al. 2024, "Flow Matching Guide and Code", sec. 7. t = 0 source, t = 1 data.
"""
from .datasets import checkerboard_probabilities, checkerboard_tokens, digit_tokens
from .exact import ExactPosterior, all_weights_zero, data_weights, exact_posterior, in_data
from .losses import DiscreteFlowLoss, posterior_cross_entropy
from .models import TokenNet
from .paths import (KAPPA_SCHEDULES, DiscretePathSample, LinearKappa, MixturePath, PowerKappa, check_kappa,
                    kappa_schedule)
from .rates import check_posterior, rate
from .solvers import draw_tokens, euler_step, jump_probability, sample_discrete
from .tokens import (SOURCES, MaskSource, UniformSource, check_tokens, check_vocab, digits_to_tokens, make_source,
                     points_to_tokens, tokens_to_digits, tokens_to_points)

__all__ = ["checkerboard_probabilities", "checkerboard_tokens", "digit_tokens", "ExactPosterior", "all_weights_zero",
           "data_weights", "exact_posterior", "in_data", "DiscreteFlowLoss", "posterior_cross_entropy", "TokenNet",
           "KAPPA_SCHEDULES", "DiscretePathSample", "LinearKappa", "MixturePath", "PowerKappa", "check_kappa",
           "kappa_schedule", "check_posterior", "rate", "draw_tokens", "euler_step", "jump_probability",
           "sample_discrete", "SOURCES", "MaskSource", "UniformSource", "check_tokens", "check_vocab",
           "digits_to_tokens", "make_source", "points_to_tokens", "tokens_to_digits", "tokens_to_points",
           "path_of"]


def path_of(model) -> MixturePath:
    """The `MixturePath` a shipped token network was trained on, from its checkpoint's meta ("source", "kappa").

    Raises:
        ValueError: the model has no `meta` with "source" and "kappa" (it was not loaded by `load_pretrained`).
    """
    meta = getattr(model, "meta", None) or {}
    if "source" not in meta or "kappa" not in meta:
        raise ValueError("path_of needs a token network loaded by fmlite.load_pretrained (its meta names the source "
                         "and kappa); build MixturePath(make_source(name, K), kappa) yourself otherwise")
    return MixturePath(make_source(meta["source"], model.vocab_size), meta["kappa"])

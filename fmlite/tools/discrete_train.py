"""Recipes and the `train` command branch for the shipped token networks of notebook 10 (discrete flows).

    python -m fmlite train discrete_checkerboard_mask --force     # data/discrete_checkerboard_mask.pt
    python -m fmlite train discrete_checkerboard_uniform --force  # data/discrete_checkerboard_uniform.pt
    python -m fmlite train discrete_digits --force                # data/discrete_digits.pt

Options: --steps, --batch-size, --lr, --ema (0 for none), --seed, --device, --out, --force, --no-progress;
the others of `train` are refused. `FAMILY` is this module's entry in the registry of `fmlite.tools.cli_train`.
Quality recorded in the checkpoint's meta: the checkerboard's total-variation distance of 100,000 samples
(64 Euler steps) to the exact grid law, next to the data-vs-data floor at that size; for the digits the
classifier scores of 1,000 samples (`fmlite.digit_metrics`) next to the equally quantised real digits.
"""
from __future__ import annotations

import sys

from .train_context import Family, TrainContext

__all__ = ["DISCRETE_RECIPES", "train_discrete", "run", "FAMILY", "checkerboard_tv", "discrete_digit_quality"]

_CHECKER = dict(data="checkerboard", bins=128, embed=128, hidden=128, layers=3, steps=3000, batch_size=4096, lr=1e-3,
                ema=0.0, seed=0)
#: name -> recipe: data, sizes of the TokenNet, source, kappa and the optimiser settings.
DISCRETE_RECIPES = {
    "discrete_checkerboard_mask": dict(_CHECKER, source="mask", kappa="quadratic"),
    "discrete_checkerboard_uniform": dict(_CHECKER, source="uniform", kappa="quadratic"),
    "discrete_digits": dict(data="digits", levels=4, embed=8, hidden=192, layers=3, steps=6000, batch_size=128,
                            lr=1e-3, ema=0.999, seed=0, source="mask", kappa="linear"),
}
_OPTIONS = ("steps", "batch_size", "lr", "ema", "seed")


def train_discrete(name: str, device: str = "auto", progress: bool = True, **overrides):
    """Train the token network `name` of `DISCRETE_RECIPES` (overrides: steps, batch_size, lr, ema, seed).

    Returns:
        (model, history, recipe); the model is the EMA copy when ema > 0.
    """
    import torch

    from ..discrete import DiscreteFlowLoss, MixturePath, TokenNet, checkerboard_tokens, digit_tokens, make_source
    from ..train import train
    recipe = {**DISCRETE_RECIPES[name], **overrides}
    if recipe["data"] == "checkerboard":
        vocab, length = recipe["bins"], 2

        def sample_data(n):
            return checkerboard_tokens(n, recipe["bins"])
    else:
        data = digit_tokens(recipe["levels"])
        vocab, length = recipe["levels"], data.shape[1]

        def sample_data(n):
            return data[torch.randint(len(data), (n,))]
    path = MixturePath(make_source(recipe["source"], vocab), recipe["kappa"])
    torch.manual_seed(recipe["seed"])
    model = TokenNet(vocab, length, mask=recipe["source"] == "mask", embed=recipe["embed"], hidden=recipe["hidden"],
                     layers=recipe["layers"])
    history = train(model, None, sample_data, recipe["steps"], batch_size=recipe["batch_size"], lr=recipe["lr"],
                    loss=DiscreteFlowLoss(path), seed=recipe["seed"], device=device, progress=progress,
                    ema=recipe["ema"] or None)
    if history.ema_model is not None:
        model = history.ema_model
    return model.cpu().eval(), history, recipe


def checkerboard_tv(model, path, n: int = 100_000, steps: int = 64, seed: int = 1, chunk: int = 100_000) -> dict:
    """TV distance of n samples (`steps` Euler steps) to the exact checkerboard grid law, and the floor: the TV of
    n fresh data tokens to the same law."""
    import torch

    from ..discrete import checkerboard_probabilities, checkerboard_tokens, sample_discrete
    bins = path.vocab_size
    law = checkerboard_probabilities(bins)
    g = torch.Generator().manual_seed(seed)
    counts = torch.zeros(bins * bins, dtype=torch.float64)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        x = sample_discrete(model, path.source.sample(m, 2, g), steps, path, generator=g).x
        counts += torch.bincount(x[:, 0] * bins + x[:, 1], minlength=bins * bins).double()
    data = checkerboard_tokens(n, bins, seed=seed)
    floor = torch.bincount(data[:, 0] * bins + data[:, 1], minlength=bins * bins).double() / n
    tv = 0.5 * (counts / n - law.flatten()).abs().sum()
    return dict(tv=round(float(tv), 4), floor=round(float(0.5 * (floor - law.flatten()).abs().sum()), 4),
                samples=n, steps=steps)


def discrete_digit_quality(model, path, levels: int, n: int = 1000, steps: int = 64, seed: int = 1) -> dict:
    """Classifier confidence, class shares and nearest-neighbour distance of n samples, next to the real digits
    quantised the same way (`fmlite.digit_metrics.digit_scores`)."""
    import torch

    from ..datasets import load_digits
    from ..digit_metrics import digit_probabilities, digit_scores
    from ..discrete import digits_to_tokens, sample_discrete, tokens_to_digits
    g = torch.Generator().manual_seed(seed)
    x = sample_discrete(model, path.source.sample(n, model.length, g), steps, path, generator=g).x
    images = tokens_to_digits(x, levels)
    real = tokens_to_digits(digits_to_tokens(load_digits()[0], levels), levels)
    s, r = digit_scores(images), digit_scores(real)
    shares = torch.bincount(digit_probabilities(images).argmax(1), minlength=10).double() / n
    return dict(samples=n, steps=steps, confidence=round(s.confidence, 3), real_confidence=round(r.confidence, 3),
                ratio=round(s.confidence / r.confidence, 3), class_shares=[round(float(v), 3) for v in shares],
                nn_distance=round(s.nn_distance, 3), real_nn_distance=round(r.nn_distance, 3))


def run(ctx: TrainContext) -> int:
    """`python -m fmlite train discrete_*`: the recipe with the user's options, quality in the meta, saved to the
    output. As before the family registry: every given option is range-checked and the output checked before the
    options that do not apply to a token network (--width, --blocks, --label-dropout) are refused."""
    import torch

    from ..checkpoints import save_checkpoint
    from ..discrete import MixturePath, make_source
    ctx.check_ranges()
    out = ctx.output()
    ctx.refuse_others(_OPTIONS)
    model, history, recipe = train_discrete(ctx.name, **ctx.train_kwargs(), **ctx.given())
    meta = dict(command=ctx.command, **recipe, final_loss=ctx.final_loss(history.loss),
                loss=torch.tensor(history.loss, dtype=torch.float32), **ctx.environment(history))
    meta["steps"] = history.steps
    if history.interrupted:
        return ctx.interrupted(model, meta, history, recipe["steps"])
    path = MixturePath(make_source(recipe["source"], model.vocab_size), recipe["kappa"])
    if recipe["data"] == "checkerboard":
        meta["quality"] = checkerboard_tv(model, path)
    else:
        meta["quality"] = discrete_digit_quality(model, path, recipe["levels"])
    print(f"trained {history.steps} steps in {history.seconds:.1f} s; quality {meta['quality']}", file=sys.stdout)
    save_checkpoint(out, model, **meta)
    print(f"saved {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


#: The registry entry of `python -m fmlite train` (fmlite.tools.cli_train).
FAMILY = Family(tuple(DISCRETE_RECIPES), "'discrete_checkerboard_mask', 'discrete_checkerboard_uniform', "
                "'discrete_digits' (notebook 10's token networks; options as for flow)", run)

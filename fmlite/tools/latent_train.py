"""Recipes and the `train` branch for notebook 11's shipped models: autoencoders of the digits and latent flows.

    python -m fmlite train digits_vae --force        # Autoencoder(latent_dim=8, variational=True): data/digits_vae.pt
    python -m fmlite train latent_flow_vae --force     # MLP(dim=8, num_classes=10) on its scaled latents

A latent flow's recipe names its autoencoder (`LATENT_MODELS[name]["autoencoder"]`), which is loaded from
data/ (rebuild it first). Autoencoders train with `fmlite.autoencoder.AutoencoderLoss` through
`fmlite.train.train(model, None, sample_data, steps, loss=...)`; latent flows train with plain flow matching
on the straight path (`train(flow, LinearPath(), latent_data(ae, images, labels), ...)`, label dropout for
classifier-free guidance). `FAMILY` is this module's entry in the registry of `python -m fmlite train`
(`fmlite.tools.cli_train`).
"""
from __future__ import annotations

import sys
import time

import torch
from torch import nn

from ..autoencoder import Autoencoder, AutoencoderLoss
from ..latent_flows import latent_data
from ..models import MLP
from ..paths import LinearPath
from ..train import History, train
from .train_context import Family, TrainContext

__all__ = ["AUTOENCODER_RECIPE", "LATENT_FLOW_RECIPE", "LATENT_MODELS", "train_autoencoder", "train_latent_flow",
           "cmd_latent", "run", "FAMILY"]

#: Defaults of every autoencoder recipe (`train_autoencoder`).
AUTOENCODER_RECIPE = dict(latent_dim=8, hidden=256, layers=2, variational=False, beta=0.0, steps=3000,
                          batch_size=128, lr=2e-3, seed=0)

#: Defaults of every latent flow recipe (`train_latent_flow`).
LATENT_FLOW_RECIPE = dict(hidden=256, layers=3, steps=4000, batch_size=256, lr=2e-3, label_dropout=0.2,
                          ema=0.995, seed=0)

#: Shipped name -> recipe changes (autoencoders: keys of AUTOENCODER_RECIPE; flows: "autoencoder" + flow keys).
LATENT_MODELS = {
    "digits_ae": dict(kind="autoencoder"),
    "digits_vae": dict(kind="autoencoder", variational=True, beta=0.05),
    "digits_vae2d": dict(kind="autoencoder", latent_dim=2, variational=True, beta=0.05),
    "latent_flow_ae": dict(kind="flow", autoencoder="digits_ae"),
    "latent_flow_vae": dict(kind="flow", autoencoder="digits_vae"),
    "latent_flow_vae2d": dict(kind="flow", autoencoder="digits_vae2d"),
}


def _recipe(base: dict, overrides: dict) -> dict:
    unknown = set(overrides) - set(base)
    if unknown:
        raise ValueError(f"unknown recipe keys {sorted(unknown)}; known: {sorted(base)}")
    return {**base, **overrides}


def train_autoencoder(images, device: str = "auto", progress: bool = True, **overrides) -> tuple[Autoencoder, History]:
    """Train an `Autoencoder` on images (N, 1, 8, 8) in [-1, 1], then fit its latent scale on all of them.

    Keyword arguments override `AUTOENCODER_RECIPE`. Returns (model in eval mode on the CPU, History).

    Raises:
        ValueError: unknown recipe key, or what `Autoencoder` / `train` refuse.
    """
    r = _recipe(AUTOENCODER_RECIPE, overrides)
    torch.manual_seed(r["seed"])
    model = Autoencoder(latent_dim=r["latent_dim"], hidden=r["hidden"], layers=r["layers"],
                        variational=r["variational"])
    history = train(model, None, lambda n: images[torch.randint(0, len(images), (n,))], r["steps"],
                    batch_size=r["batch_size"], lr=r["lr"], seed=r["seed"], device=device, progress=progress,
                    lr_decay="cosine", loss=AutoencoderLoss(r["beta"]))
    model = model.cpu().eval()
    model.fit_latent_scale(images)
    return model, history


def train_latent_flow(autoencoder: Autoencoder, images, labels=None, device: str = "auto", progress: bool = True,
                      **overrides) -> tuple[nn.Module, History]:
    """Train a class-conditional `MLP(dim=k, num_classes=10)` by flow matching on the autoencoder's scaled latents.

    Keyword arguments override `LATENT_FLOW_RECIPE`. Returns (the EMA model if ema, in eval mode on the CPU,
    History).
    """
    r = _recipe(LATENT_FLOW_RECIPE, overrides)
    torch.manual_seed(r["seed"])
    num_classes = None if labels is None else int(labels.max()) + 1
    flow = MLP(dim=autoencoder.latent_dim, hidden=r["hidden"], layers=r["layers"], num_classes=num_classes)
    history = train(flow, LinearPath(), latent_data(autoencoder, images, labels), r["steps"],
                    batch_size=r["batch_size"], lr=r["lr"], label_dropout=r["label_dropout"], seed=r["seed"],
                    device=device, ema=r["ema"] or None, progress=progress, lr_decay="cosine")
    if history.ema_model is not None:
        flow = history.ema_model
    return flow.cpu().eval(), history


def _quality(flow, ae) -> dict:
    """Digit scores of 1,000 decoded samples (100 per digit), midpoint 10 steps, seed 1, at w = 0, 1, 2."""
    from ..digit_metrics import digit_scores
    from ..latent_flows import sample_latent_images
    labels = torch.arange(10).repeat_interleave(100)
    quality = {}
    for w in (0.0, 1.0, 2.0):
        x = sample_latent_images(flow, ae, 1000, None if w == 0 else labels, w=1.0 if w == 0 else w, seed=1)
        s = digit_scores(x, None if w == 0 else labels)
        quality[f"w={w:g}"] = dict(confidence=round(s.confidence, 3), nn_distance=round(s.nn_distance, 3),
                                   spread=round(s.spread, 3),
                                   agreement=None if s.agreement is None else round(s.agreement, 3))
        print(f"  w = {w:g} (midpoint, 10 steps): {s.summary()}")
    return quality


def cmd_latent(name: str, values: dict, out, command: str, device: str = "auto", progress: bool = True) -> int:
    """Train the shipped model `name` (a key of LATENT_MODELS) with recipe overrides `values`; save it to `out`.

    Returns 0, or 130 after Ctrl-C (nothing written)."""
    from ..checkpoints import save_checkpoint
    from ..datasets import load_digits
    from ..digit_metrics import digit_scores
    from ..pretrained import load_pretrained
    spec = dict(LATENT_MODELS[name])
    kind = spec.pop("kind")
    images, labels = load_digits()
    meta = dict(data="digits", command=command, date=time.strftime("%Y-%m-%d"), torch=str(torch.__version__),
                threads=torch.get_num_threads())
    if kind == "autoencoder":
        recipe = _recipe(AUTOENCODER_RECIPE, {**spec, **values})
        model, history = train_autoencoder(images, device=device, progress=progress, **recipe)
        if history.interrupted:
            print(f"stopped by Ctrl-C: nothing written to {out}", file=sys.stderr)
            return 130
        with torch.no_grad():
            s = digit_scores(model(images).clamp(-1, 1), labels)
            mse = float(((model(images) - images) ** 2).flatten(1).sum(1).mean())
        meta.update(recipe, reconstruction_sse=round(mse, 3), reconstruction_quality=dict(
            confidence=round(s.confidence, 3), agreement=round(s.agreement, 3), spread=round(s.spread, 3),
            nn_distance=round(s.nn_distance, 3)), latent_scale=model.latent_scale.clone())
        print(f"  decoded real latents: {s.summary()}; reconstruction error {mse:.2f} (sum over 64 pixels)")
    else:
        ae_name = spec.pop("autoencoder")
        recipe = _recipe(LATENT_FLOW_RECIPE, {**spec, **values})
        ae = load_pretrained(ae_name)
        model, history = train_latent_flow(ae, images, labels, device=device, progress=progress, **recipe)
        if history.interrupted:
            print(f"stopped by Ctrl-C: nothing written to {out}", file=sys.stderr)
            return 130
        meta.update(recipe, autoencoder=ae_name, path="LinearPath()", quality=_quality(model, ae))
    tail = history.loss[-100:]
    meta.update(steps=history.steps, train_seconds=round(history.seconds, 1), device=history.device,
                final_loss=round(sum(tail) / len(tail), 3), loss=torch.tensor(history.loss, dtype=torch.float32))
    save_checkpoint(out, model, **meta)
    print(f"trained {history.steps} steps in {history.seconds:.1f} s; saved {out} ({out.stat().st_size / 1e3:.0f} kB)")
    return 0


#: Options of `python -m fmlite train` each kind accepts (dest names); the others are refused.
_OPTIONS = {"autoencoder": ("steps", "batch_size", "lr", "seed"),
            "flow": ("steps", "batch_size", "lr", "label_dropout", "ema", "seed")}


def run(ctx: TrainContext) -> int:
    """`python -m fmlite train NAME` for a name of LATENT_MODELS: check the options and the output, then train.

    Options that do not apply (--width, --blocks; --label-dropout and --ema for an autoencoder) are refused, as
    are out-of-range values, on one line with exit status 2; a latent flow also needs its autoencoder in data/."""
    kind = LATENT_MODELS[ctx.name]["kind"]
    allowed = _OPTIONS[kind]
    given = ctx.given()
    refused = sorted(set(given) - set(allowed))
    if refused:
        ctx.fail(f"{', '.join('--' + k.replace('_', '-') for k in refused)} do not apply to {ctx.name!r} "
                 f"(it takes {', '.join('--' + k.replace('_', '-') for k in allowed)})")
    ctx.check_ranges()
    out = ctx.output()
    if kind == "flow":
        from ..pretrained import data_dir
        ae_file = data_dir() / f"{LATENT_MODELS[ctx.name]['autoencoder']}.pt"
        if not ae_file.exists():
            ctx.fail(f"{ctx.name} needs its autoencoder {ae_file}: build it first with "
                     f"python -m fmlite train {ae_file.stem}")
    try:
        return cmd_latent(ctx.name, given, out, ctx.command, **ctx.train_kwargs())
    except KeyboardInterrupt:
        print(f"stopped by Ctrl-C before a model was saved: nothing written to {out}", file=sys.stderr)
        return 130


#: The registry entry of `python -m fmlite train` (fmlite.tools.cli_train).
FAMILY = Family(tuple(LATENT_MODELS), "notebook 11's autoencoders and latent flows (digits_ae, digits_vae, "
                "digits_vae2d, latent_flow_ae, latent_flow_vae, latent_flow_vae2d)", run)

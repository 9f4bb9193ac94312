"""fmlite: flow matching for 2-D point clouds and small images, small enough to read.

Modules (one concept each). The maths and its core, the top-level modules: checks, schedules
(sigma(t), public in paths), paths, couplings, datasets, models, losses (public in train), train,
optim, batches, files, checkpoints, solvers (ODE and SDE samplers), exact, gaussian_mixture,
gaussian_ot, metrics, digit_metrics, likelihood, scores (velocity <-> score <-> x0_hat), reflow,
flow_maps (flow maps, average velocity, the MeanFlow target, the k-step flow-map sampler) and flow_map_losses
(MeanFlow and distillation),
autoencoder and latent_flows (notebook 11), the sub-package discrete (tokens, notebook 10),
pretrained (shipped models: `load_pretrained`, `sample_images`). Teaching sub-packages: plotting,
widgets and exercises (one module per notebook). Tooling sub-package: `fmlite.tools` (cli, recipes,
site, doctor, animate, solutions; `python -m fmlite`). Imports go one way: tooling -> teaching ->
maths; the maths imports neither (tests/test_structure.py). README's module table names each
public name's one home. Time runs from noise (t = 0) to data (t = 1).

The names below are imported on first use (module `__getattr__`, PEP 562), so that
`import fmlite.paths` loads neither scipy nor the networks.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["save_checkpoint", "load_checkpoint", "load_pretrained", "sample_images", "Autoencoder",
           "sample_latent_images", "__version__"]

#: Public name -> the module that defines it.
_LAZY = {"save_checkpoint": "checkpoints", "load_checkpoint": "checkpoints", "load_pretrained": "pretrained",
         "sample_images": "pretrained", "Autoencoder": "autoencoder", "sample_latent_images": "latent_flows"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

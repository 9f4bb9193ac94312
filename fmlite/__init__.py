"""fmlite: flow matching for 2-D point clouds and small images, small enough to read.

Modules (one concept each). The maths: checks, schedules (sigma(t)), paths, couplings, datasets,
models, train, solvers, exact (with gaussian_mixture), metrics (digit_metrics for the digits),
checkpoints; beside the solvers: likelihood (change of variables, divergences), scores (velocity,
score and x0_hat conversions, the SDE sampler), reflow, gaussian_ot (the Gaussian-to-Gaussian
closed form). Around it: recipes (training runs), pretrained (shipped models, sampling), cli
(`python -m fmlite`: train, site, doctor, animate, solutions), site, doctor, animate, solutions,
plotting, widgets (one module per notebook), exercises (one module per notebook).
Time runs from noise (t = 0) to data (t = 1).

The names below are imported on first use (module `__getattr__`, PEP 562), so that
`import fmlite.paths` loads neither scipy nor the networks.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["save_checkpoint", "load_checkpoint", "load_pretrained", "sample_images", "__version__"]

#: Public name -> the module that defines it.
_LAZY = {"save_checkpoint": "checkpoints", "load_checkpoint": "checkpoints", "load_pretrained": "pretrained",
         "sample_images": "pretrained"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

"""fmlite: flow matching for 2-D point clouds and small images, small enough to read.

Modules (one concept each). The maths: checks, schedules (sigma(t)), paths, couplings, datasets, models, train,
solvers, exact, metrics (digit_metrics for the digits), checkpoints. Around it: recipes
(training runs), pretrained (shipped models, sampling), cli (`python -m fmlite`), plotting,
widgets, exercises. Time runs from noise (t = 0) to data (t = 1).
`python -m fmlite train digits` rebuilds the shipped checkpoint (see data/README.md).

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

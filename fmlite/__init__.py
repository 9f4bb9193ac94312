"""fmlite: flow matching for 2-D point clouds and small images, small enough to read.

Modules (one concept each): paths, couplings, datasets, models, train, solvers,
exact, metrics, checkpoints, pretrained, plotting, widgets. Time runs from noise (t = 0) to data (t = 1).
`python -m fmlite train digits` rebuilds the shipped checkpoint (see data/README.md).
"""
from .checkpoints import load_checkpoint, save_checkpoint
from .pretrained import load_pretrained, sample_images

__version__ = "0.1.0"
__all__ = ["save_checkpoint", "load_checkpoint", "load_pretrained", "sample_images", "__version__"]

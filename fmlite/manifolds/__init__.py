"""Flow matching on curved spaces: the sphere S² and the flat torus T² (Chen & Lipman 2024).

Rooms mirror the top-level package: `spaces` (Sphere, FlatTorus: exp_map, log_map, distance,
project_tangent, uniform sampling, membership), `paths` (the geodesic conditional path and its target),
`exact` (closed-form conditional densities and the exact marginal field of a finite data set), `losses`
(the loss in the tangent plane, for `fmlite.train.train(..., loss=...)`), `models` (tangent-projected
MLPs), `solvers` (Riemannian Euler and midpoint, the naive step), `datasets` (vMF mixtures, the torus
checkerboard, wrapped Gaussians) and `metrics` (energy distance with a negative-type metric).
Time runs from the uniform source (t = 0) to the data (t = 1).

Source: Chen & Lipman 2024, "Flow Matching on General Geometries" (ICLR).
Taught in notebook 12 (`notebooks/12_curved_spaces.ipynb`).
"""
from __future__ import annotations

from .datasets import (MANIFOLD_DATASETS, VMF_CENTRES, VMF_KAPPA, sample_manifold_data, sample_torus_checkerboard,
                       sample_vmf, sample_vmf_mixture, sample_wrapped_gaussians)
from .exact import conditional_density, marginal_density, marginal_velocity
from .losses import GeodesicFlowMatchingLoss
from .metrics import manifold_energy_distance, pairwise_distance
from .models import ManifoldMLP, torus_features
from .paths import LINEAR_KAPPA, GeodesicPath
from .solvers import MANIFOLD_METHODS, integrate_manifold
from .spaces import SPACES, FlatTorus, Manifold, Sphere, get_space

__all__ = ["Manifold", "Sphere", "FlatTorus", "get_space", "SPACES", "GeodesicPath", "LINEAR_KAPPA",
           "conditional_density", "marginal_density", "marginal_velocity", "GeodesicFlowMatchingLoss",
           "ManifoldMLP", "torus_features", "integrate_manifold", "MANIFOLD_METHODS", "sample_vmf",
           "sample_vmf_mixture", "sample_torus_checkerboard", "sample_wrapped_gaussians", "sample_manifold_data",
           "MANIFOLD_DATASETS", "VMF_CENTRES", "VMF_KAPPA", "manifold_energy_distance", "pairwise_distance"]

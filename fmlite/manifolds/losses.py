"""The Riemannian flow matching loss: the squared error measured in the tangent plane at x_t.

    L(θ) = E_{t, x_0, x_1} | P_{x_t}(v_θ(x_t, t)) - u_t(x_t | x_1) |²,   x_0 ~ uniform, t ~ U(0, 1),

with x_t and u_t from `GeodesicPath.sample`. On the sphere and the flat torus the metric is the one of the
ambient coordinates (R³, resp. the two angles), so |.|² is the plain sum of squares of the tangent vector;
P_{x_t} removes a normal component the network may output, which carries no meaning on the manifold.
As in flat space, regressing on the conditional target has the gradient of regressing on the marginal field.

Source: Chen & Lipman 2024, "Flow Matching on General Geometries", eq. (9) (RCFM loss) and Theorem 3.1.

Taught in notebook 12 (`notebooks/12_curved_spaces.ipynb`).
"""
from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from ..batches import Batch
from ..checks import model_dtype
from ..losses import sample_time
from .paths import GeodesicPath
from .spaces import Manifold, get_space

__all__ = ["GeodesicFlowMatchingLoss"]


class GeodesicFlowMatchingLoss:
    """A `fmlite.losses.Loss` for `train(model, None, sample_data, steps, loss=GeodesicFlowMatchingLoss(space))`.

    Per call (`loss(model, batch)`): x_0 = space.sample_uniform(B) (torch's global generator), t ~ U(0, 1)
    (`fmlite.losses.sample_time`), x_t and u_t from `path.sample(x_0, batch.x_1, t)`, then
    mean_i |P_{x_t}(model(x_t, t)) - u_t|² (sum over coordinates, mean over the batch): a scalar with a
    gradient path to the model.

    Args:
        space: `Sphere()`, `FlatTorus()`, "sphere" or "torus".
        path: a `GeodesicPath` on the same space (default `GeodesicPath(space)`, κ_t = t).

    Raises:
        TypeError / ValueError: on construction, a bad space or a path that is not a GeodesicPath on that space;
            on a call, data x_1 off the space (`check_point`), a model output of the wrong shape, labels
            (this loss trains unconditional models).

    Source: Chen & Lipman 2024, eq. (9).
    """

    tokens: ClassVar[bool] = False

    def __init__(self, space: Manifold | str = "sphere", path: GeodesicPath | None = None):
        self.space = get_space(space)
        path = GeodesicPath(self.space) if path is None else path
        if not isinstance(path, GeodesicPath) or path.space != self.space:
            raise TypeError(f"path must be a GeodesicPath on {self.space!r}, got {path!r}")
        self.path = path

    def __call__(self, model: nn.Module, batch: Batch) -> Tensor:
        if batch.y is not None:
            raise ValueError("GeodesicFlowMatchingLoss trains unconditional models: sample_data must return the "
                             "points alone, without labels")
        x_1 = self.space.check_point(batch.x_1.to(model_dtype(model)), "the data x_1")   # the one O(B) check
        x_0 = self.space.sample_uniform(len(x_1), dtype=x_1.dtype, device=x_1.device)
        t = sample_time(len(x_1), device=x_1.device, dtype=x_1.dtype)
        s = self.path._sample(x_0, x_1, t)
        v = model(s.x_t, s.t)
        if not isinstance(v, Tensor) or v.shape != s.x_t.shape:
            raise ValueError(f"the model must return a velocity of shape {tuple(s.x_t.shape)}, got "
                             f"{getattr(v, 'shape', type(v).__name__)}")
        return ((self.space._project(s.x_t, v) - s.u_t) ** 2).sum(dim=1).mean()

    def __repr__(self) -> str:
        return f"GeodesicFlowMatchingLoss({self.space!r})"

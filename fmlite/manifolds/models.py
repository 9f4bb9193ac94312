"""Velocity networks on a manifold: an `fmlite.models.MLP` in the ambient coordinates, its output made tangent.

    sphere: v_θ(x, t) = P_x(MLP(x, t)),  x in R³, P_x(v) = v - <x, v> x           (Chen & Lipman 2024, sec. 4)
    torus:  the MLP sees c = (cos θ_1, sin θ_1, cos θ_2, sin θ_2) in R⁴ (raw angles jump by 2π at the seam,
            these features are continuous on the torus); its output o in R⁴ is projected onto the tangent
            line of each circle: θ'_i = -sin θ_i o_{2i-1} + cos θ_i o_{2i}  (the tangent projection of the
            torus embedded in R⁴ as a product of two unit circles, read as rates of the angles)

So the field is smooth and tangent everywhere by construction. The inner `MLP` is what a checkpoint stores
(`fmlite.save_checkpoint(file, model.mlp, manifold=space.name)`); `ManifoldMLP.from_mlp` wraps it again, and
`fmlite.load_pretrained` does that for the shipped models.

Source: Chen & Lipman 2024, "Flow Matching on General Geometries", sec. 4 and App. (networks in the ambient
space, outputs projected to the tangent space; sinusoidal features of the angles on tori).

Taught in notebook 12 (`notebooks/12_curved_spaces.ipynb`).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checks import model_dtype
from ..models import MLP
from .spaces import FlatTorus, Manifold, get_space

__all__ = ["ManifoldMLP", "torus_features"]


def torus_features(x: Tensor) -> Tensor:
    """(B, 2) angles -> (B, 4) features (cos θ_1, sin θ_1, cos θ_2, sin θ_2); no check (see `ManifoldMLP`)."""
    return torch.stack([torch.cos(x[:, 0]), torch.sin(x[:, 0]), torch.cos(x[:, 1]), torch.sin(x[:, 1])], dim=1)


class ManifoldMLP(nn.Module):
    """A tangent velocity field v_θ(x, t) on the sphere or the flat torus.

    Args:
        space: `Sphere()`, `FlatTorus()`, "sphere" or "torus".
        hidden, layers, time_dim: as `fmlite.models.MLP` (the inner network `self.mlp`, dim 3 on the sphere,
            4 on the torus).

    Call: model(x, t) with x (B, 3) unit vectors (sphere) or (B, 2) angles in [0, 2π] (torus) and t (B,) or
    one number in [0, 1] -> (B, 3) tangent at x, resp. (B, 2) angle rates.

    Raises:
        ValueError: bad sizes (`fmlite.checks.check_count`); on a call, x not a batch of points of the space
            (shape, NaN, off the sphere by more than 1e-4, angles outside [0, 2π]), or t invalid.
        TypeError: space is not a space.

    Source: Chen & Lipman 2024, sec. 4.
    """

    def __init__(self, space: Manifold | str = "sphere", hidden: int = 128, layers: int = 3, time_dim: int = 32):
        super().__init__()
        self.space = get_space(space)
        self.mlp = MLP(dim=4 if isinstance(self.space, FlatTorus) else 3, hidden=hidden, layers=layers,
                       time_dim=time_dim)
        self.config = dict(space=self.space.name, **{k: v for k, v in self.mlp.config.items() if k != "dim"})

    @classmethod
    def from_mlp(cls, space: Manifold | str, mlp: MLP) -> "ManifoldMLP":
        """Wrap a trained inner `MLP` (e.g. from a checkpoint) as the field on `space`.

        Raises:
            TypeError: mlp is not an `fmlite.models.MLP`. ValueError: its dim does not fit the space (3 / 4).
        """
        space = get_space(space)
        if not isinstance(mlp, MLP):
            raise TypeError(f"from_mlp needs an fmlite.models.MLP, got {type(mlp).__name__}")
        want = 4 if isinstance(space, FlatTorus) else 3
        if mlp.dim != want:
            raise ValueError(f"an MLP for {space!r} has dim {want}, got dim {mlp.dim}")
        model = cls(space, **{k: v for k, v in mlp.config.items() if k != "dim"})
        model.mlp = mlp
        return model

    def forward(self, x: Tensor, t) -> Tensor:
        x = self.space.check_point(x).to(model_dtype(self))
        if isinstance(self.space, FlatTorus):
            o = self.mlp(torus_features(x), t)
            c, s = torch.cos(x), torch.sin(x)
            return torch.stack([-s[:, 0] * o[:, 0] + c[:, 0] * o[:, 1], -s[:, 1] * o[:, 2] + c[:, 1] * o[:, 3]], 1)
        return self.space._project(x, self.mlp(x, t))

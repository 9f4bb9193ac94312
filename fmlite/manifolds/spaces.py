"""The two curved spaces of the course: the unit sphere S² in R³ and the flat torus T² = (R / 2πZ)².

Each space has the exponential map exp_x(v) (the point reached from x along the geodesic with initial
velocity v), the logarithm log_x(y) (the tangent vector at x towards y whose exp is y), the geodesic
distance, the projection P_x(v) onto the tangent plane at x, uniform sampling and a membership check.

Sphere (points (B, 3), unit vectors; tangent vectors at x: <x, v> = 0):

    exp_x(v) = cos|v| x + sin|v| v / |v|,   log_x(y) = θ (y - <x, y> x) / |y - <x, y> x|,
    θ = d(x, y) = atan2(|x × y|, <x, y>) in [0, π]   (atan2, not arccos: accurate at θ ≈ 0 and θ ≈ π)

Flat torus (points (B, 2), two angles in [0, 2π); every vector is tangent, the metric is the flat one):

    exp_x(v) = (x + v) mod 2π,   log_x(y) = wrap(y - x) with wrap(a) = (a + π) mod 2π - π in [-π, π),
    d(x, y) = |wrap(y - x)|

Where the logarithm is undefined (the cut locus): on the sphere at y = -x every direction is a shortest
geodesic, and `Sphere.log_map` refuses such pairs (ValueError); on the torus a difference of exactly π
(mod 2π) has two shortest ways round, and wrap picks -π (a convention, no error: it happens with
probability 0 and is harmless to the flow).

Sources: Chen & Lipman 2024, "Flow Matching on General Geometries" (ICLR), sec. 3 and App. (exp and log
of the sphere and the flat torus); do Carmo, "Riemannian Geometry" (1992), ch. 3 (exp map, cut locus).

Taught in notebook 12 (`notebooks/12_curved_spaces.ipynb`).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ..checks import check_batch, check_count

__all__ = ["Manifold", "Sphere", "FlatTorus", "get_space", "SPACES"]

TWO_PI = 2 * math.pi


class Manifold:
    """What `GeodesicPath`, the exact field, the solvers and the loss need from a space.

    Subclasses: `Sphere`, `FlatTorus`. Points are (B, dim) tensors; `tol` is the stated membership tolerance.
    """

    name: str = ""
    dim: int = 0
    tol: float = 0.0

    # ---------------------------------------------------------------- checks
    def check_point(self, x, name: str = "x") -> Tensor:
        """x (B, dim) checked to be a batch of points of this space (within `tol`); returned as a float tensor.

        Raises:
            ValueError: not a tensor, not (B, dim), NaN/inf, or a point off the space by more than `tol`.
        """
        x = check_batch(x, name, owner=type(self).__name__)
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"{type(self).__name__}: {name} must have shape (B, {self.dim}) ({self._what()}), "
                             f"got {tuple(x.shape)}")
        bad = ~self.contains(x)
        if bad.any():
            raise ValueError(self._off_message(x, bad, name))
        return x

    def _pair(self, x, y, nx: str = "x", ny: str = "y") -> tuple[Tensor, Tensor]:
        x, y = self.check_point(x, nx), self.check_point(y, ny)
        if x.shape != y.shape:
            raise ValueError(f"{type(self).__name__}: {nx} and {ny} must have the same shape (B, {self.dim}), got "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
        return x, y

    def _tangent(self, x, v, name: str = "v") -> tuple[Tensor, Tensor]:
        x = self.check_point(x)
        v = check_batch(v, name, owner=type(self).__name__)
        if v.shape != x.shape:
            raise ValueError(f"{type(self).__name__}: {name} must have the shape of x {tuple(x.shape)}, "
                             f"got {tuple(v.shape)}")
        return x, v

    # ---------------------------------------------------------------- public maps (checked)
    def exp_map(self, x: Tensor, v: Tensor) -> Tensor:
        """exp_x(v): the point reached at time 1 along the geodesic from x with velocity v; shape (B, dim)."""
        x, v = self._tangent(x, v)
        self._check_tangent(x, v)
        return self._exp(x, v)

    def log_map(self, x: Tensor, y: Tensor) -> Tensor:
        """log_x(y): the tangent vector at x with exp_x(log_x(y)) = y and |log_x(y)| = d(x, y); shape (B, dim)."""
        x, y = self._pair(x, y)
        self._check_not_cut(x, y)
        return self._log(x, y)

    def distance(self, x: Tensor, y: Tensor) -> Tensor:
        """Geodesic distance d(x, y), shape (B,)."""
        x, y = self._pair(x, y)
        return self._distance(x, y)

    def project_tangent(self, x: Tensor, v: Tensor) -> Tensor:
        """P_x(v): v projected onto the tangent plane at x; shape (B, dim)."""
        x, v = self._tangent(x, v)
        return self._project(x, v)

    def sample_uniform(self, n: int, generator: torch.Generator | None = None, dtype=None, device=None) -> Tensor:
        """n points drawn uniformly (with respect to the area), shape (n, dim); n a whole number >= 1."""
        n = check_count(n, "n")
        return self._uniform(n, generator, dtype or torch.get_default_dtype(), device)

    def contains(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self).__name__)


class Sphere(Manifold):
    """The unit sphere S² = {x in R³ : |x| = 1} with the great-circle (geodesic) distance.

    Points: (B, 3) with | |x| - 1 | <= tol = 1e-4 (float32 rounding is ~1e-7; points within the tolerance
    are used as given). Tangent vectors at x: (B, 3) with |<x, v>| <= 1e-4 (1 + |v|). Distances in [0, π].
    Uniform sampling: normalised standard normals. Area 4π.

    Errors (ValueError): a point off the sphere by more than tol (the message gives |x| and the fix
    x / x.norm(dim=1, keepdim=True)); a vector passed to exp_map that is not tangent (fix: project_tangent);
    log_map at an antipodal pair (|y - <x, y> x| < 1e-5 with <x, y> < 0): every direction is a shortest way,
    so no log exists; the message says so (the exact field and the loss never need it there, see
    `fmlite.manifolds.exact`).

    Source: Chen & Lipman 2024, sec. 3.2 and Table 4 (exp and log of S^n).
    """

    name, dim, tol = "sphere", 3, 1e-4
    #: |y - <x, y> x| below which a pair with <x, y> < 0 counts as antipodal.
    antipodal_tol = 1e-5

    def contains(self, x: Tensor) -> Tensor:
        return (x.norm(dim=-1) - 1).abs() <= self.tol

    def _what(self) -> str:
        return "unit vectors in R³"

    def _off_message(self, x, bad, name):
        norms = x.norm(dim=-1)[bad]
        return (f"Sphere: {int(bad.sum())} point(s) of {name} lie off the unit sphere by more than {self.tol:g} "
                f"(|{name}| = {norms[0].item():.6g}); normalise them with {name} / {name}.norm(dim=1, keepdim=True)")

    def _check_tangent(self, x, v):
        off = (x * v).sum(-1).abs() > 1e-4 * (1 + v.norm(dim=-1))
        if off.any():
            raise ValueError(f"Sphere.exp_map: v is not tangent at x (<x, v> = {(x * v).sum(-1)[off][0].item():.4g}, "
                             "should be 0); project it first with project_tangent(x, v)")

    def _check_not_cut(self, x, y):
        dot = (x * y).sum(-1)
        perp = (y - dot[:, None] * x).norm(dim=-1)
        bad = (perp < self.antipodal_tol) & (dot < 0)
        if bad.any():
            k = int(bad.nonzero()[0])
            raise ValueError(f"Sphere.log_map: x[{k}] and y[{k}] are antipodal (y = -x up to {self.antipodal_tol:g}); "
                             "every great circle through them is a shortest geodesic, so log_x(y) is undefined "
                             "there. Move one point slightly, or leave such pairs out")

    def _exp(self, x: Tensor, v: Tensor) -> Tensor:
        n = v.norm(dim=-1, keepdim=True)
        # sin|v| / |v| -> 1 as |v| -> 0 (no division by 0); the result is renormalised against rounding
        sinc = torch.where(n > 1e-8, torch.sin(n) / n.clamp_min(1e-8), 1 - n ** 2 / 6)
        y = torch.cos(n) * x + sinc * v
        return y / y.norm(dim=-1, keepdim=True)

    def _log(self, x: Tensor, y: Tensor) -> Tensor:
        """log_x(y) without checks; 0 at an antipodal pair (callers only use it where it has weight)."""
        dot = (x * y).sum(-1, keepdim=True)
        u = y - dot * x
        n = u.norm(dim=-1, keepdim=True)
        theta = torch.atan2(n, dot)
        # theta / sin(theta) with sin(theta) = n: -> 1 as n -> 0 near y = x
        scale = torch.where(n > 1e-8, theta / n.clamp_min(1e-8), torch.ones_like(n))
        scale = torch.where((n <= 1e-8) & (dot < 0), torch.zeros_like(n), scale)
        return scale * u

    def _geodesic_velocity(self, x: Tensor, v: Tensor, s: Tensor) -> Tensor:
        """d/ds exp_x(s v): the velocity at exp_x(s v) of the geodesic from x with velocity v; s (B, 1)."""
        n = v.norm(dim=-1, keepdim=True)
        return -n * torch.sin(s * n) * x + torch.cos(s * n) * v

    def _distance(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.atan2(torch.linalg.cross(x, y).norm(dim=-1), (x * y).sum(-1))

    def _project(self, x: Tensor, v: Tensor) -> Tensor:
        return v - (x * v).sum(-1, keepdim=True) * x

    def _uniform(self, n, generator, dtype, device):
        z = torch.randn(n, 3, generator=generator, dtype=dtype)
        while True:   # a draw of norm 0 has probability 0; drawn again, never divided by 0
            small = z.norm(dim=1) < 1e-12
            if not small.any():
                break
            z[small] = torch.randn(int(small.sum()), 3, generator=generator, dtype=dtype)
        return (z / z.norm(dim=1, keepdim=True)).to(device)

    #: Area of S², the normaliser of the uniform density 1 / (4π).
    area = 4 * math.pi


def wrap(a: Tensor) -> Tensor:
    """Angles (any shape) wrapped into [-π, π): (a + π) mod 2π - π."""
    return torch.remainder(a + math.pi, TWO_PI) - math.pi


class FlatTorus(Manifold):
    """The flat torus T² = [0, 2π)² with opposite edges glued, and its flat metric.

    Points: (B, 2), two angles in [0, 2π] (values in [-tol, 2π + tol], tol = 1e-5, are accepted as given;
    exp_map returns [0, 2π)). Tangent vectors: any (B, 2) (rates of the two angles). Distances in [0, π√2].
    Uniform sampling: 2π U[0, 1)². Area (2π)².

    Errors (ValueError): an angle outside [-tol, 2π + tol] (the message says to wrap with x % (2 * math.pi)).
    log_map at a difference of exactly π (mod 2π), where two shortest ways exist, returns -π for that angle
    (a convention, not an error).

    Source: Chen & Lipman 2024, sec. 3.2 (flat tori: exp and log by wrapped differences).
    """

    name, dim, tol = "torus", 2, 1e-5
    area = TWO_PI ** 2

    def contains(self, x: Tensor) -> Tensor:
        return ((x >= -self.tol) & (x <= TWO_PI + self.tol)).all(dim=-1)

    def _what(self) -> str:
        return "two angles in [0, 2π)"

    def _off_message(self, x, bad, name):
        row = x[bad][0]
        return (f"FlatTorus: {int(bad.sum())} point(s) of {name} have an angle outside [0, 2π] (by more than "
                f"{self.tol:g}), e.g. {[round(v, 6) for v in row.tolist()]}; wrap them with {name} % (2 * math.pi)")

    def _check_tangent(self, x, v):
        return None   # every vector is tangent to the flat torus

    def _check_not_cut(self, x, y):
        return None   # the cut locus (a difference of exactly π) gets the convention -π, see wrap

    def _exp(self, x: Tensor, v: Tensor) -> Tensor:
        y = torch.remainder(x + v, TWO_PI)
        return torch.where(y >= TWO_PI, y - TWO_PI, y)   # float rounding of remainder can give exactly 2π

    def _log(self, x: Tensor, y: Tensor) -> Tensor:
        return wrap(y - x)

    def _geodesic_velocity(self, x: Tensor, v: Tensor, s: Tensor) -> Tensor:
        return v.expand_as(x)   # geodesics of the flat torus run at constant velocity

    def _distance(self, x: Tensor, y: Tensor) -> Tensor:
        return wrap(y - x).norm(dim=-1)

    def _project(self, x: Tensor, v: Tensor) -> Tensor:
        return v

    def _uniform(self, n, generator, dtype, device):
        return (TWO_PI * torch.rand(n, 2, generator=generator, dtype=dtype)).to(device)


#: The spaces by name.
SPACES = {"sphere": Sphere, "torus": FlatTorus}


def get_space(name: str) -> Manifold:
    """`Sphere()` for "sphere", `FlatTorus()` for "torus".

    A `Manifold` is passed through (so every function taking `space` accepts both).

    Raises:
        ValueError: unknown name (the message lists the valid ones). TypeError: neither a name nor a Manifold.
    """
    if isinstance(name, Manifold):
        return name
    if not isinstance(name, str):
        raise TypeError(f"a space must be Sphere(), FlatTorus() or one of {list(SPACES)}, got {type(name).__name__}")
    if name not in SPACES:
        raise ValueError(f"unknown space {name!r}; choose one of {list(SPACES)}")
    return SPACES[name]()

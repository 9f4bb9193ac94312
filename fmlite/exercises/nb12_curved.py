"""Notebook 12 (curved spaces): the sphere's exp and log maps, the geodesic path's target velocity, one
Riemannian Euler step.

Worked solutions beside checkers. Points live on the unit sphere S^{D-1} in R^D; every checker calls the answer
twice, with (B, D) = (7, 3) then (5, 4), so a size written into the answer fails. The inputs hold the cases a
plain formula gets wrong: a zero tangent vector (exp), y = x with <x, y> rounding above 1 (log), every time of
[0, 0.98] one per sample (the target velocity, undefined at t = 1), off-tangent network outputs (the step).
Sources: Absil, Mahony & Sepulchre 2008, Example 5.4.1 (exp and log of the sphere); Chen & Lipman 2024, "Flow
Matching on General Geometries", eq. (8)-(9) (the geodesic path and its target).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .compare import check_dtype, compare, reject_known
from .framework import Mismatch, call_untouched, register
from .inputs import ONE_TIME, domain_times, one_time_variants

CALLS = ((7, 3), (5, 4))   # (B, D) of the two calls: batch sizes and dimensions pairwise different
T_MAX = 0.98               # the target velocity log_{x_t}(x_1) / (1 - t) is defined on [0, 1)
H = 0.3                    # the Euler step's size


def _unit(v: Tensor) -> Tensor:
    return v / v.norm(dim=-1, keepdim=True)


def _points(b: int, d: int, seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return _unit(torch.randn(b, d, generator=g, dtype=torch.float64))


def _self_above_one(d: int) -> Tensor:
    """A unit vector x (float64, (d,)) with <x, x> rounding above 1, so arccos(<x, x>) is NaN without a clamp."""
    g = torch.Generator().manual_seed(d)
    while True:
        x = _unit(torch.randn(d, generator=g, dtype=torch.float64))
        if float((x * x).sum()) > 1.0:
            return x


def _tangent(x: Tensor, seed: int, scale: float = 1.0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(x.shape, generator=g, dtype=torch.float64) * scale
    return v - (v * x).sum(-1, keepdim=True) * x


# ----------------------------------------------------------------------------- 1. exp map
def exp_map(x, v):
    """exp_x(v) on the unit sphere: x (B, D) unit rows, v (B, D) tangent at x; returns (B, D) unit rows."""
    norm = v.norm(dim=-1, keepdim=True)
    direction = v / norm.clamp_min(1e-12)                      # v = 0: direction 0, and exp_x(0) = x
    return torch.cos(norm) * x + torch.sin(norm) * direction


def _check_exp_map(answer):
    """Domain: x (B, D) unit rows, v (B, D) tangent at x with lengths in [0, 3]: row 0 has v = 0, row 1 a short
    v (0.05), the rest random; (B, D) = (7, 3) then (5, 4)."""
    for i, (b, d) in enumerate(CALLS):
        where = f" (B, D) = ({b}, {d})"
        x = _points(b, d, 10 + i)
        lengths = torch.cat([torch.tensor([0.0, 0.05, 3.0], dtype=torch.float64),
                             torch.linspace(0.4, 2.5, b - 3, dtype=torch.float64)])
        v = _unit(_tangent(x, 20 + i)) * lengths[:, None]      # row 0: v = 0
        got = call_untouched(answer, x, v, names=("x", "v"))
        expected = exp_map(x, v)
        if isinstance(got, Tensor) and got.shape == expected.shape:
            check_dtype(got, x.dtype, "exp_x(v)", where)
            bad = ~torch.isfinite(got.detach()).all(-1)
            if bad.any() and bad[0] and not bad[1:].any():
                raise Mismatch("exp_x(v) is NaN where v = 0: v / |v| divides 0 by 0 there; exp_x(0) = x, so "
                               "guard the direction (v / |v|.clamp_min(1e-12), or torch.where on |v| > 0)" + where)
        n = v.norm(dim=-1, keepdim=True)
        u = v / n.clamp_min(1e-12)
        reject_known(got, [
            ("exp_x(v) = x + v is a step in R^D that leaves the sphere; go along the great circle: "
             "cos(|v|) x + sin(|v|) v / |v|", x + v),
            ("you renormalised x + v (a retraction): it lands on the sphere but travels arctan(|v|) instead of |v| "
             "along the great circle; use cos(|v|) x + sin(|v|) v / |v|", _unit(x + v)),
            ("the cos term is missing: exp_x(v) = cos(|v|) x + sin(|v|) v / |v| (the point x itself leans away "
             "along the circle)", x + torch.sin(n) * u),
            ("the cos term is missing: exp_x(v) = cos(|v|) x + sin(|v|) v / |v|", torch.sin(n) * u),
            ("normalise the direction: sin(|v|) multiplies the unit vector v / |v|, not v",
             torch.cos(n) * x + torch.sin(n) * v),
            ("|v| is the length of each row, v.norm(dim=-1, keepdim=True), not of the whole batch",
             torch.cos(v.norm()) * x + torch.sin(v.norm()) * v / v.norm()),
            ("cos and sin are swapped: exp_x(v) = cos(|v|) x + sin(|v|) v / |v|", torch.sin(n) * x + torch.cos(n) * u),
        ], expected, where)
        compare(got, expected, "exp_x(v)", where)
    return "exp_x(v) walks |v| along the great circle through x in the direction of v, and stays on the sphere."


register("12.exp_map", "the exponential map of the sphere", exp_map, _check_exp_map)


# ----------------------------------------------------------------------------- 2. log map
def log_map(x, y):
    """log_x(y) on the unit sphere: x, y (B, D) unit rows, not antipodal; returns (B, D), tangent at x, of length
    the geodesic distance arccos <x, y>; 0 where y = x."""
    cos = (x * y).sum(-1, keepdim=True).clamp(-1.0, 1.0)      # <x, y> may round above 1 when y = x
    w = y - cos * x                                            # y projected onto the tangent plane at x
    return torch.arccos(cos) * w / w.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _log_pairs(b: int, d: int, i: int):
    """x, y (B, D): row 0 has y = x with <x, x> > 1 in float64, row 1 an angle of 3 rad (past pi / 2), row 2 a
    small one (0.01), the rest random."""
    x, y = _points(b, d, 30 + i), _points(b, d, 40 + i)
    x[0] = y[0] = _self_above_one(d)
    for row, angle in ((1, 3.0), (2, 0.01)):
        e = _unit(_tangent(x[row:row + 1], 50 + row + i))[0]
        y[row] = torch.cos(torch.tensor(angle, dtype=torch.float64)) * x[row] + torch.sin(
            torch.tensor(angle, dtype=torch.float64)) * e
    return x, y


def _check_log_map(answer):
    """Domain: x, y (B, D) unit rows, never antipodal; y = x in one row, with <x, x> rounding above 1; angles from
    0.01 to 3 rad; (B, D) = (7, 3) then (5, 4)."""
    for i, (b, d) in enumerate(CALLS):
        where = f" (B, D) = ({b}, {d})"
        x, y = _log_pairs(b, d, i)
        got = call_untouched(answer, x, y, names=("x", "y"))
        expected = log_map(x, y)
        if isinstance(got, Tensor) and got.shape == expected.shape:
            check_dtype(got, x.dtype, "log_x(y)", where)
            bad = ~torch.isfinite(got.detach()).all(-1)
            if bad.any() and bad[0] and not bad[1:].any():
                raise Mismatch("log_x(y) is NaN where y = x: there <x, y> rounds to 1.0000000000000002, and "
                               "arccos of it is NaN; clamp <x, y> to [-1, 1], and guard the division by |y − <x, y> x| "
                               "(clamp_min(1e-12)), so that log_x(x) = 0" + where)
        cos = (x * y).sum(-1, keepdim=True).clamp(-1.0, 1.0)
        theta, w = torch.arccos(cos), y - cos * x
        unit_w = w / w.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        chord = y - x
        unit_chord = chord / chord.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        reject_known(got, [
            ("y − x is a chord through the ball, not a tangent vector at x: project it onto the tangent plane "
             "(y − <x, y> x) and give it the length arccos <x, y>", chord),
            ("project onto the tangent plane at x: the direction is y − <x, y> x, not the chord y − x",
             theta * unit_chord),
            ("the angle between x and y is arccos <x, y>, not arcsin", torch.arcsin(cos) * unit_w),
            ("the length of log_x(y) is the geodesic distance arccos <x, y>, not the chord length |y − x|",
             chord.norm(dim=-1, keepdim=True) * unit_w),
            ("normalise the direction: y − <x, y> x has length sin θ, not θ; divide it by its norm and multiply by "
             "θ = arccos <x, y>", w),
            ("normalise the direction: y − <x, y> x has length sin θ, so θ (y − <x, y> x) is θ sin θ long",
             theta * w),
            ("that is log_y(x), the tangent vector at y towards x; the log map at x points from x towards y",
             log_map(y, x)),
        ], expected, where)
        compare(got, expected, "log_x(y)", where)
    return "log_x(y) is tangent at x, points towards y, and is as long as the great-circle distance."


register("12.log_map", "the logarithm map of the sphere", log_map, _check_log_map)


# ----------------------------------------------------------------------------- 3. the geodesic target velocity
def geodesic_velocity(x_0, x_1, t):
    """u_t(x_t | x_0, x_1) on the geodesic path x_t = exp_{x_0}(t log_{x_0} x_1): returns (x_t, u_t), both (B, D),
    with u_t = log_{x_t}(x_1) / (1 − t) tangent at x_t; x_0, x_1 (B, D) unit rows, t (B,) in [0, 1)."""
    x_t = exp_map(x_0, t[:, None] * log_map(x_0, x_1))
    return x_t, log_map(x_t, x_1) / (1 - t[:, None])


def _check_geodesic_velocity(answer):
    """Domain: x_0, x_1 (B, D) unit rows (not antipodal), t (B,) one time per row covering [0, 0.98] (ends
    included); (B, D) = (7, 3) then (5, 4). The answer returns (x_t, u_t)."""
    for i, (b, d) in enumerate(CALLS):
        where = f" (B, D) = ({b}, {d})"
        x_0, x_1 = _points(b, d, 60 + i), _points(b, d, 70 + i)
        t = domain_times(b, 0.0, T_MAX, seed=i)
        got = call_untouched(answer, x_0, x_1, t, names=("x_0", "x_1", "t"))
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            raise Mismatch("return two tensors, (x_t, u_t): the point on the geodesic and its target velocity")
        x_t, u_t = geodesic_velocity(x_0, x_1, t)
        reject_known(got[0], one_time_variants(lambda s: geodesic_velocity(x_0, x_1, s)[0], t), x_t, where)
        compare(got[0], x_t, "x_t", where + ": x_t = exp_{x_0}(t log_{x_0} x_1)", t=t)
        flat = x_1 - x_0
        log0 = log_map(x_0, x_1)
        reject_known(got[1], [
            ("x_1 − x_0 is the flat target; on the sphere the velocity is tangent at x_t: log_{x_t}(x_1) / (1 − t)",
             flat),
            ("project x_1 − x_0 onto the tangent plane still is not the geodesic's velocity: use "
             "log_{x_t}(x_1) / (1 − t)", flat - (flat * x_t).sum(-1, keepdim=True) * x_t),
            ("log_{x_t}(x_1) is what is left of the path, of length (1 − t) d(x_0, x_1); divide it by the time left, "
             "1 − t", log_map(x_t, x_1)),
            ("take the log at x_t, where the velocity lives, not at x_0: log_{x_0}(x_1) is tangent at x_0 (right at "
             "t = 0 only)", log0),
            ("take the log at x_t, not at x_0: log_{x_0}(x_1) / (1 − t) is tangent at x_0", log0 / (1 - t[:, None])),
            ("you returned x_t as the velocity; u_t = log_{x_t}(x_1) / (1 − t)", x_t),
            *one_time_variants(lambda s: geodesic_velocity(x_0, x_1, s)[1], t),
            *[(ONE_TIME + " (here in 1 − t)", log_map(x_t, x_1) / (1 - s)) for s in t.tolist()],
        ], u_t, where)
        compare(got[1], u_t, "u_t", where, t=t)
    return "u_t = log_{x_t}(x_1) / (1 − t): tangent at x_t, of constant length d(x_0, x_1), pointing at x_1."


register("12.geodesic_velocity", "the target velocity of the geodesic path", geodesic_velocity,
         _check_geodesic_velocity)


# ----------------------------------------------------------------------------- 4. one Riemannian Euler step
def riemannian_euler_step(velocity, x, t, h):
    """x <- exp_x(h P_x(velocity(x, t))): x (B, D) unit rows, t (B,) in [0, 1 − h], h > 0 a number; returns (B, D)."""
    v = velocity(x, t)
    v = v - (v * x).sum(-1, keepdim=True) * x                  # P_x: drop the normal component
    return exp_map(x, h * v)


class SphereField:
    """A stand-in velocity(x, t) on S^{D-1}: refuses what the package's sphere networks refuse (x (B, D) float on
    the sphere within `fmlite.manifolds.Sphere.tol`, t (B,) or a number in [0, 1], points first) and returns a
    vector of R^D with a normal part."""

    def __init__(self, dim: int):
        self.dim = dim
        i = torch.arange(dim, dtype=torch.float64)
        self.A = 0.8 * torch.cos(1.0 + i[:, None] + 2.3 * i[None, :])
        self.b = torch.cos(0.7 + 1.9 * i)

    def __call__(self, x, t):
        from .inputs import _check_inputs
        t = _check_inputs(x, t, self.dim, f"SphereMLP(dim={self.dim})", "velocity")
        from ..manifolds import Sphere
        off = (x.norm(dim=-1) - 1).abs().max()
        if off > Sphere.tol:                                   # the tolerance of Sphere.check_point
            raise Mismatch(f"velocity(x, t) refused its input, as a sphere network would: x is off the sphere by "
                           f"up to {float(off):.3g} (|x| must be 1)")
        x = x.to(torch.float64)                                # a network computes in its own dtype
        return x @ self.A + t[:, None] * self.b + 0.5 * x


def _check_riemannian_euler_step(answer):
    """Domain: x (B, D) unit rows, t (B,) one per row over [0, 1 − h], h = 0.3, a stand-in field whose output has a
    normal part; (B, D) = (7, 3) then (5, 4)."""
    for i, (b, d) in enumerate(CALLS):
        where = f" (B, D) = ({b}, {d})"
        x, t, field = _points(b, d, 80 + i), domain_times(b, 0.0, 1 - H, seed=3 + i), SphereField(d)
        got = call_untouched(answer, field, x, t, H, names=("velocity", "x", "t", "h"))
        expected = riemannian_euler_step(field, x, t, H)
        v = field(x, t)
        p = v - (v * x).sum(-1, keepdim=True) * x
        reject_known(got, [
            ("x + h v is an Euler step in R^D: it leaves the sphere; step along the sphere with exp_x(h P_x(v))",
             x + H * v),
            ("x + h P_x(v) leaves the sphere by sqrt(1 + h²|v|²) − 1; step with exp_x(h P_x(v))", x + H * p),
            ("renormalising x + h v lands on the sphere but travels arctan(h|v|), not h|v|: use exp_x(h P_x(v))",
             _unit(x + H * p)),
            ("renormalising x + h v lands on the sphere but travels arctan(h|v|), not h|v|: use exp_x(h P_x(v))",
             _unit(x + H * v)),
            ("project the velocity onto the tangent plane first: the network's output has a normal part, "
             "P_x(v) = v − <v, x> x", exp_map(x, H * v)),
            ("the step is h times the velocity: exp_x(h P_x(v)), not exp_x(P_x(v))", exp_map(x, p)),
            ("Euler evaluates the velocity where the step starts, velocity(x, t), not at t + h",
             riemannian_euler_step(field, x, t + H, H)),
            *one_time_variants(lambda s: riemannian_euler_step(field, x, s, H), t),
        ], expected, where)
        compare(got, expected, "the new x", where)
    return "x <- exp_x(h P_x(v)) stays on the sphere and moves h|P_x(v)| along it."


register("12.riemannian_euler_step", "one Riemannian Euler step on the sphere", riemannian_euler_step,
         _check_riemannian_euler_step)

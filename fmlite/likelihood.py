"""Log-likelihoods of a flow: change of variables along the ODE, with exact or estimated divergence.

Along the flow dx/dt = v(x, t) the density obeys (instantaneous change of variables)

    d/dt log p_t(x_t) = -div v(x_t, t),      div v = sum_i d v_i / d x_i,

so, integrating the augmented state (x, a) with da/dt = -div v backwards from
(x_1, 0) at t = 1 to t = 0,

    log p_1(x_1) = log p_0(x(0)) - a(0),      a(0) = integral_0^1 div v(x(t), t) dt.

`fmlite.solvers.integrate` alone carries x only and runs without autograd; here it integrates
the augmented state (x, a) with the same fixed-step methods (euler, midpoint, heun, rk4), and
autograd inside each velocity evaluation gives the divergence:

    exact        one backward pass per dimension D (cheap in 2-D, D passes per evaluation in 64-D)
    hutchinson   E_z[z^T (dv/dx) z] = div v for any z with E[z z^T] = I (Gaussian or Rademacher);
                 one backward pass per probe, unbiased. With A = dv/dx (not symmetric in general)
                 the variance of one probe is |A|_F^2 + tr(A^2) (Gaussian) or
                 sum_{i<j} (A_ij + A_ji)^2 (Rademacher), divided by the number of probes;
                 Rademacher is lower by exactly 2 sum_i A_ii^2. Only for a symmetric A do these
                 become the often quoted 2 |A|_F^2 and 2 sum_{i != j} A_ij^2.

Sources: Chen, Rubanova, Bettencourt & Duvenaud 2018, "Neural Ordinary Differential Equations",
Theorem 1 (instantaneous change of variables); Grathwohl et al. 2019, "FFJORD", sec. 3
(Hutchinson's estimator, one noise draw per solve); Hutchinson 1989; Lipman et al. 2023, sec. 6.

Taught in notebook 08 (`notebooks/08_likelihoods_and_diffusion.ipynb`).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from .checks import call_velocity, check_batch, check_count, check_finite, check_no_overflow, check_time
from .solvers import METHODS, integrate

__all__ = ["exact_divergence", "hutchinson_divergence", "draw_probes", "log_likelihood",
           "standard_normal_log_prob", "Likelihood", "DIVERGENCES", "PROBES"]

Velocity = Callable[[Tensor, Tensor], Tensor]
DIVERGENCES = ("exact", "hutchinson")
PROBES = ("rademacher", "gaussian")


# ----------------------------------------------------------------------------- divergence of an evaluated field
def _exact_div(v: Tensor, x: Tensor, create_graph: bool) -> Tensor:
    """sum_i d v_i / d x_i from v = f(x) (both (B, *D)); one backward pass per dimension."""
    vf = v.reshape(v.shape[0], -1)
    div = torch.zeros(v.shape[0], dtype=v.dtype, device=v.device)
    if not v.requires_grad:  # v does not depend on x
        return div
    for i in range(vf.shape[1]):
        (g,) = torch.autograd.grad(vf[:, i].sum(), x, retain_graph=True, create_graph=create_graph,
                                   allow_unused=True)
        if g is not None:
            div = div + g.reshape(g.shape[0], -1)[:, i]
    return div


def _hutchinson_div(v: Tensor, x: Tensor, z: Tensor, create_graph: bool) -> Tensor:
    """mean over probes z[k] (B, *D) of z^T (dv/dx) z; one vector-Jacobian product per probe."""
    total = torch.zeros(v.shape[0], dtype=v.dtype, device=v.device)
    if not v.requires_grad:  # v does not depend on x
        return total
    for k in range(z.shape[0]):
        (g,) = torch.autograd.grad(v, x, z[k], retain_graph=True, create_graph=create_graph, allow_unused=True)
        if g is not None:
            total = total + (g * z[k]).reshape(v.shape[0], -1).sum(1)
    return total / z.shape[0]


def draw_probes(shape, probes: int = 1, noise: str = "rademacher", generator: torch.Generator | None = None,
                dtype=None, device=None) -> Tensor:
    """Probe vectors for Hutchinson's estimator, shape (probes, *shape), with E[z z^T] = I.

    Args:
        shape: the shape (B, *D) of x. probes: number of probes >= 1.
        noise: "rademacher" (entries +-1, lower variance) or "gaussian" (standard normal).
        generator: a `torch.Generator` for reproducible probes (None: torch's global one).

    Raises:
        ValueError: unknown noise, or probes not a whole number >= 1 (`fmlite.checks.check_count`).
    """
    if noise not in PROBES:
        raise ValueError(f"unknown probe noise {noise!r}; choose one of {list(PROBES)}")
    probes = check_count(probes, "probes")
    size = (probes, *shape)
    if noise == "gaussian":
        return torch.randn(size, generator=generator, dtype=dtype, device=device)
    return torch.randint(0, 2, size, generator=generator, device=device).to(dtype or torch.get_default_dtype()) * 2 - 1


def _evaluate(velocity: Velocity, x: Tensor, t, create_graph: bool):
    t = check_time(t, x.shape[0], like=x)
    with torch.enable_grad():
        x_in = x if (create_graph and x.requires_grad) else x.detach().requires_grad_(True)
        v = call_velocity(velocity, x_in, t)
    return x_in, v


def _finite_divergence(div: Tensor, owner: str) -> Tensor:
    check_finite(div.detach(), f"{owner}'s result", "the velocity or its derivative is NaN or inf at these "
                 "points (did the model diverge?); check the model and the points")
    return div


def _check_field(velocity, x, owner: str) -> Tensor:
    """The checks shared by the public functions here: a callable velocity and a batch x (B, *D)."""
    if not callable(velocity):
        raise TypeError(f"{owner}: velocity must be a callable (x, t) -> v such as a model, got "
                        f"{type(velocity).__name__}")
    return check_batch(x, "x" if owner != "log_likelihood" else "x_1", owner=owner)


def exact_divergence(velocity: Velocity, x: Tensor, t, *, create_graph: bool = False) -> Tensor:
    """Exact divergence div v(x, t) = trace(dv/dx) by autograd, one backward pass per dimension.

    Works inside `torch.no_grad()` (grad is enabled internally).

    Args:
        velocity: callable (x (B, *D), t (B,)) -> (B, *D). x: points (B, *D).
        t: times in [0, 1], (B,) or a number.
        create_graph: keep the graph so the result can be differentiated (e.g. for training).

    Returns:
        Tensor (B,) (floating; integer x is used as float32).

    Raises:
        ValueError: bad t, x not a tensor (a list or numpy array: use torch.as_tensor), 1-d (as
            everywhere in fmlite: x[:, None] for a batch of scalars), an empty batch or NaN/inf
            (`fmlite.checks.check_batch`), or a velocity of the wrong shape or that fails to
            broadcast t (`fmlite.checks.call_velocity`), or a divergence that is NaN or inf (the velocity
            or its derivative is: the message says so).
        TypeError: velocity is not callable.
    Source: Chen et al. 2018, Theorem 1.
    """
    x = _check_field(velocity, x, "exact_divergence")
    x_in, v = _evaluate(velocity, x, t, create_graph)
    with torch.enable_grad():
        div = _exact_div(v, x_in, create_graph)
    return _finite_divergence(div, "exact_divergence")


def hutchinson_divergence(velocity: Velocity, x: Tensor, t, probes: int = 1, noise: str = "rademacher", *,
                          generator: torch.Generator | None = None, z: Tensor | None = None,
                          create_graph: bool = False) -> Tensor:
    """Hutchinson's unbiased estimate of div v(x, t): the mean of z^T (dv/dx) z over `probes` probes.

    Args:
        velocity, x, t, create_graph: as in `exact_divergence`.
        probes: number of probes >= 1 (one backward pass each). noise: "rademacher" or "gaussian".
        generator: for reproducible probes. z: given probes (probes, B, *D), overriding probes/noise.

    Returns:
        Tensor (B,), an unbiased estimate (its mean over many draws is the exact divergence).

    Raises:
        ValueError: bad noise, probes, t, z shape, x (as `exact_divergence`), a velocity of the
            wrong shape or that fails to broadcast t, or a NaN/inf estimate (as `exact_divergence`).
        TypeError: velocity is not callable.
    Source: Hutchinson 1989; Grathwohl et al. 2019 (FFJORD), sec. 3.
    """
    x = _check_field(velocity, x, "hutchinson_divergence")
    if z is None:
        z = draw_probes(x.shape, probes, noise, generator, x.dtype, x.device)
    elif not isinstance(z, Tensor) or z.dim() != x.dim() + 1 or z.shape[1:] != x.shape:
        raise ValueError(f"z must have shape (probes, *x.shape) = (probes, {', '.join(map(str, x.shape))}), "
                         f"got {tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__}")
    x_in, v = _evaluate(velocity, x, t, create_graph)
    with torch.enable_grad():
        div = _hutchinson_div(v, x_in, z, create_graph)
    return _finite_divergence(div, "hutchinson_divergence")


def standard_normal_log_prob(x: Tensor, std: float = 1.0) -> Tensor:
    """log N(x; 0, std^2 I) of x (B, *D), returned as (B,) (floating; integer x is used as float32).

    Raises:
        ValueError: x not a tensor, 1-d, an empty batch or NaN/inf (`fmlite.checks.check_batch`),
            or std not a finite number > 0, or finite x so large that |x|^2 overflows (rescale).
    """
    x = check_batch(x, "x", owner="standard_normal_log_prob")
    if isinstance(std, bool) or not isinstance(std, numbers.Real) or not (math.isfinite(std) and std > 0):
        raise ValueError(f"std must be a finite number > 0, got {std!r}")
    xf = x.reshape(x.shape[0], -1)
    squares = (xf ** 2).sum(1)
    check_no_overflow(squares, "standard_normal_log_prob: |x|^2", xf)
    return -0.5 * squares / std ** 2 - 0.5 * xf.shape[1] * math.log(2 * math.pi * std ** 2)


# ----------------------------------------------------------------------------- the likelihood
@dataclass
class Likelihood:
    """Details of `log_likelihood(..., return_details=True)`.

    Attributes:
        log_p: log p_1(x_1), (B,). x_0: the point reached at t = 0, (B, *D).
        log_p0: log p_0(x_0), (B,). divergence_integral: integral_0^1 div v dt, (B,).
        nfe: velocity evaluations (each with its divergence). method, divergence: what was used.
    """

    log_p: Tensor
    x_0: Tensor
    log_p0: Tensor
    divergence_integral: Tensor
    nfe: int
    method: str
    divergence: str


def _wants_graph(velocity, x_1: Tensor) -> bool:
    if not torch.is_grad_enabled():
        return False
    if x_1.requires_grad:
        return True
    return isinstance(velocity, nn.Module) and any(p.requires_grad for p in velocity.parameters())


def log_likelihood(velocity: Velocity, x_1: Tensor, steps: int = 100, method: str = "rk4",
                   divergence: str = "exact", *, probes: int = 1, noise: str = "rademacher",
                   generator: torch.Generator | None = None, source_std: float = 1.0,
                   create_graph: bool | None = None, return_details: bool = False):
    """log p_1(x_1) of the flow dx/dt = velocity(x, t) started from p_0 = N(0, source_std^2 I).

    Integrates (x, a) with d(x, a)/dt = (v, -div v) backwards from (x_1, 0) at t = 1 to t = 0
    with `steps` fixed steps of `method`, and returns log p_0(x(0)) - a(0).

    Args:
        velocity: callable (x (B, *D), t (B,)) -> (B, *D) running noise (t = 0) -> data (t = 1).
            A field that runs data -> noise must be flipped first (v(x, 1 - t) * -1), or data
            get a *lower* likelihood than noise.
        x_1: points (B, *D) at which to evaluate the model density.
        steps: number of steps >= 1. method: "euler", "midpoint", "heun" or "rk4".
        divergence: "exact" (D backward passes per evaluation) or "hutchinson".
        probes, noise, generator: Hutchinson probes, drawn once per call and held fixed along t.
        source_std: std s of the source N(0, s^2 I) (1 in this course).
        create_graph: keep the graph for training through the likelihood. None (default):
            yes when grad mode is on and x_1 requires grad or velocity is an nn.Module with
            trainable parameters; always no inside `torch.no_grad()` (the value is the same,
            only detached: wrap evaluation in no_grad, it is faster).
        return_details: return a `Likelihood` instead of the (B,) tensor.

    Returns:
        Tensor (B,) of log p_1(x_1) (natural log, per unit volume), or a `Likelihood`.

    Raises:
        ValueError: unknown method or divergence, bad steps/probes/noise (`fmlite.checks.check_count`),
            source_std not a finite number > 0, x_1 not a tensor, 1-d, an empty batch or NaN/inf
            (`fmlite.checks.check_batch`), a velocity of the wrong shape or that fails to broadcast t,
            or a result that is NaN or inf (the velocity diverged: the message says so).
        TypeError: velocity is not callable.

    Sources: Chen et al. 2018, Theorem 1; Grathwohl et al. 2019 (FFJORD), eq. (4)-(5).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    if divergence not in DIVERGENCES:
        raise ValueError(f"unknown divergence {divergence!r}; choose one of {list(DIVERGENCES)}")
    if (isinstance(source_std, bool) or not isinstance(source_std, numbers.Real)
            or not (math.isfinite(source_std) and source_std > 0)):
        raise ValueError(f"source_std must be a finite number > 0, got {source_std!r}")
    x_1 = _check_field(velocity, x_1, "log_likelihood")
    steps, probes = check_count(steps, "steps"), check_count(probes, "probes")
    graph = _wants_graph(velocity, x_1) if create_graph is None else bool(create_graph) and torch.is_grad_enabled()
    shape, dim = x_1.shape, x_1[0].numel()
    z = draw_probes(shape, probes, noise, generator, x_1.dtype, x_1.device) if divergence == "hutchinson" else None
    start = x_1 if (not graph or x_1.requires_grad) else x_1.detach().clone().requires_grad_(True)

    def augmented(state: Tensor, t: Tensor) -> Tensor:
        x = state[:, :dim].reshape(shape)
        x_in, v = _evaluate(velocity, x, t, graph)
        with torch.enable_grad():
            div = _exact_div(v, x_in, graph) if z is None else _hutchinson_div(v, x_in, z, graph)
        if not graph:
            v, div = v.detach(), div.detach()
        return torch.cat([v.reshape(shape[0], dim), -div[:, None]], dim=1)

    state = torch.cat([start.reshape(shape[0], dim), torch.zeros(shape[0], 1, dtype=start.dtype, device=start.device)], dim=1)
    solution = integrate(augmented, state, steps, method, t_start=1.0, t_end=0.0, grad=graph)
    check_finite(solution.x.detach(), "log_likelihood's flow", "the velocity (or its divergence) produced NaN or "
                 "inf along the flow: did the model or the integration diverge? check the model, or use more steps")
    x_0 = solution.x[:, :dim].reshape(shape)
    integral = solution.x[:, dim]
    log_p0 = standard_normal_log_prob(x_0, source_std)
    log_p = log_p0 - integral
    if not return_details:
        return log_p
    return Likelihood(log_p=log_p, x_0=x_0, log_p0=log_p0, divergence_integral=integral, nfe=solution.nfe,
                      method=method, divergence=divergence)

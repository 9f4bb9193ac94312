"""The losses `fmlite.train.train` minimises: the loss protocol and the flow matching loss.

A loss is any callable `loss(model, batch) -> scalar tensor` (see `Loss`). It owns what belongs to
its method: the source draw, the time draw, the pairing and the path sample. The training loop
only hands it batches of data and steps the optimiser.

The flow matching loss (the default of `train`):

    L(theta) = E_{t, x_0, x_1, eps} |v_theta(x_t, t) - u_t|^2,
    x_t = alpha_t x_1 + beta_t x_0 + sigma(t) eps,  u_t = alpha'_t x_1 + beta'_t x_0 + sigma'(t) eps,

with t ~ U(0, 1), x_0 ~ N(0, I), x_1 ~ data. Regressing on the *conditional* target
u_t = u_t(x_t | z), z = (x_0, x_1, eps), has the same gradient as regressing on the marginal
field u_t(x) = E[u_t | x_t = x], so the
minimiser is the marginal velocity (Lipman et al. 2023, Theorem 2; Liu et al. 2022;
Albergo & Vanden-Eijnden 2023). |.|^2 sums over all data dimensions, the batch is averaged.

Taught in notebook 03 (`notebooks/03_training.ipynb`); its public home is `fmlite.train`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from .batches import Batch
from .checks import check_count, model_dtype, network_input
from .couplings import COUPLINGS
from .paths import Path

__all__ = ["Loss", "FlowMatchingLoss", "flow_matching_loss", "sample_time", "resolve_coupling"]


@runtime_checkable
class Loss(Protocol):
    """What `fmlite.train.train(..., loss=...)` calls once per step: `loss(model, batch) -> Tensor`.

    Args (of the call):
        model: the network being trained, on the training device, in train mode. How it is called
            is the loss's business (model(x_t, t), model(x, s, t) for a flow map, model(x_t, t, y), ...).
        batch: a `fmlite.batches.Batch`:
            x_1: the data (B, *D) on the model's device. Floating point in the model's dtype, or,
                for a loss whose `tokens` attribute is True, int64 token ids (B, d).
            y: int64 class labels (B,) in [0, model.num_classes], already dropped to
                `model.null_label` with probability `label_dropout`; None for unlabelled data.

    Returns (of the call):
        A 0-dimensional (scalar) floating tensor with a gradient path to the model's parameters;
        `train` calls `.item()` on it once per step (NaN or inf stops training with
        `fmlite.train.TrainingDiverged`) and then `.backward()`.

    Attribute:
        tokens (optional, default False): True asks `train` for int64 token data instead of
            floating data (discrete flows).

    Random draws: the loss draws its own source, times and noise from torch's global generator,
    after `train` drew the data pool and the label dropout, so a seeded `train` reproduces them.
    A plain function `def my_loss(model, batch): ...` is a loss too.
    """

    def __call__(self, model: nn.Module, batch: Batch) -> Tensor: ...


def sample_time(batch: int, device=None, dtype=None) -> Tensor:
    """Draw t ~ Uniform on the open interval (0, 1), shape (batch,).

    `torch.rand` draws from [0, 1); the rare exact 0 is drawn again (rejection, not
    clipping), so schedules with a singular derivative at t = 0 (the Brownian bridge)
    stay finite. batch is a whole number >= 0 (see `fmlite.checks.check_count`).
    """
    t = torch.rand(check_count(batch, "batch", 0), device=device, dtype=dtype)
    while (t == 0).any():
        zero = t == 0
        t[zero] = torch.rand(int(zero.sum()), device=device, dtype=dtype)
    return t


def resolve_coupling(coupling: Callable | str | None) -> Callable | None:
    """A coupling name ("independent", "minibatch_ot") -> its function; a callable or None as given.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
    """
    if isinstance(coupling, str):
        if coupling not in COUPLINGS:
            raise ValueError(f"unknown coupling {coupling!r}; choose one of {list(COUPLINGS)} or pass a callable")
        return COUPLINGS[coupling]
    return coupling


def flow_matching_loss(model: nn.Module, path: Path, x_0: Tensor, x_1: Tensor, t: Tensor | None = None,
                       coupling: Callable | str | None = None, y: Tensor | None = None) -> Tensor:
    """The (conditional) flow matching loss on one batch: mean_i |v_theta(x_t_i, t_i) - u_t_i|^2.

    Args:
        model: velocity network called as model(x_t, t) (or model(x_t, t, y) with labels).
        path: a `fmlite.paths.Path`; its sigma schedule adds sigma(t) eps to x_t and
            sigma'(t) eps to the target.
        x_0: noise (B, *D). x_1: data (B, *D). Floating tensors of any precision are
            converted to the model's dtype (float32 unless the model was made `.double()`).
        t: times (B,) in [0, 1]; default Uniform(0, 1) (see `sample_time`).
        coupling: None or "independent" (pair as given), "minibatch_ot", or a callable
            (x_0, x_1) -> (x_0, x_1). With labels, only a coupling that keeps x_1's
            order (independent) is allowed.
        y: optional int64 labels (B,) of x_1 for a class-conditional model.

    Returns:
        Scalar tensor (differentiable) in the model's dtype, in squared data units per unit time^2.

    Raises:
        ValueError: shapes differ, x_0 or x_1 is not floating point, t invalid, unknown
            coupling name, labels for a model that takes none (no `num_classes`), or labels
            with a re-pairing coupling.
    """
    dtype = model_dtype(model)
    x_0 = network_input(x_0, dtype, "x_0", "flow_matching_loss")
    x_1 = network_input(x_1, dtype, "x_1", "flow_matching_loss")
    if y is not None and not getattr(model, "num_classes", None):
        raise ValueError(f"labels y were given, but this {type(model).__name__} takes no labels (it has no "
                         "num_classes); train it on data alone (sample_data returning x_1 only), or use a "
                         "class-conditional model such as ConvNet(num_classes=10)")
    coupling = resolve_coupling(coupling)
    if coupling is not None and coupling is not COUPLINGS["independent"]:
        if y is not None:
            raise ValueError("a re-pairing coupling would separate x_1 from its labels y; use coupling=None with labels")
        x_0, x_1 = coupling(x_0, x_1)
    if t is None:
        t = sample_time(x_0.shape[0], device=x_0.device, dtype=x_0.dtype)
    s = path.sample(x_0, x_1, t)
    v = model(s.x_t, s.t) if y is None else model(s.x_t, s.t, y)
    return ((v - s.u_t) ** 2).flatten(1).sum(1).mean()


@dataclass
class FlowMatchingLoss:
    """The flow matching loss as a `Loss` object, the default of `fmlite.train.train`.

    Per call: x_0 = randn_like(x_1) (the source N(0, I)), then `flow_matching_loss`, which
    re-pairs by `coupling`, draws t ~ U(0, 1) (`sample_time`) and the path's eps, in that order.

    Args:
        path: a `fmlite.paths.Path` (with its sigma(t) schedule).
        coupling: None, "independent", "minibatch_ot" or a callable (x_0, x_1) -> (x_0, x_1)
            (see `flow_matching_loss`); a name is looked up once, here.

    Raises:
        ValueError: on construction, path is None or the coupling name is unknown; on a call, as
            `flow_matching_loss`.

    Source: Lipman et al. 2023, eq. (23) (CFM loss); Tong et al. 2024, Alg. 1 (minibatch OT).
    """

    path: Path
    coupling: Callable | str | None = None
    tokens: ClassVar[bool] = False

    def __post_init__(self):
        if self.path is None:
            raise ValueError("the flow matching loss needs a path, e.g. LinearPath() from fmlite.paths")
        self.coupling = resolve_coupling(self.coupling)

    def __call__(self, model: nn.Module, batch: Batch) -> Tensor:
        x_0 = torch.randn_like(batch.x_1)
        return flow_matching_loss(model, self.path, x_0, batch.x_1, coupling=self.coupling, y=batch.y)

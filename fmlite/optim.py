"""Where and how `fmlite.train.train` steps: the device, Adam (fused where the installed torch supports it),
learning-rate decays (named so that "schedule" stays sigma(t)), and the CPU thread count of the training call.

Kept apart from the loss and the loop so that `fmlite/train.py` reads as the maths plus one loop.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["resolve_device", "make_optimizer", "LR_DECAYS", "auto_threads", "cpu_threads"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> CUDA when available, else CPU; otherwise check the name and return it.

    Raises:
        ValueError: unknown device name (lists the valid ones) or CUDA/MPS asked for but absent.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    valid = "'auto', 'cpu', 'cuda', 'cuda:N', 'mps'"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; choose one of {valid}") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {device!r}; choose one of {valid}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here; use 'auto' or 'cpu'")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} asked for, but MPS is not available here; use 'auto' or 'cpu'")
    return dev


def auto_threads(model: nn.Module) -> int:
    """The CPU thread count `train(threads=None)` uses: 1 for every network of this course.

    Pass `train(..., threads=2)` for a larger network on an otherwise idle machine. The measurements
    behind the choice: bench/HISTORY.md ("CPU threads of train"). Returns a whole number >= 1.
    """
    return 1


@contextmanager
def cpu_threads(dev: torch.device, threads: int | None, model: nn.Module):
    """Set torch's intra-op CPU threads for the block and restore them afterwards (also on error); CPU only."""
    if dev.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(auto_threads(model) if threads is None else threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_optimizer(params, lr: float) -> torch.optim.Optimizer:
    """Adam with PyTorch's fused kernel (one kernel for all parameters) where the installed torch supports
    the parameters' device and dtype; otherwise the default Adam. Same maths either way (Kingma & Ba 2015)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(params, lr=lr)


#: lr_decay name -> factor(step, steps) multiplying the learning rate.
LR_DECAYS = {"constant": None,
                "cosine": lambda s, n: 0.5 * (1 + math.cos(math.pi * s / n)),
                "linear": lambda s, n: 1 - s / n}

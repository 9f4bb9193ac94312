"""Save and load trained velocity networks safely.

A checkpoint is a plain dict {"format", "architecture", "config", "state_dict", "meta"}
written by torch.save and read with torch.load(weights_only=True), which refuses
arbitrary pickled code (PyTorch docs, "torch.load" security note).
"""
from __future__ import annotations

import os

import torch
from torch import nn

from .models import MODELS

__all__ = ["save_checkpoint", "load_checkpoint"]

FORMAT = "fmlite-checkpoint-1"


def save_checkpoint(file: str | os.PathLike, model: nn.Module, **meta) -> None:
    """Write model weights, its architecture and free-form metadata to `file`.

    Args:
        file: path of the .pt file to write.
        model: an fmlite model (`MLP`, `ConvNet`) with a `.config` dict.
        **meta: JSON-like metadata (numbers, strings, lists, dicts), e.g. steps=2000, data="moons".

    Raises:
        TypeError: the model is not an fmlite model (no `.config`).
    """
    name = type(model).__name__
    if name not in MODELS or not hasattr(model, "config"):
        raise TypeError(f"save_checkpoint needs an fmlite model ({', '.join(MODELS)}), got {name}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "architecture": name, "config": dict(model.config), "state_dict": state,
                "meta": meta}, file)


def load_checkpoint(file: str | os.PathLike, model: nn.Module | None = None) -> tuple[nn.Module, dict]:
    """Read a checkpoint written by `save_checkpoint`.

    Args:
        file: path of the .pt file.
        model: an existing model to load into; None builds one from the stored architecture.

    Returns:
        (model in eval mode on the CPU unless `model` lives elsewhere, meta dict).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an fmlite checkpoint, or its architecture/config differs from
            `model` (the message lists the differences).
    """
    ckpt = torch.load(file, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{file} is not an fmlite checkpoint (expected format {FORMAT!r})")
    name, config = ckpt["architecture"], ckpt["config"]
    if model is None:
        if name not in MODELS:
            raise ValueError(f"{file} holds an unknown architecture {name!r}; known: {list(MODELS)}")
        model = MODELS[name](**config)
    else:
        mine = type(model).__name__
        ours = dict(getattr(model, "config", {}))
        if mine != name or ours != config:
            diffs = [f"architecture: file {name}, model {mine}"] if mine != name else []
            diffs += [f"{k}: file {config.get(k)!r}, model {ours.get(k)!r}"
                      for k in sorted(set(config) | set(ours)) if config.get(k) != ours.get(k)]
            raise ValueError(f"checkpoint {file} does not match the model ({'; '.join(diffs)}); build the model "
                             f"with {name}(**{config}) or call load_checkpoint(file) without a model")
    device = next(model.parameters()).device
    model.load_state_dict({k: v.to(device) for k, v in ckpt["state_dict"].items()})
    return model.eval(), ckpt["meta"]

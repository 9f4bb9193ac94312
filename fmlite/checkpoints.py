"""Save and load trained velocity networks safely.

A checkpoint is a plain dict {"format", "architecture", "config", "state_dict", "meta"}
written by torch.save and read with torch.load(weights_only=True), which refuses
arbitrary pickled code (PyTorch docs, "torch.load" security note).
"""
from __future__ import annotations

import numbers
import os
import pickle
import zipfile

import numpy as np
import torch
from torch import Tensor, nn

from .models import MODELS

__all__ = ["save_checkpoint", "load_checkpoint"]

FORMAT = "fmlite-checkpoint-1"


def save_checkpoint(file: str | os.PathLike, model: nn.Module, **meta) -> None:
    """Write model weights, its architecture and free-form metadata to `file`.

    Args:
        file: path of the .pt file to write.
        model: an fmlite model (`MLP`, `ConvNet`) with a `.config` dict.
        **meta: JSON-like metadata (numbers, strings, None, lists, tuples, dicts, tensors),
            e.g. steps=2000, data="moons". Numpy scalars become Python numbers and numpy
            arrays become tensors; anything else is refused here, at save time, because
            loading with weights_only=True could not read it back.

    Raises:
        TypeError: the model is not an fmlite model (no `.config`), or a metadata value
            cannot be stored safely (the message names its key, e.g. meta['history']).
    """
    name = type(model).__name__
    if name not in MODELS or not hasattr(model, "config"):
        raise TypeError(f"save_checkpoint needs an fmlite model ({', '.join(MODELS)}), got {name}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    config = _plain(dict(model.config), "config")
    meta = _plain(meta, "meta")
    torch.save({"format": FORMAT, "architecture": name, "config": config, "state_dict": state, "meta": meta}, file)


def _plain(value, key: str):
    """`value` as types that torch.load(weights_only=True) reads back; TypeError naming `key` otherwise."""
    if value is None:
        return value
    if isinstance(value, (str, np.str_)):
        return str(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Real):  # int, float and their numpy / enum subclasses
        return int(value) if isinstance(value, numbers.Integral) else float(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return torch.from_numpy(value.copy())
    if isinstance(value, Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"checkpoint {key} has a key {k!r} of type {type(k).__name__}; use str or int keys")
            out[k] = _plain(v, f"{key}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        items = [_plain(v, f"{key}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    raise TypeError(f"checkpoint {key} is a {type(value).__name__}, which torch.load(weights_only=True) cannot "
                    "read back; store plain numbers, strings, lists, dicts or tensors (e.g. str(path), "
                    "history.loss, float(x))")



def load_checkpoint(file: str | os.PathLike, model: nn.Module | None = None) -> tuple[nn.Module, dict]:
    """Read a checkpoint written by `save_checkpoint`.

    Args:
        file: path of the .pt file.
        model: an existing model to load into; None builds one from the stored architecture.

    Returns:
        (model in eval mode on the CPU unless `model` lives elsewhere, meta dict).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable fmlite checkpoint (empty, text, truncated,
            or holding pickled objects), or its architecture/config differs from `model`
            (the message lists the differences).
    """
    if not os.path.exists(file):
        raise FileNotFoundError(f"no checkpoint file {os.fspath(file)!r}")
    try:
        ckpt = torch.load(file, map_location="cpu", weights_only=True)
    except (EOFError, KeyError, RuntimeError, ValueError, IndexError, UnicodeDecodeError, zipfile.BadZipFile,
            pickle.UnpicklingError) as err:
        raise ValueError(f"{os.fspath(file)!r} is not a readable fmlite checkpoint (torch.load raised "
                         f"{type(err).__name__}); it may be empty, truncated, text, or hold pickled objects "
                         "that weights_only loading refuses: write it again with save_checkpoint") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(file)!r} is not a readable fmlite checkpoint (no format {FORMAT!r} found); "
                         "write it with save_checkpoint")
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

"""Save and load trained velocity networks safely.

A checkpoint is a plain dict {"format", "architecture", "config", "state_dict", "meta"}
written by torch.save and read with torch.load(weights_only=True), which refuses
arbitrary pickled code (PyTorch docs, "torch.load" security note).
"""
from __future__ import annotations

import inspect
import numbers
import os
import pickle
import zipfile

import numpy as np
import torch
from torch import Tensor, nn

from . import autoencoder as _autoencoder  # noqa: F401  (registers Autoencoder in MODELS)
from .files import replace_atomically
from .models import MODELS

__all__ = ["save_checkpoint", "load_checkpoint", "CheckpointNotFound"]

FORMAT = "fmlite-checkpoint-1"


class CheckpointNotFound(FileNotFoundError, ValueError):
    """No checkpoint at the path given: a FileNotFoundError (as before) that is also a ValueError."""


def save_checkpoint(file: str | os.PathLike, model: nn.Module, **meta) -> None:
    """Write model weights, its architecture and free-form metadata to `file`.

    Args:
        file: path of the .pt file to write.
        model: an fmlite model (`MLP`, `ConvNet`) with a `.config` dict.
        **meta: JSON-like metadata (numbers, strings, None, lists, tuples, dicts, tensors),
            e.g. steps=2000, data="moons". Numpy scalars become Python numbers and numpy
            arrays become tensors; anything else is refused here, at save time, because
            loading with weights_only=True could not read it back.

    The file is written to a temporary file in the same folder and renamed into place only when
    complete (`fmlite.files.replace_atomically`): an error or a Ctrl-C while saving leaves an existing
    `file` byte for byte as it was. The weights keep their dtype (a float64 model loads as float64).

    Raises:
        TypeError: the model is not an fmlite model (no `.config`), or a metadata value
            cannot be stored safely (the message names its key, e.g. meta['history']).
        ValueError: `file` is a folder, its folder does not exist or cannot be written (the message
            names the file and the fix).
    """
    name = type(model).__name__
    if name not in MODELS or not hasattr(model, "config"):
        raise TypeError(f"save_checkpoint needs an fmlite model ({', '.join(MODELS)}), got {name}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    config = _plain(dict(model.config), "config")
    meta = _plain(meta, "meta")
    if os.path.isdir(file):
        raise ValueError(f"cannot save a checkpoint to {os.fspath(file)!r}: it is a folder; give a file name such as "
                         f"{os.path.join(os.fspath(file), 'model.pt')!r}")
    with replace_atomically(file) as tmp:
        torch.save({"format": FORMAT, "architecture": name, "config": config, "state_dict": state, "meta": meta}, tmp)


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
        (model in eval mode on the CPU unless `model` lives elsewhere, meta dict). A model built here
        takes the dtype of the stored weights (float64 stays float64).

    Raises:
        FileNotFoundError: no such file (or no such folder); this error is also a ValueError.
        ValueError: `file` is a folder; the file is not a readable fmlite checkpoint (empty, text,
            truncated, holding pickled objects, or missing a key such as 'state_dict'); its config
            holds a key the architecture does not take; its weights do not fit the architecture; or its
            architecture, config or dtype differs from `model` (the message lists the differences).
            Every message names the file and the fix.
    """
    where = os.fspath(file)
    if os.path.isdir(file):
        raise ValueError(f"{where!r} is a folder, not a checkpoint file; give the .pt file inside it")
    if not os.path.exists(file):
        folder = os.path.dirname(where) or "."
        if not os.path.isdir(folder):
            raise CheckpointNotFound(f"no checkpoint file {where!r}: its folder {folder!r} does not exist; "
                                     "check the path")
        raise CheckpointNotFound(f"no checkpoint file {where!r}; check the path, or write it with save_checkpoint")
    try:
        ckpt = torch.load(file, map_location="cpu", weights_only=True)
    except (EOFError, KeyError, RuntimeError, ValueError, IndexError, UnicodeDecodeError, zipfile.BadZipFile,
            pickle.UnpicklingError) as err:
        raise ValueError(f"{where!r} is not a readable fmlite checkpoint (torch.load raised "
                         f"{type(err).__name__}); it may be empty, truncated, text, or hold pickled objects "
                         "that weights_only loading refuses: write it again with save_checkpoint") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{where!r} is not a readable fmlite checkpoint (no format {FORMAT!r} found); "
                         "write it with save_checkpoint")
    missing = [k for k in ("architecture", "config", "state_dict", "meta") if k not in ckpt]
    if missing or not isinstance(ckpt["config"], dict) or not isinstance(ckpt["state_dict"], dict):
        what = f"no {', '.join(map(repr, missing))}" if missing else "a config or state_dict that is not a dict"
        raise ValueError(f"{where!r} is an incomplete fmlite checkpoint ({what}); write it again with save_checkpoint")
    name, config, state = ckpt["architecture"], ckpt["config"], ckpt["state_dict"]
    dtype = next((v.dtype for v in state.values() if isinstance(v, Tensor) and v.is_floating_point()), None)
    if model is None:
        if name not in MODELS:
            raise ValueError(f"{where!r} holds an unknown architecture {name!r}; known: {list(MODELS)}; write it "
                             "again with save_checkpoint from one of those")
        known = set(inspect.signature(MODELS[name]).parameters)
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"{where!r}: its config has keys {name} does not take ({', '.join(map(repr, unknown))}; "
                             f"it takes {', '.join(sorted(known))}); it was written by another version of fmlite: "
                             "rebuild it (python -m fmlite train ...) or load it with that version")
        model = MODELS[name](**config)
        if dtype is not None:
            model = model.to(dtype)
    else:
        mine = type(model).__name__
        ours = dict(getattr(model, "config", {}))
        own = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
        if mine != name or ours != config or (dtype is not None and own is not None and own != dtype):
            diffs = [f"architecture: file {name}, model {mine}"] if mine != name else []
            diffs += [f"{k}: file {config.get(k)!r}, model {ours.get(k)!r}"
                      for k in sorted(set(config) | set(ours)) if config.get(k) != ours.get(k)]
            if not diffs:
                raise ValueError(f"checkpoint {where!r} holds {dtype} weights but the model is {own}; call "
                                 f"model.to({dtype}) first, or load_checkpoint(file) without a model")
            raise ValueError(f"checkpoint {where!r} does not match the model ({'; '.join(diffs)}); build the model "
                             f"with {name}(**{config}) or call load_checkpoint(file) without a model")
    device = next(model.parameters()).device
    try:
        model.load_state_dict({k: v.to(device) for k, v in state.items()})
    except RuntimeError as err:
        lines = str(err).strip().splitlines()
        why = lines[1].strip() if len(lines) > 1 else lines[0]
        raise ValueError(f"{where!r}: its weights do not fit {name}(**{config}) ({why}); write it again with "
                         "save_checkpoint") from None
    return model.eval(), ckpt["meta"]

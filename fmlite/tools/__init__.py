"""The course's tooling, apart from the maths: what builds, checks and ships the course.

- `cli` (`python -m fmlite ...`, argparse) with `cli_train` (its `train` subcommand and the registry of the
  model families it rebuilds) and `train_context` (`Family`, `TrainContext`: what each family's `run` shares);
- the families of notebooks 09-11: `flow_map_recipes`, `discrete_train`, `latent_train` (recipes + `FAMILY`);
- `recipes`: the training recipes of the shipped models in `data/` (`train_flow`, `train_digits`,
  `train_images`, `train_straight`, `load_npz_images`);
- `site` (the offline HTML site), `doctor` (environment check), `animate` (flow.gif),
  `solutions` (solved copies of the notebooks).

Imports go one way: these modules import the maths and core modules of `fmlite` (and the teaching
sub-packages), never the other way round (`tests/test_structure.py`). Loading a shipped model is
not tooling: `load_pretrained` and `sample_images` live in `fmlite.pretrained`.
"""
from __future__ import annotations


def cell_source(cell: dict) -> str:
    """A notebook cell's source as one string (nbformat stores it as a string or a list of lines)."""
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src

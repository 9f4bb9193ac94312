"""Solved copies of the notebooks for instructors: `python -m fmlite solutions DIR`.

An exercise's template cell is found by its cell tags, `exercise` and `exercise:NN.key` (one per
exercise the cell holds), or, for a notebook without tags, by a `check("NN.key", name)` call in
the cell itself or in the cell after it. In the solved copy each template function `name` is
replaced by the worked solution of `fmlite.exercises` (its source, `solution(key)`; relative
imports made absolute), the cell's other lines (the `check` calls) are kept, and its outputs are
cleared. Nothing else in the notebook changes.

Every copy is converted before the first is written, and each is written through a temporary file
(`fmlite.files`). DIR/.fmlite-files.json records what was written, so running the command again
replaces its own copies, but a copy the instructor edited (or ran and saved) is replaced only with
`--force`.
"""
from __future__ import annotations

import ast
import copy
import inspect
import re
import textwrap
from pathlib import Path

from ..files import OwnedFiles, check_output_folder, digest, write_bytes
from . import cell_source

__all__ = ["exercise_cells", "solve_notebook", "write_solutions", "TAG"]

TAG = "exercise"
_CHECK = re.compile(r"""\bcheck\(\s*["'](\d\d\.\w+)["']\s*,\s*(\w+)\s*\)""")


def exercise_cells(nb: dict) -> dict[int, list[tuple[str, str]]]:
    """{cell index: [(exercise key, name of the function the student fills in), ...]} of the template cells.

    Tagged cells (`exercise:NN.key`) are used as they are; an untagged `check("NN.key", name)` points at its
    own cell when that cell defines `name`, else at the cell before it.
    """
    cells, found = nb["cells"], {}
    for i, cell in enumerate(cells):
        tags = cell.get("metadata", {}).get("tags", [])
        keys = [t.split(":", 1)[1] for t in tags if t.startswith(TAG + ":")]
        if cell["cell_type"] == "code" and keys:
            calls = dict(_CHECK.findall(cell_source(cell)))
            if i + 1 < len(cells):
                calls.update((k, n) for k, n in _CHECK.findall(cell_source(cells[i + 1])) if k not in calls)
            found[i] = [(k, calls.get(k) or k.split(".", 1)[1]) for k in keys]
    tagged = {k for pairs in found.values() for k, _ in pairs}
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        for key, name in _CHECK.findall(cell_source(cell)):
            if key in tagged:
                continue
            defines = re.search(rf"^def {name}\(", cell_source(cell), re.M)
            at = i if defines or i == 0 else i - 1
            found.setdefault(at, []).append((key, name))
    return dict(sorted(found.items()))


def _solution_source(key: str, name: str) -> str:
    from ..exercises import solution
    fn = solution(key)
    src = textwrap.dedent(inspect.getsource(fn))
    src = re.sub(r"^(\s*)from \.\.(\w)", r"\1from fmlite.\2", src, flags=re.M)
    src = re.sub(r"^(\s*)from \.(\w)", r"\1from fmlite.exercises.\2", src, flags=re.M)
    if fn.__name__ != name:
        src = re.sub(rf"^def {fn.__name__}\(", f"def {name}(", src, count=1, flags=re.M)
    return src.rstrip("\n")


def _solve_cell(source: str, pairs: list[tuple[str, str]]) -> str:
    """`source` with each template function replaced by the worked solution (others kept line for line)."""
    lines = source.splitlines()
    tree = ast.parse(source)
    spans = {node.name: (node.lineno - 1 - len(node.decorator_list), node.end_lineno)
             for node in tree.body if isinstance(node, ast.FunctionDef)}
    for key, name in sorted(pairs, key=lambda p: -spans.get(p[1], (-1, -1))[0]):
        if name not in spans:
            raise ValueError(f"exercise {key}: the template cell defines no function {name!r}; tag the cell that "
                             f"does with 'exercise:{key}'")
        start, end = spans[name]
        lines[start:end] = _solution_source(key, name).splitlines()
    return "\n".join(lines)


def solve_notebook(nb: dict) -> tuple[dict, list[str]]:
    """A solved copy of notebook `nb` (nbformat 4 dict) and the exercise keys it solved."""
    nb = copy.deepcopy(nb)
    keys = []
    for i, pairs in exercise_cells(nb).items():
        cell = nb["cells"][i]
        cell["source"] = _solve_cell(cell_source(cell), pairs)
        cell["outputs"], cell["execution_count"] = [], None
        keys += [k for k, _ in pairs]
    return nb, keys


def write_solutions(out: str | Path, notebooks: str | Path | None = None, force: bool = False
                    ) -> dict[Path, list[str]]:
    """Write a solved copy of every notebook of `notebooks` (default: the repository's) into `out`.

    Args:
        out: the folder of the copies (created; its parent must exist).
        notebooks: the folder of the notebooks. force: replace copies that were edited since they were
            written, or files of the same names that this command did not write.

    Returns {written file: [exercise keys solved]}.

    Raises:
        ValueError: `out` is the notebooks folder itself (the originals would be overwritten), a file, in a
            missing folder or not writable, or (without `force`) holds edited copies; raised before any
            notebook is written, and the message names the path and the fix.
        FileNotFoundError: no notebooks found.
    """
    import nbformat
    src = Path(notebooks) if notebooks is not None else Path(__file__).resolve().parents[2] / "notebooks"
    out = Path(out)
    if out.exists() and out.resolve() == src.resolve():
        raise ValueError(f"{out} is the notebooks folder itself; give another folder for the solved copies")
    files = sorted(src.glob("*.ipynb"))
    if not files:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {src}")
    out = check_output_folder(out, option="DIR")
    owned = OwnedFiles(out, "python -m fmlite solutions")
    owned.check([f.name for f in files], force, option="DIR")
    contents, written = {}, {}
    for f in files:
        solved, keys = solve_notebook(nbformat.read(f, as_version=4))
        text = nbformat.writes(nbformat.from_dict(solved))
        contents[f.name] = (text if text.endswith("\n") else text + "\n").encode("utf-8")  # as nbformat.write
        written[out / f.name] = keys
    out.mkdir(exist_ok=True)
    owned.begin({name: digest(data) for name, data in contents.items()})
    for name, data in contents.items():
        write_bytes(out / name, data)
    owned.finish()
    return written


def main_solutions(out: str | Path, force: bool = False) -> int:
    """What `python -m fmlite solutions DIR` runs: write the copies and list the exercises solved."""
    written = write_solutions(out, force=force)
    for file, keys in written.items():
        print(f"{file}: {', '.join(keys) or 'no exercises'}")
    print(f"{sum(len(k) for k in written.values())} exercises solved in {len(written)} notebooks")
    return 0

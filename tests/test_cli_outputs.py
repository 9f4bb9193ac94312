"""Bad outputs at the command line (issue 20): a table of bad invocations of every command that writes files
(`train`, `animate`, `site`, `solutions`). Each must exit non-zero with one line that names the path and the fix,
print no traceback, do no work (training, frames, conversion, solving are replaced by a function that fails the
test), and leave every file that was there byte-identical, with nothing added.

Skipped, and why:
- `doctor`: it writes nothing.
- argparse's own refusals (an unknown option, `--steps=x`): argparse prints its usage line and the error, exit
  status 2; tests/test_cli.py covers them.
- a folder made unwritable by its permission bits: these tests run as root, for whom chmod does not stop a
  write; a read-only mount (/sys) stands in for "an unwritable place", and those rows are skipped where /sys
  can be written.
- a full disk, or a write that fails midway: not portable to provoke here; every writer goes through a
  temporary file (`fmlite.files.replace_atomically`), whose Ctrl-C tests (test_checkpoints, test_cli,
  test_site, test_kit) show the old file survives.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import fmlite
from fmlite.tools import recipes
from fmlite.tools.cli import main
from fmlite.models import MLP

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _sys_is_read_only() -> bool:
    try:
        fd, name = tempfile.mkstemp(dir="/sys")
    except OSError:
        return True
    os.close(fd)
    os.unlink(name)
    return False


READ_ONLY = pytest.mark.skipif(not _sys_is_read_only(), reason="/sys can be written here")

# (id, argv with {tmp} for the test's folder, words the one-line message must hold)
CASES = [
    # train
    ("train-folder", ["train", "flow", "--out", "{tmp}/folder"], "is a folder; give a file name"),
    ("train-missing-parent", ["train", "flow", "--out", "{tmp}/missing/f.pt"], "does not exist; create it first"),
    ("train-parent-is-a-file", ["train", "flow", "--out", "{tmp}/afile/f.pt"], "is a file, not a folder"),
    ("train-unwritable", ["train", "flow", "--out", "/sys/f.pt"], "choose a folder you can write to"),
    ("train-exists", ["train", "flow", "--out", "{tmp}/existing.pt"], "exists; pass --force"),
    ("train-npz-exists", ["train", "{tmp}/d.npz", "--out", "{tmp}/existing.pt"], "exists; pass --force"),
    ("train-npz-is-a-folder", ["train", "{tmp}/dir.npz", "--out", "{tmp}/new.pt"], "is a folder; give the .npz file"),
    # animate
    ("animate-folder", ["animate", "--out", "{tmp}/folder.gif"], "is a folder; give a file name"),
    ("animate-jpg", ["animate", "--out", "{tmp}/flow.jpg"], "must end in .gif; give e.g."),
    ("animate-no-extension", ["animate", "--out", "{tmp}/flow"], "must end in .gif"),
    ("animate-missing-parent", ["animate", "--out", "{tmp}/missing/flow.gif"], "does not exist; create it first"),
    ("animate-parent-is-a-file", ["animate", "--out", "{tmp}/afile/flow.gif"], "is a file, not a folder"),
    ("animate-unwritable", ["animate", "--out", "/sys/flow.gif"], "choose a folder you can write to"),
    ("animate-exists", ["animate", "--out", "{tmp}/existing.gif"], "exists; pass --force"),
    # site
    ("site-file", ["site", "--out", "{tmp}/afile"], "is a file, not a folder"),
    ("site-missing-parent", ["site", "--out", "{tmp}/missing/site"], "does not exist; create it first"),
    ("site-parent-is-a-file", ["site", "--out", "{tmp}/afile/site"], "is a file, not a folder"),
    ("site-unwritable", ["site", "--out", "/sys/site"], "choose a folder you can write to"),
    ("site-users-files", ["site", "--out", "{tmp}/mine"], "did not write or that were changed since (index.html"),
    ("site-users-mathjax", ["site", "--out", "{tmp}/halfsite"], "mathjax/ folder that a build did not write"),
    # solutions
    ("solutions-file", ["solutions", "{tmp}/afile"], "is a file, not a folder"),
    ("solutions-missing-parent", ["solutions", "{tmp}/missing/solved"], "does not exist; create it first"),
    ("solutions-unwritable", ["solutions", "/sys/solved"], "choose a folder you can write to"),
    ("solutions-users-files", ["solutions", "{tmp}/mine"], "pass --force to replace them"),
    ("solutions-notebooks", ["solutions", str(NOTEBOOKS)], "is the notebooks folder itself"),
]


def _snapshot(*folders) -> dict:
    """Every path under `folders`, with the bytes of each file (None for a folder)."""
    snap = {}
    for folder in folders:
        for p in sorted(Path(folder).rglob("*")):
            snap[p] = p.read_bytes() if p.is_file() else None
    return snap


@pytest.fixture
def tmp(tmp_path, monkeypatch):
    """A folder of things that must survive: files, a folder, a site and solved copies the user made."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "dir.npz").mkdir()
    (tmp_path / "folder.gif").mkdir()
    (tmp_path / "afile").write_text("mine\n")
    fmlite.save_checkpoint(tmp_path / "existing.pt", MLP(hidden=8, layers=1), steps=1)
    (tmp_path / "existing.gif").write_bytes(b"GIF89a mine")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "index.html").write_text("<p>my own page</p>\n")
    (tmp_path / "mine" / "00_start_here.ipynb").write_text("{}\n")
    (tmp_path / "halfsite" / "mathjax").mkdir(parents=True)
    (tmp_path / "halfsite" / "mathjax" / "MathJax.js").write_text("/* half a copy */\n")
    import numpy as np
    np.savez(tmp_path / "d.npz", images=np.zeros((4, 1, 8, 8), np.float32))

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the output was checked")
    for target in ("fmlite.tools.recipes.train_flow", "fmlite.tools.recipes.train_images", "fmlite.tools.animate.flow_frames",
                   "fmlite.tools.site.strip_widgets", "fmlite.tools.site._install_mathjax", "fmlite.tools.solutions.solve_notebook"):
        monkeypatch.setattr(target, no_work)
    return tmp_path


@pytest.mark.parametrize("name, argv, fix", [pytest.param(*c, id=c[0], marks=READ_ONLY if "/sys/" in str(c[1]) else ())
                                             for c in CASES])
def test_bad_outputs_are_refused_on_one_line_before_any_work_and_nothing_changes(tmp, capsys, name, argv, fix):
    argv = [a.format(tmp=tmp) for a in argv]
    before = _snapshot(tmp, NOTEBOOKS)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code not in (0, None), argv
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("python -m fmlite: error: "), err
    assert fix in err and "Traceback" not in err, err
    assert _snapshot(tmp, NOTEBOOKS) == before  # byte-identical, nothing added (no temporary file either)


def test_the_real_command_line_prints_one_line_and_exit_status_2(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "fmlite", "animate", "--out", str(tmp_path / "flow.jpg")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == [f"python -m fmlite: error: --out {tmp_path / 'flow.jpg'}: the file must end "
                                       f"in .gif; give e.g. {tmp_path / 'flow.gif'}"]
    assert list(tmp_path.iterdir()) == []


def test_every_writer_of_the_package_goes_through_fmlite_files():
    """A guard for new code: no module writes a file directly (open for writing, torch.save, savefig, save,
    write_text, write_bytes, shutil copies, np.save, json.dump) except fmlite/files.py and the reviewed calls
    listed here."""
    import ast
    allowed = {
        "fmlite/checkpoints.py": {"torch.save"},  # into replace_atomically's temporary file
        "fmlite/tools/animate.py": {"frames[0].save"},  # into replace_atomically's temporary file
        "fmlite/tools/site.py": {"shutil.copytree"},  # into a temporary folder renamed into place (_install_mathjax)
        "fmlite/tools/doctor.py": {"fig.savefig"},  # into a BytesIO
        "fmlite/widgets/render.py": {"image.save"},  # into a BytesIO
        "fmlite/widgets/site_grid.py": {"Image.open(io.BytesIO(picture)).convert('RGB').save"},  # into a BytesIO
    }
    methods = ("save", "savefig", "savez", "savez_compressed", "write_text", "write_bytes")  # x.save(...), ...
    modules = {"shutil": ("copy", "copy2", "copyfile", "copytree", "move"), "json": ("dump",), "pickle": ("dump",),
               "nbformat": ("write",)}
    found = []
    for file in sorted((ROOT / "fmlite").rglob("*.py")):
        rel = file.relative_to(ROOT).as_posix()
        if rel == "fmlite/files.py":
            continue
        for node in ast.walk(ast.parse(file.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            mode = next((ast.unparse(a) for a in node.args[1:2]), "") + "".join(
                ast.unparse(k.value) for k in node.keywords if k.arg == "mode")
            head, _, last = name.rpartition(".")
            writes = ((head and last in methods) or last in modules.get(head, ())
                      or (last == "open" and any(c in mode for c in "wax+")))
            if writes and name not in allowed.get(rel, set()):
                found.append(f"{rel}:{node.lineno}: {name}(...)")
    assert found == [], "write through fmlite.files (a temporary file renamed into place):\n" + "\n".join(found)

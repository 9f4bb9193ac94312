"""The instructor's kit on the command line: `doctor` (exit status and fix lines), `animate` (a small GIF),
and `solutions` (solved copies in which every exercise's check prints its success message)."""
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fmlite.tools import doctor
from fmlite.tools.animate import flow_frames, write_gif
from fmlite.tools.cli import main
from fmlite.exercises import EXERCISES
from fmlite.tools.solutions import exercise_cells, solve_notebook, write_solutions

ROOT = Path(__file__).resolve().parents[1]


def test_doctor_passes_here_as_a_command():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "fmlite", "doctor"], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert [ln.split()[1] for ln in lines[:-1]] == list(doctor.CHECKS)
    assert all(ln.startswith("ok ") for ln in lines[:-1]) and lines[-1] == "all checks passed"
    assert "device 'auto' -> " in run.stdout


def test_doctor_fails_with_a_fix_line_and_exit_status_1(monkeypatch, capsys):
    def no_widgets():
        raise doctor.Failed("the widget extension is missing", "pip install jupyterlab_widgets")

    def crashes():
        raise OSError("disk on fire")
    monkeypatch.setitem(doctor.CHECKS, "widgets", no_widgets)
    monkeypatch.setitem(doctor.CHECKS, "figure", crashes)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL widgets      the widget extension is missing. Fix: pip install jupyterlab_widgets" in out
    assert "FAIL figure       OSError: disk on fire. Fix: pip install -e" in out
    assert out.splitlines()[-1] == "2 check(s) failed: widgets, figure"


def test_doctor_version_bounds(monkeypatch):
    assert doctor._version_tuple("2.13.0+cpu") == (2, 13, 0) and doctor._version_tuple("0.9.7.post1") == (0, 9, 7)
    assert doctor._version_tuple("1.10rc1") == (1, 10)
    versions = {"torch": "2.14.0", "numpy": "1.23.5"}
    real = doctor.metadata.version
    monkeypatch.setattr(doctor.metadata, "version", lambda name: versions.get(name) or real(name))
    with pytest.raises(doctor.Failed, match=r"numpy 1.23.5 < 1.24, torch 2.14.0 >= 2.14"):
        doctor.check_packages()


def test_animate_writes_a_small_looping_gif(tmp_path):
    out = write_gif(tmp_path / "f.gif", n_points=300, steps=6, size=(160, 90), hold=2)
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.size == (160, 90) and gif.info.get("loop") == 0
        assert gif.n_frames >= 7  # one per step (identical end frames may merge)
    assert out.stat().st_size < 100_000
    with pytest.raises(ValueError, match="over the limit of 1,000;"):
        write_gif(tmp_path / "g.gif", n_points=300, steps=6, size=(160, 90), max_bytes=1000)
    assert not (tmp_path / "g.gif").exists()
    with pytest.raises(ValueError, match="at least 64 x 64"):
        flow_frames(size=(32, 90))


def test_animate_command_and_the_committed_gif(tmp_path, monkeypatch):
    calls = {}

    def fake(out, **kwargs):
        calls["out"] = out
        Path(out).write_bytes(b"GIF89a")
        return Path(out)
    monkeypatch.setattr("fmlite.tools.animate.write_gif", fake)
    assert main(["animate", "--out", str(tmp_path / "x.gif")]) == 0 and calls["out"] == tmp_path / "x.gif"
    gif = ROOT / "docs" / "flow.gif"
    assert gif.stat().st_size <= 1_000_000
    with Image.open(gif) as im:
        assert im.n_frames >= 20
    assert "docs/flow.gif" in (ROOT / "README.md").read_text().split("\n## ")[0]  # the README opens with it


def test_every_exercise_has_one_template_cell_found_by_tag_and_by_check_call():
    keys = []
    for f in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(f.read_text())
        tagged = exercise_cells(nb)
        for cell in nb["cells"]:
            cell.get("metadata", {}).pop("tags", None)
        assert exercise_cells(nb) == tagged, f"{f.name}: tags and check() calls disagree"
        keys += [k for pairs in tagged.values() for k, _ in pairs]
    assert sorted(keys) == sorted(EXERCISES)


def _run_setup_and_exercises(nb: dict) -> str:
    """Run the setup cell (the first code cell, without %magics) and the solved cells; return what they print."""
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    solved = [nb["cells"][i] for i in exercise_cells(nb)]
    namespace = {"__name__": "__solved__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for cell in [code[0], *solved]:
            source = "".join(cell["source"])
            exec(compile("\n".join(ln for ln in source.splitlines() if not ln.startswith("%")), "<cell>", "exec"),
                 namespace)
    return out.getvalue()


def test_solved_copies_pass_every_check(tmp_path, capsys):
    dest = tmp_path / "solved"
    assert main(["solutions", str(dest)]) == 0
    assert "exercises solved in" in capsys.readouterr().out
    solved_keys = []
    for f in sorted(dest.glob("*.ipynb")):
        nb = json.loads(f.read_text())
        printed = _run_setup_and_exercises(nb)
        for pairs in exercise_cells(nb).values():
            for key, _ in pairs:
                assert f"[{key}] correct!" in printed, f"{f.name}: {printed}"
                solved_keys.append(key)
    assert sorted(solved_keys) == sorted(EXERCISES)
    assert [p.name for p in dest.glob("*.ipynb")] and not (dest / "notebooks").exists()


def test_templates_still_print_not_solved():
    nb = json.loads((ROOT / "notebooks" / "00_start_here.ipynb").read_text())
    printed = _run_setup_and_exercises(nb)
    assert "[00.interpolate] not solved yet" in printed and "correct!" not in printed
    solved, keys = solve_notebook(nb)
    assert keys == ["00.interpolate", "00.euler_step"]
    changed = [i for i, (a, b) in enumerate(zip(nb["cells"], solved["cells"])) if a != b]
    assert changed == sorted(exercise_cells(nb))  # nothing else changes


def test_solutions_refuse_the_notebooks_folder(capsys):
    with pytest.raises(SystemExit):
        main(["solutions", str(ROOT / "notebooks")])
    assert "is the notebooks folder itself" in capsys.readouterr().err
    with pytest.raises(ValueError):
        write_solutions(ROOT / "notebooks")


def test_doctor_says_which_picture_format_explorers_use(monkeypatch):
    from fmlite.widgets import render
    assert doctor.check_figure().endswith("explorer pictures in WEBP")
    monkeypatch.setattr(render, "picture_format", lambda: "png")   # a Pillow built without WebP
    assert "Pillow without WebP" in doctor.check_figure()


# ---------------------------------------------------------------------- issue 20: nothing lost (animate, solutions)
from fmlite.files import TEMP_PREFIX  # noqa: E402

SMALL = dict(n_points=300, steps=6, size=(160, 90), hold=2)


def test_a_gif_over_the_limit_or_a_ctrl_c_leaves_the_old_file_byte_identical(tmp_path, monkeypatch):
    out = tmp_path / "flow.gif"
    out.write_bytes(b"GIF89a the user's own")
    with pytest.raises(ValueError, match="over the limit of 1,000; .*flow.gif was not written"):
        write_gif(out, max_bytes=1000, **SMALL)
    assert out.read_bytes() == b"GIF89a the user's own"

    def half_then_ctrl_c(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"GIF89a half")
        raise KeyboardInterrupt
    monkeypatch.setattr(Image.Image, "save", half_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        write_gif(out, **SMALL)
    assert out.read_bytes() == b"GIF89a the user's own" and [p.name for p in tmp_path.iterdir()] == ["flow.gif"]


def test_animate_replaces_a_file_only_with_force_and_checks_before_drawing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "flow.gif"
    out.write_bytes(b"GIF89a mine")
    drawn = []
    monkeypatch.setattr("fmlite.tools.animate.flow_frames", lambda **kw: drawn.append(1) or flow_frames(**SMALL))
    with pytest.raises(SystemExit):
        main(["animate", "--out", str(out)])
    assert "exists; pass --force to replace it" in capsys.readouterr().err and drawn == []
    assert main(["animate", "--out", str(out), "--force"]) == 0 and drawn == [1]
    with Image.open(out) as gif:
        assert gif.format == "GIF"


def test_solutions_replace_their_own_copies_but_not_edited_ones(tmp_path, monkeypatch):
    import fmlite.tools.solutions as solutions
    dest = tmp_path / "solved"
    write_solutions(dest)
    first = {p.name: p.read_bytes() for p in dest.glob("*.ipynb")}
    real, calls = solutions.write_bytes, []

    def ctrl_c_after_one(file, data):
        if calls:
            raise KeyboardInterrupt
        calls.append(file)
        real(file, data)
    monkeypatch.setattr(solutions, "write_bytes", ctrl_c_after_one)
    with pytest.raises(KeyboardInterrupt):
        write_solutions(dest)
    monkeypatch.setattr(solutions, "write_bytes", real)
    write_solutions(dest)  # an interrupted run and a second run need no --force
    assert {p.name: p.read_bytes() for p in dest.glob("*.ipynb")} == first
    assert not list(dest.glob(TEMP_PREFIX + "*"))
    edited = dest / "00_start_here.ipynb"
    edited.write_text(edited.read_text().replace("not solved", "my note"))
    mine = edited.read_bytes()
    with pytest.raises(ValueError, match=r"changed since \(00_start_here.ipynb\); pass --force"):
        write_solutions(dest)
    assert edited.read_bytes() == mine
    write_solutions(dest, force=True)
    assert edited.read_bytes() == first["00_start_here.ipynb"]

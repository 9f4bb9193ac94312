"""`python -m fmlite doctor`: check, in the environment it runs in, what the course needs.

Each check returns a line of what it found, or raises `Failed(problem, fix)`; the report prints
one line per check ("ok" or "FAIL" with a one-line fix) and the exit status is 0 only when every
check passes. Checks: Python and package versions (from pyproject's bounds), the torch build and
the device "auto" picks (`fmlite.optim.resolve_device`), the JupyterLab widget extension in this
same environment (the classic cause of explorers that show only `VBox(children=...)`), the
shipped checkpoints in `data/` (`fmlite.pretrained.load_pretrained`), and a figure rendered with Agg.
"""
from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["CHECKS", "Failed", "run_checks", "main_doctor"]

#: Packages the course imports: distribution name -> lowest version (pyproject.toml's dependencies).
REQUIRED = {"numpy": "1.24", "torch": "2.1", "matplotlib": "3.7", "ipywidgets": "8.0", "jupyterlab": "4.0",
            "ipykernel": "6.0", "scikit-learn": "1.3", "scipy": "1.10", "tqdm": "4.60", "POT": "0.9",
            "jupyter-server-mathjax": "0.2.6"}
TORCH_BELOW = "2.14"
PIP_INSTALL = 'pip install -e ".[dev]" (from the repository folder, in this environment)'


class Failed(Exception):
    """A check failed: `problem` says what, `fix` is the one-line remedy."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


def _version_tuple(text: str) -> tuple:
    """(2, 13, 0) from "2.13.0+cpu"; the leading numbers only ("0.9.7.post1" -> (0, 9, 7), "1.10rc1" -> (1, 10))."""
    parts = []
    for piece in text.split("+")[0].split("."):
        digits = re.match(r"\d*", piece)[0]
        if not digits:
            break
        parts.append(int(digits))
        if digits != piece:
            break
    return tuple(parts)


def check_python() -> str:
    """Python 3.10 or newer (pyproject's requires-python)."""
    v = sys.version_info
    if v < (3, 10):
        raise Failed(f"Python {v.major}.{v.minor} is too old", "use Python 3.10 or newer in a fresh virtual environment")
    return f"Python {v.major}.{v.minor}.{v.micro} ({sys.executable})"


def check_packages() -> str:
    """Every required package installed at its lowest version or newer; torch below 2.14."""
    found, problems = [], []
    for name, lowest in REQUIRED.items():
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} missing")
            continue
        if _version_tuple(version) < _version_tuple(lowest):
            problems.append(f"{name} {version} < {lowest}")
        elif name == "torch" and _version_tuple(version) >= _version_tuple(TORCH_BELOW):
            problems.append(f"torch {version} >= {TORCH_BELOW}")
        found.append(f"{name} {version}")
    if problems:
        raise Failed(", ".join(problems), PIP_INSTALL)
    return ", ".join(found)


def check_torch() -> str:
    """The torch build (CPU or CUDA) and the device that device="auto" picks."""
    import torch

    from ..optim import resolve_device
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only"
    device = resolve_device("auto")
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    note = ""
    if torch.version.cuda and device.type == "cpu":
        note = "; a CUDA build without a usable GPU: fine, but the CPU wheel is far smaller"
    return f"torch {torch.__version__}, {build} build; device 'auto' -> {device}{gpu}{note}"


def check_widgets() -> str:
    """jupyterlab_widgets importable in this environment, with its labextension on disk."""
    try:
        import jupyterlab_widgets
    except ImportError:
        raise Failed("the JupyterLab widget extension (jupyterlab_widgets) is not installed in this environment",
                     "pip install ipywidgets jupyterlab_widgets in the environment that runs `jupyter lab`") from None
    ext = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter-widgets" / "jupyterlab-manager"
    if not (ext / "package.json").is_file():
        raise Failed(f"the widget labextension is missing from {ext.parent}",
                     "pip install --force-reinstall jupyterlab_widgets in this environment")
    version = getattr(jupyterlab_widgets, "__version__", None) or metadata.version("jupyterlab_widgets")
    return f"jupyterlab_widgets {version}, labextension in {ext}"


def check_checkpoints() -> str:
    """Every shipped checkpoint in data/ exists and loads."""
    from ..pretrained import PRETRAINED, load_pretrained
    loaded = []
    for name in PRETRAINED:
        try:
            model = load_pretrained(name)
        except FileNotFoundError as e:
            raise Failed(str(e), f"git restore data/{PRETRAINED[name]}, or python -m fmlite train {name}") from None
        except Exception as e:  # a corrupt or incompatible file
            raise Failed(f"data/{PRETRAINED[name]} does not load: {type(e).__name__}: {e}",
                         f"git restore data/{PRETRAINED[name]}, or python -m fmlite train {name} --force") from None
        loaded.append(f"{name} ({type(model).__name__}, {sum(p.numel() for p in model.parameters()):,} weights)")
    return "loaded " + ", ".join(loaded)


def check_figure() -> str:
    """A matplotlib figure renders to PNG with the Agg backend (no display needed); which format explorers use."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(2, 2), dpi=50)
    FigureCanvasAgg(fig)
    fig.add_subplot().plot([0, 1], [0, 1])
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png")
    except Exception as e:
        raise Failed(f"a figure does not render: {type(e).__name__}: {e}",
                     "pip install --force-reinstall matplotlib pillow") from None
    if not buf.getvalue().startswith(b"\x89PNG"):
        raise Failed("a figure rendered to something that is not a PNG", "pip install --force-reinstall matplotlib")
    from ..widgets.render import picture_format
    kind = picture_format()
    return (f"a {len(buf.getvalue()):,}-byte PNG with Agg; explorer pictures in {kind.upper()}"
            + ("" if kind == "webp" else " (Pillow without WebP: slower; pip install --force-reinstall pillow)"))


#: name -> check, run in this order.
CHECKS = {"python": check_python, "packages": check_packages, "torch": check_torch, "widgets": check_widgets,
          "checkpoints": check_checkpoints, "figure": check_figure}


def run_checks() -> list[tuple[str, bool, str]]:
    """Run every check of `CHECKS`: [(name, passed, line)], the line being what was found or 'problem -> fix:'."""
    results = []
    for name, check in CHECKS.items():
        try:
            results.append((name, True, check()))
        except Failed as e:
            results.append((name, False, f"{e.problem}. Fix: {e.fix}"))
        except Exception as e:  # a check that crashed is a failure, never a pass
            results.append((name, False, f"{type(e).__name__}: {e}. Fix: {PIP_INSTALL}"))
    return results


def main_doctor() -> int:
    """What `python -m fmlite doctor` runs: print one line per check; 0 when all pass, 1 otherwise."""
    results = run_checks()
    for name, ok, line in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name:<12} {line}")
    failed = [name for name, ok, _ in results if not ok]
    print("all checks passed" if not failed else f"{len(failed)} check(s) failed: {', '.join(failed)}")
    return 0 if not failed else 1

"""The package's shape: the maths imports no teaching layer, the import graph has no cycles, imports stay light."""
import ast
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fmlite"

#: The tooling (command line, recipes, site, doctor, animate, solutions) and `python -m fmlite`'s entry point.
TOOLING = {"tools", "__main__"}
#: The teaching layers: figures, sliders, exercises. They may import the maths, never the tooling.
TEACHING = {"plotting", "widgets", "exercises"}
#: Maths modules that are plumbing (checks, files, batches, optimiser, checkpoints): no notebook teaches them.
PLUMBING = {"", "checks", "files", "batches", "optim", "checkpoints"}


def _module_name(file: Path) -> str:
    parts = file.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(file: Path) -> set[str]:
    """fmlite modules imported anywhere in a file (top level or inside functions), as names relative to fmlite."""
    name = _module_name(file)
    package = name.split(".") if file.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1] if node.level > 1 else package
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [".".join(base + [a.name]) for a in node.names]
            elif node.module and node.module.split(".")[0] == "fmlite":
                names = [node.module[len("fmlite."):]] if node.module != "fmlite" else \
                    [a.name for a in node.names]
            else:
                continue
            found.update(n for n in names if n)
        elif isinstance(node, ast.Import):
            found.update(a.name[len("fmlite."):] for a in node.names if a.name.startswith("fmlite."))
    modules = {_module_name(f) for f in PACKAGE.rglob("*.py")}
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    return {_module_name(f): _imports(f) for f in PACKAGE.rglob("*.py") if _module_name(f)}


def _maths(graph) -> set[str]:
    """Every module outside the tooling and teaching sub-packages (the package's `__init__` is "")."""
    return {m for m in graph if m.split(".")[0] not in TOOLING | TEACHING}


def test_the_maths_imports_no_plotting_widgets_exercises_or_tooling():
    graph = _graph()
    maths = _maths(graph)
    assert {"paths", "scores", "likelihood", "gaussian_mixture", "gaussian_ot", "reflow", "pretrained",
            "losses"} <= maths and not maths & {"tools.cli", "tools.recipes", "widgets", "plotting.style"}
    for module in maths:
        bad = {m for m in graph[module] if m.split(".")[0] in TOOLING | TEACHING}
        assert not bad, f"fmlite.{module or '__init__'} imports {sorted(bad)}"


def test_the_teaching_layers_import_no_tooling():
    graph = _graph()
    for module in (m for m in graph if m.split(".")[0] in TEACHING):
        bad = {m for m in graph[module] if m.split(".")[0] in TOOLING}
        assert not bad, f"fmlite.{module} imports {sorted(bad)}"


def test_each_maths_module_names_the_notebook_that_teaches_it():
    """As d2l's helpers name their chapter: a back-link `notebooks/NN_name.ipynb` that exists."""
    notebooks = PACKAGE.parent / "notebooks"
    for module in sorted(_maths(_graph()) - PLUMBING):
        file = PACKAGE / (module.replace(".", "/") + ".py")
        if not file.exists():   # a maths sub-package (fmlite.manifolds): its __init__.py
            file = PACKAGE / module.replace(".", "/") / "__init__.py"
        doc = ast.get_docstring(ast.parse(file.read_text())) or ""
        named = re.findall(r"notebooks/(\d\d_\w+\.ipynb)", doc)
        assert named, f"fmlite.{module}'s docstring names no notebook (notebooks/NN_name.ipynb)"
        for name in named:
            assert (notebooks / name).is_file(), f"fmlite.{module} names notebooks/{name}, which does not exist"


def test_the_import_graph_has_no_cycles():
    graph, state, stack = _graph(), {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_the_checker_sees_imports():
    """The two tests above would pass on an empty graph: make sure the parser finds real edges."""
    graph = _graph()
    assert "checks" in graph["paths"] and "paths" in graph["exact"] and "tools.recipes" in graph["tools.cli_train"]
    assert "plotting" in graph["widgets.nb04_sampling"] and "tools.cli" in graph["__main__"]
    assert "pretrained" in graph["tools.animate"] and "scores" in graph["solvers"]


def test_import_fmlite_paths_pulls_neither_scipy_nor_the_networks():
    code = ("import sys, fmlite.paths; heavy = [m for m in ('scipy', 'fmlite.models', 'fmlite.couplings', "
            "'sklearn', 'matplotlib', 'ot') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.strip()
    assert out == "[]", out


def test_the_package_names_load_on_first_use():
    import fmlite
    from fmlite.pretrained import load_pretrained
    assert fmlite.load_pretrained is load_pretrained and "load_checkpoint" in dir(fmlite)
    try:
        fmlite.no_such_name
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:
        raise AssertionError("fmlite.no_such_name did not raise AttributeError")

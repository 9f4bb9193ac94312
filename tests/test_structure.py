"""The package's shape: the maths imports no teaching layer, the import graph has no cycles, imports stay light."""
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fmlite"

#: The maths: these read like the equations and must not depend on figures, sliders, exercises or the CLI.
MATHS = {"checks", "schedules", "paths", "exact", "couplings", "solvers", "train", "models", "datasets", "metrics",
         "digit_metrics", "checkpoints", "optim", "batches"}
#: The teaching and tooling layers that the maths must not import.
LAYERS = {"plotting", "widgets", "exercises", "cli", "cli_train", "__main__"}


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


def test_the_maths_imports_no_plotting_widgets_exercises_or_command_line():
    graph = _graph()
    for module in MATHS:
        assert module in graph, f"fmlite.{module} is missing"
        bad = {m for m in graph[module] if m.split(".")[0] in LAYERS}
        assert not bad, f"fmlite.{module} imports {sorted(bad)}"


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
    assert "checks" in graph["paths"] and "paths" in graph["exact"] and "recipes" in graph["pretrained"]
    assert "plotting" in graph["widgets.nb04_sampling"] and "cli" in graph["__main__"]


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

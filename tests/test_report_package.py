"""The shape of utils/report/: small modules with a docstring, no import cycle between them, and no file name of a
runs folder spelled in the package or in report.py (they come from utils.runs.layout)."""
import ast
from pathlib import Path

from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "utils" / "report"
FILE_NAMES = {layout.CONFIG, layout.RESULTS, layout.EVALUATION, layout.COMPLETE, layout.SCORES, layout.METRICS,
              layout.BEST, layout.INIT, layout.STATE, layout.LOCK, layout.SELECTION, layout.PLAN, layout.JOB,
              layout.SNAPSHOT_META, layout.REPORT_MARKDOWN, layout.KEPT_VS_DEV, layout.LEARNING_CURVES}


def modules() -> dict[str, ast.Module]:
    return {f"utils.report.{p.stem}": ast.parse(p.read_text(encoding="utf-8")) for p in PACKAGE.glob("*.py")}


def imports(tree: ast.Module) -> set[str]:
    """The utils.report modules a module imports (module-level and inside functions)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("utils.report"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("utils.report")}
    return found


def test_no_import_cycle() -> None:
    graph = {name: imports(tree) for name, tree in modules().items()}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, " -> ".join(path + (name,))
        if name in done:
            return
        for other in graph.get(name, ()):
            visit(other, path + (name,))
        done.add(name)

    for name in graph:
        visit(name, ())
    assert "utils.report.__init__" in graph and not graph["utils.report.__init__"]


def test_small_modules_with_a_docstring() -> None:
    for path in [*PACKAGE.glob("*.py"), REPO / "report.py"]:
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 300, path
        assert ast.get_docstring(ast.parse(text)), path


def docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes of a module, its classes and functions."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def test_no_file_name_of_a_runs_folder_is_spelled() -> None:
    for path in [*PACKAGE.glob("*.py"), REPO / "report.py", REPO / "utils" / "training" / "metricslog.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                spelled = [name for name in FILE_NAMES if name in node.value]
                assert not spelled, f"{path.name}:{node.lineno}: {spelled} spelled in {node.value!r}"

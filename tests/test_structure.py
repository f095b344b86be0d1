"""The shape of the code, as the project promises it: no import cycle among the project's modules, every package and
module with a docstring, no module over ~300 lines, thin run scripts, no shell file over 80 lines, and no runs-folder
file name spelled outside utils/runs/layout.py."""
import ast
import re
from pathlib import Path

import pytest

from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("utils", "models", "bench")
MAX_LINES = 320          # "no module over ~300 lines"
RUN_FILES = (layout.CONFIG, layout.RESULTS, layout.EVALUATION, layout.COMPLETE, layout.SCORES, layout.METRICS,
             layout.BEST, layout.INIT, layout.STATE, layout.SELECTION, layout.PLAN, layout.JOB)


def modules() -> dict[str, Path]:
    """Dotted name -> file of every project module (the packages, and the top-level scripts by file name)."""
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for path in REPO.glob("*.py"):
        found[path.stem] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports at module level or inside functions (any `import` statement)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
    return out


def test_no_import_cycle():
    found = modules()
    graph = {name: imports(path, set(found)) - {name} for name, path in found.items()}
    # a package's __init__ is imported with any of its modules; only cycles between modules count
    state: dict[str, int] = {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph.get(name, ())):
            if other.startswith(name + ".") or name.startswith(other + "."):
                continue
            if state.get(other) == 1:
                cycle = stack[stack.index(other):] + [other] if other in stack else [name, other]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if other not in state:
                visit(other, stack + [other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


@pytest.mark.parametrize("name, path", sorted(modules().items()))
def test_every_module_is_short_and_says_what_it_is(name, path):
    source = path.read_text(encoding="utf-8")
    assert ast.get_docstring(ast.parse(source)), f"{path.relative_to(REPO)} has no docstring"
    assert source.count("\n") <= MAX_LINES, f"{path.relative_to(REPO)}: {source.count(chr(10))} lines"


def test_run_scripts_are_thin_and_no_shell_file_is_long():
    for path in REPO.glob("run_*.sh"):
        assert path.read_text().count("\n") <= 40, path.name
    for path in [*REPO.glob("*.sh"), *(REPO / "utils").rglob("*.sh")]:
        assert path.read_text().count("\n") <= 80, path.name


def test_no_runs_folder_file_name_is_spelled_outside_the_layout_module():
    spelled = re.compile("|".join(re.escape(f'"{name}"') + "|" + re.escape(f"'{name}'") for name in RUN_FILES))
    offenders = []
    for path in [*modules().values()]:
        if path == REPO / "utils" / "runs" / "layout.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if spelled.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []

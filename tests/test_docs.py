"""Every command in the fenced ```bash blocks of README.md and docs/*.md runs as written. The cheap ones (`-h`,
`help`) are run for real; for the others what can be checked without training is checked: the script exists, the
flags of a training, prepare, predict, report or benchmark command parse with that script's own parser (shell
variables such as $NAME replaced by sample values; `--device cuda` checked as `--device cpu` on a machine without
CUDA), and a `run_<setting>.sh` command's mode exists and its variables are known, valid and parse as training
flags. Links between the documents point at files and headings that exist."""
import concurrent.futures
import contextlib
import functools
import importlib
import importlib.util
import io
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from utils.pipeline import variables
from utils.pipeline.plan import MODES, rounds_argument
from utils.pipeline.settings import SETTINGS

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 300

SAMPLES = {"NAME": "quick", "t": "0"}          # values of the shell variables the commands use
SUBSTITUTION = re.compile(r"\$\(([^)]*)\)")   # $(git rev-parse --short HEAD) and the like
SAMPLE_SUBSTITUTION = "0123abc"
SHELL_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)
REDIRECTIONS = (">", ">>", "2>", "&>", "&")
ENVIRONMENT = {"OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "CI"}   # variables of torch and CI, not of the project
EXTERNAL = {"pip", "mutmut"}   # tools outside the project: installing or mutation testing, never run here
HELP_WORDS = {"-h", "--help", "help"}
# Scripts without a parse_args function: only their existence is checked (their parser is built inside main).
NO_PARSER = {"bench/learning_per_epoch.py"}
LINK = re.compile(r"\]\(([^)\s]+)\)")
TEST_REFERENCE = re.compile(r"`(?:tests/)?(test_\w+\.py)?(?:::(test_\w+))?`")   # `test_x.py::test_y`, `::test_z`


@dataclass(frozen=True)
class Command:
    """One command of a ```bash block: where it is, the variables set before it, its words."""

    source: str
    environment: tuple[tuple[str, str], ...]
    words: tuple[str, ...]

    def __str__(self) -> str:
        return self.source


def bash_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, command text) of every command of the file's ```bash blocks, continuation lines joined."""
    commands, inside, pending, start = [], False, "", 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip().startswith("```"):
            inside = line.strip() == "```bash" if not inside else False
            continue
        if not inside:
            continue
        start = start or number
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        commands.append((start, pending + line))
        pending, start = "", 0
    return commands


def substitute(word: str, source: str) -> str:
    for name in SHELL_VARIABLE.findall(word):
        assert name in SAMPLES, f"{source}: no sample value for ${name} (add it to SAMPLES)"
    return SHELL_VARIABLE.sub(lambda match: SAMPLES[match.group(1)], word)


def parse_command(source: str, text: str) -> Command | None:
    """The command of one line of shell, None for a comment or blank line."""
    words = shlex.split(SUBSTITUTION.sub(SAMPLE_SUBSTITUTION, text), comments=True)
    for i, word in enumerate(words):
        if word in REDIRECTIONS:
            words = words[:i]
            break
    environment = []
    while words and ASSIGNMENT.fullmatch(words[0]):
        name, value = ASSIGNMENT.fullmatch(words[0]).groups()
        environment.append((name, substitute(value, source)))
        words = words[1:]
    if not words and not environment:
        return None
    return Command(source, tuple(environment), tuple(substitute(w, source) for w in words))


def documented_commands() -> list[Command]:
    found = []
    for path in DOCUMENTS:
        for number, text in bash_blocks(path):
            command = parse_command(f"{path.relative_to(REPO)}:{number}", text)
            if command:
                found.append(command)
    return found


COMMANDS = documented_commands()


def help_words(command: Command) -> tuple[str, ...] | None:
    """The words of a cheap command to run for real (`python X.py -h`, `bash run_X.sh help`), else None."""
    words = command.words
    if len(words) > 2 and words[0] == "python" and words[1] != "-m" and HELP_WORDS & set(words[2:]):
        return words
    if len(words) > 2 and words[0] == "bash" and words[2] in HELP_WORDS:
        return words
    return None


@functools.lru_cache(maxsize=None)
def run_for_real(words: tuple[str, ...]) -> subprocess.CompletedProcess:
    return subprocess.run(list(words), cwd=REPO, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module", autouse=True)
def cheap_commands_run_side_by_side():
    """Run every cheap command once, a few at a time (each starts Python and imports torch)."""
    unique = {w for w in map(help_words, COMMANDS) if w}
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(run_for_real, sorted(unique)))


def script_module(script: str):
    """A script of the repository as a module (prepare-data.py and bench/bench.py by their file)."""
    if "/" not in script and "-" not in script:
        return importlib.import_module(script[:-3])
    name = "docs_" + re.sub(r"\W", "_", script[:-3])
    spec = importlib.util.spec_from_file_location(name, REPO / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def on_this_machine(arguments: list[str]) -> list[str]:
    """The arguments with `--device cuda...` as `--device cpu` when this torch has no CUDA: the parsers refuse a
    device the machine lacks, which says nothing about the documented command."""
    import torch

    if torch.cuda.is_available():
        return arguments
    return [("cpu" if a.startswith("cuda") and i and arguments[i - 1] == "--device" else a)
            for i, a in enumerate(arguments)]


def check_flags(source: str, script: str, arguments: list[str], monkeypatch) -> None:
    """Parse `arguments` with the script's own parser; a refusal fails with the parser's message."""
    if script in NO_PARSER:
        return
    arguments = on_this_machine(arguments)
    module = script_module(script)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            if hasattr(module, "parse_args"):
                module.parse_args(arguments)
            else:   # prepare-data.py builds its parser in main: run main with the preparation itself left out
                monkeypatch.setattr(module, "prepare", lambda *args: None)
                module.main(arguments)
    except SystemExit as stop:
        if stop.code:
            pytest.fail(f"{source}: {script} refuses {' '.join(arguments)}: {stderr.getvalue().strip()}")


def check_environment(command: Command, known: set[str]) -> None:
    unknown = [name for name, _ in command.environment if name not in known | ENVIRONMENT]
    assert not unknown, f"{command.source}: unknown variable(s) {', '.join(unknown)}"


def check_run_script(command: Command, setting_name: str, arguments: list[str], monkeypatch) -> None:
    """A run script's mode exists, its variables are known and valid, and the training flags they give parse."""
    setting = SETTINGS[setting_name]
    check_environment(command, variables.known_names(setting.variables))
    assert arguments, f"{command.source}: no mode"
    mode = arguments[0]
    assert mode in MODES and (mode != "negative" or setting.negative), f"{command.source}: unknown mode {mode!r}"
    if mode == "masks":
        rounds_argument(tuple(arguments[1:]))
    environment = dict(command.environment)
    assert not variables.misspelled(environment, setting.variables), f"{command.source}: misspelled variable"
    values = variables.read(environment, setting.presets, setting.variables)
    variables.check_pipeline(values)
    for job, script in ((variables.STEP1, "train_single.py"), (variables.WARMUP, "train_mtl.py"),
                        (variables.JOINT, "train_mtl.py")):
        check_flags(command.source, script, variables.training_flags(values, job), monkeypatch)


def check_python(command: Command, monkeypatch) -> None:
    words = list(command.words[1:])
    if words[0] == "-m":
        module = words[1]
        if module == "pytest":
            for path in (w.split("::")[0] for w in words[2:] if not w.startswith("-") and not w.isdigit()):
                assert (REPO / path).exists(), f"{command.source}: no {path}"
        else:
            assert importlib.util.find_spec(module), f"{command.source}: no module {module}"
        return
    assert (REPO / words[0]).is_file(), f"{command.source}: no script {words[0]}"
    check_flags(command.source, words[0], words[1:], monkeypatch)


def check_bash(command: Command, monkeypatch) -> None:
    script, arguments = command.words[1], list(command.words[2:])
    assert (REPO / script).is_file(), f"{command.source}: no script {script}"
    match = re.fullmatch(r"run_(\w+)\.sh", script)
    if match:
        check_run_script(command, match.group(1), arguments, monkeypatch)
        return
    assert script == "prepare-masks.sh", f"{command.source}: no check for {script}"
    assert arguments and arguments[0] in SETTINGS, f"{command.source}: prepare-masks.sh needs a setting"
    check_environment(command, variables.known_names(SETTINGS[arguments[0]].variables))
    rounds_argument(tuple(arguments[1:]))


def check(command: Command, monkeypatch) -> None:
    words = command.words
    if help_words(command):
        assert (REPO / words[1]).is_file(), f"{command.source}: no script {words[1]}"
        done = run_for_real(words)
        assert done.returncode == 0 and done.stdout.strip(), f"{command.source}: {done.stderr[-2000:]}"
        return
    if not words:   # only assignments
        check_environment(command, set().union(*(variables.known_names(s.variables) for s in SETTINGS.values())))
        return
    if words[0] == "export":
        exported = Command(command.source, tuple(ASSIGNMENT.fullmatch(w).groups() for w in words[1:]), ())
        check(exported, monkeypatch)
    elif words[0] in EXTERNAL:
        for i, word in enumerate(words):
            if word == "-r":
                assert (REPO / words[i + 1]).is_file(), f"{command.source}: no {words[i + 1]}"
    elif words[0] == "python":
        check_environment(command, set())
        check_python(command, monkeypatch)
    elif words[0] == "bash":
        check_bash(command, monkeypatch)
    elif words[0] == "torchrun":
        check_environment(command, set())
        script = next(w for w in words if w.endswith(".py"))
        check_flags(command.source, script, list(words[words.index(script) + 1:]), monkeypatch)
    else:
        pytest.fail(f"{command.source}: no check for the command {words[0]!r} (tests/test_docs.py knows python, "
                    "bash, torchrun, export and pip/mutmut)")


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_documented_command(command, monkeypatch):
    check(command, monkeypatch)


def test_the_documents_hold_the_commands_of_every_kind():
    """The extraction is not vacuous: every kind of command is found, in the README and in docs/."""
    kinds = {c.words[0] if c.words[0] != "bash" else c.words[1] for c in COMMANDS if c.words}
    assert {"python", "torchrun", "run_conll03.sh", "run_ptb.sh", "prepare-masks.sh"} <= kinds
    assert any(c.source.startswith("README.md") for c in COMMANDS)
    assert len({c.source.split(":")[0] for c in COMMANDS}) >= 8


def test_extraction_joins_lines_and_replaces_variables(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("```bash\nEPOCHS=2 NAME=$NAME \\\n  bash run_conll03.sh all   # a comment\n# only a comment\n"
                   "python -m tests.golden_runs A B > out.json\n```\n```\nbash not_a_command.sh\n```\n")
    commands = [parse_command(f"doc:{n}", text) for n, text in bash_blocks(doc)]
    assert commands == [Command("doc:2", (("EPOCHS", "2"), ("NAME", "quick")), ("bash", "run_conll03.sh", "all")),
                        None, Command("doc:5", (), ("python", "-m", "tests.golden_runs", "A", "B"))]


def test_a_bad_command_is_caught(monkeypatch):
    """The checks refuse what the scripts refuse: an unknown mode, variable or flag."""
    for text in ("bash run_conll03.sh trian", "EPOCH=1 bash run_conll03.sh all", "BATCHING=zigzag bash run_ptb.sh all",
                 "python train_mtl.py --no_such_flag", "bash run_ptb.sh negative"):
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            check(parse_command("x:1", text), monkeypatch)


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors of the file's headings: lower case, punctuation dropped, spaces as '-'."""
    anchors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("path", DOCUMENTS + [REPO / "exp" / "README.md", REPO / "data" / "README.md"],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_links_point_at_files_and_headings_that_exist(path):
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{path.relative_to(REPO)}: link to {target}: no such file"
        if anchor:
            assert anchor in heading_anchors(linked), f"{path.relative_to(REPO)}: link to {target}: no such heading"


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_the_tests_the_documents_name_exist(path):
    """Every `test_x.py::test_y` (or `::test_y`, of the file named before it) names a test that exists."""
    last = None
    for match in TEST_REFERENCE.finditer(path.read_text(encoding="utf-8")):
        file, name = match.groups()
        if not file and not name:
            continue
        file = last = file or last
        source = REPO / "tests" / file
        assert source.is_file(), f"{path.relative_to(REPO)}: no tests/{file}"
        assert not name or f"def {name}(" in source.read_text(encoding="utf-8"), \
            f"{path.relative_to(REPO)}: no test {file}::{name}"


def test_readme_is_short_and_links_every_document():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    for path in DOCUMENTS[1:]:
        assert f"(docs/{path.name})" in readme, f"README.md does not link docs/{path.name}"

"""prepare-data.py --type columns: bad task specs are one line and exit 2 (no usage block), a task column past the
row's width names the task, a task with a single training tag (a one-based column) is refused, a task of token
ids is warned about, a word column of token ids is refused, CoNLL-U's word column defaults to FORM."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.data.conll import CONLLU_FORM

ROOT = Path(__file__).resolve().parents[1]
CONLLU = """# sent_id = 1
# text = The cat sat
1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj\t_\t_
3\tsat\tsit\tVERB\tVBD\t_\t0\troot\t_\t_

# sent_id = 2
1-2\tIt's\t_\t_\t_\t_\t_\t_\t_\t_
1\tIt\tit\tPRON\tPRP\t_\t2\tnsubj\t_\t_
2\t's\tbe\tAUX\tVBZ\t_\t0\troot\t_\t_
"""
COLUMNS = "The DT B-NP\ncat NN I-NP\n\nIt PRP B-NP\nran VBD B-VP\n"


def prepare(tmp_path: Path, *tasks: str, text: str = CONLLU, name: str = "ud.conllu", extra: tuple = ()):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    args = ["prepare-data.py", "--type", "columns", *(a for t in tasks for a in ("--task", t)),
            *(f"--{s}={path}" for s in ("train", "dev", "test")), "--embedding_dim", "8", "--out",
            str(tmp_path / "out"), *extra]
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def one_error(result: subprocess.CompletedProcess, status: int) -> str:
    """The run failed with `status` and a single stderr line `error: ...` (no usage block); that line."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == status, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0][len("error: "):]


@pytest.mark.parametrize("tasks, message", [
    (("upos:3:plain",), "--type columns needs two or more --task NAME:COLUMN:SCHEME[:FILES] (see --help)"),
    (("upos:3:plain", "xpos:four:plain"),
     "--task 'xpos:four:plain': the column 'four' must be a 0-based column number"),
    (("upos:3:plain", "xpos:4:xyz"),
     "--task 'xpos:4:xyz': unknown scheme 'xyz'; expected one of iob1, bio, bioes, plain"),
    (("upos:3:plain", "upos:4:plain"), "--task: each task needs its own name, got upos, upos"),
    (("upos:3:plain", "4x:4:plain"), "--task '4x:4:plain': the name '4x' must be letters, digits, '_' or '-', starting "
                                     "with a letter"),
    (("upos:3:plain", "form:1:plain"), "--task form: column 1 is the word column (--word_column)"),
    (("upos:3:plain", "xpos:4"), "--task 'xpos:4': expected NAME:COLUMN:SCHEME[:train=PATH,test=PATH,dev=PATH]"),
])
def test_bad_specs_are_one_line_and_exit_2(tmp_path, tasks, message):
    result = prepare(tmp_path, *tasks)
    assert one_error(result, 2) == message
    assert "usage" not in result.stderr and not (tmp_path / "out").exists()


def test_a_negative_word_column_is_one_line(tmp_path):
    result = prepare(tmp_path, "upos:3:plain", "xpos:4:plain", extra=("--word_column", "-1"))
    assert one_error(result, 2) == "--word_column -1: expected a 0-based column number"


def test_a_missing_file_is_one_line(tmp_path):
    result = prepare(tmp_path, "upos:3:plain", f"xpos:4:plain:train={tmp_path / 'none'},test={tmp_path / 'none'}")
    assert one_error(result, 2) == f"--task xpos: its train file {tmp_path / 'none'} does not exist"


def test_a_column_past_the_row_names_the_task(tmp_path):
    result = prepare(tmp_path, "chunk:2:bio", "pos:9:plain", text=COLUMNS, name="a.txt")
    assert one_error(result, 1) == (f"{tmp_path / 'a.txt'}:1: expected at least 10 columns, found 3 (task pos reads "
                                    "column 9)")
    result = prepare(tmp_path, "upos:3:plain", "misc:10:plain")
    assert one_error(result, 1) == (f"{tmp_path / 'ud.conllu'}:3: expected at least 11 columns, found 10 (task misc "
                                    "reads column 10)")


@pytest.mark.parametrize("spec, tag", [("deprel:8:plain", "_"), ("feats:5:plain", "_")])
def test_a_task_of_one_tag_is_refused(tmp_path, spec, tag):
    # deprel:8 is DEPS (all "_" here): the one-based column of DEPREL
    result = prepare(tmp_path, "upos:3:plain", spec)
    name, column = spec.split(":")[:2]
    assert one_error(result, 1) == (f"task {name} (column {column}): every training tag is {tag!r}; a task needs two "
                                    "or more tags (columns are 0-based: is its column one off?)")
    assert not (tmp_path / "out").exists()


def test_a_task_of_one_span_tag_is_refused(tmp_path):
    result = prepare(tmp_path, "pos:1:plain", "ner:2:bio", text=COLUMNS.replace("B-NP", "O").replace("I-NP", "O")
                     .replace("B-VP", "O"), name="a.txt")
    assert one_error(result, 1).startswith("task ner (column 2): every training tag is 'O'")


def test_a_task_of_token_ids_is_warned_about(tmp_path):
    result = prepare(tmp_path, "upos:3:plain", "id:0:plain")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: task")]
    assert warnings == ["warning: task id (column 0): 3 distinct tags for 5 training tokens, like token ids or "
                        "words (columns are 0-based: is its column right?)"]
    assert "warning: task upos" not in result.stderr


def test_a_word_column_of_token_ids_is_refused(tmp_path):
    result = prepare(tmp_path, "upos:3:plain", "xpos:4:plain", extra=("--word_column", "0"))
    assert one_error(result, 1) == (f"--word_column 0: the words of {tmp_path / 'ud.conllu'} are token ids (1, 2, 3, "
                                    "... in every sentence); CoNLL-U words are in FORM: --word_column 1")


@pytest.mark.parametrize("name, extra", [("ud.conllu", ()), ("ud.txt", ()), ("ud.txt", ("--format", "conllu"))])
def test_conllu_words_default_to_form(tmp_path, name, extra):
    result = prepare(tmp_path, "upos:3:plain", "deprel:7:plain", name=name, extra=extra)
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert (meta["columns"]["format"], meta["columns"]["word_column"]) == ("conllu", CONLLU_FORM)
    words = {line.split("\t")[0] for line in (tmp_path / "out" / "words.vocab").read_text().splitlines()}
    assert {"The", "cat", "sat", "It", "'s"} <= words and "It's" not in words and "1" not in words


def test_conll_and_conllu_files_together_are_refused(tmp_path):
    (tmp_path / "a.txt").write_text(COLUMNS, encoding="utf-8")
    (tmp_path / "b.conllu").write_text(CONLLU, encoding="utf-8")
    result = prepare(tmp_path, "upos:3:plain", f"xpos:4:plain:train={tmp_path / 'a.txt'},test={tmp_path / 'a.txt'}")
    assert one_error(result, 2) == (f"--format: {tmp_path / 'ud.conllu'} reads as CoNLL-U but {tmp_path / 'a.txt'} as "
                                    "CoNLL; give --format conll or conllu")

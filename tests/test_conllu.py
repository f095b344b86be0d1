"""CoNLL-U input: utils.data.conll's reader and format detection, prepare-data.py --type columns on a CoNLL-U treebank
built from CoNLL-2003 sentences (comments, a multiword range, an empty node, a FORM with a space), a tiny joint run,
and predict.py on its test file reproducing the run's test scores (as CoNLL-U, and as whitespace columns read from
the run's own word column)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import conll_sentences
from utils.data.conll import detect_format, read_rows
from utils.data.dataset import Dataset
from utils.runs.layout import RESULTS
from utils.runs.layout import run as run_folder

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
SIZES = {"train": 40, "dev": 15, "test": 15}
UPOS = {"NN": "NOUN", "NNS": "NOUN", "NNP": "PROPN", "NNPS": "PROPN", "JJ": "ADJ", "JJR": "ADJ", "JJS": "ADJ",
        "RB": "ADV", "DT": "DET", "IN": "ADP", "CD": "NUM", "PRP": "PRON", "PRP$": "PRON", "CC": "CCONJ",
        "TO": "PART", "MD": "AUX"}


def upos(ptb: str) -> str:
    """A small PTB -> UPOS table: verbs by prefix, punctuation for non-letter tags, X for the rest."""
    if ptb.startswith("VB"):
        return "VERB"
    return UPOS.get(ptb, "PUNCT" if not ptb[0].isalpha() else "X")


def token_rows(block: list[str]) -> list[list[str]]:
    """The 10 CoNLL-U fields of a CoNLL-2003 sentence: ID, FORM, LEMMA lowercased, UPOS from the PTB tag, XPOS =
    the PTB tag, HEAD the previous token, DEPREL the chunk type (dep outside chunks)."""
    rows = []
    for i, line in enumerate(block, 1):
        word, pos, chunk, _ = line.split()
        rows.append([str(i), word, word.lower(), upos(pos), pos, "_", str(i - 1), chunk[2:].lower() or "dep",
                     "_", "_"])
    return rows


def write_conllu(path: Path, blocks: list[list[str]], extras: bool) -> list[list[list[str]]]:
    """A CoNLL-U file of the sentences with comment lines; with `extras`, sentence 1 gets a multiword range over
    its first two tokens, sentence 2 an empty node, sentence 3 a FORM with a space. Returns the word rows."""
    lines, sentences = [], []
    for number, block in enumerate(blocks, 1):
        rows = token_rows(block)
        if extras and number == 3:
            rows[0][1] = f"{rows[0][1]} {rows[0][1]}"
        lines += [f"# sent_id = {number}", f"# text = {' '.join(r[1] for r in rows)}"]
        for row in rows:
            if extras and number == 1 and row[0] == "1":
                lines.append("\t".join(["1-2", rows[0][1] + rows[1][1]] + ["_"] * 8))
            lines.append("\t".join(row))
            if extras and number == 2 and row[0] == "1":
                lines.append("\t".join(["1.1", "elided", "elide", "VERB", "VB", "_", "_", "_", "0:root", "_"]))
        lines.append("")
        sentences.append(rows)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sentences


def run(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


def test_reader_skips_comments_ranges_and_empty_nodes(tmp_path):
    path = tmp_path / "a.conllu"
    path.write_text("# sent_id = 1\n1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n1\tdo\tdo\tAUX\tVBP\t_\t0\troot\t_\t_\n"
                    "2\tn't\tnot\tPART\tRB\t_\t1\tadvmod\t_\t_\n2.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t0:root\t_\n"
                    "3\tNew York\tNew York\tPROPN\tNNP\t_\t1\tobj\t_\t_\n\n# sent_id = 2\n"
                    "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n", encoding="utf-8")
    blocks = read_rows(path, "conllu")
    assert [numbers for numbers, _ in blocks] == [[3, 4, 6], [9]]
    assert [[row[1] for row in rows] for _, rows in blocks] == [["do", "n't", "New York"], ["Hi"]]
    assert [row[3] for row in blocks[0][1]] == ["AUX", "PART", "PROPN"]


@pytest.mark.parametrize("text, message", [
    ("1\tdo\tdo\tAUX\n", ":1: expected 10 tab-separated columns (CoNLL-U), found 4"),
    ("1 do do AUX VBP _ 0 root _ _\n", ":1: expected 10 tab-separated columns (CoNLL-U), found 1"),
    ("# c\n\nx\t" + "\t".join("_" * 9) + "\n", ":3: CoNLL-U ID 'x' is not a word index"),
    ("0\t" + "\t".join("_" * 9) + "\n", ":1: CoNLL-U ID '0' is not a word index"),
])
def test_reader_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.conllu"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as error:
        read_rows(path, "conllu")
    assert str(error.value).startswith(f"{path}{message}")


@pytest.mark.parametrize("name, text, expected", [
    ("a.conllu", "EU NNP B-NP B-ORG\n", "conllu"),
    ("a.txt", "# sent_id = 1\n# text = Hi\n1\tHi\t_\t_\t_\t_\t_\t_\t_\t_\n", "conllu"),
    ("a.txt", "\n1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n", "conllu"),
    ("a.txt", "1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n", "conllu"),
    ("a.txt", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\n", "conll"),
    ("a.txt", "# # B-NP O\n", "conll"),
    ("a.txt", "1 Hi hi INTJ UH _ 0 root _ _\n", "conll"),
    ("a.txt", "", "conll"),
])
def test_format_detection(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert detect_format(path) == expected


@pytest.fixture(scope="module")
def treebank(shared_data, tmp_path_factory) -> dict:
    """A CoNLL-U treebank of CoNLL-2003 sentences (train with the extras), prepared with --type columns (format and
    word column detected), and a tiny train_mtl.py run on it."""
    root = tmp_path_factory.mktemp("conllu")
    names = {"train": "train.conllu", "dev": "dev.txt", "test": "test.txt"}  # dev/test detected from their content
    sentences = {split: write_conllu(root / names[split],
                                     conll_sentences(shared_data / "conll03" / f"{split}.txt", n), split == "train")
                 for split, n in SIZES.items()}
    out = root / "processed"
    done = run(["prepare-data.py", "--type", "columns", "--task", "upos:3:plain", "--task", "xpos:4:plain",
                "--task", "deprel:7:plain", *(f"--{s}={root / names[s]}" for s in SIZES), "--embedding_dim", "16",
                "--out", str(out)])
    assert done.returncode == 0, done.stderr
    trained = run(["train_mtl.py", "--data_path", str(out), "--epochs", "1", "--hidden_size", "16",
                   "--train_limit", "40", "--save_dir", str(root / "mtl"), "--exp_name", "ud", "--device", "cpu"])
    assert trained.returncode == 0, trained.stderr[-2000:]
    return {"root": root, "sentences": sentences, "data": Dataset.load(str(out)), "run": root / "mtl" / "ud",
            "prepare": done}


def test_prepare_reads_form_and_the_task_columns(treebank):
    data, sentences = treebank["data"], treebank["sentences"]
    assert [t.name for t in data.tasks] == ["upos", "xpos", "deprel"]
    assert [t.metric for t in data.tasks] == ["acc", "acc", "acc"]
    for task, column in (("upos", 3), ("xpos", 4), ("deprel", 7)):
        vocab = next(t.tags for t in data.tasks if t.name == task)
        expected = {row[column] for split in sentences.values() for rows in split for row in rows}
        assert {w for w, _ in vocab} == expected, task
        assert {s: len(split) for s, split in next(t for t in data.tasks if t.name == task).splits.items()} == SIZES
    words = {w for w, _ in data.words}
    train_forms = {row[1] for rows in sentences["train"] for row in rows}
    assert train_forms <= words
    assert any(" " in w for w in words)                       # the FORM with a space is one word
    assert "elided" not in words                              # empty nodes are skipped
    assert sentences["train"][0][0][1] + sentences["train"][0][1][1] not in words  # so are multiword ranges
    columns = data.info["columns"]
    assert (columns["format"], columns["word_column"]) == ("conllu", 1)


def test_predict_conllu_reproduces_the_test_scores(treebank):
    root, run_dir = treebank["root"], treebank["run"]
    done = run(["predict.py", "--run", str(run_dir), "--input", str(root / "test.txt"), "--format", "conllu",
                "--output", str(root / "tagged.txt"), "--scores", str(root / "scores.json"), "--device", "cpu"])
    assert done.returncode == 0, done.stderr
    expected = json.loads((run_dir / RESULTS).read_text())["tasks"]
    got = json.loads((root / "scores.json").read_text())["tasks"]
    assert list(got) == ["upos", "xpos", "deprel"]
    for task in got:
        assert got[task]["score"] == pytest.approx(expected[task]["test"], abs=1e-6), task
    tagged = [block.split("\n") for block in (root / "tagged.txt").read_text().strip("\n").split("\n\n")]
    assert [[line.split(" ")[0] for line in block] for block in tagged] == \
        [[row[1] for row in rows] for rows in treebank["sentences"]["test"]]


def test_predict_conll_uses_the_runs_word_column(treebank):
    """The same test sentences as whitespace columns without comments: --format conll reads the words from the
    run's word column (1), and scores as the CoNLL-U file; --word_column 0 (the ids) is refused."""
    root, run_dir = treebank["root"], treebank["run"]
    plain = root / "test.columns"
    plain.write_text("\n\n".join("\n".join(" ".join(row) for row in rows)
                                 for rows in treebank["sentences"]["test"]) + "\n", encoding="utf-8")
    done = run(["predict.py", "--run", str(run_dir), "--input", str(plain), "--format", "conll",
                "--output", str(root / "tagged2.txt"), "--scores", str(root / "scores2.json"), "--device", "cpu"])
    assert done.returncode == 0, done.stderr
    expected = json.loads((run_dir / RESULTS).read_text())["tasks"]
    got = json.loads((root / "scores2.json").read_text())["tasks"]
    assert {t: s["score"] for t, s in got.items()} == pytest.approx({t: expected[t]["test"] for t in got}, abs=1e-6)
    refused = run(["predict.py", "--run", str(run_dir), "--input", str(plain), "--format", "conll",
                   "--word_column", "0", "--columns", "upos=3", "--output", str(root / "no.txt"), "--device", "cpu"])
    assert refused.returncode == 1 and not (root / "no.txt").exists()
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {plain}: column 0, read as the words, holds token ids (1, 2, 3, ... in every sentence), but the "
        "run's vocabulary does not: give the words' column with --word_column N or --format conllu (words in FORM, "
        "column 1)")


def test_a_treebank_trains_as_three_tasks_through_run_columns(treebank):
    """The acceptance of the CoNLL-U issue: the treebank's files as they are, UPOS, XPOS and DEPREL as three tasks
    through run_columns.sh (prepare and all on a budget), then predict.py on the test file with its gold columns
    reproduces results.json's test scores."""
    root = treebank["root"]
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "EMBEDDING": "",
           "TASKS": "upos:3:plain xpos:4:plain deprel:7:plain", "TRAIN": str(root / "train.conllu"),
           "DEV": str(root / "dev.txt"), "TEST": str(root / "test.txt"), "PROCESSED": str(root / "via-script"),
           "EXP_DIR": str(root / "exp"), "NAME": "ud", "TRAIN_LIMIT": "40", "EVAL_LIMIT": "30", "EPOCHS": "1",
           "PRUNING_ITER": "1", "FINAL_RATE": "0.5", "HIDDEN_SIZE": "16", "JOBS": "2", "DEVICE": "cpu"}
    for mode in ("prepare", "all"):
        done = subprocess.run(["bash", "run_columns.sh", mode], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    step3 = run_folder(str(root / "exp"), "ud").step3()
    done = run(["predict.py", "--run", step3, "--input", str(root / "test.txt"), "--format", "conllu",
                "--scores", str(root / "scores3.json"), "--output", str(root / "tagged3.txt"), "--device", "cpu"])
    assert done.returncode == 0, done.stderr
    expected = json.loads((Path(step3) / RESULTS).read_text())["tasks"]
    got = json.loads((root / "scores3.json").read_text())["tasks"]
    assert list(got) == ["upos", "xpos", "deprel"]
    assert {t: s["score"] for t, s in got.items()} == pytest.approx({t: expected[t]["test"] for t in got}, abs=1e-6)

"""Your own tasks end to end: prepare-data.py --type columns through run_columns.sh on CoNLL-2000 chunking (BIO, no
dev file: dev held out) and CoNLL-2003 NER (BIO read, trained as BIOES), then `all` on a tiny budget, the closing
table, metrics.jsonl and predict.py on the joint run; plus the one-line errors of bad task specs."""
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import conll_sentences
from utils.data.readers import ColumnTask, read_column_tasks
from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
BUDGET = {"TRAIN_LIMIT": "150", "EVAL_LIMIT": "80", "EPOCHS": "1", "MTL_EPOCHS": "1", "WARMUP_EPOCHS": "1",
          "PRUNING_ITER": "1", "FINAL_RATE": "0.5", "HIDDEN_SIZE": "32", "JOBS": "2", "NAME": "cols"}


def write(path: Path, blocks: list[list[str]]) -> Path:
    path.write_text("\n\n".join("\n".join(b) for b in blocks) + "\n", encoding="utf-8")
    return path


def vocabulary(path: Path) -> set[str]:
    """The entries of a fastNLP vocabulary file (word, count, id, no-create flag per line after its settings)."""
    return {line.split("\t")[0] for line in path.read_text().splitlines() if line.count("\t") == 3}


def environment(**extra: str) -> dict:
    return {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **extra}


def run(args: list[str], env: dict, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def setting(shared_data, tmp_path_factory) -> dict:
    """Slices of CoNLL-2000 (200 train / 80 test sentences) and CoNLL-2003 (200 / 80 / 80), prepared as a
    two-task columns setting; the run_columns.sh environment."""
    root = tmp_path_factory.mktemp("columns")
    chunk = {"train": conll_sentences(shared_data / "conll2000" / "train.txt", 200),
             "test": conll_sentences(shared_data / "conll2000" / "test.txt", 80)}
    ner = {split: conll_sentences(shared_data / "conll03" / f"{split}.txt", 200 if split == "train" else 80)
           for split in ("train", "dev", "test")}
    files = {f"chunk_{s}": write(root / f"chunk_{s}.txt", b) for s, b in chunk.items()}
    files.update({f"ner_{s}": write(root / f"ner_{s}.txt", b) for s, b in ner.items()})
    tasks = (f"chunk:2:bio:train={files['chunk_train']},test={files['chunk_test']} "
             f"ner:3:bioes:train={files['ner_train']},dev={files['ner_dev']},test={files['ner_test']}")
    env = environment(TASKS=tasks, PROCESSED=str(root / "processed"), EXP_DIR=str(root / "exp"),
                      EMBEDDING=str(shared_data / "glove" / "glove.6B.50d.subset.txt"), **BUDGET)
    done = run(["bash", "run_columns.sh", "prepare"], env)
    assert done.returncode == 0, done.stderr
    return {"root": root, "env": env, "chunk": chunk, "ner": ner, "prepare": done.stdout}


def test_prepare_stores_the_declared_schemes_and_holds_out_dev(setting) -> None:
    processed = setting["root"] / "processed"
    meta = json.loads((processed / "meta.json").read_text())
    assert meta["setting"] == "columns"
    assert meta["tasks"] == [{"name": "chunk", "metric": "bio"}, {"name": "ner", "metric": "bioes"}]
    # round(10%) of CoNLL-2000's 200 training sentences held out as dev
    rows = [line for line in setting["prepare"].splitlines() if line.split()[:2] in (["chunk", "train"],
                                                                                   ["chunk", "dev"])]
    assert [int(r.split()[2]) for r in rows] == [180, 20]
    ner_tags = vocabulary(processed / "tags.ner.vocab")
    gold = {row.split()[3] for split in setting["ner"].values() for block in split for row in block}
    assert any(t.startswith("S-") for t in ner_tags) and any(t.startswith("E-") for t in ner_tags)
    assert {t[2:] for t in ner_tags if t != "O"} == {t[2:] for t in gold if t != "O"}
    chunk_tags = vocabulary(processed / "tags.chunk.vocab")
    assert chunk_tags <= {row.split()[2] for split in setting["chunk"].values() for block in split for row in block}


def test_all_runs_steps_1_to_3_and_compares_them(setting) -> None:
    exp = setting["root"] / "exp"
    done = run(["bash", "run_columns.sh", "all"], setting["env"])
    assert done.returncode == 0, done.stderr[-3000:]
    cols = layout.run(str(exp), "cols")
    results = json.loads(Path(cols.step3(), layout.RESULTS).read_text())
    assert list(results["tasks"]) == ["chunk", "ner"]
    assert all(0 <= r[s] <= 100 for r in results["tasks"].values() for s in ("dev", "test"))
    # the closing table: one row per task, in data order, whose joint column is results.json's test score
    rows = [line for line in done.stdout.splitlines() if re.match(r"\| (Chunk|NER) F1 \|", line)]
    assert [r.split("|")[1].strip() for r in rows] == ["Chunk F1", "NER F1"]
    for row, task in zip(rows, ("chunk", "ner")):
        cells = [c.strip() for c in row.split("|")[1:-1]]
        step1 = [json.loads(line) for line in Path(cols.step1_task(["chunk", "ner"].index(task)),
                                                   layout.SCORES).read_text().splitlines()]
        assert cells[1] == f"{step1[0]['test']:.2f}"
        assert cells[4] == f"{results['tasks'][task]['test']:.2f}"
        assert cells[5] == f"{results['tasks'][task]['test'] - step1[0]['test']:+.2f}"
    # metrics.jsonl: Step 1 two rounds of one epoch per task; the joint run one epoch with both tasks
    step1 = [json.loads(line) for line in Path(cols.step1_task(1), layout.METRICS).read_text().splitlines()]
    assert [(r["stage"], r["task"], r["round"], r["epoch"]) for r in step1] == [("step1", "ner", 0, 1),
                                                                              ("step1", "ner", 1, 1)]
    joint = [json.loads(line) for line in Path(cols.step3(), layout.METRICS).read_text().splitlines()]
    assert [(r["stage"], r["epoch"], sorted(r["dev"])) for r in joint] == [("joint", 1, ["chunk", "ner"])]
    assert joint[0]["dev"] == pytest.approx(results["history"][0]["dev"])

    # predict.py tags the NER test slice with both subnets and scores the gold NER column
    scores = setting["root"] / "scores.json"
    done = run([sys.executable, "predict.py", "--run", cols.step3(), "--format", "conll",
                "--input", str(setting["root"] / "ner_test.txt"), "--columns", "ner=3",
                "--output", str(setting["root"] / "tagged.txt"), "--scores", str(scores)], setting["env"])
    assert done.returncode == 0, done.stderr
    tagged = (setting["root"] / "tagged.txt").read_text().split("\n\n")
    assert len([b for b in tagged if b.strip()]) == 80
    assert json.loads(scores.read_text())["tasks"]["ner"]["metric"] == "bioes"

    # the report reads the setting: task columns in data order, learning curves from every metrics.jsonl
    done = run([sys.executable, "report.py", "columns", "--exp_dir", str(exp)], setting["env"])
    assert done.returncode == 0, done.stderr
    assert "| System | Chunk F1 | Δ | NER F1 | Δ | # Params |" in done.stdout
    assert Path(cols.report, layout.LEARNING_CURVES).is_file()
    assert "- `step3/metrics.jsonl`" in done.stdout and "- `step1/cp/0/metrics.jsonl`" in done.stdout


@pytest.mark.parametrize("tasks, message", [
    ("chunk:2:bio", "give two or more task specs"),
    ("chunk:2:bio:train={train},test={train} pos:1:xyz:train={train},test={train}", "unknown scheme 'xyz'"),
    ("chunk:2:bio:train={train},test={train} pos:0:plain:train={train},test={train}", "is the word column"),
    ("chunk:2:bio:train={train},test={train} pos:1:plain:train={train}", "--task 'pos:1:plain:train="),
    ("chunk:2:bio:train={train},test={train} ner:1:bioes:train={train},test={train}", ":1: task ner (column 1"),
    ("chunk:2:bio:train={train},test={train} pos:9:plain:train={train},test={train}", ":1: expected at least 10"),
])
def test_bad_task_specs_are_one_line_errors(tasks, message, tmp_path) -> None:
    train = write(tmp_path / "train.txt", [["Confidence NN B-NP", "in IN B-PP"], ["It PRP B-NP"]])
    env = environment(TASKS=tasks.format(train=train), PROCESSED=str(tmp_path / "p"), EMBEDDING="")
    done = run(["bash", "run_columns.sh", "prepare"], env, timeout=60)
    assert done.returncode != 0
    assert message in done.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "p").exists() and not list(tmp_path.glob("p.tmp-*"))


def test_tasks_sharing_a_file_share_their_held_out_dev(tmp_path) -> None:
    # 10 sentences "w<i> X-tags": column 1 IOB1 (I- opens a span), column 2 BIOES; no dev file
    lines = [f"w{i} I-PER S-LOC\nv{i} I-PER O" for i in range(10)]
    path = write(tmp_path / "all.txt", [block.split("\n") for block in lines])
    files = {"train": str(path), "test": str(path)}
    corpus = read_column_tasks([ColumnTask("a", 1, "iob1", files), ColumnTask("b", 2, "bioes", files),
                                ColumnTask("c", 1, "plain", files)], dev_fraction=0.2, seed=3)
    order = list(range(10))
    random.Random(3).shuffle(order)
    dev = sorted(order[:2])
    for task in ("a", "b", "c"):
        assert [words[0] for words, _ in corpus[task]["dev"]] == [f"w{i}" for i in dev]
        assert len(corpus[task]["train"]) == 8 and len(corpus[task]["test"]) == 10
    assert corpus["a"]["train"][0][1] == ["B-PER", "I-PER"]     # IOB1 -> BIO
    assert corpus["b"]["train"][0][1] == ["S-LOC", "O"]         # BIOES kept
    assert corpus["c"]["train"][0][1] == ["I-PER", "I-PER"]     # plain: as in the file

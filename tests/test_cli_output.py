"""What the command line shows: run_conll03.sh single prints every epoch's dev line and every round's result as
they come, metrics.jsonl holds one record per epoch (rewritten, never appended twice), help names the data
variables, -h has no '(default: None)', missing data and a changed Step 2 choice are errors that say what to do."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from utils.training.metricslog import joint_metrics, read_metrics, step1_metrics, write_metrics
from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = ("run_conll03.sh", "run_ptb.sh", "run_ontonotes.sh", "run_columns.sh")
EPOCH_LINE = re.compile(r"^\[(\w+)\] round (\d+) epoch (\d+)/(\d+): dev ([\d.]+)(  \*best)?  loss ([\d.]+)  \d+s$")
ROUND_LINE = re.compile(r"^\[(\w+)\] round (\d+): kept ([\d.]+)%  dev ([\d.]+)  test ([\d.]+)  best epoch (\d+)/(\d+)")
TASKS = ("pos", "chunk", "ner")


def environment(**extra: str) -> dict:
    return {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **extra}


def run(args: list[str], env: dict, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def first_lines(path: Path, sentences: int) -> str:
    """The first `sentences` sentences of a CoNLL file, -DOCSTART- lines included as they come."""
    out, count = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        out.append(line)
        if not line.strip() and out[-2:-1] and out[-2].strip() and not out[-2].startswith("-DOCSTART-"):
            count += 1
            if count == sentences:
                break
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def single(shared_data, tmp_path_factory) -> dict:
    """CoNLL-2003 slices prepared through run_conll03.sh, then `single` on a budget: 2 rounds of 2 epochs per task."""
    root = tmp_path_factory.mktemp("cli")
    (root / "conll03").mkdir()
    for split in ("train", "dev", "test"):
        (root / "conll03" / f"{split}.txt").write_text(first_lines(shared_data / "conll03" / f"{split}.txt", 120))
    env = environment(DATA_DIR=str(root / "conll03"), EMBEDDING="", PROCESSED=str(root / "processed"),
                      EXP_DIR=str(root / "exp"), TRAIN_LIMIT="60", EVAL_LIMIT="40", EPOCHS="2", PRUNING_ITER="1",
                      FINAL_RATE="0.5", HIDDEN_SIZE="16", JOBS="3", NAME="cli")
    prepared = run(["bash", "run_conll03.sh", "prepare"], env)
    assert prepared.returncode == 0, prepared.stderr
    done = run(["bash", "run_conll03.sh", "single"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"root": root, "env": env, "stdout": done.stdout, "run": layout.run(str(root / "exp"), "cli")}


def test_single_shows_each_epoch_and_each_round(single) -> None:
    lines = single["stdout"].splitlines()
    epochs = [EPOCH_LINE.match(line) for line in lines if EPOCH_LINE.match(line)]
    rounds = [ROUND_LINE.match(line) for line in lines if ROUND_LINE.match(line)]
    assert sorted((m[1], int(m[2]), int(m[3])) for m in epochs) == sorted(
        (t, r, e) for t in TASKS for r in (0, 1) for e in (1, 2))
    assert sorted((m[1], int(m[2])) for m in rounds) == sorted((t, r) for t in TASKS for r in (0, 1))
    for task_id, task in enumerate(TASKS):
        scores = [json.loads(line) for line in
                  Path(single["run"].step1_task(task_id), layout.SCORES).read_text().splitlines()]
        for record in scores:
            shown = [m for m in epochs if m[1] == task and int(m[2]) == record["round"]]
            # each epoch line is that epoch's dev score; the round line's dev is the best of them
            assert [float(m[5]) for m in sorted(shown, key=lambda m: int(m[3]))] == \
                [round(h["dev"], 2) for h in record["history"]]
            line = next(m for m in rounds if m[1] == task and int(m[2]) == record["round"])
            assert float(line[4]) == max(float(m[5]) for m in shown)
            assert float(line[3]) == pytest.approx(record["kept"], abs=0.005)


def test_step1_metrics_jsonl_has_one_record_per_epoch(single) -> None:
    folder = Path(single["run"].step1_task(2))
    scores = [json.loads(line) for line in (folder / layout.SCORES).read_text().splitlines()]
    records = read_metrics(str(folder / layout.METRICS))
    expected = [("step1", "ner", r["round"], r["kept"], h["epoch"], h["dev"], h["loss"])
                for r in scores for h in r["history"]]
    assert [(m["stage"], m["task"], m["round"], m["kept"], m["epoch"], m["dev"]["ner"], m["loss"])
            for m in records] == expected
    assert len(records) == 4


def test_metrics_are_rewritten_from_the_history_not_appended(tmp_path) -> None:
    history = [{"epoch": 1, "dev": 50.0, "loss": 2.0, "seconds": 1.0}, {"epoch": 2, "dev": 60.0, "loss": 1.0,
                                                                         "seconds": 1.0}]
    finished = [{"round": 0, "kept": 100.0, "history": history}]
    mask = {"w": torch.tensor([True, False, False, False])}
    write_metrics(str(tmp_path), step1_metrics("ner", finished, 1, mask, {"history": history[:1]}))
    # a resumed run saves again after the same epoch: the file holds it once
    write_metrics(str(tmp_path), step1_metrics("ner", finished, 1, mask, {"history": history[:1]}))
    records = read_metrics(str(tmp_path / "metrics.jsonl"))
    assert [(r["round"], r["kept"], r["epoch"], r["dev"]) for r in records] == [
        (0, 100.0, 1, {"ner": 50.0}), (0, 100.0, 2, {"ner": 60.0}), (1, 25.0, 1, {"ner": 50.0})]
    joint = joint_metrics("sparse sharing", [{"epoch": 1, "dev": {"pos": 90.0, "ner": 70.0}, "average": 80.0,
                                              "loss": 1.5, "seconds": 3.456, "improved": True}])
    assert joint == [{"stage": "joint", "system": "sparse sharing", "tasks": ["pos", "ner"], "epoch": 1,
                      "dev": {"pos": 90.0, "ner": 70.0}, "dev_average": 80.0, "loss": 1.5, "seconds": 3.46,
                      "best": True}]


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_names_the_data_variables(script) -> None:
    done = run(["bash", script, "help"], environment())
    assert done.returncode == 0
    names = {"run_conll03.sh": ["DATA_DIR="], "run_ptb.sh": ["WSJ_DIR=", "CHUNK_DIR=", "NER_DIR="],
             "run_ontonotes.sh": ["ONTONOTES_DIR="], "run_columns.sh": ["TASKS=", "TRAIN="]}[script]
    for name in names + ["EMBEDDING=", "https://nlp.stanford.edu/projects/glove/"]:
        assert name in done.stdout, name


@pytest.mark.parametrize("script", ["train_single.py", "train_mtl.py", "prepare-data.py", "report.py"])
def test_help_has_no_empty_defaults(script) -> None:
    done = run([sys.executable, script, "-h"], environment())
    assert done.returncode == 0 and "--" in done.stdout
    assert "(default: None)" not in done.stdout and "(default: False)" not in done.stdout


def test_missing_data_says_what_to_do(tmp_path) -> None:
    env = environment(DATA_DIR=str(tmp_path / "nowhere"), PROCESSED=str(tmp_path / "p"), EXP_DIR=str(tmp_path / "e"))
    done = run(["bash", "run_conll03.sh", "single"], env)
    assert done.returncode == 1
    assert "run 'bash run_conll03.sh prepare' first" in done.stderr and f"DATA_DIR={tmp_path / 'nowhere'}" in done.stderr
    done = run(["bash", "run_conll03.sh", "prepare"], env)
    assert done.returncode == 1 and f"DATA_DIR={tmp_path / 'nowhere'} has no train.txt" in done.stderr
    done = run(["bash", "run_conll03.sh", "prepare"], {**env, "DATA_DIR": str(REPO), "EMBEDDING": "x.txt"})
    assert done.returncode == 1 and "has no train.txt" in done.stderr
    (tmp_path / "d").mkdir()
    for split in ("train", "dev", "test"):
        (tmp_path / "d" / f"{split}.txt").write_text("EU NNP B-NP B-ORG\n")
    done = run(["bash", "run_conll03.sh", "prepare"], {**env, "DATA_DIR": str(tmp_path / "d"), "EMBEDDING": "x.txt"})
    assert done.returncode == 1 and "EMBEDDING=x.txt: no such file" in done.stderr and "EMBEDDING= for random" in done.stderr
    assert not (tmp_path / "p").exists()


def test_masks_keep_a_choice_unless_overwrite(single) -> None:
    env = single["env"]
    assert run(["bash", "run_conll03.sh", "masks", "0", "0", "0"], env).returncode == 0
    assert run(["bash", "run_conll03.sh", "masks", "0", "0", "0"], env).returncode == 0  # the same choice
    done = run(["bash", "run_conll03.sh", "masks", "1", "1", "1"], env)
    assert done.returncode == 1
    assert "holds another choice of subnets (pos round 0, chunk round 0, ner round 0)" in done.stderr
    assert "OVERWRITE=1" in done.stderr
    selection = Path(single["run"].masks(), layout.SELECTION)
    assert [c["round"] for c in json.loads(selection.read_text())["chosen"]] == [0, 0, 0]
    assert run(["bash", "run_conll03.sh", "masks", "1", "1", "1"], {**env, "OVERWRITE": "1"}).returncode == 0
    assert [c["round"] for c in json.loads(selection.read_text())["chosen"]] == [1, 1, 1]

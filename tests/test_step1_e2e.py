"""End to end, Step 1 on real CoNLL-2003: `run_conll03.sh prepare` then a budget `run_conll03.sh single`."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fastNLP import Vocabulary

from utils.subnets.pruning import kept_schedule
from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
PRUNABLE = {"lstm.lstm.weight_ih_l0", "lstm.lstm.weight_hh_l0", "lstm.lstm.weight_ih_l0_reverse",
            "lstm.lstm.weight_hh_l0_reverse", "char.convs.0.weight"}


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, env={**os.environ, "PYTHON": sys.executable, **env}, capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def step1(shared_data, tmp_path_factory):
    """Prepare CoNLL-2003 with the 50-d GloVe subset, then Step 1 with 500 sentences, 1 epoch, 3 rounds to 12.5%."""
    root = tmp_path_factory.mktemp("step1")
    env = {"DATA_DIR": str(shared_data / "conll03"), "EMBEDDING": str(shared_data / "glove/glove.6B.50d.subset.txt"),
           "PROCESSED": str(root / "processed"), "EXP_DIR": str(root / "exp"), "TRAIN_LIMIT": "500",
           "EVAL_LIMIT": "200", "EPOCHS": "1", "PRUNING_ITER": "3", "FINAL_RATE": "0.125", "JOBS": "2",
           "DEVICE": "cpu", "OMP_NUM_THREADS": "1", "NAME": "e2e"}
    prepared = run(["bash", "run_conll03.sh", "prepare"], env)
    assert prepared.returncode == 0, prepared.stderr
    single = run(["bash", "run_conll03.sh", "single"], env)
    assert single.returncode == 0, single.stderr
    return root, env, prepared.stdout


def step1_tasks(root: Path) -> Path:
    return Path(layout.run(str(root / "exp"), "e2e").step1_tasks())


def load(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def rounds(task_dir: Path) -> list[tuple[dict, dict]]:
    """(mask record, best weights) per round, in round order."""
    out = []
    for r in range(4):
        [mask_file] = [f for f in task_dir.glob(f"{r}_*.th")]
        out.append((load(mask_file), load(task_dir / f"best_{mask_file.name}")))
    return out


def test_prepare_reports_the_standard_counts(step1):
    root, _, stdout = step1
    assert "14,041" in stdout and "3,250" in stdout and "3,453" in stdout
    meta = json.loads((root / "processed/meta.json").read_text())
    assert [t["name"] for t in meta["tasks"]] == ["pos", "chunk", "ner"]
    ner = Vocabulary.load(str(root / "processed/tags.ner.vocab"))
    assert len(ner) == 17
    assert {tag[0] for tag, _ in ner} == {"B", "I", "E", "S", "O"}


@pytest.mark.parametrize("task_id", [0, 1, 2])
def test_rounds_follow_the_schedule(step1, task_id):
    root = step1[0]
    task_dir = step1_tasks(root) / str(task_id)
    records = rounds(task_dir)
    total = sum(m.numel() for m in records[0][0]["mask"].values())
    for (record, _), target in zip(records, kept_schedule(0.125, 3)):
        assert set(record["mask"]) == PRUNABLE
        kept = sum(int(m.sum()) for m in record["mask"].values())
        assert abs(kept - target * total) <= 1
        assert record["task"] == ["pos", "chunk", "ner"][task_id]
    scores = [json.loads(line) for line in (task_dir / "scores.jsonl").read_text().splitlines()]
    assert [s["round"] for s in scores] == [0, 1, 2, 3]
    assert [round(s["kept"], 1) for s in scores] == [100.0, 50.0, 25.0, 12.5]
    assert all(0.0 <= s["dev"] <= 100.0 and 0.0 <= s["test"] <= 100.0 for s in scores)


@pytest.mark.parametrize("task_id", [0, 1, 2])
def test_masks_are_nested_and_keep_the_largest_weights(step1, task_id):
    records = rounds(step1_tasks(step1[0]) / str(task_id))
    for (previous, best), (current, _) in zip(records, records[1:]):
        kept_now, dropped = [], []
        for name, old in previous["mask"].items():
            new = current["mask"][name]
            assert not (new & ~old).any(), f"{name}: a pruned weight came back"
            magnitude = best[name].abs()
            kept_now.append(magnitude[new])
            dropped.append(magnitude[old & ~new])
        assert torch.cat(kept_now).min() >= torch.cat(dropped).max()


@pytest.mark.parametrize("task_id", [0, 1, 2])
def test_best_weights_are_zero_where_pruned(step1, task_id):
    for record, best in rounds(step1_tasks(step1[0]) / str(task_id)):
        for name, mask in record["mask"].items():
            assert not best[name][~mask].any()


def test_tasks_share_one_rewind_point(step1):
    cp = step1_tasks(step1[0])
    first = load(cp / "0/init_weights.th")
    for task_id in (1, 2):
        other = load(cp / f"{task_id}/init_weights.th")
        assert all(torch.equal(first[k], other[k]) for k in first)


def test_rerun_of_a_finished_step1_does_nothing(step1):
    root, env, _ = step1
    before = {p: p.read_bytes() for p in step1_tasks(root).rglob("*") if p.is_file() and p.name != ".lock"}
    again = run(["bash", "run_conll03.sh", "single"], env)
    assert again.returncode == 0, again.stderr
    assert all(f"Step 1, task {task}: {step1_tasks(root) / str(task)} finished already; nothing to do" in again.stdout
               for task in (0, 1, 2))
    assert {p: p.read_bytes() for p in before} == before
    assert (step1_tasks(root) / "0" / layout.SCORES).read_text().count("\n") == 4

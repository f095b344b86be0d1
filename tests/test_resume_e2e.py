"""End to end: a budget `run_conll03.sh all` killed with SIGKILL (the whole process group, as a crash or the OOM
killer would) once in Step 1 and once in Step 3, then re-run with the same NAME, ends with the same scores and
weights as an uninterrupted run; re-running the finished run does nothing."""
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import torch

from tests.killing import kill_when
from tests.test_resume import assert_same, strip_timings
from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
ALL = ["bash", "run_conll03.sh", "all"]
BUDGET = {"TRAIN_LIMIT": "60", "EVAL_LIMIT": "30", "EPOCHS": "2", "PRUNING_ITER": "1", "FINAL_RATE": "0.5",
          "WARMUP_EPOCHS": "1", "MTL_EPOCHS": "6", "HIDDEN_SIZE": "8", "JOBS": "1", "DEVICE": "cpu", "NAME": "r",
          "OMP_NUM_THREADS": "1"}


def environment(processed: Path, exp: Path) -> dict:
    return {**os.environ, **BUDGET, "PYTHON": sys.executable, "PROCESSED": str(processed), "EXP_DIR": str(exp)}


def run_all(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "run_conll03.sh", "all"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)


def outcome(exp: Path) -> dict:
    """Every weight and mask tensor of Step 1 and Step 3, and their scores without timings."""
    out = {}
    run = layout.run(str(exp), BUDGET["NAME"])
    step1, step3 = Path(run.step1_tasks()), Path(run.step3())
    for folder in [*sorted(step1.iterdir()), step3]:
        for path in sorted(folder.glob("*.th")):
            out[f"{folder.name}/{path.name}"] = torch.load(path, weights_only=True)
    for path in [*sorted(step1.glob(f"*/{layout.SCORES}")), step3 / layout.RESULTS]:
        records = [json.loads(line) for line in path.read_text().splitlines()] if path.suffix == ".jsonl" \
            else [json.loads(path.read_text())]
        out[str(path.relative_to(exp))] = strip_timings(records)
    return out


def test_killed_twice_and_resumed_equals_uninterrupted(processed_conll03_small, tmp_path):
    reference = tmp_path / "reference"
    done = run_all(environment(processed_conll03_small, reference))
    assert done.returncode == 0, done.stderr[-2000:]

    exp = tmp_path / "killed"
    env = environment(processed_conll03_small, exp)
    run = layout.run(str(exp), BUDGET["NAME"])
    results, rng = Path(run.step3(), layout.RESULTS), random.Random(os.getpid())
    kill_when(ALL, env, lambda: any(Path(run.step1_tasks()).glob(f"*/{layout.STATE}")), rng)
    assert not results.exists()
    kill_when(ALL, env, lambda: Path(run.step3(), layout.STATE).exists(), rng)
    assert not results.exists()
    resumed = run_all(env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    expected = outcome(reference)
    assert_same(outcome(exp), expected)

    again = run_all(env)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert_same(outcome(exp), expected)

"""DEVICES: Step 1's task jobs placed round-robin on a list of devices, JOBS at most per device; a task whose
device fails ends with one error line naming it while the others finish."""
import json
import os
import subprocess
import sys
from pathlib import Path

from utils.pipeline.executor import setting_of
from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
BUDGET = {"TRAIN_LIMIT": "60", "EVAL_LIMIT": "30", "EPOCHS": "1", "PRUNING_ITER": "1", "FINAL_RATE": "0.5",
          "HIDDEN_SIZE": "16", "OMP_NUM_THREADS": "1", "NAME": "d"}


def run_single(processed: Path, exp: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **BUDGET, "PYTHON": sys.executable, "PROCESSED": str(processed), "EXP_DIR": str(exp),
           **extra}
    return subprocess.run(["bash", "run_conll03.sh", "single"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)


def test_tasks_run_round_robin_on_the_devices(processed_conll03_small, tmp_path):
    """DEVICES=cpu,cpu JOBS=1: tasks 0 and 2 go to the first device, task 1 to the second; two run at once (task 1
    starts before task 0's rounds are done) and every task writes all its rounds."""
    done = run_single(processed_conll03_small, tmp_path / "exp", DEVICES="cpu,cpu", JOBS="1")
    assert done.returncode == 0, done.stderr
    run = layout.run(str(tmp_path / "exp"), "d")
    lines = done.stdout.splitlines()
    starts = {line.split()[3].rstrip(":"): i for i, line in enumerate(lines) if line.startswith("Step 1, task")}
    assert [line for line in lines if line.startswith("Step 1, task")] == [
        f"Step 1, task {t} on cpu: log in {run.step1_log(t)}" for t in (0, 1, 2)]
    first_round_of_0 = next(i for i, line in enumerate(lines) if line.startswith("[pos] round 1:"))
    assert starts["1"] < first_round_of_0 < starts["2"]
    for task in range(3):
        folder = Path(run.step1_task(task))
        scores = [json.loads(line) for line in (folder / "scores.jsonl").read_text().splitlines()]
        assert [s["round"] for s in scores] == [0, 1] and (folder / "complete.json").exists()
        assert setting_of(json.loads((folder / layout.CONFIG).read_text()), "device") == "cpu"


def test_a_failing_device_ends_its_task_only(processed_conll03_small, tmp_path):
    """A device that does not exist (cpu:7 is refused by torch) fails task 1 with one line naming it; tasks 0 and
    2 on the good device finish."""
    done = run_single(processed_conll03_small, tmp_path / "exp", DEVICES="cpu,nosuchdevice", JOBS="1")
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "task 1 (on nosuchdevice)" in errors[0]
    run = layout.run(str(tmp_path / "exp"), "d")
    for task in (0, 2):
        assert Path(run.step1_task(task), layout.COMPLETE).exists()
    assert not Path(run.step1_task(1), layout.COMPLETE).exists()

"""PROFILE and SEEDS end to end: PROFILE=quick's budget reaches the training scripts (explicit variables win),
SEEDS=1,2 runs a mode once per seed into EXP_DIR/NAME/seed<s>/ and resumes per seed. (Help and bad values:
tests/test_plan.py and tests/test_pipeline.py.)"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.pipeline.executor import setting_of
from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
CLEARED = ("PROFILE", "SEEDS", "SEED", "EPOCHS", "MTL_EPOCHS", "PATIENCE", "MTL_PATIENCE", "PRUNING_ITER",
           "FINAL_RATE", "WARMUP_EPOCHS", "JOBS", "EXP_DIR", "NAME", "OVERWRITE")


def environment(**extra: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return {**base, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **extra}


def run(script: str, args: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", script, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


BUDGET = {"TRAIN_LIMIT": "30", "EVAL_LIMIT": "20", "HIDDEN_SIZE": "16", "EPOCHS": "1"}


@pytest.fixture(scope="module")
def seeded(processed_conll03_small: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """SEEDS=1,2 PROFILE=quick bash run_conll03.sh single on a tiny budget (EPOCHS=1 given explicitly): the
    EXP_DIR, the environment and the output."""
    exp = tmp_path_factory.mktemp("seeds") / "exp"
    env = environment(SEEDS="1,2", PROFILE="quick", PROCESSED=str(processed_conll03_small), EXP_DIR=str(exp), JOBS="3",
                      NAME="s", **BUDGET)
    done = run("run_conll03.sh", ["single"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    return exp, env, done.stdout


def test_quick_profile_reaches_step1(seeded: tuple[Path, dict, str]) -> None:
    """Step 1's config has the quick profile's pruning_iter 4, final_rate 0.1, patience 1 and the explicit
    epochs; its rounds keep 0.1^(r/4): the paper's 20-round schedule at rounds 0, 5, 10, 15, 20."""
    exp = seeded[0]
    for task_id in (0, 1, 2):
        folder = Path(layout.run(str(exp), "s").seed(1).step1_task(task_id))
        config = json.loads((folder / layout.CONFIG).read_text())
        assert tuple(setting_of(config, k) for k in ("pruning_iter", "final_rate", "patience", "epochs")) == \
            (4, 0.1, 1, 1)
        kept = [json.loads(line)["kept"] for line in (folder / layout.SCORES).read_text().splitlines()]
        assert kept == pytest.approx([100.0, 56.2341, 31.6228, 17.7828, 10.0], abs=0.01)


def test_seeds_run_a_mode_once_per_seed_and_resume(seeded: tuple[Path, dict, str]) -> None:
    """One EXP_DIR/NAME/seed<s>/ per seed, each Step 1 with its own --seed (another θ(0): other scores); re-run,
    every task of every seed is finished: nothing to do."""
    exp, env, stdout = seeded
    run_dir = layout.run(str(exp), "s")
    assert [s for s, _ in run_dir.seeds()] == [1, 2]
    seeds = {s: setting_of(json.loads(Path(run_dir.seed(s).step1_task(2), layout.CONFIG).read_text()), "seed")
             for s in (1, 2)}
    assert seeds == {1: 1, 2: 2}
    first = {s: Path(run_dir.seed(s).step1_task(0), layout.SCORES).read_text() for s in (1, 2)}
    assert first[1] != first[2]
    assert "== seed 1 (1 of 2)" in stdout and "== seed 2 (2 of 2)" in stdout
    again = run("run_conll03.sh", ["single"], env)
    assert again.returncode == 0
    assert again.stdout.count("finished already; nothing to do") == 6

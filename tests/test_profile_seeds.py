"""PROFILE and SEEDS of the run_*.sh scripts: help lists them with the values a profile gives, PROFILE=quick's
budget reaches the training scripts (explicit variables win), SEEDS=1,2 runs a mode once per seed into
EXP_DIR/seed<s>/ and resumes per seed, and bad values are one-line errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = ("run_conll03.sh", "run_ptb.sh", "run_ontonotes.sh", "run_columns.sh")
CLEARED = ("PROFILE", "SEEDS", "SEED", "EPOCHS", "MTL_EPOCHS", "PATIENCE", "MTL_PATIENCE", "PRUNING_ITER",
           "FINAL_RATE", "WARMUP_EPOCHS", "JOBS", "EXP_DIR", "NAME", "OVERWRITE")


def environment(**extra: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return {**base, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **extra}


def run(script: str, args: list[str], env: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", script, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def settings(text: str) -> dict[str, str]:
    """KEY=VALUE words of help's 'environment (defaults)' block."""
    block = text.split("environment (defaults):", 1)[1]
    return dict(word.split("=", 1) for word in block.split() if "=" in word and word[0].isupper())


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_lists_profile_and_seeds(script: str) -> None:
    done = run(script, ["help"], environment())
    assert done.returncode == 0, done.stderr
    assert "PROFILE=paper (paper|quick)" in done.stdout and "SEEDS=" in done.stdout
    got = settings(done.stdout)
    assert {k: got[k] for k in ("EPOCHS", "MTL_EPOCHS", "PATIENCE", "MTL_PATIENCE", "PRUNING_ITER", "FINAL_RATE",
                                "WARMUP_EPOCHS", "JOBS")} == {
        "EPOCHS": "100", "MTL_EPOCHS": "100", "PATIENCE": "0", "MTL_PATIENCE": "0", "PRUNING_ITER": "20",
        "FINAL_RATE": "0.1", "WARMUP_EPOCHS": "1", "JOBS": "1"}


def test_quick_profile_values_and_explicit_variables_win() -> None:
    quick = settings(run("run_conll03.sh", ["help"], environment(PROFILE="quick")).stdout)
    assert {k: quick[k] for k in ("EPOCHS", "MTL_EPOCHS", "PATIENCE", "MTL_PATIENCE", "PRUNING_ITER", "FINAL_RATE",
                                  "WARMUP_EPOCHS", "JOBS")} == {
        "EPOCHS": "3", "MTL_EPOCHS": "3", "PATIENCE": "1", "MTL_PATIENCE": "1", "PRUNING_ITER": "4",
        "FINAL_RATE": "0.1", "WARMUP_EPOCHS": "1", "JOBS": "3"}
    mixed = settings(run("run_conll03.sh", ["help"], environment(PROFILE="quick", EPOCHS="7", JOBS="1",
                                                                  MTL_PATIENCE="0")).stdout)
    assert (mixed["EPOCHS"], mixed["MTL_EPOCHS"], mixed["JOBS"], mixed["PATIENCE"], mixed["MTL_PATIENCE"],
            mixed["PRUNING_ITER"]) == ("7", "7", "1", "1", "0", "4")


@pytest.mark.parametrize("variables, named", [({"PROFILE": "fast"}, "PROFILE=fast"),
                                              ({"SEEDS": "1,,2"}, "SEEDS=1,,2"), ({"SEEDS": "1,-2"}, "SEEDS=1,-2"),
                                              ({"SEEDS": "a"}, "SEEDS=a"), ({"SEEDS": "3,3"}, "SEEDS=3,3"),
                                              ({"PATIENCE": "x"}, "PATIENCE=x")])
def test_bad_profile_or_seeds_is_one_line(tmp_path: Path, variables: dict, named: str) -> None:
    done = run("run_conll03.sh", ["single"], environment(EXP_DIR=str(tmp_path / "exp"), **variables))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {named}:")
    assert not (tmp_path / "exp").exists()


BUDGET = {"TRAIN_LIMIT": "30", "EVAL_LIMIT": "20", "HIDDEN_SIZE": "16", "EPOCHS": "1"}


@pytest.fixture(scope="module")
def seeded(processed_conll03: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """SEEDS=1,2 PROFILE=quick bash run_conll03.sh single on a tiny budget (EPOCHS=1 given explicitly): the
    EXP_DIR, the environment and the output."""
    exp = tmp_path_factory.mktemp("seeds") / "exp"
    env = environment(SEEDS="1,2", PROFILE="quick", PROCESSED=str(processed_conll03), EXP_DIR=str(exp), JOBS="3",
                      NAME="s", **BUDGET)
    done = run("run_conll03.sh", ["single"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    return exp, env, done.stdout


def test_quick_profile_reaches_step1(seeded: tuple[Path, dict, str]) -> None:
    """Step 1's config has the quick profile's pruning_iter 4, final_rate 0.1, patience 1 and the explicit
    epochs; its rounds keep 0.1^(r/4): the paper's 20-round schedule at rounds 0, 5, 10, 15, 20."""
    exp = seeded[0]
    for task_id in (0, 1, 2):
        folder = exp / "seed1" / "single" / "cp" / str(task_id)
        config = json.loads((folder / "config.json").read_text())
        assert (config["pruning_iter"], config["final_rate"], config["patience"], config["epochs"]) == (4, 0.1, 1, 1)
        kept = [json.loads(line)["kept"] for line in (folder / "scores.jsonl").read_text().splitlines()]
        assert kept == pytest.approx([100.0, 56.2341, 31.6228, 17.7828, 10.0], abs=0.01)


def test_seeds_run_a_mode_once_per_seed_and_resume(seeded: tuple[Path, dict, str]) -> None:
    """One EXP_DIR/seed<s>/ per seed, each Step 1 with its own --seed (another θ(0): other scores); re-run, every
    task of every seed is finished: nothing to do."""
    exp, env, stdout = seeded
    assert sorted(p.name for p in exp.iterdir()) == ["seed1", "seed2"]
    seeds = {s: json.loads((exp / f"seed{s}" / "single" / "cp" / "2" / "config.json").read_text())["seed"]
             for s in (1, 2)}
    assert seeds == {1: 1, 2: 2}
    first = {s: (exp / f"seed{s}" / "single" / "cp" / "0" / "scores.jsonl").read_text() for s in (1, 2)}
    assert first[1] != first[2]
    assert "== seed 1 (1 of 2)" in stdout and "== seed 2 (2 of 2)" in stdout
    again = run("run_conll03.sh", ["single"], env)
    assert again.returncode == 0
    assert again.stdout.count("already finished; nothing to do") == 6

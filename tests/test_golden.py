"""Same behaviour: a budget `run_conll03.sh baselines` and `negative` write exactly the numbers recorded in
tests/golden/budget_runs.json (every score, loss, count and round, bit for bit; tests/golden_runs.py has the
command that re-records them). Then, in the same runs folder: runs with other names and other settings have their
own Step 1, and a run with the same settings reuses the finished jobs (said on the terminal)."""
import json
import os
import subprocess
import sys

import pytest

from tests.golden_runs import BUDGET, GOLDEN, REPO, collect, differences, run_budget
from utils.pipeline.executor import setting_of
from utils.runs import layout


@pytest.fixture(scope="module")
def golden(processed_conll03_small, processed_conll03_pp_small, tmp_path_factory) -> dict:
    exp = tmp_path_factory.mktemp("golden") / "exp"
    run_budget(str(processed_conll03_small), str(processed_conll03_pp_small), str(exp))
    env = {**os.environ, **BUDGET, "PYTHON": sys.executable, "PROCESSED": str(processed_conll03_small),
           "EXP_DIR": str(exp)}
    return {"exp": str(exp), "env": env}


def run_all(golden: dict, mode: str = "all", **variables: str) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", "run_conll03.sh", mode], cwd=REPO, env={**golden["env"], **variables},
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_budget_runs_give_the_golden_numbers(golden):
    got = collect(layout.run(golden["exp"], BUDGET["NAME"]))
    assert differences(got, json.loads(GOLDEN.read_text())) == []


def test_a_run_with_the_same_settings_reuses_every_finished_job(golden):
    done = run_all(golden, NAME="again")
    source, again = layout.run(golden["exp"], "gold"), layout.run(golden["exp"], "again")
    reused = [(again.warmup, source.warmup), (again.masks(), source.masks()), (again.step3(), source.step3())]
    reused += [(again.step1_task(t), source.step1_task(t)) for t in range(3)]
    for folder, origin in reused:
        assert os.path.islink(folder) and os.path.realpath(folder) == os.path.realpath(origin)
        assert f"reusing {origin} (finished, same settings" in done.stdout
    assert "train_single.py" not in done.stdout and not os.path.exists(os.path.join(again.root, "step1-nomtw"))


def test_runs_with_other_settings_have_their_own_step1_and_baselines_reuse_it(golden):
    """Two `all` with different names in one EXP_DIR both finish, each with its own Step 1 (the second has other
    settings); a `baselines` after the second, with its settings, reuses its Step 1 and says so."""
    first = run_all(golden, NAME="small", HIDDEN_SIZE="8")
    small = layout.run(golden["exp"], "small")
    assert "reusing" not in first.stdout
    for folder in (small.warmup, small.step3(), *(small.step1_task(t) for t in range(3))):
        assert os.path.isdir(folder) and not os.path.islink(folder)
        assert setting_of(json.loads(open(os.path.join(folder, layout.CONFIG)).read()), "hidden_size") == 8
    done = run_all(golden, "baselines", NAME="later", HIDDEN_SIZE="8")
    later = layout.run(golden["exp"], "later")
    for task in range(3):
        assert f"reusing {small.step1_task(task)}" in done.stdout
        assert os.path.realpath(later.step1_task(task)) == os.path.realpath(small.step1_task(task))
        assert os.path.isdir(later.step1_task(task, "nomtw")) and not os.path.islink(later.step1_task(task, "nomtw"))
    assert os.path.isfile(os.path.join(later.baseline("hier"), layout.RESULTS))

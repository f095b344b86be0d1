"""Temperature sampling of joint training (`--sampling temperature --temperature T`: task probability ∝ N_t^(1/T),
jiant's sampler): T = 1 is proportional sampling draw for draw, an epoch has as many steps as a proportional one,
the draws follow N_t^(1/T) (checked on counts against probabilities worked out by hand), large T tends to
uniform; a T that is not positive is refused, by the function and by both entry points (flag and TEMPERATURE)."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from utils.pipeline import variables
from utils.runs import layout
from utils.training.sampling import SAMPLINGS, epoch_schedule, proportional, tempered, temperature_sampling

ROOT = Path(__file__).resolve().parents[1]
SIZES = [100, 1000, 10000]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def chi_square(schedule: list[int], probabilities: list[float]) -> float:
    n = len(schedule)
    return sum((schedule.count(k) - n * p) ** 2 / (n * p) for k, p in enumerate(probabilities))


CHI2_2DF_999 = 13.82   # the 0.999 quantile of chi-square with 2 degrees of freedom (three tasks)


def test_temperature_is_a_sampling_choice():
    assert "temperature" in SAMPLINGS


@pytest.mark.parametrize("seed", [0, 1, 2019])
def test_t1_is_proportional_draw_for_draw(seed):
    assert temperature_sampling(SIZES, 5000, gen(seed), 1.0) == proportional(SIZES, 5000, gen(seed))
    batches = [10, 100, 1000]
    assert (epoch_schedule("temperature", SIZES, batches, gen(seed), temperature=1.0)
            == epoch_schedule("proportional", SIZES, batches, gen(seed)))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 1e6])
def test_an_epoch_has_as_many_steps_as_a_proportional_one(temperature):
    batches = [3, 7, 11]
    assert len(epoch_schedule("temperature", SIZES, batches, gen(0), temperature=temperature)) == sum(batches)


def test_both_draw_the_same_amount_from_the_generator():
    a, b = gen(5), gen(5)
    temperature_sampling(SIZES, 100, a, 3.0)
    proportional(SIZES, 100, b)
    assert torch.equal(a.get_state(), b.get_state())


def test_t2_counts_follow_square_roots():
    # N^(1/2) = 10, 31.62, 100: p = 10 / 141.62, 31.62 / 141.62, 100 / 141.62
    roots = [10.0, math.sqrt(1000), 100.0]
    probabilities = [r / sum(roots) for r in roots]
    schedule = temperature_sampling(SIZES, 30000, gen(3), 2.0)
    assert chi_square(schedule, probabilities) < CHI2_2DF_999
    assert chi_square(schedule, [n / sum(SIZES) for n in SIZES]) > 1000   # and not proportional


def test_large_t_tends_to_uniform_counts():
    schedule = temperature_sampling(SIZES, 30000, gen(4), 1e6)
    assert chi_square(schedule, [1 / 3] * 3) < CHI2_2DF_999
    hot = chi_square(temperature_sampling(SIZES, 30000, gen(4), 5.0), [1 / 3] * 3)
    assert hot > CHI2_2DF_999   # T = 5 still favours the large task: 2.51 : 3.98 : 6.31


def test_small_t_does_not_overflow_and_tends_to_the_largest_task():
    weights = tempered(SIZES, 0.01)
    assert weights[2] == 1.0 and all(math.isfinite(w) for w in weights)
    assert set(temperature_sampling(SIZES, 1000, gen(0), 0.01)) == {2}


def test_an_empty_task_is_never_drawn():
    assert set(temperature_sampling([0, 50, 50], 2000, gen(1), 4.0)) == {1, 2}


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_a_temperature_that_is_not_positive_is_refused(bad):
    with pytest.raises(ValueError, match="--temperature"):
        temperature_sampling(SIZES, 10, gen(0), bad)


def test_temperature_sampling_needs_a_temperature():
    with pytest.raises(ValueError, match="--temperature"):
        epoch_schedule("temperature", SIZES, [1, 1, 1], gen(0))


def test_the_pipeline_variable_sets_the_flag_for_joint_runs_only():
    values = variables.read({"TEMPERATURE": "2", "SAMPLING": "temperature"}, {}, ())
    for job in (variables.WARMUP, variables.JOINT):
        flags = variables.training_flags(values, job)
        assert flags[flags.index("--temperature") + 1] == "2"
        assert flags[flags.index("--sampling") + 1] == "temperature"
    assert "--temperature" not in variables.training_flags(values, variables.STEP1)


def train_mtl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train_mtl.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"})


def test_train_mtl_t1_equals_proportional(processed_conll03_small, tmp_path):
    common = ["--data_path", str(processed_conll03_small), "--train_limit", "40", "--eval_limit", "20",
              "--hidden_size", "8", "--epochs", "1", "--device", "cpu", "--save_dir", str(tmp_path),
              "--no_tensorboard"]
    for name, sampling in (("t1", ["--sampling", "temperature", "--temperature", "1"]),
                           ("prop", ["--sampling", "proportional"])):
        result = train_mtl(*common, "--exp_name", name, *sampling)
        assert result.returncode == 0, result.stderr[-3000:]
    t1, prop = (json.loads((tmp_path / name / layout.RESULTS).read_text()) for name in ("t1", "prop"))
    assert t1["sampling"] == "temperature" and t1["sampling_counts"] == prop["sampling_counts"]
    assert t1["tasks"] == prop["tasks"]


@pytest.mark.parametrize("value", ["0", "-2", "hot"])
def test_train_mtl_refuses_a_bad_temperature(value, tmp_path):
    result = train_mtl("--sampling", "temperature", "--temperature", value, "--save_dir", str(tmp_path))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--temperature" in result.stderr

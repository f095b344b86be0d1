"""The experiment graph, without training: which stages and jobs each mode plans, that every folder they write
comes from the runs-folder layout, that SEEDS gives one plan per seed, and that only variables the user set (or
the profile and setting preset) become training flags."""
import os

import pytest

from utils.pipeline import variables
from utils.pipeline.identity import Keys, parse_flags
from utils.pipeline.plan import Job, Request, outputs, plan, rounds_argument
from utils.pipeline.settings import SETTINGS
from utils.runs import layout


def request(mode: str, **extra) -> Request:
    base = dict(setting="conll03", mode=mode, name="r", exp_dir="exp/x", processed="data/p", task_ids=(0, 1, 2),
                flags={"step1": ("--epochs", "3"), "warmup": ("--epochs", "1"), "joint": ("--epochs", "5")})
    return Request(**{**base, **extra})


def flag(job: Job, name: str) -> object:
    return parse_flags(job.command)[1].get(name)


def test_baselines_has_every_row_of_the_main_table_and_the_mtw_ablation():
    stages = plan(request("baselines"))
    run = layout.run("exp/x", "r")
    assert [s.title.split(":")[0] for s in stages] == [
        "multi-task warmup (hard sharing)", "Step 1", "Step 2", "Step 3", "compare", "Step 1 without MTW",
        "Step 2 without MTW", "Step 3 without MTW", "baseline", "baseline", "baseline"]
    assert outputs(stages) == [run.warmup, *(run.step1_task(t) for t in range(3)), run.masks(), run.step3(),
                               *(run.step1_task(t, "nomtw") for t in range(3)), run.masks("nomtw"),
                               run.step3("nomtw"), run.baseline("hard"), run.baseline("soft"), run.baseline("hier")]
    step1, nomtw = stages[1], stages[5]
    assert step1.parallel and nomtw.parallel
    assert [flag(j, "--init_weights") for j in step1.jobs] == [os.path.join(run.warmup, layout.BEST)] * 3
    assert [flag(j, "--init_weights") for j in nomtw.jobs] == [None] * 3
    assert flag(stages[3].jobs[0], "--masks_path") == run.masks()
    assert flag(stages[7].jobs[0], "--masks_path") == run.masks("nomtw")
    assert [flag(s.jobs[0], "--system") for s in (stages[3], stages[7])] == ["sparse sharing",
                                                                             "sparse sharing (no MTW)"]
    assert [flag(s.jobs[0], "--arch") for s in stages[8:]] == ["cnn-lstm", "soft", "hier-lstm"]


def test_every_job_gets_the_flags_of_its_kind():
    stages = plan(request("all"))
    assert flag(stages[0].jobs[0], "--epochs") == "1"                       # warmup
    assert {flag(j, "--epochs") for j in stages[1].jobs} == {"3"}            # Step 1
    assert flag(stages[3].jobs[0], "--epochs") == "5"                       # Step 3
    assert all(flag(j, "--resume") is True for s in stages[:4] for j in s.jobs if j.kind != "masks")


def test_all_ends_with_the_comparison_of_the_run():
    stages = plan(request("all"))
    assert stages[-1].jobs[0].command == ("report.py", "conll03", "--exp_dir", "exp/x", "--compare", "r")
    seeded = plan(request("all", seeds=(4,)))
    assert seeded[-1].jobs[0].command == ("report.py", "conll03", "--exp_dir", "exp/x", "--compare", "r", "--seed",
                                          "4")


def test_seeds_give_one_plan_per_seed_into_seed_folders():
    stages = plan(request("all", seeds=(1, 3)))
    assert len(stages) == 2 * len(plan(request("all")))
    run = layout.run("exp/x", "r")
    assert outputs(stages)[:1] == [run.seed(1).warmup] and run.seed(3).step3() in outputs(stages)
    assert {flag(j, "--seed") for s in stages[:5] for j in s.jobs if j.kind not in ("report", "masks")} == {"1"}
    assert stages[5].title.startswith("seed 3 (2 of 2): ")


def test_negative_runs_in_the_negative_folder_on_its_own_data():
    stages = plan(request("negative", pp_task_ids=(0, 1)))
    negative = layout.run("exp/x", "r").negative
    assert outputs(stages) == [negative.step1_task(0), negative.step1_task(1), negative.masks(), negative.step3(),
                               negative.baseline("hard")]
    assert {flag(j, "--data_path") for s in stages for j in s.jobs if "--data_path" in j.command} == \
        {os.path.join("data", "processed", "conll03-pp")}
    assert flag(stages[0].jobs[0], "--init_weights") is None
    assert {flag(j, "--arch") for s in stages for j in s.jobs if j.kind != "masks"} == {"random-lstm"}
    current = plan(request("negative", negative_arch="cnn-lstm"))
    assert {flag(j, "--arch") for s in current for j in s.jobs if j.kind != "masks"} == {"cnn-lstm"}


@pytest.mark.parametrize("arguments, rounds", [((), ()), (("auto",), ()), (("1", "2", "3"), ("1", "2", "3")),
                                                (("1,2,3",), ("1", "2", "3")), (("4,", "5"), ("4", "5"))])
def test_masks_take_rounds_with_spaces_or_commas(arguments, rounds):
    assert rounds_argument(arguments) == rounds
    command = plan(request("masks", arguments=arguments))[0].jobs[0].command
    assert parse_flags(command)[1].get("--rounds") == (list(rounds) or None)


@pytest.mark.parametrize("arguments", [("a",), ("1,b",), ("-1",)])
def test_masks_refuse_other_arguments(arguments):
    with pytest.raises(ValueError, match="one round number per task"):
        rounds_argument(arguments)


def test_single_and_mtl_take_their_argument():
    [single] = plan(request("single", arguments=("w.th",)))
    assert {flag(j, "--init_weights") for j in single.jobs} == {"w.th"}
    [mtl] = plan(request("mtl", arguments=("m",)))
    assert flag(mtl.jobs[0], "--masks_path") == "m"


def test_only_variables_set_become_flags():
    values = variables.read({"EPOCHS": "7", "CRF": "0"}, {}, ())
    assert variables.training_flags(values, variables.STEP1) == ["--epochs", "7"]
    assert variables.training_flags(values, variables.JOINT) == ["--epochs", "7"]    # MTL_EPOCHS follows EPOCHS
    assert variables.training_flags(values, variables.WARMUP) == ["--epochs", "1"]   # the warmup's one epoch
    assert variables.training_flags(variables.read({}, {}, ()), variables.STEP1) == []


def test_profile_and_setting_presets_yield_to_the_user():
    quick = variables.read({"PROFILE": "quick", "EPOCHS": "5", "MTL_PATIENCE": "0"}, {}, ())
    assert (quick.get("EPOCHS"), quick.get("MTL_EPOCHS"), quick.get("PATIENCE"), quick.get("MTL_PATIENCE"),
            quick.get("PRUNING_ITER"), quick.get("JOBS")) == ("5", "5", "1", "0", "4", "3")
    ptb = SETTINGS["ptb"]
    values = variables.read({"CRF": "0"}, ptb.presets, ptb.variables)
    assert variables.training_flags(values, variables.JOINT) == ["--sampling", "resample", "--clip_norm", "5"]
    with pytest.raises(ValueError, match="PROFILE=fast"):
        variables.read({"PROFILE": "fast"}, {}, ())


@pytest.mark.parametrize("name, meant", [("EPOCH", "EPOCHS"), ("PRUNNING_ITER", "PRUNING_ITER"),
                                         ("HIDDENSIZE", "HIDDEN_SIZE"), ("TRAIN_LIMT", "TRAIN_LIMIT")])
def test_a_misspelled_variable_is_named_with_its_likely_meaning(name, meant):
    [message] = variables.misspelled({name: "1", "PATH": "/bin", "HOME": "/root", "EPOCHS": "2"}, ())
    assert message.startswith(f"{name}=1 is not a variable") and f"did you mean {meant}?" in message


def test_other_environment_variables_are_not_taken_for_misspellings():
    environ = {k: "x" for k in ("PATH", "HOME", "PWD", "LANG", "TERM", "SHELL", "USER", "LOGNAME", "HOSTNAME",
                                "OMP_NUM_THREADS", "PYTHONPATH", "CUDA_VISIBLE_DEVICES", "TMPDIR", "CI")}
    assert variables.misspelled(environ, SETTINGS["columns"].variables) == []


@pytest.mark.parametrize("name, value", [("JOBS", "0"), ("JOBS", "1.5"), ("SEEDS", "1,,2"), ("SEEDS", "3,3"),
                                         ("SEEDS", "a"), ("OVERWRITE", "yes"), ("DEVICES", "cpu,"),
                                         ("NEGATIVE_MODEL", "soft")])
def test_bad_pipeline_variables_are_named(name, value):
    with pytest.raises(ValueError, match=f"^{name}="):
        variables.check_pipeline(variables.read({name: value}, {}, ()))


def test_job_keys_follow_inputs_and_ignore_where_a_job_writes(tmp_path):
    """Two runs with the same settings give their jobs the same keys, whatever their names and devices; another
    setting changes the key of its job and of every job downstream."""
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "meta.json").write_text("{}")

    def keys(name: str, flags: dict) -> list[str]:
        k = Keys()
        stages = plan(request("all", name=name, processed=str(tmp_path / "p"), flags=flags))
        return [k.key(j) for s in stages for j in s.jobs if j.out]

    base = {"step1": ("--epochs", "3"), "warmup": ("--epochs", "1"), "joint": ()}
    same = keys("a", base)
    assert same == keys("b", {**base, "warmup": ("--epochs", "1", "--device", "cpu")})
    other = keys("c", {**base, "warmup": ("--epochs", "2")})
    assert other[0] != same[0] and all(o != s for o, s in zip(other[1:5], same[1:5]))


def test_a_transformer_has_the_baselines_defined_for_it():
    stages = plan(request("baselines", encoder="transformer"))
    assert [flag(s.jobs[0], "--arch") for s in stages if s.title.startswith("baseline")] == ["cnn-lstm"]
    with pytest.raises(ValueError, match="NEGATIVE_MODEL=random-lstm is a BiLSTM model"):
        plan(request("negative", encoder="transformer"))
    assert plan(request("negative", encoder="transformer", negative_arch="cnn-lstm"))


def test_the_cheap_baseline_modes():
    run = layout.run("exp/x", "r")
    single = plan(request("single-task"))
    assert outputs(single) == [run.step1_task(t, "nomtw") for t in range(3)]
    assert all(parse_flags(j.command)[1]["--pruning_iter"] == "0" and flag(j, "--init_weights") is None
               for j in single[0].jobs)
    hard = plan(request("hard"))
    assert outputs(hard) == [run.baseline("hard")] and flag(hard[0].jobs[0], "--arch") == "cnn-lstm"

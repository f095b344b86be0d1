"""Hyper-parameters defined once (utils.settings): every field of every group is a flag of its script with the
field's default and rule, config.json holds the groups and reads back to the same settings (also the flat form
written before groups existed), per-invocation options never make two runs differ, and the recipe constants of
the training functions are the groups' defaults."""
import dataclasses
import inspect

import pytest

import train_mtl
import train_single
from utils.training import joint as mtl, task as training
from utils.settings import (JOINT, STEP1, JointSettings, Step1Settings, first_difference, same_settings,
                            settings_from_config, to_config)
from utils.settings.config import field_type
from utils.settings.groups import JointOptions, Step1Options

SCRIPTS = {Step1Settings: (train_single, Step1Options), JointSettings: (train_mtl, JointOptions)}
# A broken value for every rule (utils.settings.checks); the message must name the flag.
BROKEN = {"positive": "0", "non_negative": "-1", "off_or_positive": "-1", "dropout": "1.0", "fraction": "1.0", "rate": "0",
          "optim": "rmsprop(lr=1)", "device": "nosuchdevice"}


def fields_with_rules(kind: type) -> list[tuple[str, str]]:
    groups = [g.type for g in dataclasses.fields(kind)] + [SCRIPTS[kind][1]]
    return [(f.name, f.metadata["check"]) for g in groups for f in dataclasses.fields(g) if f.metadata["check"]]


def test_defaults_are_the_groups_and_the_papers():
    """The paper's values (REFERENCE §2) in one place: Step 1 clips the gradient norm at 5 and decays the LR by
    1/(1 + 0.05·epoch); Step 3 clips gradient values at 5, fixed LR, one optimiser per task."""
    assert (STEP1.clip_norm, STEP1.lr_decay, STEP1.epochs, STEP1.batch_size) == (5.0, 0.05, 100, 10)
    assert (JOINT.clip_value, JOINT.clip_norm, JOINT.scheduler, JOINT.optimizer_scope) == (5.0, 0.0, "fix", "task")
    assert JOINT.lr_decay == STEP1.lr_decay


@pytest.mark.parametrize("function,names", [
    (mtl.train_task, {"clip_norm": STEP1.clip_norm, "lr_decay": STEP1.lr_decay, "patience": STEP1.patience}),
    (mtl.train_joint, {"clip_value": JOINT.clip_value, "warmup_steps": JOINT.warmup_steps,
                       "lr_decay": JOINT.lr_decay, "optimizer_scope": JOINT.optimizer_scope}),
    (mtl.lr_factor, {"warmup_steps": JOINT.warmup_steps, "decay": JOINT.lr_decay}),
])
def test_training_functions_default_to_the_groups(function, names):
    parameters = inspect.signature(function).parameters
    assert {name: parameters[name].default for name in names} == names


@pytest.mark.parametrize("kind", [Step1Settings, JointSettings])
def test_every_field_is_a_flag_with_its_default(kind):
    """No flags: the groups' defaults; each field's flag sets that field (a value other than the default)."""
    script, options_kind = SCRIPTS[kind]
    settings, options = script.parse_args([])
    assert settings == kind()
    assert dataclasses.asdict(options) | {"exp_name": None} == dataclasses.asdict(options_kind())
    other = {bool: True, int: 3, float: 0.25, str: "lstm"}
    for group in dataclasses.fields(kind):
        for spec in dataclasses.fields(group.type):
            value = list(spec.metadata["choices"])[-1] if spec.metadata["choices"] else other[field_type(spec)]
            argv = [f"--{spec.name}"] if value is True else [f"--{spec.name}", str(value)]
            argv += {"encoder": ["--pretrained", "x"], "pretrained": ["--encoder", "transformer"]}.get(spec.name, [])
            if spec.name != "optim":
                assert getattr(getattr(script.parse_args(argv)[0], group.name), spec.name) == value, spec.name


@pytest.mark.parametrize("kind", [Step1Settings, JointSettings])
def test_every_rule_is_a_one_line_error_naming_its_flag(kind, capsys):
    script = SCRIPTS[kind][0]
    for name, rule in fields_with_rules(kind):
        with pytest.raises(SystemExit) as info:
            script.parse_args([f"--{name}", BROKEN[rule]])
        lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
        assert info.value.code == 2 and len(lines) == 1 and f"--{name}" in lines[0], (name, lines)


def changed(settings, group: str, **values):
    return dataclasses.replace(settings, **{group: dataclasses.replace(getattr(settings, group), **values)})


@pytest.mark.parametrize("kind", [Step1Settings, JointSettings])
def test_config_round_trip_grouped(kind):
    settings = changed(kind(), "model", hidden_size=16, init_weights="w.th")
    config = {"task": "ner", **to_config(settings), "invocation": {"device": "cpu"}, "alpha": 0.1}
    assert set(to_config(settings)) == {g.name for g in dataclasses.fields(kind)}
    assert settings_from_config(config) == settings


def test_flat_configs_as_written_before_groups_read_back():
    """vars(args) of the old scripts: options and extras are ignored, missing settings are today's defaults."""
    step1 = {"data_path": "d", "arch": "cnn-lstm", "hidden_size": 16, "n_layer": 1, "dropout": 0.5, "crf": False,
             "epochs": 2, "batch_size": 10, "batching": "original", "optim": "sgd(lr=0.1)", "seed": 7,
             "init_weights": None, "save_dir": "s", "exp_name": None, "device": "cpu", "train_limit": 40,
             "eval_limit": None, "task_id": 2, "pruning_iter": 1, "final_rate": 0.5, "init_masks": None,
             "need_cut": "lstm,conv", "patience": 0, "resume": True, "task": "ner", "prunable": ["x"], "alpha": 0.5}
    settings = settings_from_config(step1)
    assert isinstance(settings, Step1Settings)
    assert (settings.data.task_id, settings.model.seed, settings.optimiser.clip_norm) == (2, 7, 5.0)
    joint = {"data_path": "d", "hidden_size": 16, "masks_path": "m", "tasks": "0,2", "sampling": "resample",
             "trainer": "re-seq-label", "clip_value": 5, "evaluate": False, "world_size": 1}
    settings = settings_from_config(joint)
    assert isinstance(settings, JointSettings) and settings.joint.sampling == "resample"
    assert settings.optimiser.clip_value == 5.0 and settings.optimiser.optimizer_scope == "task"


@pytest.mark.parametrize("config,expected", [
    ({"model": {"hidden_size": "16"}, "joint": {}}, "model.hidden_size '16': expected int"),
    ({"model": {"crf": 1}, "joint": {}}, "model.crf 1: expected bool"),
    ({"model": {"dropout": 1.5}, "joint": {}}, "--dropout must be in [0, 1), got 1.5"),
    ({"model": {"colour": "red"}, "joint": {}}, "model.colour is no setting"),
    ({"model": [], "pruning": {}}, "'model' must be a JSON object"),
    ({"pruning_iter": -1}, "--pruning_iter must be ≥ 0"),
    ({"epochs": True}, "epochs True: expected int"),
])
def test_bad_configs_name_the_file_and_key(config, expected):
    with pytest.raises(ValueError) as info:
        settings_from_config(config, "run/config.json")
    assert str(info.value).startswith("run/config.json: ") and expected in str(info.value)


def test_same_settings_ignores_options_and_names_the_first_difference():
    a = settings_from_config({**to_config(JointSettings()), "invocation": {"device": "cuda", "save_dir": "x"}})
    b = settings_from_config({**to_config(JointSettings()), "invocation": {"device": "cpu", "save_dir": "y"}})
    assert same_settings(a, b) and first_difference(a, b) is None
    c = changed(b, "optimiser", optimizer_scope="shared")
    assert first_difference(a, c) == ("optimizer_scope", "task", "shared")
    assert first_difference(Step1Settings(), JointSettings())[0] == "kind"


@pytest.mark.parametrize("argv,sampling", [([], "proportional"), (["--trainer", "seq-label"], "round-robin"),
                                           (["--trainer", "re-seq-label", "--sampling", "resample"], "resample")])
def test_trainer_names_a_sampling(argv, sampling):
    assert train_mtl.parse_args(argv)[0].joint.sampling == sampling


def test_trainer_and_another_sampling_is_one_error(capsys):
    with pytest.raises(SystemExit) as info:
        train_mtl.parse_args(["--trainer", "seq-label", "--sampling", "proportional"])
    assert info.value.code == 2
    assert "--trainer seq-label means --sampling round-robin, not proportional" in capsys.readouterr().err


def test_evaluate_needs_a_run_name(capsys):
    with pytest.raises(SystemExit):
        train_mtl.parse_args(["--evaluate"])
    assert "--evaluate needs --exp_name" in capsys.readouterr().err

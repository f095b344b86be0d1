"""utils.runs.finished: what a finished run folder is (joint run or Step 1 round), read without building a model;
settings from a flat or a grouped config.json; masks per task (the run's own copies first); its errors."""
import json
import os
import re

import pytest
import torch

from models import get_model
from tests.test_snapshot import random_mask, write_sparse_run
from utils.runs.checkpoint import save_state
from utils.subnets.masks import save_mask
from utils.runs.finished import JOINT, STEP1, load_finished_run, run_settings
from utils.runs.layout import BEST, CONFIG, OWN_MASKS, RESULTS, SCORES, mask_file, task_mask, weights_file
from utils.settings import settings_from_config, to_config
from utils.data.snapshot import save_data_snapshot

MODEL = {"encoder": "bilstm", "pretrained": None, "subword_pooling": "first", "arch": "cnn-lstm", "hidden_size": 8,
         "n_layer": 1, "dropout": 0.5, "crf": False}


def write_json(path, value) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)


@pytest.fixture
def joint(tiny_data, tmp_path):
    """A sparse-sharing run folder of the tiny data (masks in a masks folder, none of its own yet)."""
    reference = get_model("cnn-lstm", tiny_data, 8)
    run_dir, masks_path = str(tmp_path / "run"), str(tmp_path / "chosen")
    write_sparse_run(tiny_data, run_dir, masks_path, [random_mask(reference, 1), random_mask(reference, 2)])
    return run_dir, masks_path


def write_step1(data, folder, task_id: int, rounds: list[tuple[int, float, float]]) -> None:
    """A Step 1 task folder: config, scores.jsonl with (round, kept, dev) per round, each round's mask and weights."""
    os.makedirs(folder)
    model = get_model("cnn-lstm", data, 8)
    write_json(os.path.join(folder, CONFIG), {**MODEL, "pruning_iter": len(rounds) - 1, "task_id": task_id})
    with open(os.path.join(folder, SCORES), "w", encoding="utf-8") as f:
        for round_, kept, dev in rounds:
            f.write(json.dumps({"round": round_, "kept": kept, "dev": dev, "test": 0.0}) + "\n")
            name = mask_file(round_, kept)
            save_mask(os.path.join(folder, name), random_mask(model, round_), round_, data.tasks[task_id].name)
            save_state(model.state_dict(), os.path.join(folder, weights_file(name)))
    save_data_snapshot(data, folder)


def test_settings_flat_and_grouped_read_alike():
    """A config.json as utils.settings writes it (grouped) and as runs wrote it before (flat) give the same
    settings; a value that is no setting's is one error naming the file and the key."""
    old = {**MODEL, "masks_path": "m", "tasks": None}
    grouped = to_config(settings_from_config(old))
    assert set(grouped) >= {"model", "data", "joint"}
    assert run_settings(grouped) == run_settings(old)
    assert {k: run_settings(grouped)[k] for k in old} == old
    with pytest.raises(ValueError, match=r"^cfg.json: model.hidden_size 'wide': expected int$"):
        run_settings({**grouped, "model": {**grouped["model"], "hidden_size": "wide"}}, "cfg.json")


def test_a_joint_run(joint, tiny_data):
    run_dir, masks_path = joint
    run = load_finished_run(run_dir)
    assert run.kind == JOINT and run.round is None
    assert run.weights == os.path.join(run_dir, BEST)
    assert run.task_ids == [0, 1] and [t.name for t in run.data.tasks] == ["pos", "ner"]
    assert run.masks == {i: os.path.join(masks_path, task_mask(i)) for i in (0, 1)}
    assert run.description == "sparse sharing run"
    assert run.model_settings == MODEL
    # its own copy of a mask wins over masks_path
    os.makedirs(os.path.join(run_dir, OWN_MASKS))
    model = get_model("cnn-lstm", tiny_data, 8)
    own = random_mask(model, 7)
    save_mask(os.path.join(run_dir, OWN_MASKS, task_mask(1)), own, 1, "ner")
    run = load_finished_run(run_dir)
    assert run.masks[1] == os.path.join(run_dir, OWN_MASKS, task_mask(1))
    masks = run.load_masks(model)
    assert all(torch.equal(masks[1][name], own[name]) for name in own)


def test_grouped_config_gives_the_same_run(joint):
    run_dir, _ = joint
    path = os.path.join(run_dir, CONFIG)
    with open(path, encoding="utf-8") as f:
        flat = json.load(f)
    expected = load_finished_run(run_dir)
    write_json(path, to_config(settings_from_config(flat, path)))
    run = load_finished_run(run_dir)
    assert (run.kind, run.settings, run.masks, run.weights) == (expected.kind, expected.settings, expected.masks,
                                                                 expected.weights)
    assert {k: run.settings[k] for k in flat} == flat


def test_hard_sharing_has_no_masks_and_tasks_select(joint):
    run_dir, _ = joint
    path = os.path.join(run_dir, CONFIG)
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    write_json(path, {**config, "masks_path": None, "tasks": "1"})
    run = load_finished_run(run_dir)
    assert run.masks == {1: None} and run.task_ids == [1]
    write_json(path, {**config, "tasks": "0,2"})
    with pytest.raises(ValueError, match=re.escape(f"{CONFIG}: tasks '0,2' do not fit the data's 2 tasks")):
        load_finished_run(run_dir)


def test_a_mask_of_another_task_is_refused(joint, tiny_data):
    run_dir, masks_path = joint
    model = get_model("cnn-lstm", tiny_data, 8)
    save_mask(os.path.join(masks_path, task_mask(0)), random_mask(model, 3), 1, "ner")
    run = load_finished_run(run_dir)
    with pytest.raises(ValueError, match=r"0.th: a mask of task 'ner', but task 0 is 'pos'$"):
        run.load_masks(model)


def test_a_step1_round(tiny_data, tmp_path):
    folder = str(tmp_path / "cp" / "1")
    write_step1(tiny_data, folder, 1, [(0, 100.0, 60.0), (1, 50.0, 60.0), (2, 25.0, 40.0)])
    run = load_finished_run(folder)
    # the best dev score (60), the sparsest among equals: round 1
    assert run.kind == STEP1 and run.round["round"] == 1 and run.task_ids == [1]
    assert run.masks == {1: os.path.join(folder, mask_file(1, 50.0))}
    assert run.weights == os.path.join(folder, weights_file(mask_file(1, 50.0)))
    assert run.description == "Step 1 ner, round 1 (50.00% kept)"
    assert load_finished_run(folder, 2).round["round"] == 2
    with pytest.raises(ValueError, match=r"^--round 5: .* has rounds 0, 1, 2$"):
        load_finished_run(folder, 5)


@pytest.mark.parametrize("remove, message", [
    (RESULTS, f"the run has not finished (no {RESULTS})"),
    (BEST, f"the run has not finished (no {BEST})"),
    (CONFIG, f"not a run folder (no {CONFIG})"),
])
def test_unfinished_joint_runs(joint, remove, message):
    run_dir, _ = joint
    os.remove(os.path.join(run_dir, remove))
    with pytest.raises(FileNotFoundError, match=re.escape(message)):
        load_finished_run(run_dir)


def test_errors_of_a_run_folder(joint, tiny_data, tmp_path):
    run_dir, _ = joint
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        load_finished_run(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="--round applies to a Step 1 task folder"):
        load_finished_run(run_dir, 1)
    path = os.path.join(run_dir, CONFIG)
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    write_json(path, {**config, "n_layer": "two"})
    with pytest.raises(ValueError, match=re.escape(f"{CONFIG}: n_layer 'two': expected int") + "$"):
        load_finished_run(run_dir)
    with open(path, "w", encoding="utf-8") as f:
        f.write("{")
    with pytest.raises(ValueError, match=re.escape(f"{CONFIG}: not valid JSON")):
        load_finished_run(run_dir)
    step1 = str(tmp_path / "step1")
    os.makedirs(step1)
    write_json(os.path.join(step1, CONFIG), {**MODEL, "pruning_iter": 1, "task_id": 0})
    with pytest.raises(FileNotFoundError, match=re.escape(f"Step 1 has not finished a round yet (no {SCORES})")):
        load_finished_run(step1)

"""Reading the files of one run's stage folders (utils.runs.layout names them all): a Step 1 task folder (its
rounds in scores.jsonl, its task, one dense encoder's parameter count), Step 2's choice (selection.json) and masks,
a joint run's results.json, a data snapshot's meta.json and a metrics.jsonl. Each reader checks the fields the
report uses and says in one line which file (and line) is wrong; an absent file is None or [], never an error."""
import os
from dataclasses import dataclass

from utils.runs.checkpoint import load_tensors
from utils.subnets.masks import Mask, load_mask
from utils.subnets.params import encoder_params
from utils.report.files import NUMBER, field, read_lines, read_object
from utils.runs import layout


@dataclass
class Step1Task:
    """One task folder of a Step 1 output: its rounds (scores.jsonl; [] until complete.json marks it finished)
    and one dense encoder's parameter count (the tensors of init_weights.th)."""

    task_id: int
    task: str
    records: list[dict]
    dense_params: int
    finished: bool


@dataclass
class Joint:
    """A joint run folder: its results.json (None until the run has finished) and whether it was started."""

    folder: str
    results: dict | None
    started: bool


def step1_task_dirs(tasks_dir: str) -> list[tuple[int, str]]:
    """(task id, folder) of every <tasks_dir>/<task_id>/, by task id."""
    if not os.path.isdir(tasks_dir):
        return []
    ids = sorted(int(name) for name in os.listdir(tasks_dir)
                 if name.isdigit() and os.path.isdir(os.path.join(tasks_dir, name)))
    return [(i, os.path.join(tasks_dir, str(i))) for i in ids]


def read_rounds(path: str) -> list[dict]:
    """The rounds of a scores.jsonl, each checked for round, kept, dev and test (test_lenient when present)."""
    records = []
    for where, record in read_lines(path):
        field(where, record, "round", int)
        for key in ("kept", "dev", "test"):
            field(where, record, key, NUMBER)
        field(where, record, "test_lenient", NUMBER, required=False)
        records.append(record)
    return records


def read_step1(tasks_dir: str) -> list[Step1Task]:
    """Every task folder of `tasks_dir` that holds config.json and init_weights.th, by task id; the rounds of a
    task whose Step 1 has not finished (no complete.json) are left out, so its rows show as missing."""
    tasks = []
    for task_id, folder in step1_task_dirs(tasks_dir):
        config, init = layout.in_folder(folder, layout.CONFIG), layout.in_folder(folder, layout.INIT)
        if not (os.path.isfile(config) and os.path.isfile(init)):
            continue
        finished = os.path.isfile(layout.in_folder(folder, layout.COMPLETE))
        scores = layout.in_folder(folder, layout.SCORES)
        records = read_rounds(scores) if finished and os.path.isfile(scores) else []
        settings = read_object(config)
        task = field(config, settings, "task", str)
        prunable = field(config, settings, "prunable", list, required=False)
        tasks.append(Step1Task(task_id, task, records, encoder_params(load_tensors(init), prunable=prunable), finished))
    return tasks


def read_selection(masks_dir: str) -> list[dict] | None:
    """Step 2's chosen rounds (selection.json's "chosen", each checked), None when the folder has no choice."""
    path = layout.in_folder(masks_dir, layout.SELECTION)
    if not os.path.isfile(path):
        return None
    chosen = field(path, read_object(path), "chosen", list)
    for index, choice in enumerate(chosen):
        where = f"{path}: chosen[{index}]"
        if not isinstance(choice, dict):
            raise ValueError(f"{where}: expected an object")
        field(where, choice, "task_id", int)
        field(where, choice, "task", str)
        field(where, choice, "round", int)
        for key in ("kept", "test"):
            field(where, choice, key, NUMBER)
        field(where, choice, "test_lenient", NUMBER, required=False)
    return chosen


def read_masks(folder: str) -> dict[str, Mask]:
    """The masks <task_id>.th of a folder (Step 2's, or a joint run's own copies) by task name, in task-id order;
    {} if the folder is absent."""
    if not os.path.isdir(folder):
        return {}
    ids = sorted({int(stem) for stem, _ in map(os.path.splitext, os.listdir(folder))
                  if stem.isdigit() and os.path.isfile(os.path.join(folder, layout.task_mask(int(stem))))})
    masks = {}
    for task_id in ids:
        path = os.path.join(folder, layout.task_mask(task_id))
        record = load_mask(path)
        masks[field(path, record, "task", str)] = record["mask"]
    return masks


def read_joint(folder: str) -> Joint:
    """A joint run folder's results.json, its task scores checked ("test" a number or null)."""
    path = layout.in_folder(folder, layout.RESULTS)
    started = os.path.isfile(layout.in_folder(folder, layout.CONFIG))
    if not os.path.isfile(path):
        return Joint(folder, None, started)
    results = read_object(path)
    for task, row in field(path, results, "tasks", dict).items():
        where = f"{path}: tasks.{task}"
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected an object")
        for key in ("test", "test_lenient", "kept"):
            field(where, row, key, NUMBER, required=False)
    field(path, results, "params", int, required=False)
    return Joint(folder, results, True)


def read_snapshot_meta(folder: str) -> dict | None:
    """The data snapshot's meta.json of a training folder (setting, tasks with their metrics), None if absent."""
    path = layout.in_folder(folder, layout.SNAPSHOT, layout.SNAPSHOT_META)
    if not os.path.isfile(path):
        return None
    meta = read_object(path)
    field(path, meta, "setting", str)
    for index, spec in enumerate(field(path, meta, "tasks", list)):
        if not isinstance(spec, dict):
            raise ValueError(f"{path}: tasks[{index}]: expected an object")
        field(f"{path}: tasks[{index}]", spec, "name", str)
        field(f"{path}: tasks[{index}]", spec, "metric", str)
    return meta


def read_epochs(folder: str) -> list[dict]:
    """The records of a training folder's metrics.jsonl ([] if absent), each checked for its epoch and dev scores."""
    path = layout.in_folder(folder, layout.METRICS)
    if not os.path.isfile(path):
        return []
    records = []
    for where, record in read_lines(path):
        field(where, record, "epoch", int)
        field(where, record, "round", int, required=False)
        for task, score in field(where, record, "dev", dict).items():
            field(where, {f"dev.{task}": score}, f"dev.{task}", NUMBER)
        records.append(record)
    return records

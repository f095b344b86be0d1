"""What a finished run is: a Step 1 task folder (train_single.py's <save_dir>/cp/<task_id>, one round of it) or a
joint run (train_mtl.py's <save_dir>/<exp_name>: sparse, hard, soft or hierarchical sharing); its settings, its
data snapshot, its weights file, the masks it trained with per task, and a one-line description. Building the
model is left to the caller (predict.py, train_mtl.py --evaluate, report.py)."""
import json
import os
from dataclasses import dataclass

from torch import nn

from utils.data.dataset import Dataset
from utils.subnets.masks import Mask, load_mask
from utils.runs.layout import BEST, CONFIG, OWN_MASKS, RESULTS, SCORES, in_folder, task_mask, weights_file
from utils.subnets.selection import choose_round, mask_file, read_scores
from utils.data.snapshot import has_data_snapshot, load_data_snapshot, pretrained_snapshot
from utils.settings import flat, settings_from_config

# get_model's arguments (settings' Model group)
MODEL_SETTINGS = ("encoder", "pretrained", "subword_pooling", "arch", "hidden_size", "n_layer", "dropout", "crf")
STEP1, JOINT = "step1", "joint"


def read_json(path: str) -> dict:
    """A JSON object from a file; anything else is one error naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except ValueError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return value


def run_settings(config: dict, path: str = CONFIG) -> dict:
    """A run's settings as one flat dict by flag name, from its config.json (grouped as utils.settings writes it,
    or flat as runs wrote it before); a value that is no setting's is a ValueError naming the file and key."""
    return flat(settings_from_config(config, path))


@dataclass
class FinishedRun:
    """A finished run folder, read but not built: `masks` holds the mask file each task trained with (None for a
    mask-free joint run), `round` the Step 1 round's scores.jsonl record (None for a joint run)."""

    path: str
    kind: str
    settings: dict
    data: Dataset
    weights: str
    task_ids: list[int]
    masks: dict[int, str | None]
    round: dict | None
    description: str

    @property
    def model_settings(self) -> dict:
        """The settings the model is built from (MODEL_SETTINGS), by name; a transformer from the run's own copy
        of its tokenizer and configuration, so the pretrained model's folder is not needed."""
        spec = {key: self.settings[key] for key in MODEL_SETTINGS}
        own = pretrained_snapshot(self.path)
        if spec["encoder"] == "transformer" and own:
            spec["pretrained"] = own
        return spec

    def load_masks(self, model: nn.Module) -> dict[int, Mask | None]:
        """Each task's mask, checked against `model`'s weights; a joint run's mask file must be of its task."""
        masks: dict[int, Mask | None] = {}
        for task_id, path in self.masks.items():
            if path is None:
                masks[task_id] = None
                continue
            record = load_mask(path, model)
            name = self.data.tasks[task_id].name
            if self.kind == JOINT and record.get("task") != name:
                raise ValueError(f"{path}: a mask of task {record.get('task')!r}, but task {task_id} is {name!r}")
            masks[task_id] = record["mask"]
        return masks


def _run_data(run_dir: str, settings: dict) -> Dataset:
    """The run's own data snapshot; for runs written before snapshots existed, the processed data folder that
    its config.json names, if it is still there."""
    if has_data_snapshot(run_dir):
        return load_data_snapshot(run_dir)
    data_path = settings.get("data_path")
    if data_path and os.path.isfile(os.path.join(data_path, "meta.json")):
        return Dataset.load(data_path)
    raise FileNotFoundError(f"{run_dir}: no data snapshot ({run_dir}/data) and its data_path {data_path!r} is gone: "
                            "re-run prepare-data.py with the run's settings")


def _step1_round(run_dir: str, round_: int | None) -> tuple[dict, str, str]:
    """A Step 1 round's scores.jsonl record, mask file and weights file (default: the best-dev round, the
    sparsest among equals, as Step 2 chooses)."""
    records = read_scores(run_dir)
    if not records:
        raise ValueError(f"{in_folder(run_dir, SCORES)}: no finished round")
    if round_ is None:
        record = choose_round(records)
    else:
        matches = [r for r in records if r["round"] == round_]
        if not matches:
            raise ValueError(f"--round {round_}: {run_dir} has rounds {', '.join(str(r['round']) for r in records)}")
        record = matches[0]
    mask_path = mask_file(run_dir, record["round"])
    return record, mask_path, in_folder(run_dir, weights_file(os.path.basename(mask_path)))


def _joint_masks(run_dir: str, settings: dict, data: Dataset) -> dict[int, str | None]:
    """The tasks of a joint run (setting "tasks", default all) with their mask files: the run's own copy in
    <run>/masks/<task_id>.th first, else the masks_path setting's; none for hard, soft and hierarchical sharing."""
    spec = settings.get("tasks")
    ids = list(range(len(data.tasks))) if spec is None else [int(i) for i in str(spec).split(",")]
    if any(not 0 <= i < len(data.tasks) for i in ids):
        raise ValueError(f"{in_folder(run_dir, CONFIG)}: tasks {spec!r} do not fit the data's {len(data.tasks)} tasks")
    masks: dict[int, str | None] = {}
    for i in ids:
        masks[i] = None
        if settings.get("masks_path"):
            own = in_folder(run_dir, OWN_MASKS, task_mask(i))
            masks[i] = own if os.path.isfile(own) else os.path.join(settings["masks_path"], task_mask(i))
    return masks


def load_finished_run(run_dir: str, round_: int | None = None) -> FinishedRun:
    """Read a finished run folder: a joint run (config.json, best.th, results.json) or a Step 1 task folder
    (config.json, scores.jsonl, <round>_<kept>.th, best_<round>_<kept>.th) at `round_` (default: Step 2's
    choice). Missing or unfinished pieces are one error naming the folder or file."""
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    config_path = in_folder(run_dir, CONFIG)
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"{run_dir}: not a run folder (no {CONFIG})")
    settings = run_settings(read_json(config_path), config_path)
    step1 = "pruning_iter" in settings and "task_id" in settings
    if step1 and not os.path.isfile(in_folder(run_dir, SCORES)):
        raise FileNotFoundError(f"{run_dir}: Step 1 has not finished a round yet (no {SCORES})")
    if not step1:
        if round_ is not None:
            raise ValueError(f"--round applies to a Step 1 task folder; {run_dir} is a joint run")
        for name in (RESULTS, BEST):
            if not os.path.isfile(in_folder(run_dir, name)):
                raise FileNotFoundError(f"{run_dir}: the run has not finished (no {name})")
    data = _run_data(run_dir, settings)
    if step1:
        task_id = settings["task_id"]
        if not 0 <= task_id < len(data.tasks):
            raise ValueError(f"{config_path}: task_id {task_id} does not fit the data's {len(data.tasks)} tasks")
        record, mask_path, weights = _step1_round(run_dir, round_)
        description = f"Step 1 {data.tasks[task_id].name}, round {record['round']} ({record['kept']:.2f}% kept)"
        return FinishedRun(run_dir, STEP1, settings, data, weights, [task_id], {task_id: mask_path}, record,
                           description)
    masks = _joint_masks(run_dir, settings, data)
    system = read_json(in_folder(run_dir, RESULTS)).get("system", settings["arch"])
    return FinishedRun(run_dir, JOINT, settings, data, in_folder(run_dir, BEST), list(masks), masks, None,
                       f"{system} run")

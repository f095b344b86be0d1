"""A run folder's copy of what its model is built from (vocabularies, tag sets, word-vector rows, and what the
encoder itself needs: a transformer's tokenizer and configuration), so a finished run can tag text after the
processed data folder and the pretrained model are gone. The weights themselves live in the run's weight files."""
import json
import os
import shutil
import tempfile

import torch

from utils.runs.checkpoint import atomic_save, load_tensors, umask_mode
from utils.data.dataset import TASK_METRICS, Dataset, TaskData, load_vocabulary
from utils.runs.layout import PRETRAINED, SNAPSHOT, SNAPSHOT_META

SNAPSHOT_DIR = SNAPSHOT
TENSORS = "snapshot.pt"


def save_data_snapshot(data: Dataset | str, run_dir: str, model=None) -> str:
    """Write meta.json, words.vocab, tags.<task>.vocab and snapshot.pt (word_rows and the embedding table's shape)
    of `data` (a Dataset or a processed data folder), and what `model` (a models.encoder.Encoder) needs beyond them
    (into pretrained/), into run_dir/data, complete or not at all; returns that path."""
    if not isinstance(data, Dataset):
        data = Dataset.load(data)
    os.makedirs(run_dir, exist_ok=True)
    out = os.path.join(run_dir, SNAPSHOT_DIR)
    tmp = tempfile.mkdtemp(dir=run_dir, prefix=".tmp-data-")
    try:
        os.chmod(tmp, umask_mode(0o777))
        data.words.save(os.path.join(tmp, "words.vocab"))
        for task in data.tasks:
            task.tags.save(os.path.join(tmp, f"tags.{task.name}.vocab"))
        atomic_save({"word_rows": data.word_rows.cpu(), "embedding_shape": torch.tensor(data.embedding.shape)},
                    os.path.join(tmp, TENSORS))
        meta = {"setting": data.setting, "tasks": [{"name": t.name, "metric": t.metric} for t in data.tasks],
                **data.info}
        if model is not None:
            model.save_snapshot(os.path.join(tmp, PRETRAINED))
        with open(os.path.join(tmp, SNAPSHOT_META), "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=2)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _publish(tmp: str, out: str) -> None:
    """Rename the finished folder `tmp` to `out`, replacing an older snapshot only once the new one is in place."""
    if not os.path.lexists(out):
        os.rename(tmp, out)
        return
    old = tempfile.mkdtemp(dir=os.path.dirname(out), prefix=".old-data-")
    os.rename(out, os.path.join(old, "data"))
    os.rename(tmp, out)
    shutil.rmtree(old)


def has_data_snapshot(run_dir: str) -> bool:
    return os.path.isfile(os.path.join(run_dir, SNAPSHOT_DIR, SNAPSHOT_META))


def pretrained_snapshot(run_dir: str) -> str | None:
    """The run's copy of its transformer's tokenizer and configuration, None when it has none."""
    folder = os.path.join(run_dir, SNAPSHOT_DIR, PRETRAINED)
    return folder if os.path.isdir(folder) else None


def load_data_snapshot(run_dir: str) -> Dataset:
    """The Dataset (without splits) that run_dir/data describes; its embedding table is zeros of the saved shape,
    to be overwritten by the run's weights. A missing or damaged file is one error naming it."""
    directory = os.path.join(run_dir, SNAPSHOT_DIR)
    meta_path = os.path.join(directory, SNAPSHOT_META)
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f"{meta_path}: no such file (the run folder has no data snapshot)")
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        specs = [(spec["name"], spec["metric"]) for spec in meta["tasks"]]
        setting = meta["setting"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{meta_path}: not a data snapshot's meta.json ({type(error).__name__}: {error})") from None
    for name, metric in specs:
        if metric not in TASK_METRICS.values():
            raise ValueError(f"{meta_path}: task {name} has unknown metric {metric!r}")
    tensors_path = os.path.join(directory, TENSORS)
    tensors = load_tensors(tensors_path)
    words = load_vocabulary(os.path.join(directory, "words.vocab"))
    if not isinstance(tensors, dict) or not all(isinstance(tensors.get(k), torch.Tensor)
                                                for k in ("word_rows", "embedding_shape")):
        raise ValueError(f"{tensors_path}: expected the tensors word_rows and embedding_shape")
    rows, shape = tensors["word_rows"], tensors["embedding_shape"].tolist()
    if rows.dim() != 1 or rows.numel() != len(words):
        raise ValueError(f"{tensors_path}: word_rows has {rows.numel()} entries, words.vocab {len(words)} words")
    if len(shape) != 2 or not 0 <= int(rows.min()) <= int(rows.max()) < shape[0]:
        raise ValueError(f"{tensors_path}: word_rows points outside the embedding table of shape {shape}")
    tasks = [TaskData(name, metric, load_vocabulary(os.path.join(directory, f"tags.{name}.vocab")))
             for name, metric in specs]
    info = {k: v for k, v in meta.items() if k not in ("setting", "tasks")}
    return Dataset(setting, words, tasks, torch.zeros(shape), rows, info)

"""export.py's work: a finished run (a joint run folder, or a Step 1 task folder's round) loaded as predict.py
loads it, then written as one export file (utils.export.archive), with the sizes of its dense weights file and of
the export."""
import os
import tempfile
from dataclasses import dataclass

from torch import nn

from utils.export.archive import build_export, write_export
from utils.predict.tagger import load_run
from utils.runs.finished import read_json
from utils.runs.layout import CONFIG, in_folder


@dataclass
class Sizes:
    """Bytes of the run's dense weights file and of its export."""

    weights: str
    dense: int
    export: int


def pretrained_files(model: nn.Module) -> dict[str, bytes]:
    """What the encoder's save_snapshot writes (a transformer's tokenizer and configuration), by file name."""
    with tempfile.TemporaryDirectory(prefix="export-snapshot-") as folder:
        model.save_snapshot(folder)
        files = {}
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                raise ValueError(f"{type(model).__name__}.save_snapshot wrote {name}, not a plain file: "
                                 "an export holds plain files only")
            with open(path, "rb") as f:
                files[name] = f.read()
    return files


def export_run(run_dir: str, out: str, round_: int | None = None) -> Sizes:
    """Write the export of the finished run in `run_dir` (at Step 1 round `round_`) to `out`."""
    if os.path.isfile(run_dir):
        raise ValueError(f"{run_dir}: a file, not a run folder (is it an export already?)")
    run = load_run(run_dir, round_, "cpu")
    finished = run.finished
    config = read_json(in_folder(finished.path, CONFIG))
    masks = {s.task_id: s.mask for s in run.subnets}
    record = build_export(config, run.data, finished.description, masks, run.model.state_dict(),
                          pretrained_files(run.model))
    write_export(record, out)
    return Sizes(finished.weights, os.path.getsize(finished.weights), os.path.getsize(out))

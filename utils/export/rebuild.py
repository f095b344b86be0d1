"""A run's model rebuilt from its export file alone: built from the exported settings and data (a transformer from
its exported tokenizer and configuration, written to a temporary folder for the build), the state dict loaded
and each task's mask checked against the model's weights."""
import os
import shutil
import tempfile

from torch import nn

from utils.export.archive import Export
from utils.runs.finished import MODEL_SETTINGS
from utils.runtime import build_model
from utils.subnets.masks import Mask, check_fits


def _write_pretrained(files: dict[str, bytes], folder: str, path: str) -> None:
    for name, content in files.items():
        if not name or os.path.basename(name) != name or name.startswith("."):
            raise ValueError(f"{path}: pretrained file name {name!r} is not a plain file name")
        with open(os.path.join(folder, name), "wb") as f:
            f.write(content)


def build_exported_model(export: Export) -> nn.Module:
    """The model of the exported settings and data, its weights not yet loaded."""
    missing = [key for key in MODEL_SETTINGS if key not in export.settings]
    if missing:
        raise ValueError(f"{export.path}: the settings lack {', '.join(missing)}")
    spec = {key: export.settings[key] for key in MODEL_SETTINGS}
    if not export.pretrained:
        return build_model(spec, export.data)
    folder = tempfile.mkdtemp(prefix="export-pretrained-")
    try:
        _write_pretrained(export.pretrained, folder, export.path)
        return build_model({**spec, "pretrained": folder}, export.data)
    finally:
        shutil.rmtree(folder)


def load_state(model: nn.Module, export: Export) -> None:
    """Load the exported state dict; a missing, extra or mis-shaped tensor is an error naming the file."""
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in export.state:
            raise ValueError(f"{export.path}: tensor {name} is missing")
        if export.state[name].shape != tensor.shape:
            raise ValueError(f"{export.path}: tensor {name} has shape {tuple(export.state[name].shape)}, the model "
                             f"{tuple(tensor.shape)}")
    extra = sorted(set(export.state) - set(expected))
    if extra:
        raise ValueError(f"{export.path}: tensor {extra[0]} is not part of the model")
    model.load_state_dict(export.state)


def check_masks(model: nn.Module, export: Export) -> dict[int, Mask | None]:
    """Each task's mask, every tensor naming a weight of the model of the same shape."""
    for task_id, mask in export.masks.items():
        check_fits(model, mask or {}, f"{export.path}, mask of task {task_id}")
    return export.masks


def rebuild(export: Export) -> tuple[nn.Module, dict[int, Mask | None]]:
    """The exported run's model with its weights, and its masks by task id."""
    model = build_exported_model(export)
    masks = check_masks(model, export)
    load_state(model, export)
    return model, masks

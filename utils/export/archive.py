"""The export file: one torch.save'd dict of plain values and tensors that torch.load(weights_only=True) reads.

    format, version      FORMAT and VERSION, checked first on reading
    description          what the run is ("sparse sharing run", "Step 1 ner, round 1 (50.00% kept)")
    config               the run's config.json content (its settings)
    data                 the data snapshot as plain values (utils.export.data)
    pretrained           a transformer's tokenizer and configuration files: file name -> uint8 bytes ({} else)
    tasks                [{"id", "name", "mask"}]: mask None (dense) or weight name -> {"bits", "shape"}, the
                         subnet's mask bit-packed (utils.export.bits; True = kept)
    dense                every tensor of the model's state dict that is not in `sparse`, whole
    sparse               weight name -> {"shape", "values"}: a prunable weight masked for every task, stored as
                         its values where the union of the tasks' masks keeps it, flat in row-major order; every
                         other entry is zero in every subnet's forward, so dropping it loses nothing

A file that is not such a dict, of another version, or inconsistent in itself is one ValueError naming the file
and the entry."""
import math
from dataclasses import dataclass

import torch

from utils.data.dataset import Dataset
from utils.export.bits import pack_bits, unpack_bits
from utils.export.data import data_from_record, data_record
from utils.runs.checkpoint import atomic_save, load_tensors
from utils.runs.finished import run_settings
from utils.subnets.masks import Mask

FORMAT = "sparse-sharing export"
VERSION = 1


@dataclass
class Export:
    """An export file as read: the run's settings (flat, by flag name), data, each task's mask (None: dense),
    the full state dict (zeros where no mask keeps a weight) and the pretrained files to build a transformer."""

    path: str
    description: str
    settings: dict
    data: Dataset
    masks: dict[int, Mask | None]
    state: dict[str, torch.Tensor]
    pretrained: dict[str, bytes]


def _sparse_names(masks: dict[int, Mask | None]) -> list[str]:
    """The weights every task's mask covers (none when a task is dense)."""
    if not masks or any(m is None for m in masks.values()):
        return []
    first, *rest = masks.values()
    return [name for name in first if all(name in m for m in rest)]


def union(masks: list[Mask], name: str) -> torch.Tensor:
    """∪ M_t of one weight: True where at least one task keeps it."""
    return torch.stack([m[name].cpu() for m in masks]).any(dim=0)


def _bytes_tensor(content: bytes) -> torch.Tensor:
    """A file's bytes as a 1-D uint8 tensor."""
    return torch.frombuffer(bytearray(content), dtype=torch.uint8) if content else torch.zeros(0, dtype=torch.uint8)


def build_export(config: dict, data: Dataset, description: str, masks: dict[int, Mask | None],
                 state: dict[str, torch.Tensor], pretrained: dict[str, bytes]) -> dict:
    """The export of a run: `masks` by task id, `state` the model's state dict, `pretrained` its files."""
    sparse_names = _sparse_names(masks)
    sparse = {}
    for name in sparse_names:
        kept = union(list(masks.values()), name)
        sparse[name] = {"shape": list(kept.shape), "values": state[name].detach().cpu()[kept]}
    tasks = [{"id": i, "name": data.tasks[i].name,
              "mask": None if m is None else {n: {"bits": pack_bits(t), "shape": list(t.shape)} for n, t in m.items()}}
             for i, m in masks.items()]
    return {"format": FORMAT, "version": VERSION, "description": description, "config": config,
            "data": data_record(data),
            "pretrained": {n: _bytes_tensor(b) for n, b in pretrained.items()},
            "tasks": tasks, "dense": {n: t.detach().cpu().clone() for n, t in state.items() if n not in sparse},
            "sparse": sparse}


def write_export(record: dict, path: str) -> None:
    """Write build_export's dict atomically."""
    atomic_save(record, path)


def _entry(record: dict, key: str, kind: type, path: str) -> object:
    value = record.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"{path}: entry {key!r} is missing or not a {kind.__name__}")
    return value


def _tensors(entries: object, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(entries, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in entries.items()):
        raise ValueError(f"{where} is not a dict of tensors by name")
    return entries


def _shape(value: object, where: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(n, int) and n >= 0 for n in value):
        raise ValueError(f"{where}: shape {value!r} is not a list of sizes")
    return value


def _masks(tasks: list, data: Dataset, path: str) -> dict[int, Mask | None]:
    """Each task's mask unpacked, its id and name checked against the data."""
    masks: dict[int, Mask | None] = {}
    for entry in tasks:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), int):
            raise ValueError(f"{path}: a task entry without an id")
        i = entry["id"]
        if not 0 <= i < len(data.tasks) or entry.get("name") != data.tasks[i].name or i in masks:
            raise ValueError(f"{path}: task {i} {entry.get('name')!r} does not fit the data's tasks "
                             f"({', '.join(data.task_names())}) or is listed twice")
        packed = entry.get("mask")
        if packed is None:
            masks[i] = None
            continue
        if not isinstance(packed, dict) or not packed:
            raise ValueError(f"{path}: the mask of task {i} is not a dict of packed weights")
        mask = {}
        for name, bits in packed.items():
            where = f"{path}: mask of task {i}, weight {name}"
            if not isinstance(bits, dict):
                raise ValueError(f"{where}: expected bits and shape")
            try:
                mask[name] = unpack_bits(bits.get("bits"), _shape(bits.get("shape"), where))
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
        masks[i] = mask
    if not masks:
        raise ValueError(f"{path}: the export has no task")
    return masks


def _state(record: dict, masks: dict[int, Mask | None], path: str) -> dict[str, torch.Tensor]:
    """The dense tensors plus each sparse weight scattered back into zeros where the union of masks keeps it."""
    state = dict(_tensors(record.get("dense"), f"{path}: entry 'dense'"))
    sparse = _entry(record, "sparse", dict, path)
    expected = _sparse_names(masks)
    if sorted(sparse) != sorted(expected):
        raise ValueError(f"{path}: sparse weights {sorted(sparse)} are not those every task's mask covers")
    for name, entry in sparse.items():
        where = f"{path}: sparse weight {name}"
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), torch.Tensor) or name in state:
            raise ValueError(f"{where}: expected shape and values, once")
        shape, values = _shape(entry.get("shape"), where), entry["values"]
        if any(list(m[name].shape) != shape for m in masks.values()):
            raise ValueError(f"{where}: shape {shape} differs from its masks'")
        kept = union(list(masks.values()), name)
        if values.dim() != 1 or values.numel() != int(kept.sum()):
            raise ValueError(f"{where}: {values.numel()} values for the {int(kept.sum())} weights its masks keep")
        full = values.new_zeros(math.prod(shape)).reshape(shape)
        full[kept] = values
        state[name] = full
    return state


def read_export(path: str) -> Export:
    """Read and check an export file (torch.load with weights_only=True)."""
    record = load_tensors(path)
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError(f"{path}: not an export file (export.py writes one; a run folder is given as a folder)")
    if record.get("version") != VERSION:
        raise ValueError(f"{path}: export format version {record.get('version')!r}, this code reads version {VERSION}")
    config = _entry(record, "config", dict, path)
    settings = run_settings(config, f"{path}: config")
    data = data_from_record(record.get("data"), path)
    masks = _masks(_entry(record, "tasks", list, path), data, path)
    pretrained = _tensors(_entry(record, "pretrained", dict, path), f"{path}: entry 'pretrained'")
    if any(t.dtype != torch.uint8 or t.dim() != 1 for t in pretrained.values()):
        raise ValueError(f"{path}: entry 'pretrained' holds a tensor that is not 1-D uint8 bytes")
    return Export(path, str(_entry(record, "description", str, path)), settings, data, masks,
                  _state(record, masks, path), {n: t.numpy().tobytes() for n, t in pretrained.items()})

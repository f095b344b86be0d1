"""A run's data snapshot (utils.data.snapshot: vocabularies, tag sets, word → embedding-row map, settings of the
data) as compact plain values for an export file, and back to a Dataset without splits; its embedding table is
zeros of the saved shape, to be overwritten by the exported weights.

A vocabulary is kept as what tagging reads of it: its entries in id order (one string, one entry a line), which
of them are no_create_entry words (bit-packed; the character CNN builds its characters from the others), and its
padding and unknown entries; the word counts, used only to build a vocabulary, are left out."""
import io

import torch
from fastNLP import Vocabulary

from utils.data.dataset import TASK_METRICS, Dataset, TaskData
from utils.export.bits import pack_bits, unpack_bits

SEPARATORS = ("\n", "\t")  # of entries in the record, of fields in fastNLP's vocabulary file


def vocabulary_record(vocabulary: Vocabulary) -> dict:
    """The entries of `vocabulary` in id order, its no_create_entry flags, its padding and unknown entries."""
    entries = [vocabulary.to_word(i) for i in range(len(vocabulary))]
    bad = next((w for w in entries if not w or any(s in w for s in SEPARATORS)), None)
    if bad is not None:
        raise ValueError(f"vocabulary entry {bad!r} is empty or holds a tab or newline: it cannot be exported")
    flags = torch.tensor([vocabulary._is_word_no_create_entry(w) for w in entries], dtype=torch.bool)
    return {"entries": "\n".join(entries), "no_create": pack_bits(flags), "padding": vocabulary.padding,
            "unknown": vocabulary.unknown}


def vocabulary_from_record(record: object, where: str) -> Vocabulary:
    """The vocabulary of vocabulary_record's output (read as fastNLP reads its file); ValueError naming `where`."""
    if not isinstance(record, dict) or not isinstance(record.get("entries"), str) or not record["entries"]:
        raise ValueError(f"{where}: not a vocabulary record (no entries)")
    entries = record["entries"].split("\n")
    special = {key: record.get(key) for key in ("padding", "unknown")}
    if any(v is not None and v not in entries[:2] for v in special.values()) or "\t" in record["entries"]:
        raise ValueError(f"{where}: not a vocabulary record (padding or unknown entry misplaced, or a tab)")
    try:
        flags = unpack_bits(record.get("no_create"), [len(entries)]).tolist()
    except ValueError as error:
        raise ValueError(f"{where}: no_create flags: {error}") from None
    lines = [f"{k}\t{v}" for k, v in (("max_size", None), ("min_freq", None), *special.items(), ("rebuild", False))]
    lines += [""] + [f"{word}\t1\t{i}\t{int(flag)}" for i, (word, flag) in enumerate(zip(entries, flags))]
    vocabulary = Vocabulary.load(io.StringIO("\n".join(lines) + "\n"))
    if [vocabulary.to_word(i) for i in range(len(vocabulary))] != entries:
        raise ValueError(f"{where}: not a vocabulary record (its entries repeat or do not start with padding and unknown)")
    return vocabulary


def data_record(data: Dataset) -> dict:
    """What rebuilding the model and reading input needs of `data`, as strings, lists and tensors."""
    return {"setting": data.setting, "info": dict(data.info), "words": vocabulary_record(data.words),
            "tasks": [{"name": t.name, "metric": t.metric, "tags": vocabulary_record(t.tags)} for t in data.tasks],
            "word_rows": data.word_rows.detach().cpu().to(torch.int32), "embedding_shape": list(data.embedding.shape)}


def data_from_record(record: object, where: str) -> Dataset:
    """The Dataset of data_record's output; anything missing or inconsistent is a ValueError naming `where` and
    the entry."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: entry 'data' is not a dict")
    if not isinstance(record.get("setting"), str) or not isinstance(record.get("info"), dict):
        raise ValueError(f"{where}: entry 'data' has no setting or info")
    words = vocabulary_from_record(record.get("words"), f"{where}: data.words")
    tasks = record.get("tasks")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, dict) for t in tasks):
        raise ValueError(f"{where}: data.tasks is not a list of tasks")
    task_data = []
    for i, task in enumerate(tasks):
        name, metric = task.get("name"), task.get("metric")
        if not isinstance(name, str) or metric not in TASK_METRICS.values():
            raise ValueError(f"{where}: data.tasks[{i}] has no name or an unknown metric {metric!r}")
        task_data.append(TaskData(name, metric, vocabulary_from_record(task.get("tags"), f"{where}: tags of {name}")))
    rows, shape = record.get("word_rows"), record.get("embedding_shape")
    if not isinstance(rows, torch.Tensor) or rows.dim() != 1 or rows.is_floating_point() or rows.numel() != len(words):
        raise ValueError(f"{where}: data.word_rows is not one embedding row per word of data.words ({len(words)})")
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(n, int) and n > 0 for n in shape)):
        raise ValueError(f"{where}: data.embedding_shape {shape!r} is not the shape of a table")
    if not 0 <= int(rows.min()) <= int(rows.max()) < shape[0]:
        raise ValueError(f"{where}: data.word_rows points outside the embedding table of shape {shape}")
    return Dataset(record["setting"], words, task_data, torch.zeros(shape), rows.long(), dict(record["info"]))

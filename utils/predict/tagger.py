"""A finished run rebuilt for tagging, from its folder or its export file (export.py): its model in eval mode with
each task's subnet, word ids for any input word (unseen words through their lowercased vector and their
characters), and batched decoding per task."""
import os
from dataclasses import dataclass, field

import torch
from fastNLP import Vocabulary
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from utils.export.archive import read_export
from utils.export.rebuild import rebuild
from utils.runs.checkpoint import load_weights
from utils.data.dataset import Dataset, TaskData
from utils.subnets.masks import Mask, masked_forward, to_device
from utils.predict.inputs import Sentence
from utils.runs.finished import FinishedRun, load_finished_run
from utils.runtime import build_model


@dataclass
class Subnet:
    """One task of a run: its id in the data (the model's head), its data (name, metric, tags) and mask."""

    task_id: int
    task: TaskData
    mask: Mask | None


@dataclass
class Run:
    """A finished run ready to tag: the model in eval mode on its device, the vocabularies it was built from,
    its tasks' subnets, what was loaded (for the log), its settings by flag name and the folder as read
    (utils.runs.finished; None for an export file)."""

    model: nn.Module
    data: Dataset
    subnets: list[Subnet]
    device: str
    description: str
    settings: dict
    finished: FinishedRun | None
    extra_words: dict[str, int] = field(default_factory=dict)  # ids given to words beyond the vocabulary


def load_run(run: str, round_: int | None = None, device: str = "cpu") -> Run:
    """Build a finished run's model from its folder (utils.runs.finished reads it) or from its export file
    (utils.export), load its weights and masks."""
    if os.path.isfile(run):
        if round_ is not None:
            raise ValueError(f"--round applies to a Step 1 task folder; {run} is an export file (of one round)")
        exported = read_export(run)
        model, masks = rebuild(exported)
        data, settings, finished = exported.data, exported.settings, None
        loaded = f"{exported.description} (export {run})"
    else:
        finished = load_finished_run(run, round_)
        data, settings = finished.data, finished.settings
        model = build_model(finished.model_settings, data)
        masks = finished.load_masks(model)
        load_weights(model, finished.weights)
        loaded = finished.description
    model.to(device).eval()
    subnets = [Subnet(i, data.tasks[i], to_device(mask, device) if mask is not None else None)
               for i, mask in masks.items()]
    description = f"{loaded}: {', '.join(s.task.name for s in subnets)}"
    return Run(model, data, subnets, device, description, settings, finished)


def _lowercase_rows(vocabulary: Vocabulary, word_rows: torch.Tensor) -> dict[str, int]:
    """Embedding row of every lowercased vocabulary word (training looks words up lowercased)."""
    rows = {}
    for word, index in vocabulary:
        if word not in (vocabulary.padding, vocabulary.unknown):
            rows.setdefault(word.lower(), int(word_rows[index]))
    return rows


def index_words(run: Run, sentences: list[Sentence]) -> list[torch.Tensor]:
    """Word ids of every sentence. A word outside the vocabulary gets a new id whose word vector is that of its
    lowercased form if the run has one, else the unknown vector, and whose characters go through the character
    CNN as they are (characters it never saw as its unknown character); a transformer splits it into subwords.
    Extends the run's model for them (its add_words)."""
    known = run.data.words.word2idx
    new: dict[str, int] = {}
    for sentence in sentences:
        for word in sentence.words:
            if word not in known and word not in run.extra_words and word not in new:
                new[word] = len(known) + len(run.extra_words) + len(new)
    if new:
        lower = _lowercase_rows(run.data.words, run.data.word_rows)
        unknown_row = int(run.data.word_rows[run.data.words.unknown_idx])
        run.model.add_words(list(new), [lower.get(w.lower(), unknown_row) for w in new])
        run.extra_words.update(new)
    ids = {**run.extra_words, **known}
    return [torch.tensor([ids[w] for w in s.words], dtype=torch.long) for s in sentences]


@torch.no_grad()
def tag(run: Run, sentences: list[Sentence], batch_size: int = 32) -> dict[str, list[list[int]]]:
    """Predicted tag ids per task and sentence, each task through its subnet; batches of similar length."""
    ids = index_words(run, sentences)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    pad = run.data.words.padding_idx
    predicted: dict[str, list[list[int]]] = {s.task.name: [[] for _ in ids] for s in run.subnets}
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        words = pad_sequence([ids[i] for i in batch], batch_first=True, padding_value=pad).to(run.device)
        seq_len = torch.tensor([len(ids[i]) for i in batch], device=run.device)
        for subnet in run.subnets:
            logits = masked_forward(run.model, subnet.mask, subnet.task_id, words, seq_len)
            decoded = run.model.heads.decode(subnet.task_id, logits, seq_len).cpu()
            for row, i in enumerate(batch):
                predicted[subnet.task.name][i] = decoded[row, :len(ids[i])].tolist()
    return predicted


def tag_names(run: Run, predicted: dict[str, list[list[int]]]) -> dict[str, list[list[str]]]:
    """Tag ids as tag strings, per task and sentence."""
    tags = {s.task.name: s.task.tags for s in run.subnets}
    return {task: [[tags[task].to_word(i) for i in sentence] for sentence in sentences]
            for task, sentences in predicted.items()}

"""Readers that turn the raw corpora of each data setting into tagged sentences per task and split."""

import os
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastNLP.core.utils import iob2, iob2bioes

from utils.data.conll import DOCSTART, read_rows
from utils.data.parse_bits import ne_bio, parse_chunks

Sentence = tuple[list[str], list[str]]  # (words, tags)
Corpus = dict[str, dict[str, list[Sentence]]]  # task name -> split ("train"|"dev"|"test") -> sentences

TASKS = ("pos", "chunk", "ner")
SPLITS = ("train", "dev", "test")

_Converter = Callable[[list[str]], list[str]]
_Block = tuple[list[int], list[list[str]]]  # (line number of each of the sentence's rows, its column lists)

_ONTONOTES_MARKERS = ("#begin document", "#end document")
_ONTONOTES_SPLITS = {"train": ("train",), "dev": ("development", "dev"), "test": ("test",)}
_IOB_TAG = re.compile(r"O|[BI]-[^-\s]+")
_BIOES_TAG = re.compile(r"O|[BIES]-[^-\s]+")


class TagError(ValueError):
    """An invalid tag, carrying its position in the sentence so that readers can name its line."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def _read_blocks(path: str | Path, columns: Sequence[int], markers: tuple[str, ...] = DOCSTART,
                 width_per_sentence: bool = False, format: str = "conll",
                 readers: Mapping[int, str] | None = None) -> list[_Block]:
    """The chosen columns of each sentence of a file (utils.data.conll.read_rows), with line numbers for errors."""
    blocks = read_rows(path, format, max(columns) + 1, markers, width_per_sentence, readers)
    return [(numbers, [[row[column] for row in rows] for column in columns]) for numbers, rows in blocks]


def read_columns(path: str, columns: Sequence[int]) -> list[list[list[str]]]:
    """Read a CoNLL-style file into, per sentence, one list per requested column (-DOCSTART- dropped)."""
    return [block for _, block in _read_blocks(path, columns)]


def _check_iob(tags: Sequence[str]) -> None:
    """Raise TagError at the first tag that is not O, B-TYPE or I-TYPE (e.g. `B-` without a type, or S-PER)."""
    for index, tag in enumerate(tags):
        if not _IOB_TAG.fullmatch(tag):
            raise TagError(f"invalid IOB tag {tag!r}: expected O, B-TYPE or I-TYPE (the input scheme is IOB1 "
                           "or BIO)", index)


def to_bio(tags: Sequence[str]) -> list[str]:
    """Convert IOB1 (or already BIO) tags to BIO on a copy, since fastNLP's iob2 edits its argument."""
    _check_iob(tags)
    return iob2(list(tags))


def to_bioes(tags: Sequence[str]) -> list[str]:
    """Convert IOB1 (or BIO) tags to BIOES, the NER encoding the paper trains with."""
    return iob2bioes(to_bio(tags))


def _convert(converter: _Converter, tags: list[str], path: str | Path, lines: list[int]) -> list[str]:
    """Apply a tag converter, naming the file and the bad tag's line (else the sentence's first line)."""
    try:
        return converter(tags)
    except TagError as error:
        raise ValueError(f"{path}:{lines[error.index]}: {error}") from None
    except ValueError as error:
        raise ValueError(f"{path}:{lines[0]}: sentence starting here: {error}") from None


def _read_tagged(path: str | Path, tasks: Mapping[str, tuple[int, _Converter]], word_column: int = 0,
                 format: str = "conll", named: bool = False) -> dict[str, list[Sentence]]:
    """Read a file once and give each task (words, tags) sentences from its (tag column, converter); `named`:
    a row too narrow for a task's column names the task.

    A file without sentences is an error: an empty split would only fail (or score 0/0) much later.
    """
    columns = [word_column, *(column for column, _ in tasks.values())]
    readers = {column: f"task {task}" for task, (column, _) in tasks.items()} if named else None
    if readers is not None:
        readers[word_column] = "the word column (--word_column)"
    blocks = _read_blocks(path, columns, format=format, readers=readers)
    if not blocks:
        raise ValueError(f"{path}: no sentences (the file is empty or holds only -DOCSTART- lines)")
    tagged: dict[str, list[Sentence]] = {task: [] for task in tasks}
    for lines, (words, *tag_columns) in blocks:
        for (task, (_, converter)), tags in zip(tasks.items(), tag_columns):
            tagged[task].append((list(words), _convert(converter, tags, path, lines)))
    return tagged


_POS: dict[str, tuple[int, _Converter]] = {"pos": (1, list)}
_CHUNK: dict[str, tuple[int, _Converter]] = {"chunk": (2, to_bio)}
_NER: dict[str, tuple[int, _Converter]] = {"ner": (3, to_bioes)}


def _by_task(splits: Mapping[str, Mapping[str, list[Sentence]]]) -> Corpus:
    """Turn split -> task -> sentences into the Corpus layout task -> split -> sentences, in TASKS order."""
    return {task: {split: splits[split][task] for split in SPLITS} for task in TASKS}


def read_conll03(directory: str) -> Corpus:
    """Read CoNLL-2003 {train,dev,test}.txt: POS as is, chunks IOB1->BIO, NER IOB1->BIOES, same sentences."""
    columns = {**_POS, **_CHUNK, **_NER}
    return _by_task({split: _read_tagged(os.path.join(directory, f"{split}.txt"), columns) for split in SPLITS})


# Position Prediction (negative transfer, REFERENCE §3): positions 0..49 get their own tag, later ones "50+".
# 99% of CoNLL-2003 sentences have at most 46 words (48 of 14,041 training sentences exceed 50; longest 124), so
# the cap shares a tag among 0.15% of training tokens and keeps rare, barely trainable position tags out.
PP_MAX_POSITION = 50


def position_tags(words: Sequence[str], max_position: int = PP_MAX_POSITION) -> list[str]:
    """Each word's 0-based position in its sentence as a tag; positions ≥ max_position share the tag "<max>+"."""
    return [str(i) if i < max_position else f"{max_position}+" for i in range(len(words))]


def read_conll03_pp(directory: str, max_position: int = PP_MAX_POSITION) -> Corpus:
    """CoNLL-2003 NER (BIOES) plus the synthetic Position Prediction task "pp" on the same sentences: the
    negative-transfer setting, where the two tasks have little to share."""
    if max_position < 1:
        raise ValueError(f"max_position must be at least 1, got {max_position}")
    ner = {split: _read_tagged(os.path.join(directory, f"{split}.txt"), _NER)["ner"] for split in SPLITS}
    pp = {split: [(list(words), position_tags(words, max_position)) for words, _ in ner[split]] for split in SPLITS}
    return {"ner": ner, "pp": pp}


def _hold_out(sentences: list[Sentence], fraction: float, seed: int,
              path: str) -> tuple[list[Sentence], list[Sentence]]:
    """Split off round(fraction * n) sentences chosen by a seeded shuffle as dev; both parts keep file order
    and must be non-empty."""
    held = round(fraction * len(sentences))
    if not 0 < held < len(sentences):
        raise ValueError(f"{path}: dev_fraction {fraction} of its {len(sentences)} sentences leaves an empty "
                         f"{'dev' if not held else 'train'} split")
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    dev = set(order[:held])
    train = [sentence for index, sentence in enumerate(sentences) if index not in dev]
    return train, [sentence for index, sentence in enumerate(sentences) if index in dev]


def read_ptb(pos: str, chunk: str, ner: str, dev_fraction: float = 0.1, seed: int = 1,
             pos_standin: float | None = None) -> Corpus:
    """Read the paper's "ptb" setting, where each task has its own corpus and sentences.

    POS: WSJ `{train,dev,test}.pos` in `pos`. Chunk: CoNLL-2000 `train.txt`/`test.txt` in `chunk`; CoNLL-2000 has
    no dev set, so dev is `round(dev_fraction * n)` train sentences picked by `random.Random(seed).shuffle`
    (the rest stay train; both keep file order). NER: CoNLL-2003 `{train,dev,test}.txt` in `ner`, as BIOES.
    With `pos_standin`, a stand-in for users without WSJ sections 0-18: train.pos is not read, and `dev.pos`
    (sections 19-21) is held out the same way into train and a `pos_standin` share of dev.
    """
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction must be between 0 and 1 (exclusive), got {dev_fraction}")
    chunk_path = os.path.join(chunk, "train.txt")
    chunk_train, chunk_dev = _hold_out(_read_tagged(chunk_path, _CHUNK)["chunk"], dev_fraction, seed, chunk_path)
    pos_splits = {split: os.path.join(pos, f"{split}.pos") for split in SPLITS}
    if pos_standin is None:
        pos_data = {split: _read_tagged(path, _POS)["pos"] for split, path in pos_splits.items()}
    else:
        train, dev = _hold_out(_read_tagged(pos_splits["dev"], _POS)["pos"], pos_standin, seed, pos_splits["dev"])
        pos_data = {"train": train, "dev": dev, "test": _read_tagged(pos_splits["test"], _POS)["pos"]}
    return {
        "pos": pos_data,
        "chunk": {
            "train": chunk_train,
            "dev": chunk_dev,
            "test": _read_tagged(os.path.join(chunk, "test.txt"), _CHUNK)["chunk"],
        },
        "ner": {split: _read_tagged(os.path.join(ner, f"{split}.txt"), _NER)["ner"] for split in SPLITS},
    }


def _ne_bioes(bits: Sequence[str]) -> list[str]:
    """Convert CoNLL-2012 bracketed named-entity bits to BIOES, the NER encoding the paper trains with."""
    return iob2bioes(ne_bio(bits))


def _ontonotes_folder(directory: str, names: Sequence[str]) -> Path:
    """Return the first existing split folder among `names` (e.g. development or dev) under `directory`."""
    for name in names:
        folder = Path(directory) / name
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"no {' or '.join(names)} folder in {directory}")


def _read_ontonotes_split(folder: Path) -> dict[str, list[Sentence]]:
    """Read every *.gold_conll file under `folder` (sorted, recursive), skipping pt/ documents, which lack NE;
    a split without sentences is an error."""
    paths = sorted(folder.rglob("*.gold_conll"))
    if not paths:
        raise FileNotFoundError(f"no *.gold_conll files under {folder}")
    tagged: dict[str, list[Sentence]] = {task: [] for task in TASKS}
    for path in paths:
        blocks = _read_blocks(path, (0, 3, 4, 5, 10), _ONTONOTES_MARKERS, width_per_sentence=True)
        for lines, (document_ids, words, pos, parse, ne) in blocks:
            if document_ids[0].startswith("pt/"):
                continue
            tagged["pos"].append((list(words), pos))
            tagged["chunk"].append((list(words), _convert(parse_chunks, parse, path, lines)))
            tagged["ner"].append((list(words), _convert(_ne_bioes, ne, path, lines)))
    if not tagged["pos"]:
        raise ValueError(f"{folder}: no sentences in its *.gold_conll files (pt/ documents are skipped)")
    return tagged


def read_ontonotes(directory: str) -> Corpus:
    """Read OntoNotes 5.0 in CoNLL-2012 format: POS column 4, chunks from parse bits, NER as BIOES.

    Files are `directory/{train,development|dev,test}/**/*.gold_conll`; see `parse_chunks` for the chunk rule.
    """
    return _by_task({split: _read_ontonotes_split(_ontonotes_folder(directory, names))
                    for split, names in _ONTONOTES_SPLITS.items()})


def any_to_bioes(tags: Sequence[str]) -> list[str]:
    """BIOES tags from a sentence in IOB1, BIO or BIOES: IOB tags are converted, BIOES tags checked and kept."""
    if all(_IOB_TAG.fullmatch(tag) for tag in tags):
        return to_bioes(tags)
    for index, tag in enumerate(tags):
        if not _BIOES_TAG.fullmatch(tag):
            raise TagError(f"invalid tag {tag!r}: expected O, B-TYPE, I-TYPE, E-TYPE or S-TYPE (IOB1, BIO or BIOES)",
                           index)
    return list(tags)


# A --type columns task's declared tag scheme: how its tags are read and which metric (dataset.TASK_METRICS values)
# scores them. IOB1 and BIO are read alike (IOB1 becomes BIO); bioes accepts IOB1, BIO or BIOES and trains on BIOES.
COLUMN_SCHEMES: dict[str, tuple[_Converter, str]] = {
    "iob1": (to_bio, "bio"), "bio": (to_bio, "bio"), "bioes": (any_to_bioes, "bioes"), "plain": (list, "acc")}


@dataclass(frozen=True)
class ColumnTask:
    """A task read from CoNLL-style column files: its name, tag column (0-based), scheme (COLUMN_SCHEMES) and
    files per split (train and test required; without dev, dev is held out from train)."""

    name: str
    column: int
    scheme: str
    files: Mapping[str, str]

    @property
    def metric(self) -> str:
        return COLUMN_SCHEMES[self.scheme][1]


def _named_converter(task: ColumnTask) -> _Converter:
    """The task's tag converter, its errors naming the task, column and scheme."""
    convert = COLUMN_SCHEMES[task.scheme][0]

    def converter(tags: list[str]) -> list[str]:
        try:
            return convert(tags)
        except TagError as error:
            raise TagError(f"task {task.name} (column {task.column}, scheme {task.scheme}): {error}", error.index) \
                from None

    return converter


def read_column_tasks(tasks: Sequence[ColumnTask], word_column: int = 0, dev_fraction: float = 0.1,
                      seed: int = 1, format: str = "conll") -> Corpus:
    """Read each file once for all the tasks that use it, in the tasks' order, as CoNLL or CoNLL-U (`format`). A
    task without a dev file gets round(dev_fraction * n) of its training sentences as dev (seeded; tasks sharing a
    training file share it)."""
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction must be between 0 and 1 (exclusive), got {dev_fraction}")
    readers: dict[str, dict[str, tuple[int, _Converter]]] = {}
    for task in tasks:
        for path in task.files.values():
            readers.setdefault(path, {})[task.name] = (task.column, _named_converter(task))
    read = {path: _read_tagged(path, columns, word_column, format, named=True) for path, columns in readers.items()}
    corpus: Corpus = {}
    for task in tasks:
        splits = {split: read[path][task.name] for split, path in task.files.items()}
        if "dev" not in splits:
            splits["train"], splits["dev"] = _hold_out(splits["train"], dev_fraction, seed, task.files["train"])
        corpus[task.name] = {split: splits[split] for split in SPLITS}
    return corpus


SETTINGS: dict[str, Callable[..., Corpus]] = {
    "conll03": read_conll03,
    "conll03-pp": read_conll03_pp,
    "ptb": read_ptb,
    "ontonotes": read_ontonotes,
    "columns": read_column_tasks,
}

"""The processed data set: a shared word vocabulary, per-task tag vocabularies, indexed sentences and the
initial word-embedding table. Saved as JSON/TSV vocabularies plus tensors, so loading never unpickles."""
import json
import os
from dataclasses import dataclass, field

import torch
from fastNLP import Vocabulary

from utils.runs.checkpoint import atomic_save, load_tensors

SPLITS = ("train", "dev", "test")
# The metric each known task is scored with (REFERENCE §2): token accuracy, or span F1 over BIO / BIOES tags.
TASK_METRICS = {"pos": "acc", "chunk": "bio", "ner": "bioes", "pp": "acc"}


@dataclass
class Split:
    """One split of one task: a LongTensor of word ids and one of tag ids per sentence."""

    words: list[torch.Tensor]
    tags: list[torch.Tensor]

    def __len__(self) -> int:
        return len(self.words)

    @property
    def lengths(self) -> list[int]:
        return [len(w) for w in self.words]

    def head(self, n: int | None) -> "Split":
        """The first n sentences (all of them when n is None): the budget flags' data slice."""
        return self if n is None else Split(self.words[:n], self.tags[:n])


@dataclass
class TaskData:
    """A task: its name, how it is scored, its tag vocabulary and its splits."""

    name: str
    metric: str
    tags: Vocabulary
    splits: dict[str, Split] = field(default_factory=dict)


@dataclass
class Dataset:
    """Everything the models and training scripts read from a processed data folder."""

    setting: str
    words: Vocabulary
    tasks: list[TaskData]
    embedding: torch.Tensor
    word_rows: torch.Tensor
    info: dict = field(default_factory=dict)

    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def limit(self, train: int | None, evaluation: int | None) -> None:
        """Keep the first `train` training and `evaluation` dev/test sentences of every task (budget runs)."""
        for task in self.tasks:
            task.splits = {s: sp.head(train if s == "train" else evaluation) for s, sp in task.splits.items()}

    def save(self, directory: str) -> None:
        """Write the vocabularies, tensors.pt and, last and atomically, meta.json into `directory`: meta.json
        marks the folder complete, so a write cut short never looks loadable."""
        os.makedirs(directory, exist_ok=True)
        self.words.save(os.path.join(directory, "words.vocab"))
        tensors = {"embedding": self.embedding, "word_rows": self.word_rows}
        for task in self.tasks:
            task.tags.save(os.path.join(directory, f"tags.{task.name}.vocab"))
            for split_name, split in task.splits.items():
                key = f"{task.name}.{split_name}"
                tensors[key + ".lengths"] = torch.tensor(split.lengths, dtype=torch.long)
                tensors[key + ".words"] = torch.cat(split.words) if len(split) else torch.zeros(0, dtype=torch.long)
                tensors[key + ".tags"] = torch.cat(split.tags) if len(split) else torch.zeros(0, dtype=torch.long)
        atomic_save(tensors, os.path.join(directory, "tensors.pt"))
        meta = {"setting": self.setting, "tasks": [{"name": t.name, "metric": t.metric} for t in self.tasks]}
        meta.update(self.info)
        tmp = os.path.join(directory, f".tmp-{os.getpid()}-meta.json")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(meta, f, indent=2)
            os.replace(tmp, os.path.join(directory, "meta.json"))
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, directory: str) -> "Dataset":
        """Read a folder written by `save` (prepare-data.py's output); a missing, half-written or inconsistent
        folder is one ValueError or FileNotFoundError naming the file or tensor."""
        meta_path = os.path.join(directory, "meta.json")
        if not os.path.isfile(meta_path):
            raise FileNotFoundError(f"{directory}: not a processed data folder (no meta.json: run prepare-data.py, "
                                    "or run it again if it was interrupted)")
        meta = _read_meta(meta_path)
        tensors_path = os.path.join(directory, "tensors.pt")
        tensors = load_tensors(tensors_path)
        if not isinstance(tensors, dict):
            raise ValueError(f"{tensors_path}: not a dict of tensors")
        words = load_vocabulary(os.path.join(directory, "words.vocab"))
        embedding = _tensor(tensors, "embedding", tensors_path)
        word_rows = _tensor(tensors, "word_rows", tensors_path)
        if embedding.dim() != 2 or not embedding.is_floating_point():
            raise ValueError(f"{tensors_path}: tensor embedding is not a 2-d float table")
        if word_rows.dim() != 1 or word_rows.numel() != len(words):
            raise ValueError(f"{tensors_path}: tensor word_rows has {word_rows.numel()} entries, words.vocab "
                             f"{len(words)} words")
        _check_ids(word_rows, embedding.shape[0], "word_rows", tensors_path, f"the {embedding.shape[0]} embedding rows")
        tasks = []
        for spec in meta["tasks"]:
            task = TaskData(spec["name"], spec["metric"],
                            load_vocabulary(os.path.join(directory, f"tags.{spec['name']}.vocab")))
            for split_name in SPLITS:
                task.splits[split_name] = _split(tensors, f"{task.name}.{split_name}", tensors_path, len(words),
                                                 len(task.tags), task.name)
            tasks.append(task)
        info = {k: v for k, v in meta.items() if k not in ("setting", "tasks")}
        return cls(meta["setting"], words, tasks, embedding, word_rows, info)


def _read_meta(path: str) -> dict:
    """meta.json as a dict with a "setting" and a list of "tasks", each with a "name" and a known "metric"."""
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a JSON object")
    for key, kind in (("setting", str), ("tasks", list)):
        if key not in meta:
            raise ValueError(f"{path}: missing key {key!r}")
        if not isinstance(meta[key], kind):
            raise ValueError(f"{path}: key {key!r} must be a {kind.__name__}")
    if not meta["tasks"]:
        raise ValueError(f"{path}: key 'tasks' lists no task")
    metrics = sorted(set(TASK_METRICS.values()))
    for index, spec in enumerate(meta["tasks"]):
        if not isinstance(spec, dict) or not all(isinstance(spec.get(key), str) for key in ("name", "metric")):
            raise ValueError(f"{path}: tasks[{index}] must have a string 'name' and 'metric'")
        if spec["metric"] not in metrics:
            raise ValueError(f"{path}: task {spec['name']} has unknown metric (tag scheme) {spec['metric']!r}: "
                             f"expected one of {', '.join(metrics)}")
    return meta


def load_vocabulary(path: str) -> Vocabulary:
    """A fastNLP vocabulary file whose ids are exactly 0..n-1; a clear error naming the file otherwise."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file (the folder is incomplete)")
    try:
        vocabulary = Vocabulary.load(path)
        ids = set(vocabulary.word2idx.values())
    except (ValueError, IndexError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a vocabulary file ({type(error).__name__}: {error})") from None
    if not ids or ids != set(range(len(vocabulary))):
        raise ValueError(f"{path}: not a vocabulary file (its ids are not 0..{len(vocabulary) - 1})")
    return vocabulary


def _tensor(tensors: dict, key: str, path: str) -> torch.Tensor:
    """tensors[key], naming the file and the tensor when it is missing or not a tensor."""
    if key not in tensors:
        raise ValueError(f"{path}: tensor {key} is missing")
    if not isinstance(tensors[key], torch.Tensor):
        raise ValueError(f"{path}: {key} is not a tensor")
    return tensors[key]


def _split(tensors: dict, key: str, path: str, n_words: int, n_tags: int, task: str) -> Split:
    """The Split stored under `key` (task.split), checking that its lengths, word ids and tag ids agree."""
    lengths = _tensor(tensors, key + ".lengths", path)
    if lengths.dim() != 1 or lengths.is_floating_point() or (lengths < 0).any():
        raise ValueError(f"{path}: tensor {key}.lengths is not a list of sentence lengths")
    words, tags = _tensor(tensors, key + ".words", path), _tensor(tensors, key + ".tags", path)
    for name, ids in ((key + ".words", words), (key + ".tags", tags)):
        if ids.dim() != 1 or ids.numel() != int(lengths.sum()):
            raise ValueError(f"{path}: tensor {name} holds {ids.numel()} ids, but {key}.lengths adds up to "
                             f"{int(lengths.sum())}")
    _check_ids(words, n_words, key + ".words", path, "words.vocab")
    _check_ids(tags, n_tags, key + ".tags", path, f"tags.{task}.vocab")
    sizes = lengths.tolist()
    return Split(list(torch.split(words, sizes)), list(torch.split(tags, sizes)))


def _check_ids(ids: torch.Tensor, size: int, name: str, path: str, table: str) -> None:
    """Check that a tensor holds integer ids in 0..size-1, naming the tensor and the table it indexes."""
    if ids.is_floating_point() or ids.is_complex():
        raise ValueError(f"{path}: tensor {name} does not hold integer ids")
    if ids.numel() and not (0 <= int(ids.min()) and int(ids.max()) < size):
        raise ValueError(f"{path}: tensor {name} has ids outside {table} (0..{size - 1})")


def build_vocabularies(corpus: dict) -> tuple[Vocabulary, dict[str, Vocabulary]]:
    """One word vocabulary shared by all tasks (training words create entries; dev/test words are kept only as
    lookups for pre-trained vectors, as fastNLP's no_create_entry) and one tag vocabulary per task."""
    words = Vocabulary()
    for splits in corpus.values():
        for sentence, _ in splits["train"]:
            words.add_word_lst(sentence)
    for splits in corpus.values():
        for split in ("dev", "test"):
            for sentence, _ in splits[split]:
                words.add_word_lst(sentence, no_create_entry=True)
    words.build_vocab()
    tags = {}
    for name, splits in corpus.items():
        vocab = Vocabulary(padding=None, unknown=None)
        for split in SPLITS:
            for _, sentence_tags in splits[split]:
                vocab.add_word_lst(sentence_tags)
        tags[name] = vocab.build_vocab()
    return words, tags


UNK_VECTORS = ("random", "zero")


def embedding_table(words: Vocabulary, vectors: dict[str, torch.Tensor], dim: int,
                    generator: torch.Generator, unk: str = "random") -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The initial word-embedding table, shared by case (words are looked up lowercased) as fastNLP's
    StaticEmbedding(lower=True) builds it: a GloVe vector where there is one, uniform ±sqrt(3/d) for training
    words without one, zeros for padding; dev/test-only words without a vector fall back to <unk>. The <unk> row
    is drawn like a training word's (`unk` "random", this project's default) or zero (`unk` "zero": fastNLP's
    StaticEmbedding with pre-trained vectors, the original code's); the other rows are the same either way.
    Returns the table, the row of each vocabulary id, and coverage counts."""
    if unk not in UNK_VECTORS:
        raise ValueError(f"--unk_vector {unk!r}: expected one of {', '.join(UNK_VECTORS)}")
    trainable = set()
    for word, _ in words:
        if not words._is_word_no_create_entry(word):
            trainable.add(word.lower())
    rows: dict[str, int] = {words.padding: 0, words.unknown: 1}
    for word, _ in words:
        lower = word.lower()
        if word in (words.padding, words.unknown) or lower in rows:
            continue
        if lower in vectors or lower in trainable:
            rows[lower] = len(rows)
    bound = (3.0 / dim) ** 0.5
    table = torch.empty(len(rows), dim).uniform_(-bound, bound, generator=generator)
    table[0] = 0.0
    if unk == "zero":
        table[1] = 0.0
    found = 0
    for lower, row in rows.items():
        if lower in vectors and row > 1:
            table[row] = vectors[lower]
            found += 1
    word_rows = torch.tensor([rows.get(w if w in (words.padding, words.unknown) else w.lower(), 1) for w, _ in words])
    coverage = {"types": len(rows) - 2, "found": found}
    return table, word_rows, coverage


def index_corpus(corpus: dict, words: Vocabulary, tags: dict[str, Vocabulary],
                 metrics: dict[str, str] | None = None) -> list[TaskData]:
    """Turn the sentences of every task and split into id tensors. A task's metric is `metrics[name]` when given
    (a --type columns task's declared scheme), else the known task's (TASK_METRICS), else accuracy."""
    tasks = []
    for name, splits in corpus.items():
        task = TaskData(name, (metrics or {}).get(name) or TASK_METRICS.get(name, "acc"), tags[name])
        for split in SPLITS:
            sentences = splits[split]
            task.splits[split] = Split(
                [torch.tensor([words.to_index(w) for w in ws], dtype=torch.long) for ws, _ in sentences],
                [torch.tensor([tags[name].to_index(t) for t in ts], dtype=torch.long) for _, ts in sentences])
        tasks.append(task)
    return tasks


def summary(data: Dataset) -> str:
    """A table of sentences, tokens and tag-set size per task and split."""
    width = max(8, *(len(t.name) + 2 for t in data.tasks))
    lines = [f"{'task':<{width}}{'split':<7}{'sentences':>10}{'tokens':>10}{'tags':>6}  metric"]
    for task in data.tasks:
        for split_name, split in task.splits.items():
            lines.append(f"{task.name:<{width}}{split_name:<7}{len(split):>10,}{sum(split.lengths):>10,}"
                         f"{len(task.tags):>6}  {task.metric}")
    return "\n".join(lines)

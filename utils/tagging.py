"""Tagging new text with a finished run: load a Step 3 run folder or a Step 1 round with its subnets, read raw
text or CoNLL column files, tag every task in batches, write CoNLL columns or JSON lines, and score the tags
against gold columns as conlleval does (token accuracy; span precision, recall and F1, overall and per type)."""
import json
import os
from dataclasses import dataclass, field

import torch
from fastNLP import SpanFPreRecMetric, Vocabulary
from fastNLP.embeddings import CNNCharEmbedding
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from models import get_model
from models.embedding import WordEmbedding
from utils.checkpoint import load_weights
from utils.dataset import Dataset, TaskData
from utils.masks import Mask, load_mask, masked_forward, to_device
from utils.metrics import TokenAccuracy
from utils.readers import to_bio, to_bioes
from utils.selection import choose_round, mask_file, read_scores
from utils.snapshot import has_data_snapshot, load_data_snapshot

CONLL03_COLUMNS = {"pos": 1, "chunk": 2, "ner": 3}  # gold columns of CoNLL-2003 files (word first)
MODEL_SETTINGS = ("arch", "hidden_size", "n_layer", "dropout", "crf")


@dataclass
class Subnet:
    """One task of a run: its id in the data (the model's head), name, metric, tag vocabulary and mask."""

    task_id: int
    task: TaskData
    mask: Mask | None


@dataclass
class Run:
    """A finished run ready to tag: the model in eval mode on its device, the vocabularies it was built from,
    its tasks' subnets, and what was loaded (for the log)."""

    model: nn.Module
    data: Dataset
    subnets: list[Subnet]
    device: str
    description: str
    extra_words: dict[str, int] = field(default_factory=dict)  # ids given to words beyond the vocabulary


@dataclass
class Sentence:
    """Words of one input sentence, the input line of each word, and the gold tags per task (in the task's
    scheme) where the input has them."""

    words: list[str]
    lines: list[int]
    gold: dict[str, list[str]] = field(default_factory=dict)


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except ValueError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return value


def _run_data(run_dir: str, config: dict) -> Dataset:
    """The run's own data snapshot; for runs written before snapshots existed, the processed data folder that
    its config.json names, if it is still there."""
    if has_data_snapshot(run_dir):
        return load_data_snapshot(run_dir)
    data_path = config.get("data_path")
    if data_path and os.path.isfile(os.path.join(data_path, "meta.json")):
        return Dataset.load(data_path)
    raise FileNotFoundError(f"{run_dir}: no data snapshot ({run_dir}/data) and its data_path {data_path!r} is gone: "
                            "re-run prepare-data.py with the run's settings")


def _step3_subnets(run_dir: str, config: dict, model: nn.Module, data: Dataset) -> list[Subnet]:
    """The tasks of a joint run (config "tasks", default all) with their masks: the run's own copy in
    run_dir/masks/<task_id>.th first, else config's masks_path; none for hard, soft and hierarchical sharing."""
    spec = config.get("tasks")
    ids = list(range(len(data.tasks))) if spec is None else [int(i) for i in str(spec).split(",")]
    if any(not 0 <= i < len(data.tasks) for i in ids):
        raise ValueError(f"{run_dir}/config.json: tasks {spec!r} do not fit the data's {len(data.tasks)} tasks")
    subnets = []
    for i in ids:
        mask = None
        if config.get("masks_path"):
            own = os.path.join(run_dir, "masks", f"{i}.th")
            path = own if os.path.isfile(own) else os.path.join(config["masks_path"], f"{i}.th")
            record = load_mask(path, model)
            if record.get("task") != data.tasks[i].name:
                raise ValueError(f"{path}: a mask of task {record.get('task')!r}, "
                                 f"but task {i} is {data.tasks[i].name!r}")
            mask = record["mask"]
        subnets.append(Subnet(i, data.tasks[i], mask))
    return subnets


def _step1_round(run_dir: str, round_: int | None) -> tuple[dict, str, str]:
    """A Step 1 round's scores.jsonl record, mask file and weights file (default: the best-dev round, the
    sparsest among equals, as Step 2 chooses)."""
    records = read_scores(run_dir)
    if not records:
        raise ValueError(f"{run_dir}/scores.jsonl: no finished round")
    if round_ is None:
        record = choose_round(records)
    else:
        matches = [r for r in records if r["round"] == round_]
        if not matches:
            raise ValueError(f"--round {round_}: {run_dir} has rounds {', '.join(str(r['round']) for r in records)}")
        record = matches[0]
    mask_path = mask_file(run_dir, record["round"])
    return record, mask_path, os.path.join(run_dir, "best_" + os.path.basename(mask_path))


def load_run(run_dir: str, round_: int | None = None, device: str = "cpu") -> Run:
    """Rebuild a finished run's model from its folder: a Step 3 run (config.json, best.th, results.json) or a
    Step 1 task folder (config.json, scores.jsonl, <round>_<kept>.th, best_<round>_<kept>.th)."""
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    config_path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"{run_dir}: not a run folder (no config.json)")
    config = _read_json(config_path)
    step1 = "pruning_iter" in config and "task_id" in config
    if step1 and not os.path.isfile(os.path.join(run_dir, "scores.jsonl")):
        raise FileNotFoundError(f"{run_dir}: Step 1 has not finished a round yet (no scores.jsonl)")
    if not step1:
        if round_ is not None:
            raise ValueError(f"--round applies to a Step 1 task folder; {run_dir} is a joint run")
        for name in ("results.json", "best.th"):
            if not os.path.isfile(os.path.join(run_dir, name)):
                raise FileNotFoundError(f"{run_dir}: the run has not finished (no {name})")
    missing = [key for key in MODEL_SETTINGS if key not in config]
    if missing:
        raise ValueError(f"{config_path}: missing key {missing[0]!r}")
    data = _run_data(run_dir, config)
    model = get_model(config["arch"], data, config["hidden_size"], config["n_layer"], config["dropout"], config["crf"])
    if step1:
        task_id = config["task_id"]
        if not 0 <= task_id < len(data.tasks):
            raise ValueError(f"{config_path}: task_id {task_id} does not fit the data's {len(data.tasks)} tasks")
        record, mask_path, weights = _step1_round(run_dir, round_)
        subnets = [Subnet(task_id, data.tasks[task_id], load_mask(mask_path, model)["mask"])]
        description = f"Step 1 {data.tasks[task_id].name}, round {record['round']} ({record['kept']:.2f}% kept)"
    else:
        subnets = _step3_subnets(run_dir, config, model, data)
        weights = os.path.join(run_dir, "best.th")
        description = f"{_read_json(os.path.join(run_dir, 'results.json')).get('system', config['arch'])} run"
    load_weights(model, weights)
    model.to(device).eval()
    for subnet in subnets:
        subnet.mask = to_device(subnet.mask, device) if subnet.mask is not None else None
    return Run(model, data, subnets, device, f"{description}: {', '.join(s.task.name for s in subnets)}")


# --- Input ---


def read_text(path: str) -> list[Sentence]:
    """One sentence per non-blank line, split at whitespace."""
    sentences = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            words = _decode(raw, path, number).split()
            if words:
                sentences.append(Sentence(words, [number] * len(words)))
    return sentences


def _decode(raw: bytes, path: str, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}:{number}: not valid UTF-8 (byte {raw[error.start]:#04x})") from None


def parse_columns(spec: str, tasks: list[str]) -> dict[str, int]:
    """--columns "ner=3,pos=1" as {task: column}; column 0 is the word."""
    columns = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, column = item.partition("=")
        if name not in tasks or not column.isdigit() or int(column) < 1:
            raise ValueError(f"--columns {spec!r}: expected TASK=COLUMN pairs with TASK in {', '.join(tasks)} and "
                             "COLUMN ≥ 1 (column 0 is the word)")
        columns[name] = int(column)
    return columns


def default_columns(subnets: list[Subnet]) -> dict[str, int]:
    """CoNLL-2003's layout (word, POS, chunk, NER) for tasks named pos/chunk/ner; else task i of the data in
    column i + 1."""
    names = [s.task.name for s in subnets]
    if set(names) <= set(CONLL03_COLUMNS):
        return {name: CONLL03_COLUMNS[name] for name in names}
    return {s.task.name: s.task_id + 1 for s in subnets}


def to_scheme(tags: list[str], metric: str) -> list[str]:
    """Gold tags in the task's scheme: IOB1/BIO → BIO for chunks, → BIOES for NER (as prepare-data.py); tags
    already in BIOES are kept; token-accuracy tasks as they are."""
    if metric == "bio":
        return to_bio(tags)
    if metric == "bioes" and all(t == "O" or t[:2] in ("B-", "I-") for t in tags):
        return to_bioes(tags)
    return list(tags)


def read_conll(path: str, subnets: list[Subnet], columns: dict[str, int] | None = None) -> list[Sentence]:
    """Blank-line-separated sentences of whitespace-separated columns, the word first, -DOCSTART- lines dropped.
    Every row has as many columns as the first; gold tags are read from `columns` (default: see
    default_columns, used only when the file has more than the word column) and converted to the task's scheme."""
    blocks: list[tuple[list[int], list[list[str]]]] = []
    rows, numbers, width, width_line = [], [], 0, 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            line = _decode(raw, path, number)
            fields = line.split()
            if not fields or line.startswith("-DOCSTART-"):
                if rows:
                    blocks.append((numbers, rows))
                rows, numbers = [], []
                continue
            if not width:
                width, width_line = len(fields), number
            elif len(fields) != width:
                raise ValueError(f"{path}:{number}: expected {width} columns (as on line {width_line}), "
                                 f"found {len(fields)}")
            rows.append(fields)
            numbers.append(number)
    if rows:
        blocks.append((numbers, rows))
    if columns is None:
        columns = default_columns(subnets) if width > 1 else {}
    needed = max(columns.values(), default=0) + 1
    if width and width < needed:
        raise ValueError(f"{path}:{width_line}: expected at least {needed} columns (word, then gold "
                         f"{', '.join(f'{t} in {c}' for t, c in columns.items())}), found {width}; "
                         "map gold columns with --columns TASK=COLUMN")
    metrics = {s.task.name: s.task.metric for s in subnets}
    sentences = []
    for lines, block in blocks:
        gold = {}
        for task, column in columns.items():
            tags = [row[column] for row in block]
            try:
                gold[task] = to_scheme(tags, metrics[task])
            except ValueError as error:
                index = getattr(error, "index", 0)
                raise ValueError(f"{path}:{lines[index]}: task {task}, column {column}: {error}") from None
        sentences.append(Sentence([row[0] for row in block], lines, gold))
    return sentences


# --- Tagging ---


def _lowercase_rows(vocabulary: Vocabulary, word_rows: torch.Tensor) -> dict[str, int]:
    """Embedding row of every lowercased vocabulary word (training looks words up lowercased)."""
    rows = {}
    for word, index in vocabulary:
        if word not in (vocabulary.padding, vocabulary.unknown):
            rows.setdefault(word.lower(), int(word_rows[index]))
    return rows


def _extend_tables(model: nn.Module, new_words: list[str], rows: list[int]) -> None:
    """Give the model's word and character lookups entries for words beyond the vocabulary (ids follow it)."""
    for module in model.modules():
        if isinstance(module, WordEmbedding):
            extra = torch.tensor(rows, dtype=module.word_rows.dtype, device=module.word_rows.device)
            module.word_rows = torch.cat([module.word_rows, extra])
        elif isinstance(module, CNNCharEmbedding):
            chars = [[module.char_vocab.to_index(c) for c in word] for word in new_words]
            table = module.words_to_chars_embedding
            width = max(table.size(1), max(len(c) for c in chars))
            pad = module.char_pad_index
            table = torch.cat([table, table.new_full((table.size(0), width - table.size(1)), pad)], dim=1)
            extra = table.new_full((len(chars), width), pad)
            for row, ids in enumerate(chars):
                extra[row, :len(ids)] = torch.tensor(ids)
            module.words_to_chars_embedding = torch.cat([table, extra])
            lengths = torch.tensor([len(c) for c in chars], dtype=module.word_lengths.dtype,
                                   device=module.word_lengths.device)
            module.word_lengths = torch.cat([module.word_lengths, lengths])


def index_words(run: Run, sentences: list[Sentence]) -> list[torch.Tensor]:
    """Word ids of every sentence. A word outside the vocabulary gets a new id whose word vector is that of its
    lowercased form if the run has one, else the unknown vector, and whose characters go through the character
    CNN as they are (characters it never saw as its unknown character). Extends the run's model for them."""
    known = run.data.words.word2idx
    new: dict[str, int] = {}
    for sentence in sentences:
        for word in sentence.words:
            if word not in known and word not in run.extra_words and word not in new:
                new[word] = len(known) + len(run.extra_words) + len(new)
    if new:
        lower = _lowercase_rows(run.data.words, run.data.word_rows)
        unknown_row = int(run.data.word_rows[run.data.words.unknown_idx])
        _extend_tables(run.model, list(new), [lower.get(w.lower(), unknown_row) for w in new])
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


# --- Output ---


def format_conll(sentences: list[Sentence], tags: dict[str, list[list[str]]]) -> str:
    """One token per line: the word, then one tag column per task (space-separated); a blank line after each
    sentence."""
    lines = []
    for index, sentence in enumerate(sentences):
        for position, word in enumerate(sentence.words):
            lines.append(" ".join([word] + [tags[task][index][position] for task in tags]))
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else "")


def format_jsonl(sentences: list[Sentence], tags: dict[str, list[list[str]]]) -> str:
    """One JSON object per sentence: {"words": [...], "<task>": [...], ...}."""
    return "".join(json.dumps({"words": s.words, **{task: tags[task][i] for task in tags}}, ensure_ascii=False) + "\n"
                   for i, s in enumerate(sentences))


# --- Scoring ---


def score(run: Run, sentences: list[Sentence], predicted: dict[str, list[list[int]]], path: str) -> dict:
    """Per task with gold tags in the input: token accuracy and, for span tasks, conlleval's micro precision,
    recall and F1 over exact spans, overall and per type (percent). "score" is the task's metric as
    results.json reports it. A gold tag outside the run's tag set is an error naming its line."""
    scores = {}
    for subnet in run.subnets:
        name, vocab = subnet.task.name, subnet.task.tags
        if not sentences or name not in sentences[0].gold:
            continue
        gold_ids, pred_ids = [], []
        for sentence, pred in zip(sentences, predicted[name]):
            ids = []
            for tag_, line in zip(sentence.gold[name], sentence.lines):
                if tag_ not in vocab:
                    raise ValueError(f"{path}:{line}: gold tag {tag_!r} of task {name} is not in the run's tag set "
                                     f"({', '.join(sorted(w for w, _ in vocab))})")
                ids.append(vocab.to_index(tag_))
            gold_ids.append(torch.tensor(ids))
            pred_ids.append(torch.tensor(pred))
        gold = pad_sequence(gold_ids, batch_first=True)
        pred = pad_sequence(pred_ids, batch_first=True)
        seq_len = torch.tensor([len(g) for g in gold_ids])
        accuracy = TokenAccuracy()
        accuracy.update(pred, gold, seq_len)
        result = {"metric": subnet.task.metric, "sentences": len(sentences), "tokens": accuracy.total,
                  "accuracy": accuracy.score()}
        if subnet.task.metric == "acc":
            result["score"] = result["accuracy"]
        else:
            result.update(_span_scores(vocab, subnet.task.metric, pred, gold, seq_len))
            result["score"] = result["f1"]
        scores[name] = result
    return scores


def _span_scores(vocab: Vocabulary, scheme: str, pred: torch.Tensor, gold: torch.Tensor, seq_len: torch.Tensor) -> dict:
    """fastNLP's SpanFPreRecMetric (the training metric) with per-type figures and span counts."""
    metric = SpanFPreRecMetric(tag_vocab=vocab, encoding_type=scheme, only_gross=False)
    metric.evaluate(pred, gold, seq_len)
    tp, fp, fn = metric._true_positives, metric._false_positives, metric._false_negatives
    figures = metric.get_metric()
    names = {tag.split("-", 1)[1].lower(): tag.split("-", 1)[1] for tag, _ in vocab if "-" in tag}
    types = {}
    for label in sorted(set(tp) | set(fp) | set(fn)):
        types[names.get(label, label)] = {
            "precision": 100.0 * figures[f"pre-{label}"], "recall": 100.0 * figures[f"rec-{label}"],
            "f1": 100.0 * figures[f"f-{label}"], "found": tp[label] + fp[label], "gold": tp[label] + fn[label],
            "correct": tp[label]}
    return {"precision": 100.0 * figures["pre"], "recall": 100.0 * figures["rec"], "f1": 100.0 * figures["f"],
            "found": sum(t["found"] for t in types.values()), "gold": sum(t["gold"] for t in types.values()),
            "correct": sum(t["correct"] for t in types.values()), "types": types}


def format_scores(scores: dict) -> str:
    """conlleval's report, one block per task."""
    lines = []
    for task, s in scores.items():
        if s["metric"] == "acc":
            lines.append(f"{task}: processed {s['tokens']} tokens in {s['sentences']} sentences; "
                         f"accuracy: {s['accuracy']:6.2f}%")
            continue
        lines.append(f"{task}: processed {s['tokens']} tokens with {s['gold']} phrases; found: {s['found']} phrases; "
                     f"correct: {s['correct']}.")
        lines.append(f"accuracy: {s['accuracy']:6.2f}%; precision: {s['precision']:6.2f}%; "
                     f"recall: {s['recall']:6.2f}%; FB1: {s['f1']:6.2f}")
        for label, t in s["types"].items():
            lines.append(f"{label:>17}: precision: {t['precision']:6.2f}%; recall: {t['recall']:6.2f}%; "
                         f"FB1: {t['f1']:6.2f}  {t['found']}")
    return "\n".join(lines)

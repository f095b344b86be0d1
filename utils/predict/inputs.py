"""predict.py's input: raw text (one sentence per line) or column files (CoNLL or CoNLL-U, read by utils.data.conll), the
word from the run's own word column, gold tags from the run's task columns or --columns, converted to the task's
scheme. A word column that holds numbers or token ids where the run's vocabulary does not is refused."""
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastNLP import Vocabulary

from utils.data.conll import CONLLU_FORM, are_token_ids, decode, detect_format, integer_share, read_rows
from utils.data.dataset import Dataset
from utils.data.readers import to_bio, to_bioes

CONLL03_COLUMNS = {"pos": 1, "chunk": 2, "ner": 3}  # gold columns of CoNLL-2003 files (word first)
CONLLU_EMPTY = "_"                                   # CoNLL-U's value of an unannotated field
NUMERIC_SHARE = 0.5                                  # above this share of integers, a column "is numbers"


@dataclass
class Sentence:
    """Words of one input sentence, the input line of each word, and the gold tags per task (in the task's
    scheme) where the input has them."""

    words: list[str]
    lines: list[int]
    gold: dict[str, list[str]] = field(default_factory=dict)


def read_text(path: str) -> list[Sentence]:
    """One sentence per non-blank line, split at whitespace."""
    sentences = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            words = decode(raw, path, number).split()
            if words:
                sentences.append(Sentence(words, [number] * len(words)))
    return sentences


def parse_columns(spec: str, tasks: Sequence[str]) -> dict[str, int]:
    """--columns "ner=3,pos=1" as {task: column} (0-based; the word column is checked when the file is read)."""
    columns = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, column = item.partition("=")
        if name not in tasks or not column.isdigit():
            raise ValueError(f"--columns {spec!r}: expected TASK=COLUMN pairs with TASK in {', '.join(tasks)} and "
                             "COLUMN a 0-based column number")
        columns[name] = int(column)
    return columns


def run_columns(data: Dataset) -> dict:
    """What a --type columns run recorded of its files (data snapshot "columns": word_column, format, tasks);
    {} for the other settings."""
    return data.info.get("columns") or {}


def default_columns(data: Dataset, names: Sequence[str], task_ids: Sequence[int], format: str) -> dict[str, int]:
    """The gold columns of a run's tasks: those a --type columns run recorded; else none for CoNLL-U (its
    columns are not CoNLL-2003's: map them with --columns); else CoNLL-2003's layout (word, POS, chunk, NER) for
    tasks named pos/chunk/ner; else task i of the data in column i + 1."""
    recorded = {t["name"]: t["column"] for t in run_columns(data).get("tasks", [])}
    if recorded:
        return {name: recorded[name] for name in names if name in recorded}
    if format == "conllu":
        return {}
    if set(names) <= set(CONLL03_COLUMNS):
        return {name: CONLL03_COLUMNS[name] for name in names}
    return {name: i + 1 for name, i in zip(names, task_ids)}


def to_scheme(tags: list[str], metric: str) -> list[str]:
    """Gold tags in the task's scheme: IOB1/BIO → BIO for chunks, → BIOES for NER (as prepare-data.py); tags
    already in BIOES are kept; token-accuracy tasks as they are."""
    if metric == "bio":
        return to_bio(tags)
    if metric == "bioes" and all(t == "O" or t[:2] in ("B-", "I-") for t in tags):
        return to_bioes(tags)
    return list(tags)


def _numbers_share(vocabulary: Vocabulary) -> float:
    """The share of integers among a vocabulary's words."""
    return integer_share([w for w, _ in vocabulary if w not in (vocabulary.padding, vocabulary.unknown)])


def check_word_column(path: str, format: str, column: int, words: list[list[str]], vocabulary: Vocabulary) -> None:
    """Refuse a word column that holds token ids or mostly numbers when the run's vocabulary is not mostly numbers:
    tagging ids as words gives scores that look like scores (a CoNLL-U file tagged on its IDs: 36% accuracy)."""
    share = integer_share([w for sentence in words for w in sentence])
    if share <= NUMERIC_SHARE or _numbers_share(vocabulary) > NUMERIC_SHARE:
        return
    what = "token ids (1, 2, 3, ... in every sentence)" if are_token_ids(words) else f"{share:.0%} numbers"
    fix = "--word_column N" + (" or --format conllu (words in FORM, column 1)" if format == "conll" else "")
    raise ValueError(f"{path}: column {column}, read as the words, holds {what}, but the run's vocabulary does not: "
                     f"give the words' column with {fix}")


def _word_column(data: Dataset, format: str, width: int, asked: int | None) -> int:
    """--word_column if given; else FORM for CoNLL-U; else the run's own word column (0 unless a --type columns
    run recorded another), or 0 for a file of words only."""
    if asked is not None:
        return asked
    if format == "conllu":
        return CONLLU_FORM
    return run_columns(data).get("word_column", 0) if width > 1 else 0


def read_columns(path: str, format: str, data: Dataset, names: Sequence[str], task_ids: Sequence[int],
                 columns: dict[str, int] | None = None, word_column: int | None = None) -> list[Sentence]:
    """Sentences of a CoNLL (whitespace-separated, -DOCSTART- dropped) or CoNLL-U file (utils.data.conll.read_rows),
    every row as wide as the first. The word comes from `word_column` (see _word_column); gold tags from `columns`
    (default: default_columns, used only when the file has more than the word column; for CoNLL-U only columns
    that are annotated, not all "_"), converted to the task's scheme."""
    try:
        blocks = read_rows(path, format)
    except ValueError as error:
        if format == "conll" and detect_format(path) == "conllu":
            raise ValueError(f"{error} (the file looks like CoNLL-U: --format conllu)") from None
        raise
    width, width_line = (len(blocks[0][1][0]), blocks[0][0][0]) if blocks else (0, 0)
    word = _word_column(data, format, width, word_column)
    explicit = columns is not None
    if columns is None:
        columns = default_columns(data, names, task_ids, format) if width > 1 else {}
    clash = [task for task, column in columns.items() if column == word]
    if clash:
        raise ValueError(f"{path}: task {clash[0]} reads column {word}, the word column: map gold columns with "
                         "--columns TASK=COLUMN, or the words with --word_column N")
    needed = max([word, *columns.values()]) + 1
    if width and width < needed:
        gold = "".join(f", gold {t} in {c}" for t, c in columns.items())
        raise ValueError(f"{path}:{width_line}: expected at least {needed} columns (word in {word}{gold}), found "
                         f"{width}; map gold columns with --columns TASK=COLUMN")
    if format == "conllu" and not explicit:
        columns = {t: c for t, c in columns.items()
                   if any(row[c] != CONLLU_EMPTY for _, rows in blocks for row in rows)}
    words = [[row[word] for row in rows] for _, rows in blocks]
    check_word_column(path, format, word, words, data.words)
    metrics = {task.name: task.metric for task in data.tasks}
    sentences = []
    for (lines, rows), sentence_words in zip(blocks, words):
        gold = {}
        for task, column in columns.items():
            try:
                gold[task] = to_scheme([row[column] for row in rows], metrics[task])
            except ValueError as error:
                index = getattr(error, "index", 0)
                raise ValueError(f"{path}:{lines[index]}: task {task}, column {column}: {error}") from None
        sentences.append(Sentence(sentence_words, lines, gold))
    return sentences

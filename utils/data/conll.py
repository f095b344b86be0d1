"""The one reader of blank-line-separated column files, CoNLL (whitespace-separated columns) and CoNLL-U (Universal
Dependencies: 10 tab-separated columns, `#` comment lines, multiword-token ranges and empty nodes), with the line
number of every row for errors that name file:line."""
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

FORMATS = ("conll", "conllu")
CONLLU_SUFFIX = ".conllu"
CONLLU_WIDTH = 10            # ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC
CONLLU_FORM = 1              # the word column of CoNLL-U
DOCSTART = ("-DOCSTART-",)

Block = tuple[list[int], list[list[str]]]  # (line number of each of the sentence's rows, the rows' fields)

_WORD_ID = re.compile(r"[1-9][0-9]*")
_SKIPPED_ID = re.compile(r"[1-9][0-9]*-[1-9][0-9]*|[0-9]+\.[1-9][0-9]*")  # multiword ranges 1-2, empty nodes 1.1
_COMMENT_FIELD = re.compile(r"#\s*[\w.-]+\s*=")                           # "# sent_id = 1", "# text = ..."
_INTEGER = re.compile(r"[+-]?[0-9]+")


def decode(raw: bytes, path: str | Path, number: int) -> str:
    """One line of a file as text, naming file:line and the offending byte when it is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}:{number}: not valid UTF-8 (byte {raw[error.start]:#04x} at column "
                         f"{error.start + 1})") from None


def _conllu_fields(line: str, path: str | Path, number: int) -> list[str] | None:
    """A CoNLL-U word line's 10 fields; None for a comment, a multiword-token range or an empty node."""
    if line.startswith("#"):
        return None
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) != CONLLU_WIDTH:
        raise ValueError(f"{path}:{number}: expected {CONLLU_WIDTH} tab-separated columns (CoNLL-U), "
                         f"found {len(fields)}")
    if _SKIPPED_ID.fullmatch(fields[0]):
        return None
    if not _WORD_ID.fullmatch(fields[0]):
        raise ValueError(f"{path}:{number}: CoNLL-U ID {fields[0]!r} is not a word index (1, 2, ...), a multiword "
                         "range (1-2) or an empty node (1.1)")
    return fields


def _too_narrow(path: str | Path, number: int, needed: int, found: int, readers: Mapping[int, str]) -> ValueError:
    """The error of a row without a column something reads, naming who reads the missing columns."""
    missing = [f"{who} reads column {column}" for column, who in sorted(readers.items()) if column >= found]
    detail = f" ({'; '.join(missing)})" if missing else ""
    return ValueError(f"{path}:{number}: expected at least {needed} columns, found {found}{detail}")


def read_rows(path: str | Path, format: str = "conll", needed: int = 0, markers: tuple[str, ...] = DOCSTART,
              width_per_sentence: bool = False, readers: Mapping[int, str] | None = None) -> list[Block]:
    """Every sentence of a file as its rows' fields with their line numbers.

    CoNLL: whitespace-separated fields; lines starting with one of `markers` are dropped and end the sentence;
    every row has at least `needed` fields and as many as the file's first row (its sentence's first row when
    `width_per_sentence`, as in CoNLL-2012). CoNLL-U: 10 tab-separated fields (a FORM may hold a space); comment
    lines, multiword-token ranges and empty nodes are skipped. `readers` (column -> who reads it, e.g. "task pos")
    names what a too narrow row lacks.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown column format {format!r}: expected one of {', '.join(FORMATS)}")
    blocks: list[Block] = []
    rows: list[list[str]] = []
    numbers: list[int] = []
    width, width_line = 0, 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            line = decode(raw, path, number)
            if not line.strip() or (format == "conll" and line.startswith(markers)):
                if rows:
                    blocks.append((numbers, rows))
                    if width_per_sentence:
                        width = 0
                rows, numbers = [], []
                continue
            fields = _conllu_fields(line, path, number) if format == "conllu" else line.split()
            if fields is None:
                continue
            if len(fields) < needed:
                raise _too_narrow(path, number, needed, len(fields), readers or {})
            if not width:
                width, width_line = len(fields), number
            elif len(fields) != width:
                raise ValueError(f"{path}:{number}: expected {width} columns (as on line {width_line}), "
                                 f"found {len(fields)}")
            rows.append(fields)
            numbers.append(number)
    if rows:
        blocks.append((numbers, rows))
    return blocks


def detect_format(path: str | Path) -> str:
    """"conllu" for a `.conllu` file or one that opens with CoNLL-U comment lines (`# sent_id = ...`) or a row of
    10 tab-separated columns with a CoNLL-U ID; else "conll"."""
    if str(path).endswith(CONLLU_SUFFIX):
        return "conllu"
    with open(path, "rb") as handle:
        for raw in handle:
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            if _COMMENT_FIELD.match(line):
                return "conllu"
            fields = line.rstrip("\r\n").split("\t")
            is_id = _WORD_ID.fullmatch(fields[0]) or _SKIPPED_ID.fullmatch(fields[0])
            return "conllu" if len(fields) == CONLLU_WIDTH and is_id else "conll"
    return "conll"


def integer_share(tokens: Sequence[str]) -> float:
    """The share of `tokens` that are integers (0 for none)."""
    return sum(1 for t in tokens if _INTEGER.fullmatch(t)) / len(tokens) if tokens else 0.0


def are_token_ids(sentences: Sequence[Sequence[str]]) -> bool:
    """Whether every sentence's column is 1, 2, 3, ... (or 0, 1, 2, ...): token ids, not words or tags."""
    return bool(sentences) and all(list(column) in ([str(i) for i in range(1, len(column) + 1)],
                                                    [str(i) for i in range(len(column))]) for column in sentences)

"""Loading of pre-trained GloVe word vectors from their text format (plain or .gz, with or without a word2vec header)."""

import gzip
import itertools
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import torch

GZIP_MAGIC = b"\x1f\x8b"
SAMPLE_LINES = 100  # the dimension is the most common number of values among this many first lines
_HEADER = re.compile(r"(\d+) (\d+)")


def _open_binary(path: str | Path) -> BinaryIO:
    """Open a plain or gzip-compressed (.gz) file for reading byte lines; a .gz that is not gzip is an error."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if str(path).endswith(".gz"):
        if magic != GZIP_MAGIC:
            raise ValueError(f"{path}: not a gzip file, although its name ends in .gz")
        return gzip.open(path, "rb")
    if magic == GZIP_MAGIC:
        raise ValueError(f"{path}: gzip-compressed, but its name does not end in .gz")
    return open(path, "rb")


def _lines(handle: BinaryIO, path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, text without trailing whitespace) of non-blank lines, naming file:line on bad UTF-8
    and the file on corrupt gzip data."""
    try:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8").rstrip()
            except UnicodeDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid UTF-8 (byte {raw[error.start]:#04x} at column "
                                 f"{error.start + 1})") from None
            if line:
                yield number, line
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise ValueError(f"{path}: corrupt gzip data ({error})") from None


def _is_number(field: str) -> bool:
    """Whether a field parses as a float."""
    try:
        float(field)
    except ValueError:
        return False
    return True


def _value_count(line: str) -> int:
    """How many trailing fields of a line are numbers, leaving at least one field for the word."""
    fields = line.split(" ")
    count = 0
    for field in reversed(fields[1:]):
        if not _is_number(field):
            break
        count += 1
    return count


def _sample_dimension(sample: list[tuple[int, str]]) -> int:
    """The most common number of values among the sample lines (ties: the earliest line's); 0 if none has any."""
    counts = Counter(count for count in (_value_count(line) for _, line in sample) if count)
    return counts.most_common(1)[0][0] if counts else 0


def _vector(values: list[str], path: str | Path, number: int) -> torch.Tensor:
    """Parse one line's values as a float32 vector, naming `file:line` if one is not a finite number."""
    try:
        vector = [float(value) for value in values]
    except ValueError as error:
        raise ValueError(f"{path}:{number}: {error}") from None
    for text, value in zip(values, vector):
        if not math.isfinite(value):
            raise ValueError(f"{path}:{number}: non-finite value {text!r} in the vector")
    return torch.tensor(vector, dtype=torch.float32)


def _split(line: str, dimension: int, path: str | Path, number: int) -> tuple[str, list[str]]:
    """Split a line into its word (which may hold spaces, as in GloVe 840B) and its `dimension` values."""
    fields = line.rsplit(" ", dimension)
    found = len(fields) - 1 + _value_count(fields[0])
    if found != dimension:
        raise ValueError(f"{path}:{number}: expected a word and {dimension} values, found {found}")
    return fields[0], fields[1:]


def read_vectors(path: str, vocabulary: set[str] | None = None) -> tuple[dict[str, torch.Tensor], int]:
    """Read a GloVe text file ("word v1 ... vd" per line, plain or .gz) into {word: vector} and the dimension d.

    d is the most common number of values on the first lines, or the second number of a word2vec header line
    ("<count> <d>"), whose count is then checked too. Every line must have d values; a word may contain
    spaces (GloVe 840B) but not end in a number. Only words in `vocabulary` (all words when None) are kept
    and have their values parsed (and checked to be finite); the first occurrence of a word wins.
    """
    vectors: dict[str, torch.Tensor] = {}
    with _open_binary(path) as handle:
        lines = _lines(handle, path)
        sample = list(itertools.islice(lines, SAMPLE_LINES))
        if not sample:
            raise ValueError(f"{path}: no vectors found")
        header = _HEADER.fullmatch(sample[0][1])
        if header:
            expected, dimension = int(header.group(1)), int(header.group(2))
            if not dimension:
                raise ValueError(f"{path}:{sample[0][0]}: word2vec header line announces 0-d vectors")
            sample = sample[1:]
        else:
            expected, dimension = None, _sample_dimension(sample)
            if not dimension:
                raise ValueError(f"{path}:{sample[0][0]}: expected a word followed by its vector values")
        count = 0
        for number, line in itertools.chain(sample, lines):
            word, values = _split(line, dimension, path, number)
            count += 1
            if (vocabulary is None or word in vocabulary) and word not in vectors:
                vectors[word] = _vector(values, path, number)
    if expected is not None and count != expected:
        raise ValueError(f"{path}: the word2vec header line announces {expected} vectors, found {count}")
    if not count:
        raise ValueError(f"{path}: no vectors found")
    return vectors, dimension

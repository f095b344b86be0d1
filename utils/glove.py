"""Loading of pre-trained GloVe word vectors from their text format."""

import gzip
from pathlib import Path
from typing import TextIO

import torch


def _open_text(path: str | Path) -> TextIO:
    """Open a plain or gzip-compressed (.gz) UTF-8 text file for reading lines."""
    if str(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _vector(values: list[str], path: str | Path, number: int) -> torch.Tensor:
    """Parse one line's values as a float32 vector, naming `file:line` if one is not a number."""
    try:
        return torch.tensor([float(value) for value in values], dtype=torch.float32)
    except ValueError as error:
        raise ValueError(f"{path}:{number}: {error}") from None


def read_vectors(path: str, vocabulary: set[str] | None = None) -> tuple[dict[str, torch.Tensor], int]:
    """Read a GloVe text file ("word v1 ... vd" per line, plain or .gz) into {word: vector} and the dimension d.

    d is the number of values on the first line. As in GloVe 840B, a word may contain spaces: the last d
    space-separated fields of a line are the vector and the rest is the word. Only words in `vocabulary`
    (all words when None) are kept and have their values parsed; the first occurrence of a word wins.
    """
    vectors: dict[str, torch.Tensor] = {}
    dimension = 0
    with _open_text(path) as lines:
        for number, line in enumerate(lines, 1):
            line = line.rstrip()
            if not line:
                continue
            if not dimension:
                dimension = line.count(" ")
                if not dimension:
                    raise ValueError(f"{path}:{number}: expected a word followed by its vector values")
            fields = line.rsplit(" ", dimension)
            if len(fields) != dimension + 1:
                raise ValueError(f"{path}:{number}: expected a word and {dimension} values, found {len(fields) - 1}")
            word = fields[0]
            if (vocabulary is None or word in vocabulary) and word not in vectors:
                vectors[word] = _vector(fields[1:], path, number)
    if not dimension:
        raise ValueError(f"{path}: no vectors found")
    return vectors, dimension

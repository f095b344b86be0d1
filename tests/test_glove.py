"""Tests for utils.data.glove against the real GloVe files and hand-made ones."""

import gzip
import re
from pathlib import Path

import pytest
import torch

from utils.data.glove import read_vectors


def write(path: Path, text: str) -> str:
    """Write a small GloVe-format file, gzip-compressed when its name ends in .gz, and return its path."""
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def test_glove_50d_subset(shared_data: Path) -> None:
    vectors, dimension = read_vectors(str(shared_data / "glove" / "glove.6B.50d.subset.txt"))
    assert dimension == 50
    assert len(vectors) == 35947
    the = vectors["the"]
    assert the.dtype == torch.float32 and the.shape == (50,)
    assert the[:5].tolist() == pytest.approx([0.418, 0.24968, -0.41242, 0.1217, 0.34527])


def test_glove_100d_gzip_sample(shared_data: Path) -> None:
    vectors, dimension = read_vectors(str(shared_data / "glove" / "glove.6B.100d.sample.txt.gz"))
    assert dimension == 100
    assert len(vectors) == 100
    assert vectors["the"][:3].tolist() == pytest.approx([-0.038194, -0.24487, 0.72812])


def test_vocabulary_restricts_words(shared_data: Path) -> None:
    vocabulary = {"the", "germany", "not-a-glove-word"}
    vectors, dimension = read_vectors(str(shared_data / "glove" / "glove.6B.50d.subset.txt"), vocabulary)
    assert dimension == 50
    assert set(vectors) == {"the", "germany"}
    assert vectors["the"][0].item() == pytest.approx(0.418)


@pytest.mark.parametrize("name", ["tiny.txt", "tiny.txt.gz"])
def test_dimension_is_inferred(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "a 1 2 3\nb -0.5 0.25 4e-1\n")
    vectors, dimension = read_vectors(path)
    assert dimension == 3
    assert vectors["b"].tolist() == pytest.approx([-0.5, 0.25, 0.4])


def test_words_with_spaces(tmp_path: Path) -> None:
    path = write(tmp_path / "v.txt", "a 1 2\nat name@domain.com 3 4\n. . . 5 6\n")
    vectors, _ = read_vectors(path)
    assert vectors["at name@domain.com"].tolist() == [3.0, 4.0]
    assert vectors[". . ."].tolist() == [5.0, 6.0]


def test_first_occurrence_wins(tmp_path: Path) -> None:
    vectors, _ = read_vectors(write(tmp_path / "v.txt", "a 1 2\na 3 4\n"))
    assert vectors["a"].tolist() == [1.0, 2.0]


def test_short_line_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "v.txt", "a 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(path)}:2: expected a word and 3 values, found 2$"):
        read_vectors(path)


def test_bad_number_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "v.txt", "a 1 2\nb 1 x\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(path)}:2: "):
        read_vectors(path)
    assert set(read_vectors(path, {"a"})[0]) == {"a"}


def test_line_without_values_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "v.txt", "lonely\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(path)}:1: "):
        read_vectors(path)


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no vectors"):
        read_vectors(write(tmp_path / "v.txt", "\n"))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="absent.txt"):
        read_vectors(str(tmp_path / "absent.txt"))


def test_word2vec_header_line_gives_the_dimension(tmp_path: Path) -> None:
    vectors, dimension = read_vectors(write(tmp_path / "v.txt", "2 3\n7 1 2 3\nb 4 5 6\n"))
    assert dimension == 3
    assert {word: vector.tolist() for word, vector in vectors.items()} == {"7": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]}


def test_numbers_as_words(tmp_path: Path) -> None:
    vectors, dimension = read_vectors(write(tmp_path / "v.txt", "1999 0.5 0.25\nnan 1 2\n"))
    assert dimension == 2
    assert vectors["1999"].tolist() == [0.5, 0.25] and vectors["nan"].tolist() == [1.0, 2.0]


def test_most_common_width_sets_the_dimension(tmp_path: Path) -> None:
    path = write(tmp_path / "v.txt", "a 1 2\nb 1 2 3\nc 1 2 3\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(path)}:1: expected a word and 3 values, found 2$"):
        read_vectors(path)


def test_non_finite_values_of_kept_words_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "v.txt", "a 1 2\nb inf 2\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(path)}:2: non-finite value 'inf' in the vector$"):
        read_vectors(path)
    assert set(read_vectors(path, {"a"})[0]) == {"a"}


def test_gzip_data_needs_a_gz_name(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(gzip.compress(b"a 1 2\n"))
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: gzip-compressed, but its name does not end in .gz$"):
        read_vectors(str(path))


def test_the_unk_vector_starts_random_or_zero_as_fastnlp():
    """--unk_vector: the <unk> row is drawn like a training word's (random, the default) or zero, as fastNLP's
    StaticEmbedding starts it when pre-trained vectors are given (the original code); every other row is the same,
    and any other choice is refused naming the flag."""
    import torch
    from fastNLP import Vocabulary

    from utils.data.dataset import embedding_table

    words = Vocabulary()
    words.add_word_lst(["Paris", "rains", "paris", "zork"])
    words.build_vocab()
    vectors = {"paris": torch.ones(4)}
    random_, rows, _ = embedding_table(words, vectors, 4, torch.Generator().manual_seed(3))
    zero, same_rows, _ = embedding_table(words, vectors, 4, torch.Generator().manual_seed(3), "zero")
    assert torch.equal(rows, same_rows) and int(rows[words.unknown_idx]) == 1
    assert torch.count_nonzero(zero[1]) == 0 and torch.count_nonzero(random_[1]) == 4
    assert torch.equal(zero[2:], random_[2:]) and torch.equal(zero[0], random_[0])
    with pytest.raises(ValueError, match="--unk_vector 'ones'"):
        embedding_table(words, vectors, 4, torch.Generator(), "ones")

"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One thread per test worker, and for the scripts it starts: with -n 2 on 2 cores, two workers of 2 OpenMP
    # threads each wait on each other's descheduled threads and run several times slower.
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder (/work/shared/data): skip without it, but fail when CI=true."""
    if not SHARED_DATA.is_dir():
        message = f"shared data folder {SHARED_DATA} is missing"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATA


# --- A tiny hand-made two-task data set (POS + BIOES NER) for model, mask and IMP tests. ---

TINY_CORPUS = {
    "pos": {
        "train": [(["The", "cat", "sat", "down"], ["DT", "NN", "VBD", "RB"]),
                  (["A", "dog", "ran"], ["DT", "NN", "VBD"]),
                  (["Dogs", "bark", "loudly", "today", "."], ["NNS", "VBP", "RB", "NN", "."]),
                  (["The", "old", "man", "smiled"], ["DT", "JJ", "NN", "VBD"])],
        "dev": [(["The", "dog", "sat"], ["DT", "NN", "VBD"])],
        "test": [(["A", "cat", "ran", "."], ["DT", "NN", "VBD", "."])],
    },
    "ner": {
        "train": [(["John", "Smith", "lives", "in", "Paris"], ["B-PER", "E-PER", "O", "O", "S-LOC"]),
                  (["New", "York", "City", "is", "big"], ["B-LOC", "I-LOC", "E-LOC", "O", "O"]),
                  (["Mary", "met", "IBM"], ["S-PER", "O", "S-ORG"])],
        "dev": [(["Mary", "went", "to", "Paris"], ["S-PER", "O", "O", "S-LOC"])],
        "test": [(["Bob", "joined", "IBM"], ["S-PER", "O", "S-ORG"])],
    },
}


def build_tiny_dataset(dim: int = 10, seed: int = 0):
    """A utils.data.dataset.Dataset built from TINY_CORPUS with a random `dim`-wide word-embedding table."""
    import torch

    from utils.data.dataset import Dataset, build_vocabularies, embedding_table, index_corpus

    words, tags = build_vocabularies(TINY_CORPUS)
    table, rows, _ = embedding_table(words, {}, dim, torch.Generator().manual_seed(seed))
    return Dataset("tiny", words, index_corpus(TINY_CORPUS, words, tags), table, rows)


@pytest.fixture(scope="session")
def minilm(shared_data) -> Path:
    """The shared pretrained all-MiniLM-L6-v2 folder (Hugging Face format), for the transformer encoder's tests."""
    return shared_data / "minilm-l6-v2"


@pytest.fixture
def tiny_data():
    """The tiny POS + NER data set with 10-d word vectors (a fresh object per test)."""
    return build_tiny_dataset()


def conll_sentences(path: Path, n: int) -> list[list[str]]:
    """The first n sentences of a CoNLL file as their raw lines (-DOCSTART- dropped), as the data readers cut them."""
    blocks, rows = [], []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.split() or line.startswith("-DOCSTART-"):
            if rows:
                blocks.append(rows)
            rows = []
        else:
            rows.append(line)
    return blocks[:n]


# --- The real CoNLL-2003 data, processed once per test session (50-d GloVe subset). ---

@pytest.fixture(scope="session")
def processed_conll03(shared_data, tmp_path_factory) -> Path:
    """`prepare-data.py --type conll03` on the shared CoNLL-2003 files and the 50-d GloVe subset, run once per
    session; the processed folder's path."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("processed") / "conll03"
    result = subprocess.run(
        [sys.executable, "prepare-data.py", "--type", "conll03", "--dir", str(shared_data / "conll03"),
         "--embedding", str(shared_data / "glove" / "glove.6B.50d.subset.txt"), "--out", str(out)],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.fixture(scope="session")
def processed_conll03_small(shared_data, tmp_path_factory) -> Path:
    """The first 300 / 100 / 100 sentences of the shared CoNLL-2003 train / dev / test files, prepared with the
    50-d GloVe subset: real data with a small vocabulary, so that the scripts of end-to-end tests start fast."""
    raw = tmp_path_factory.mktemp("conll03-small")
    for split, n in (("train", 300), ("dev", 100), ("test", 100)):
        blocks = (shared_data / "conll03" / f"{split}.txt").read_text(encoding="utf-8").split("\n\n")
        (raw / f"{split}.txt").write_text("\n\n".join(blocks[:n + 1]) + "\n", encoding="utf-8")
    return prepare_slice(shared_data, raw, "conll03", raw / "processed")


def prepare_slice(shared_data: Path, raw: Path, kind: str, out: Path) -> Path:
    """prepare-data.py --type `kind` on the CoNLL-2003 slices in `raw` with the 50-d GloVe subset, into `out`."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "prepare-data.py", "--type", kind, "--dir", str(raw),
         "--embedding", str(shared_data / "glove" / "glove.6B.50d.subset.txt"), "--out", str(out)],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.fixture(scope="session")
def processed_conll03_pp_small(shared_data, processed_conll03_small) -> Path:
    """The same slices as processed_conll03_small prepared as conll03-pp (NER + position prediction)."""
    raw = processed_conll03_small.parent
    return prepare_slice(shared_data, raw, "conll03-pp", raw / "processed-pp")

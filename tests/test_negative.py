"""Tests for the position-prediction task of the negative-transfer setting (conll03-pp)."""
import importlib.util
from pathlib import Path

import pytest

from utils.data.dataset import Dataset
from utils.data.readers import PP_MAX_POSITION, SETTINGS, position_tags, read_conll03_pp

ROOT = Path(__file__).resolve().parent.parent


def write_conll03(directory: Path) -> None:
    """A tiny CoNLL-2003 folder: train holds a 4-word and a 2-word sentence, dev and test one word each."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "train.txt").write_text("-DOCSTART- -X- O O\n\nNew NNP I-NP I-LOC\nYork NNP I-NP I-LOC\n"
                                         "rains VBZ I-VP O\nhard RB I-ADVP O\n\nHi UH O O\nthere RB O O\n",
                                         encoding="utf-8")
    for split in ("dev", "test"):
        (directory / f"{split}.txt").write_text("Hi UH O O\n", encoding="utf-8")


def test_position_tags_with_cap() -> None:
    assert position_tags(["a", "b", "c", "d"], max_position=2) == ["0", "1", "2+", "2+"]
    assert position_tags(["a", "b"], max_position=2) == ["0", "1"]
    long = position_tags([str(i) for i in range(52)])
    assert PP_MAX_POSITION == 50
    assert long[:3] == ["0", "1", "2"] and long[49] == "49" and long[50:] == ["50+", "50+"]


def test_read_conll03_pp(tmp_path: Path) -> None:
    write_conll03(tmp_path)
    corpus = read_conll03_pp(str(tmp_path), max_position=3)
    assert list(corpus) == ["ner", "pp"]
    words = ["New", "York", "rains", "hard"]
    assert corpus["ner"]["train"][0] == (words, ["B-LOC", "E-LOC", "O", "O"])
    assert corpus["pp"]["train"] == [(words, ["0", "1", "2", "3+"]), (["Hi", "there"], ["0", "1"])]
    assert corpus["pp"]["test"] == [(["Hi"], ["0"])]
    assert SETTINGS["conll03-pp"] is read_conll03_pp


def test_read_conll03_pp_rejects_bad_cap(tmp_path: Path) -> None:
    write_conll03(tmp_path)
    with pytest.raises(ValueError, match="max_position"):
        read_conll03_pp(str(tmp_path), max_position=0)


def test_prepare_data_conll03_pp(tmp_path: Path) -> None:
    write_conll03(tmp_path / "raw")
    spec = importlib.util.spec_from_file_location("prepare_data", ROOT / "prepare-data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.warns(UserWarning, match="random"):
        module.main(["--type", "conll03-pp", "--dir", str(tmp_path / "raw"), "--out", str(tmp_path / "out"),
                     "--embedding_dim", "4"])
    data = Dataset.load(str(tmp_path / "out"))
    assert data.setting == "conll03-pp"
    assert [(t.name, t.metric) for t in data.tasks] == [("ner", "bioes"), ("pp", "acc")]
    assert {tag for tag, _ in data.tasks[1].tags} == {"0", "1", "2", "3"}


def test_conll03_pp_real_data(shared_data: Path) -> None:
    corpus = read_conll03_pp(str(shared_data / "conll03"))
    assert [len(corpus["pp"][split]) for split in ("train", "dev", "test")] == [14041, 3250, 3453]
    train = [tag for _, tags in corpus["pp"]["train"] for tag in tags]
    assert len(set(train)) == 51
    assert train.count("50+") == 295  # tokens at position ≥ 50 in the 48 training sentences longer than 50 words

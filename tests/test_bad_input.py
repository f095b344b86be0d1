"""Bad input to prepare-data.py and to Dataset.load: exactly one line `error: FILE:LINE: ...` on stderr, exit code 1,
and no output folder (nor temporary folder) left behind. One test per row of the README's bad-input table."""
import gzip
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from utils.data.dataset import Dataset

REPO = Path(__file__).resolve().parents[1]
GOOD = "-DOCSTART- -X- -X- O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\nPeter NNP I-NP I-PER\n"
VECTORS = "eu 1 2 3\nrejects 4 5 6\npeter 7 8 9\n"


def conll03(root: Path, **splits: str | bytes) -> Path:
    """A CoNLL-2003 folder whose splits hold GOOD unless given (str as UTF-8 text, bytes as they are)."""
    folder = root / "raw"
    folder.mkdir(exist_ok=True)
    for split in ("train", "dev", "test"):
        text = splits.get(split, GOOD)
        (folder / f"{split}.txt").write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return folder


def prepare(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run prepare-data.py with --out ROOT/out."""
    return subprocess.run([sys.executable, "prepare-data.py", *args, "--out", str(root / "out")], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})


def refused(root: Path, result: subprocess.CompletedProcess) -> str:
    """Assert one stderr line, exit code 1 and no output or temporary folder under root; return the message."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert result.returncode == 1
    assert not (root / "out").exists()
    assert not [p.name for p in root.iterdir() if p.name.startswith("out.")]
    assert lines[0].startswith("error: ")
    return lines[0][len("error: "):]


def prepare_conll03(root: Path, embedding: str | bytes | None = None, name: str = "vectors.txt",
                    **splits: str | bytes) -> str:
    """prepare-data.py --type conll03 on a hand-made folder (and vectors file), expected to be refused."""
    args = ["--type", "conll03", "--dir", str(conll03(root, **splits))]
    if embedding is not None:
        path = root / name
        path.write_bytes(embedding if isinstance(embedding, bytes) else embedding.encode("utf-8"))
        args += ["--embedding", str(path)]
    return refused(root, prepare(root, *args))


# --- corpora ---

def test_extra_column(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, train="EU NNP I-NP I-ORG\nrejects VBZ I-VP O x\n")
    assert message == f"{tmp_path / 'raw' / 'train.txt'}:2: expected 4 columns (as on line 1), found 5"


def test_missing_column(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, dev="EU NNP I-NP I-ORG\n\nrejects VBZ O\n")
    assert message == f"{tmp_path / 'raw' / 'dev.txt'}:3: expected at least 4 columns, found 3"


def test_tag_without_type(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, train="EU NNP I-NP I-ORG\nrejects VBZ I-VP B-\n")
    assert message.startswith(f"{tmp_path / 'raw' / 'train.txt'}:2: invalid IOB tag 'B-': expected O, B-TYPE or I-TYPE")


def test_unknown_tag_scheme(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, test="Peter NNP B-NP B-PER\nBlack NNP I-NP E-PER\n")
    assert message.startswith(f"{tmp_path / 'raw' / 'test.txt'}:2: invalid IOB tag 'E-PER'")


def test_chunk_tag_of_unknown_scheme(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, train="\nEU NNP U-NP I-ORG\n")
    assert message.startswith(f"{tmp_path / 'raw' / 'train.txt'}:2: invalid IOB tag 'U-NP'")


@pytest.mark.parametrize("split, text", [("train", ""), ("dev", "-DOCSTART- -X- -X- O\n\n\n")])
def test_empty_split(tmp_path: Path, split: str, text: str) -> None:
    message = prepare_conll03(tmp_path, **{split: text})
    assert message == f"{tmp_path / 'raw' / f'{split}.txt'}: no sentences (the file is empty or holds only -DOCSTART- lines)"


def test_corpus_not_utf8(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, train=b"EU NNP I-NP I-ORG\nM\xfcller NNP I-NP I-PER\n")
    assert message == f"{tmp_path / 'raw' / 'train.txt'}:2: not valid UTF-8 (byte 0xfc at column 2)"


def test_missing_split_file(tmp_path: Path) -> None:
    folder = conll03(tmp_path)
    (folder / "test.txt").unlink()
    message = refused(tmp_path, prepare(tmp_path, "--type", "conll03", "--dir", str(folder)))
    assert message.endswith(f"No such file or directory: '{folder / 'test.txt'}'")


def test_hold_out_leaving_empty_dev(tmp_path: Path) -> None:
    wsj, chunk = tmp_path / "wsj", tmp_path / "conll2000"
    wsj.mkdir()
    chunk.mkdir()
    for split in ("train", "dev", "test"):
        (wsj / f"{split}.pos").write_text("EU NNP\nrejects VBZ\n")
    for split in ("train", "test"):
        (chunk / f"{split}.txt").write_text("EU NNP B-NP\n\nrejects VBZ B-VP\n")
    result = prepare(tmp_path, "--type", "ptb", "--pos", str(wsj), "--chunk", str(chunk), "--ner",
                     str(conll03(tmp_path)), "--dev_fraction", "0.2")
    assert refused(tmp_path, result) == (f"{chunk / 'train.txt'}: dev_fraction 0.2 of its 2 sentences leaves an empty "
                                         "dev split")


# --- word vectors ---

def test_header_line_with_other_dimension(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, "3 4\n" + VECTORS)
    assert message == f"{tmp_path / 'vectors.txt'}:2: expected a word and 4 values, found 3"


def test_header_line_with_wrong_count(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, "4 3\n" + VECTORS)
    assert message == f"{tmp_path / 'vectors.txt'}: the word2vec header line announces 4 vectors, found 3"


def test_short_first_line(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, "the 1 2\n" + VECTORS)
    assert message == f"{tmp_path / 'vectors.txt'}:1: expected a word and 3 values, found 2"


def test_long_line(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, VECTORS + "the 1 2 3 4\n")
    assert message == f"{tmp_path / 'vectors.txt'}:4: expected a word and 3 values, found 4"


@pytest.mark.parametrize("value", ["nan", "-inf", "1e999"])
def test_non_finite_value(tmp_path: Path, value: str) -> None:
    message = prepare_conll03(tmp_path, VECTORS.replace("5", value))
    assert message == f"{tmp_path / 'vectors.txt'}:2: non-finite value {value!r} in the vector"


def test_gz_that_is_not_gzip(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, VECTORS, name="vectors.txt.gz")
    assert message == f"{tmp_path / 'vectors.txt.gz'}: not a gzip file, although its name ends in .gz"


def test_truncated_gzip(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, gzip.compress((VECTORS * 50).encode())[:-20], name="vectors.txt.gz")
    assert message.startswith(f"{tmp_path / 'vectors.txt.gz'}: corrupt gzip data (")


def test_vectors_not_utf8(tmp_path: Path) -> None:
    message = prepare_conll03(tmp_path, VECTORS.encode() + b"m\xc3 1 2 3\n")
    assert message == f"{tmp_path / 'vectors.txt'}:4: not valid UTF-8 (byte 0xc3 at column 2)"


def test_missing_vectors_file(tmp_path: Path) -> None:
    args = ["--type", "conll03", "--dir", str(conll03(tmp_path)), "--embedding", str(tmp_path / "absent.txt")]
    message = refused(tmp_path, prepare(tmp_path, *args))
    assert message.endswith(f"No such file or directory: '{tmp_path / 'absent.txt'}'")


# --- the output folder ---

def test_existing_output_is_refused_and_kept(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = prepare(tmp_path, "--type", "conll03", "--dir", str(conll03(tmp_path)), "--embedding_dim", "4")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: --out {tmp_path / 'out'} exists already; pass --overwrite to "
                                          "replace it"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_overwrite_replaces_only_once_complete(tmp_path: Path) -> None:
    vectors = tmp_path / "v.txt"
    vectors.write_text(VECTORS)
    args = ["--type", "conll03", "--dir", str(conll03(tmp_path)), "--embedding", str(vectors), "--overwrite"]
    assert prepare(tmp_path, *args).returncode == 0
    before = (tmp_path / "out" / "tensors.pt").read_bytes()
    vectors.write_text(VECTORS + "nan 1 2\n")
    failed = prepare(tmp_path, *args)
    assert failed.returncode == 1 and failed.stderr.splitlines() == [
        f"error: {vectors}:4: expected a word and 3 values, found 2"]
    assert (tmp_path / "out" / "tensors.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "raw", "v.txt"]
    vectors.write_text(VECTORS.replace("1 2 3", "0 0 1"))
    assert prepare(tmp_path, *args).returncode == 0
    assert Dataset.load(str(tmp_path / "out")).embedding[2:].tolist() == [[0, 0, 1], [4, 5, 6], [7, 8, 9]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "raw", "v.txt"]


def test_failure_while_saving_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    spec = importlib.util.spec_from_file_location("prepare_data", REPO / "prepare-data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = []

    def full_disk(obj: object, path: str) -> None:
        written.extend(os.listdir(os.path.dirname(path)))
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr("utils.data.dataset.atomic_save", full_disk)
    with pytest.raises(SystemExit) as exit_info, pytest.warns(UserWarning, match="random"):
        module.main(["--type", "conll03", "--dir", str(conll03(tmp_path)), "--embedding_dim", "4",
                     "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 1
    assert "words.vocab" in written  # the vocabularies were written before the failure...
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]  # ...and the temporary folder went with them
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: [Errno 28] No space left on device: ")


# --- processed data folders ---

@pytest.fixture
def saved(tiny_data: Dataset, tmp_path: Path) -> Path:
    """The tiny POS + NER data set saved to a folder."""
    tiny_data.save(str(tmp_path / "data"))
    return tmp_path / "data"


def edit_meta(folder: Path, edit) -> None:
    """Rewrite meta.json through `edit(meta)`."""
    meta = json.loads((folder / "meta.json").read_text())
    edit(meta)
    (folder / "meta.json").write_text(json.dumps(meta))


def edit_tensors(folder: Path, edit) -> None:
    """Rewrite tensors.pt through `edit(tensors)`."""
    tensors = torch.load(folder / "tensors.pt", weights_only=True)
    edit(tensors)
    torch.save(tensors, folder / "tensors.pt")


def test_saved_folder_loads(saved: Path, tiny_data: Dataset) -> None:
    data = Dataset.load(str(saved))
    assert data.task_names() == ["pos", "ner"]
    assert [len(data.tasks[1].splits[s]) for s in ("train", "dev", "test")] == [3, 1, 1]
    assert torch.equal(data.tasks[1].splits["train"].tags[1], tiny_data.tasks[1].splits["train"].tags[1])
    assert not [p for p in saved.iterdir() if p.name.startswith(".tmp-")]


def test_half_written_folder(saved: Path) -> None:
    (saved / "meta.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"^.*/data: not a processed data folder \(no meta.json"):
        Dataset.load(str(saved))


def test_meta_not_json(saved: Path) -> None:
    (saved / "meta.json").write_text('{"setting": "tiny", "tasks": [')
    with pytest.raises(ValueError, match=rf"^{saved / 'meta.json'}: not valid JSON \("):
        Dataset.load(str(saved))


@pytest.mark.parametrize("key", ["setting", "tasks"])
def test_meta_missing_key(saved: Path, key: str) -> None:
    edit_meta(saved, lambda meta: meta.pop(key))
    with pytest.raises(ValueError, match=rf"^{saved / 'meta.json'}: missing key '{key}'$"):
        Dataset.load(str(saved))


def test_meta_task_without_metric(saved: Path) -> None:
    edit_meta(saved, lambda meta: meta["tasks"][1].pop("metric"))
    with pytest.raises(ValueError, match=r"meta.json: tasks\[1\] must have a string 'name' and 'metric'$"):
        Dataset.load(str(saved))


def test_meta_unknown_tag_scheme(saved: Path) -> None:
    edit_meta(saved, lambda meta: meta["tasks"][1].update(metric="bilou"))
    with pytest.raises(ValueError, match=r"meta.json: task ner has unknown metric \(tag scheme\) 'bilou': "
                                         r"expected one of acc, bio, bioes$"):
        Dataset.load(str(saved))


def test_missing_vocabulary(saved: Path) -> None:
    (saved / "tags.ner.vocab").unlink()
    with pytest.raises(FileNotFoundError, match=rf"^{saved / 'tags.ner.vocab'}: no such file"):
        Dataset.load(str(saved))


def test_corrupt_vocabulary(saved: Path) -> None:
    (saved / "words.vocab").write_text("max_size\tNone\nmin_freq\tNone\n\nthe\tone\t2\t0\n")
    with pytest.raises(ValueError, match=rf"^{saved / 'words.vocab'}: not a vocabulary file \(ValueError"):
        Dataset.load(str(saved))


def test_truncated_vocabulary(saved: Path) -> None:
    lines = (saved / "tags.ner.vocab").read_text().splitlines()
    (saved / "tags.ner.vocab").write_text("\n".join(lines[:-2]) + "\n")  # drops S-PER (id 1) and S-ORG (id 3)
    with pytest.raises(ValueError, match=rf"^{saved / 'tags.ner.vocab'}: not a vocabulary file \(its ids are not "
                                         r"0..6\)$"):
        Dataset.load(str(saved))


def test_vocabulary_of_another_data_set(saved: Path) -> None:
    text = (saved / "tags.ner.vocab").read_text()
    (saved / "tags.ner.vocab").write_text(text.replace("E-LOC\t1\t8\t0\n", ""))  # the last id, used in train
    with pytest.raises(ValueError, match=r"tensors.pt: tensor ner.train.tags has ids outside tags.ner.vocab "
                                         r"\(0..7\)$"):
        Dataset.load(str(saved))


def test_missing_tensor(saved: Path) -> None:
    edit_tensors(saved, lambda tensors: tensors.pop("ner.dev.tags"))
    with pytest.raises(ValueError, match=r"tensors.pt: tensor ner.dev.tags is missing$"):
        Dataset.load(str(saved))


def test_inconsistent_lengths(saved: Path) -> None:
    edit_tensors(saved, lambda tensors: tensors["pos.train.lengths"].add_(1))
    with pytest.raises(ValueError, match=r"tensors.pt: tensor pos.train.words holds 16 ids, but pos.train.lengths "
                                         r"adds up to 20$"):
        Dataset.load(str(saved))


def test_word_rows_of_another_vocabulary(saved: Path) -> None:
    edit_tensors(saved, lambda tensors: tensors.update(word_rows=tensors["word_rows"][:-1]))
    with pytest.raises(ValueError, match=r"tensors.pt: tensor word_rows has \d+ entries, words.vocab \d+ words$"):
        Dataset.load(str(saved))


def test_missing_tensor_file(saved: Path) -> None:
    (saved / "tensors.pt").unlink()
    with pytest.raises(FileNotFoundError, match=rf"^{saved / 'tensors.pt'}: no such file$"):
        Dataset.load(str(saved))


def test_training_script_reports_a_corrupt_folder_in_one_line(saved: Path, tmp_path: Path) -> None:
    edit_meta(saved, lambda meta: meta.pop("tasks"))
    result = subprocess.run([sys.executable, "train_single.py", "--data_path", str(saved), "--save_dir",
                             str(tmp_path / "exp")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {saved / 'meta.json'}: missing key 'tasks'"]
    assert not (tmp_path / "exp").exists()

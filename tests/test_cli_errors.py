"""Bad input to the scripts: one line naming the file, line, tensor or flag; exit code ≠ 0; no output left behind."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def last_line(result: subprocess.CompletedProcess) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_malformed_corpus_names_file_and_line(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for split in ("train", "dev", "test"):
        (raw / f"{split}.txt").write_text("EU NNP B-NP B-ORG\nrejects VBZ\n\n")
    result = run("prepare-data.py", "--type", "conll03", "--dir", str(raw), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert last_line(result) == f"error: {raw / 'train.txt'}:2: expected at least 4 columns, found 2"
    assert not (tmp_path / "out").exists()


def test_missing_processed_data(tmp_path):
    result = run("train_single.py", "--data_path", str(tmp_path / "none"), "--save_dir", str(tmp_path / "exp"))
    assert result.returncode == 1
    assert "not a processed data folder" in last_line(result) and str(tmp_path / "none") in last_line(result)


@pytest.mark.parametrize("script", ["train_single.py", "train_mtl.py"])
@pytest.mark.parametrize("spec, message", [("sgd(lr=)", "key=literal"), ("sgd(foo=1)", "foo"),
                                           ("rmsprop(lr=1)", "NAME in sgd, adam, adamw")])
def test_bad_optimiser_is_refused_before_any_output(tmp_path, script, spec, message):
    result = run(script, "--optim", spec, "--save_dir", str(tmp_path / "exp"))
    assert result.returncode == 2
    assert "--optim" in last_line(result) and message in last_line(result)
    assert not (tmp_path / "exp").exists()


def test_foreign_init_weights_name_the_file(processed_conll03, tmp_path):
    pickled = tmp_path / "weights.th"
    torch.save({"model": object()}, pickled)
    result = run("train_single.py", "--data_path", str(processed_conll03), "--init_weights", str(pickled),
                 "--save_dir", str(tmp_path / "exp"), "--train_limit", "10", "--eval_limit", "10")
    assert result.returncode == 1
    assert last_line(result).startswith(f"error: {pickled}: not a tensor checkpoint")
    assert not (tmp_path / "exp").exists()


def test_mis_shaped_init_weights_name_the_tensor(processed_conll03, tmp_path):
    weights = tmp_path / "weights.th"
    torch.save({"lstm.lstm.weight_ih_l0": torch.zeros(3, 3)}, weights)
    result = run("train_single.py", "--data_path", str(processed_conll03), "--init_weights", str(weights),
                 "--save_dir", str(tmp_path / "exp"), "--hidden_size", "8", "--train_limit", "10", "--eval_limit", "10")
    assert result.returncode == 1
    assert str(weights) in last_line(result) and "tensor" in last_line(result)
    assert not (tmp_path / "exp").exists()


def test_bad_task_id(processed_conll03, tmp_path):
    result = run("train_single.py", "--data_path", str(processed_conll03), "--task_id", "5",
                 "--save_dir", str(tmp_path / "exp"))
    assert result.returncode == 1
    assert last_line(result) == "error: --task_id 5: the data has tasks 0..2 (pos, chunk, ner)"

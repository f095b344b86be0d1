"""End to end with the transformer encoder on the real MiniLM: a budget `ENCODER=transformer run_conll03.sh all`
runs through; its run folder tags text and reproduces results.json's scores after the pretrained model's folder is
gone; Step 1 stopped mid-round and resumed ends bit-identical to an uninterrupted run."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import train_single
from tests.conftest import conll_sentences
from tests.test_resume import Stop, assert_same, files_of, stop_after
from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
BUDGET = {"TRAIN_LIMIT": "16", "EVAL_LIMIT": "12", "EPOCHS": "1", "PRUNING_ITER": "1", "FINAL_RATE": "0.5",
          "JOBS": "1", "DEVICE": "cpu", "NAME": "t", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def run(processed_conll03_small, shared_data, tmp_path_factory) -> Path:
    """`all` on a copy of MiniLM that is deleted afterwards; the runs folder."""
    root = tmp_path_factory.mktemp("transformer")
    pretrained = root / "minilm"
    shutil.copytree(shared_data / "minilm-l6-v2", pretrained)
    env = {**os.environ, **BUDGET, "ENCODER": "transformer", "PRETRAINED": str(pretrained), "PYTHON": sys.executable,
           "PROCESSED": str(processed_conll03_small), "EXP_DIR": str(root / "exp")}
    done = subprocess.run(["bash", "run_conll03.sh", "all"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    shutil.rmtree(pretrained)
    return root


def test_all_runs_with_the_fine_tuning_recipe(run):
    step3 = Path(layout.run(str(run / "exp"), "t").step3())
    config = json.loads((step3 / layout.CONFIG).read_text())
    assert config["model"]["encoder"] == "transformer"
    assert (config["optimiser"]["optim"], config["optimiser"]["batch_size"], config["optimiser"]["scheduler"]) == (
        "adamw(lr=5e-5, weight_decay=0.01)", 16, "linear")
    results = json.loads((step3 / layout.RESULTS).read_text())
    assert results["system"] == "sparse sharing" and list(results["tasks"]) == ["pos", "chunk", "ner"]
    masks = [torch.load(step3 / layout.OWN_MASKS / layout.task_mask(i), weights_only=True)["mask"] for i in range(3)]
    union = sum(int(torch.stack([m[n] for m in masks]).any(0).sum()) for n in masks[0])
    assert results["params"] == union and len(masks[0]) == 36


def test_the_run_folder_alone_tags_text_and_reproduces_its_scores(run, shared_data, tmp_path):
    step3 = Path(layout.run(str(run / "exp"), "t").step3())
    assert sorted(os.listdir(step3 / layout.SNAPSHOT / layout.PRETRAINED)) == [
        "config.json", "tokenizer.json", "tokenizer_config.json"]
    rows = conll_sentences(shared_data / "conll03" / "dev.txt", int(BUDGET["EVAL_LIMIT"]))
    dev = tmp_path / "dev.txt"
    dev.write_text("\n\n".join("\n".join(block) for block in rows) + "\n", encoding="utf-8")
    scores, out = tmp_path / "scores.json", tmp_path / "out.txt"
    result = subprocess.run([sys.executable, "predict.py", "--run", str(step3), "--input", str(dev), "--format",
                             "conll", "--output", str(out), "--scores", str(scores), "--device", "cpu"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = json.loads((step3 / layout.RESULTS).read_text())["tasks"]
    got = json.loads(scores.read_text())["tasks"]
    for task in expected:
        assert got[task]["score"] == pytest.approx(expected[task]["dev"], abs=1e-6), task
    raw = tmp_path / "raw.txt"
    raw.write_text("Zyxwvut Industries hired Qwertyuiop in Ulaanbaatar .\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "predict.py", "--run", str(step3), "--input", str(raw), "--output",
                             str(tmp_path / "raw.out"), "--device", "cpu"], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [line.split()[0] for line in (tmp_path / "raw.out").read_text().split("\n") if line] == \
        raw.read_text().split()


def step1_args(processed: Path, pretrained: Path, save_dir: Path) -> list[str]:
    return ["--encoder", "transformer", "--pretrained", str(pretrained), "--data_path", str(processed),
            "--task_id", "2", "--train_limit", "12", "--eval_limit", "6", "--batch_size", "4", "--epochs", "2",
            "--pruning_iter", "1", "--final_rate", "0.5", "--save_dir", str(save_dir), "--device", "cpu",
            "--no_tensorboard"]


def test_step1_stopped_mid_round_resumes_bit_identical(processed_conll03_small, shared_data, tmp_path, monkeypatch):
    """Stopped right after the 4th saved state (round 1, after its first epoch: the rewind to the pretrained
    weights and the pruned mask already behind it), then --resume: every weight, mask and score file equals the
    uninterrupted run's (test_resume_e2e.py kills the BiLSTM's pipeline with SIGKILL; the state is the same)."""
    pretrained = shared_data / "minilm-l6-v2"
    train_single.main(step1_args(processed_conll03_small, pretrained, tmp_path / "reference"))
    reference = files_of(tmp_path / "reference" / layout.STEP1_TASKS / "2")
    calls = stop_after(monkeypatch, train_single, 4)
    with pytest.raises(Stop):
        train_single.main(step1_args(processed_conll03_small, pretrained, tmp_path / "run"))
    assert len(calls) == 4
    monkeypatch.undo()
    folder = tmp_path / "run" / layout.STEP1_TASKS / "2"
    assert not (folder / layout.COMPLETE).exists()
    train_single.main(step1_args(processed_conll03_small, pretrained, tmp_path / "run") + ["--resume"])
    assert_same(files_of(folder), reference)

"""The transformer arm of bench/bench.py on the real MiniLM (../shared/data/minilm-l6-v2) and a small slice of real
CoNLL-2003: the block it writes into the results JSON (three arms with finite positive times, the two ratios, the
target (iii)/(i) ≤ 1.10 with its repetitions), that the plain fine-tuning step (i) and the project's dense step
(ii) compute the same loss on the same batch from the same head (dropout off), the joint arm's batches and masks,
and the flags it refuses. No timing assertions."""
import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench import bench as bench_script
from bench.transformer import build_transformer
from utils.data.dataset import Dataset
from utils.subnets.masks import kept_fraction, prunable_names

ROOT = Path(__file__).resolve().parents[1]
ARMS = {"plain", "dense", "joint"}


@pytest.fixture(scope="module")
def data(processed_conll03_small) -> Dataset:
    return Dataset.load(str(processed_conll03_small))


@pytest.fixture(scope="module")
def work(minilm, data):
    args = argparse.Namespace(seed=2019, device="cpu", task_id=2, steps=3, batch_size=4, pretrained=str(minilm))
    return build_transformer(args, data)


def test_the_arm_writes_its_block_and_table(minilm, processed_conll03_small, tmp_path):
    out, tables = tmp_path / "bench.json", tmp_path / "bench.md"
    result = subprocess.run(
        [sys.executable, "bench/bench.py", "--data_path", str(processed_conll03_small), "--encoder", "transformer",
         "--pretrained", str(minilm), "--json", str(out), "--markdown", str(tables), "--steps", "2",
         "--batch_size", "4", "--reps", "1", "--warmup", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert "arms" not in report, "--encoder transformer runs the transformer arm only"
    block = report["transformer"]
    assert set(block["arms"]) == ARMS
    for arm in block["arms"].values():
        assert arm["ms_per_step"]["reps"] == 1
        assert all(math.isfinite(v) and v > 0 for v in (arm["ms_per_step"]["median"], arm["tokens_per_s"],
                                                          arm["sentences_per_s"]))
    assert set(block["ratios"]) == {"dense_vs_plain", "joint_vs_plain"}
    assert all(math.isfinite(v) and v > 0 for v in block["ratios"].values())
    target = block["targets"]["joint_vs_plain"]
    assert (target["op"], target["threshold"], target["min_reps"]) == ("<=", 1.10, 5)
    assert target["value"] == block["ratios"]["joint_vs_plain"] and target["met"] is None, "1 repetition < 5"
    s = block["settings"]
    assert (s["batch_size"], s["steps"], s["reps"], s["task_id"]) == (4, 2, 1, 2)
    assert 0 < s["tokens"] < s["subwords"], "subwords: every word has one or more, plus [CLS] and [SEP]"
    assert (s["optim"], s["clip_norm"], s["kept"]) == ("adamw(lr=5e-5, weight_decay=0.01)", 1.0, 0.5)
    markdown = tables.read_text()
    assert "| (iii) project's masked joint step |" in markdown and "| joint_vs_plain |" in markdown
    assert "not assessed (needs --reps ≥ 5)" in markdown and markdown in result.stdout
    assert f"results: {out}" in result.stdout


def test_plain_and_project_compute_the_same_loss(work):
    """Same words, same pretrained weights, the plain head copied from the project's: with dropout off both
    score each word at its first subword, so the cross-entropies agree (the fair comparison of (i) with (ii))."""
    work.plain.eval()
    work.dense.eval()
    assert torch.equal(work.plain.out.weight, work.dense.heads.out[2].weight)
    pieces = [len(work.plain.tokenizer(w, add_special_tokens=False)["input_ids"])
              for sentence in work.sentences for s in sentence for w in s]
    assert max(pieces) > 1, "the batches hold words of several subwords, where first-subword scoring matters"
    for sentences, tags, batch in zip(work.sentences, work.tags, work.batches):
        with torch.no_grad():
            plain = work.plain.loss(sentences, tags)
            project = work.dense.heads.loss(2, work.dense(2, batch.words, batch.seq_len), batch.tags,
                                            batch.seq_len)
        assert plain.item() == pytest.approx(project.item(), rel=1e-5, abs=1e-6)
        assert [t for s in tags for t in s] == batch.tags[torch.arange(batch.words.size(1)) <
                                                          batch.seq_len[:, None]].tolist()


def test_the_joint_arm_alternates_tasks_on_the_same_sentences_with_half_kept_subnets(work, data):
    assert [t for t, _ in work.joint] == [0, 1, 2]
    for k, (t, batch) in enumerate(work.joint):
        assert torch.equal(batch.words, work.batches[k].words), "the tasks of CoNLL-2003 share the sentences"
    assert len(work.masks) == len(data.tasks) == 3
    assert all(set(m) == set(prunable_names(work.dense)) and len(m) == 36 for m in work.masks)
    assert all(abs(kept_fraction(m) - 0.5) < 1e-3 for m in work.masks)
    assert not torch.equal(work.masks[0][next(iter(work.masks[0]))], work.masks[1][next(iter(work.masks[1]))])
    assert [len(s) for s in work.sentences] == [4, 4, 4]


@pytest.mark.parametrize("flags, message", [
    (["--encoder", "transformer"], "--encoder transformer needs --pretrained"),
    (["--encoder", "both"], "--encoder both needs --pretrained"),
    (["--pretrained", "x"], "--pretrained applies to --encoder transformer or both only"),
    (["--encoder", "gpt"], "--encoder: invalid choice"),
    (["--encoder", "transformer", "--pretrained", "x", "--batch_size", "0"], "--batch_size must be positive"),
])
def test_flags_that_cannot_work_are_refused(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench_script.parse_args(flags)
    assert exit_.value.code != 0 and message in capsys.readouterr().err


def test_a_folder_without_a_model_is_one_line_naming_pretrained(processed_conll03_small, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        bench_script.main(["--data_path", str(processed_conll03_small), "--encoder", "transformer",
                           "--pretrained", str(tmp_path), "--steps", "1", "--json", str(tmp_path / "out.json")])
    message = str(exit_.value.code)
    assert message.startswith(f"bench.py: --pretrained {tmp_path}:") and "\n" not in message
    assert not (tmp_path / "out.json").exists()


def test_a_transformer_only_run_has_its_own_default_file():
    source = {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False}
    paths = {encoder: bench_script.output_path(argparse.Namespace(json=None, device="cpu", encoder=encoder), source)
             for encoder in bench_script.ENCODERS}
    assert os.path.basename(paths["transformer"]) == "bench-transformer-0123456789ab.json"
    assert os.path.basename(paths["bilstm"]) == os.path.basename(paths["both"]) == "bench-0123456789ab.json"


@pytest.mark.parametrize("flags, bilstm, transformer", [
    (["--encoder", "transformer", "--pretrained", "x"], 16, 16),
    ([], 10, 16),
    (["--encoder", "both", "--pretrained", "x"], 10, 16),
    (["--encoder", "both", "--pretrained", "x", "--batch_size", "4"], 4, 4),
])
def test_each_arm_takes_its_recipes_batch_size_unless_given(flags, bilstm, transformer):
    args = bench_script.parse_args(flags)
    assert args.transformer_batch_size == transformer
    assert args.batch_size == (transformer if "transformer" in flags else bilstm)


def test_both_encoders_go_into_one_json(minilm, processed_conll03_small, tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "bench/bench.py", "--data_path", str(processed_conll03_small), "--encoder", "both",
         "--pretrained", str(minilm), "--json", str(out), "--steps", "2", "--batch_size", "4", "--reps", "1",
         "--warmup", "0", "--eval_sentences", "10", "--hidden_size", "16"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert {"source", "settings", "arms", "ratios", "limit", "profile", "targets", "transformer"} <= set(report)
    assert report["settings"]["batch_size"] == report["transformer"]["settings"]["batch_size"] == 4
    assert "| (c) masked joint step |" in result.stdout and "| (i) plain fine-tuning" in result.stdout

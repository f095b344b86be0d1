"""bench/bench.py on a small slice of real CoNLL-2003: it writes the JSON the issue asks for, with every ratio
a positive number and per-arm figures that agree with each other (no timing assertions)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from bench import bench as bench_script

ROOT = Path(__file__).resolve().parents[1]
RATIOS = {"masked_vs_dense", "joint_vs_dense", "copy_vs_ours", "eval_vs_train", "joint_vs_floor"}


def test_bench_writes_ratios_and_profile(processed_conll03, tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "bench/bench.py", "--data_path", str(processed_conll03), "--device", "cpu", "--json",
         str(out), "--steps", "3", "--reps", "2", "--warmup", "0", "--eval_sentences", "40", "--hidden_size", "16"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert set(report["ratios"]) == RATIOS
    assert all(isinstance(v, float) and v > 0 for v in report["ratios"].values())
    assert report["prune_round_ms"] > 0
    assert report["settings"]["steps"] == 3 and report["settings"]["eval_sentences"] == 40
    assert set(report["arms"]) == {"dense", "masked", "joint", "copy", "prune", "eval", "data", "floor"}
    assert all(arm["ms_per_step"]["reps"] == 2 for name, arm in report["arms"].items() if "ms_per_step" in arm)
    shares = sum(part["share"] for part in report["profile"].values())
    assert abs(shares - 1.0) < 1e-9, "the profile's parts and 'other' add up to the whole step"
    assert "| (c) masked joint step |" in result.stdout and '"joint_vs_floor"' in result.stdout


def test_bench_rejects_bad_flags(tmp_path):
    result = subprocess.run([sys.executable, "bench/bench.py", "--data_path", str(tmp_path), "--steps", "0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "--steps 0" in result.stderr


def test_profile_optimiser_part_steps_every_weight_a_real_step_updates(processed_conll03):
    """The optimiser part must step with a real step's gradients, whatever part was timed before it: after the
    char CNN part (which leaves gradients on the char CNN only) it still moves the BiLSTM, word vectors and heads."""
    args = bench_script.parse_args(["--data_path", str(processed_conll03), "--steps", "3", "--hidden_size", "16"])
    setup = bench_script.build(args)
    parts = bench_script.profile_parts(args, setup)
    model = setup["models"]["parts"]
    parts["char"]()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    parts["optimiser"]()
    moved = {name for name, p in model.named_parameters() if not torch.equal(p.detach(), before[name])}
    for name in ("lstm.lstm.weight_ih_l0", "lstm.lstm.weight_hh_l0_reverse", "embedding.embedding.weight",
                 "char.convs.0.weight", "heads.out.0.weight", "heads.out.2.weight"):
        assert name in moved, name

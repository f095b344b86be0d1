"""bench/bench.py on a small slice of real CoNLL-2003: it writes the JSON the issue asks for, with every ratio
a positive number and per-arm figures that agree with each other (no timing assertions)."""
import json
import os
import subprocess
import sys
from pathlib import Path

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

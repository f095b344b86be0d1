"""bench/bench.py on a small slice of real CoNLL-2003: the JSON it writes (ratios, the training step against the
machine's limit, targets with their thresholds, the commit measured), the BiLSTM FLOP formula against counts
worked out by hand, its bad-flag refusals and the default output file. No timing assertions."""
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from bench import bench as bench_script
from bench.output import RESULTS_DIR, default_path
from bench.parts import profile_parts
from bench.rates import batches_flops, dense_products, lstm_flops
from bench.results import targets
from bench.workload import build
from utils.data.batching import Batch

ROOT = Path(__file__).resolve().parents[1]
RATIOS = {"masked_vs_dense", "joint_vs_dense", "copy_vs_ours", "eval_vs_train", "joint_vs_floor"}
ARMS = {"dense", "masked", "joint", "copy", "prune", "eval", "data", "floor", "lstm", "gemm"}
THRESHOLDS = {"masked_vs_dense": ("<=", 1.05, 15), "joint_vs_dense": ("<=", 1.05, 15),
              "copy_vs_ours": (">=", 1.25, 1), "prune_round_ms": ("<", 50.0, 1)}


def bench(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "bench/bench.py", *flags], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})


def git(*words: str) -> str:
    return subprocess.run(["git", *words], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def test_bench_writes_rates_targets_and_commit(processed_conll03_small, tmp_path):
    out, tables = tmp_path / "new" / "bench.json", tmp_path / "bench.md"
    result = bench("--data_path", str(processed_conll03_small), "--device", "cpu", "--json", str(out), "--markdown",
                   str(tables), "--steps", "3", "--reps", "2", "--warmup", "0", "--eval_sentences", "40",
                   "--hidden_size", "16")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| (i) BiLSTM alone: achieved rate |" in tables.read_text() and f"results: {out}" in result.stdout
    report = json.loads(out.read_text())
    assert set(report["ratios"]) == RATIOS
    assert all(isinstance(v, float) and v > 0 for v in report["ratios"].values())
    assert report["prune_round_ms"] > 0
    assert report["settings"]["steps"] == 3 and report["settings"]["eval_sentences"] == 40
    assert set(report["arms"]) == ARMS
    assert all(arm["ms_per_step"]["reps"] == 2 for arm in report["arms"].values() if "ms_per_step" in arm)
    limit = report["limit"]
    assert limit["bilstm_gflops"] > 0 and limit["dense_gflops"] > 0 and limit["rate_vs_limit"] > 0
    assert 0.0 <= limit["joint_outside_bilstm"] <= 1.0
    assert limit["flops_per_run"] > 0 and limit["padded_tokens"] >= report["settings"]["tokens"]
    assert {name: (t["op"], t["threshold"], t["min_reps"]) for name, t in report["targets"].items()} == THRESHOLDS
    assert report["targets"]["masked_vs_dense"]["met"] is None, "2 repetitions do not assess a ≤ 1.05 target"
    assert isinstance(report["targets"]["copy_vs_ours"]["met"], bool)
    assert report["targets"]["joint_vs_dense"]["value"] == report["ratios"]["joint_vs_dense"]
    assert report["source"]["commit"] == git("rev-parse", "HEAD")
    assert report["source"]["dirty"] == (git("status", "--porcelain") != "")
    assert datetime.datetime.fromisoformat(report["source"]["date"]).tzinfo is not None
    shares = sum(part["share"] for part in report["profile"].values())
    assert abs(shares - 1.0) < 1e-9, "the profile's parts and 'other' add up to the whole step"
    assert "| (c) masked joint step |" in result.stdout and "not assessed (needs --reps ≥ 15)" in result.stdout
    rows = {line.split("|")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("| ")}
    for untargeted in ("eval_vs_train", "joint_vs_floor"):
        assert rows[untargeted].endswith("| — | untargeted |"), rows[untargeted]


def test_lstm_flops_by_hand():
    """B=2, T=3, D_in=5, H=4, per direction: input projection 2·2·3·16·5 = 960, recurrent 2·2·3·16·4 = 768,
    forward 1728, with the backward 3 × 1728 = 5184; two directions 10368. A second layer reads 2H = 8 features:
    2·2·3·16·8 + 768 = 2304, × 3 × 2 = 13824, so two layers 24192."""
    assert lstm_flops(2, 3, 5, 4, 1) == 10368
    assert lstm_flops(2, 3, 5, 4, 2) == 10368 + 13824
    assert lstm_flops(1, 1, 1, 1, 1) == 2 * 3 * (2 * 4 + 2 * 4)


class CountProducts(TorchDispatchMode):
    """2·m·k·n of every matrix product that runs (mm, addmm, in place or not), whatever the op's own counter."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket in (torch.ops.aten.mm, torch.ops.aten.addmm, torch.ops.aten.addmm_):
            a, b = args[-2], args[-1]
            self.flops += 2 * a.shape[0] * a.shape[1] * b.shape[1]
        return func(*args, **(kwargs or {}))


def test_dense_products_do_the_bilstm_arithmetic():
    """The machine's-limit arm runs exactly the FLOPs the BiLSTM's count says, on every batch's own grid."""
    batches = [Batch(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long), torch.tensor([3, 2])),
               Batch(torch.zeros(1, 5, dtype=torch.long), torch.zeros(1, 5, dtype=torch.long), torch.tensor([5]))]
    run = dense_products(batches, 5, 4, 2, "cpu")
    with CountProducts() as counted:
        run()
    assert batches_flops(batches, 5, 4, 2) == lstm_flops(2, 3, 5, 4, 2) + lstm_flops(1, 5, 5, 4, 2)
    assert counted.flops == batches_flops(batches, 5, 4, 2) == 24192 + 5 * 24192 // 6


def test_targets_hold_at_their_thresholds_and_need_their_repetitions():
    values = {"masked_vs_dense": 1.05, "joint_vs_dense": 1.0501, "copy_vs_ours": 1.25, "prune_round_ms": 50.0}
    found = targets(values, reps=15)
    assert {name: t["met"] for name, t in found.items()} == {"masked_vs_dense": True, "joint_vs_dense": False,
                                                             "copy_vs_ours": True, "prune_round_ms": False}
    assert targets(values, reps=14)["masked_vs_dense"]["met"] is None
    assert targets(values, reps=1)["copy_vs_ours"]["met"] is True


def test_default_output_is_named_by_the_commit():
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert default_path({"commit": commit, "dirty": False}, "cpu") == os.path.join(RESULTS_DIR,
                                                                                    "bench-0123456789ab.json")
    assert default_path({"commit": commit, "dirty": True}, "cuda:1").endswith("bench-cuda1-0123456789ab-dirty.json")
    assert Path(RESULTS_DIR) == ROOT / "bench" / "results"


@pytest.mark.parametrize("flag, value", [("--steps", "0"), ("--reps", "0"), ("--warmup", "-1"),
                                         ("--hidden_size", "0"), ("--threads", "0"), ("--device", "gpu"),
                                         ("--json", "{file}/bench.json"), ("--markdown", "{file}/sub/bench.md")])
def test_bench_rejects_bad_flags(tmp_path, flag, value):
    (tmp_path / "a-file").write_text("")
    value = value.format(file=tmp_path / "a-file")
    result = bench("--data_path", str(tmp_path), flag, value)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode != 0 and flag in last and value in last, result.stderr


def test_bench_rejects_missing_data_and_a_task_it_lacks(processed_conll03_small, tmp_path):
    result = bench("--data_path", str(tmp_path / "none"), "--json", str(tmp_path / "out.json"))
    assert result.returncode != 0 and f"--data_path {tmp_path / 'none'}" in result.stderr
    result = bench("--data_path", str(processed_conll03_small), "--task_id", "3", "--json", str(tmp_path / "o.json"))
    assert result.returncode != 0 and "--task_id 3" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "o.json").exists()


def test_profile_optimiser_part_steps_every_weight_a_real_step_updates(processed_conll03_small):
    """The optimiser part must step with a real step's gradients, whatever part was timed before it: after the
    char CNN part (which leaves gradients on the char CNN only) it still moves the BiLSTM, word vectors and heads."""
    args = bench_script.parse_args(["--data_path", str(processed_conll03_small), "--steps", "3", "--hidden_size", "16"])
    work = build(args, bench_script.load(args))
    parts = profile_parts(args, work)
    model = work.models["parts"]
    parts["char"]()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    parts["optimiser"]()
    moved = {name for name, p in model.named_parameters() if not torch.equal(p.detach(), before[name])}
    for name in ("lstm.lstm.weight_ih_l0", "lstm.lstm.weight_hh_l0_reverse", "embedding.embedding.weight",
                 "char.convs.0.weight", "heads.out.0.weight", "heads.out.2.weight"):
        assert name in moved, name

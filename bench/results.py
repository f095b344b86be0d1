"""The benchmark's results as one JSON-able dict: per-arm medians and spreads with tokens/s and sentences/s, the
ratios between arms, the pruning round, the training step against the machine's limit (achieved BiLSTM
GFLOP/s, dense products' GFLOP/s of the same shapes, their ratio, and the joint step's share spent outside the
BiLSTM), the profile of the joint step and the targets, each with its threshold and whether it is met (None
when the run has fewer repetitions than the target needs)."""
import argparse
import operator
import statistics

import torch

from bench.arms import PER_STEP
from bench.rates import batches_flops
from bench.timing import paired_ratio, summary
from bench.workload import KEPT, Workload

# name -> (comparison, threshold, repetitions needed to assess it)
TARGETS = {"masked_vs_dense": ("<=", 1.05, 15), "joint_vs_dense": ("<=", 1.05, 15),
           "copy_vs_ours": (">=", 1.25, 1), "prune_round_ms": ("<", 50.0, 1)}
# the transformer arm's (bench/transformer.py): the masked joint step against plain fine-tuning, (iii) / (i)
TRANSFORMER_TARGETS = {"joint_vs_plain": ("<=", 1.10, 5)}
COMPARE = {"<=": operator.le, ">=": operator.ge, "<": operator.lt}


def arm_entries(args: argparse.Namespace, work: Workload, times: dict[str, list[float]]) -> dict[str, dict]:
    """Per arm: ms per training batch (or ms per run for pruning and evaluation), tokens/s and sentences/s."""
    batches = work.batches[args.task_id]
    tokens, sentences = sum(int(b.seq_len.sum()) for b in batches), sum(len(b.seq_len) for b in batches)
    dev = work.eval_task.splits["dev"]
    entries = {}
    for name, values in times.items():
        median = statistics.median(values)
        if name == "data":
            n_batches = -(-len(work.train) // args.batch_size)
            entries[name] = {"ms_per_step": summary([1000 * v / n_batches for v in values]),
                             "tokens_per_s": sum(work.train.lengths) / median,
                             "sentences_per_s": len(work.train) / median}
        elif name in PER_STEP:
            entries[name] = {"ms_per_step": summary([1000 * v / len(batches) for v in values]),
                             "tokens_per_s": tokens / median, "sentences_per_s": sentences / median}
        elif name == "eval":
            entries[name] = {"ms": summary([1000 * v for v in values]),
                             "tokens_per_s": sum(dev.lengths) / median, "sentences_per_s": len(dev) / median}
        else:
            entries[name] = {"ms": summary([1000 * v for v in values])}
    return entries


def machine_limit(args: argparse.Namespace, work: Workload, times: dict[str, list[float]]) -> dict:
    """The BiLSTM's achieved rate (arm (i)) and the dense products' rate (arm (j)) on the same FLOPs, their
    ratio (median of per-repetition ratios) and the joint step's share outside the BiLSTM, 1 − (i) / (c)."""
    batches = [batch for _, batch in work.joint]
    flops = batches_flops(batches, work.models["joint"].input_dim, args.hidden_size, args.n_layer)
    return {"flops_per_run": flops, "padded_tokens": sum(b.words.numel() for b in batches),
            "bilstm_gflops": flops / statistics.median(times["lstm"]) / 1e9,
            "dense_gflops": flops / statistics.median(times["gemm"]) / 1e9,
            "rate_vs_limit": paired_ratio(times, "gemm", "lstm"),
            "joint_outside_bilstm": 1.0 - paired_ratio(times, "lstm", "joint")}


def targets(values: dict[str, float], reps: int,
            table: dict[str, tuple[str, float, int]] = TARGETS) -> dict[str, dict]:
    """Each target of `table`: its value, comparison, threshold, repetitions needed and whether it is met."""
    found = {}
    for name, (op, threshold, min_reps) in table.items():
        met = COMPARE[op](values[name], threshold) if reps >= min_reps else None
        found[name] = {"value": values[name], "op": op, "threshold": threshold, "min_reps": min_reps, "met": met}
    return found


def collect(args: argparse.Namespace, work: Workload, times: dict[str, list[float]],
            parts: dict[str, list[float]]) -> dict:
    """Everything the run measured, as one dict (the JSON output without its provenance)."""
    batches = work.batches[args.task_id]
    result = {"settings": {"data_path": args.data_path, "task_id": args.task_id, "seed": args.seed,
                           "device": args.device, "threads": torch.get_num_threads(), "torch": torch.__version__,
                           "batch_size": args.batch_size, "steps": len(batches), "reps": args.reps,
                           "warmup": args.warmup, "hidden_size": args.hidden_size, "n_layer": args.n_layer,
                           "tokens": sum(int(b.seq_len.sum()) for b in batches),
                           "eval_sentences": len(work.eval_task.splits["dev"]), "kept": KEPT},
              "arms": arm_entries(args, work, times)}
    dev, sentences = work.eval_task.splits["dev"], sum(len(b.seq_len) for b in batches)
    result["ratios"] = {
        "masked_vs_dense": paired_ratio(times, "masked", "dense"),
        "joint_vs_dense": paired_ratio(times, "joint", "dense"),
        "copy_vs_ours": paired_ratio(times, "copy", "joint"),
        "eval_vs_train": 1.0 / paired_ratio(times, "eval", "masked", len(dev), sentences),
        "joint_vs_floor": paired_ratio(times, "joint", "floor"),
    }
    result["prune_round_ms"] = result["arms"]["prune"]["ms"]["median"]
    result["limit"] = machine_limit(args, work, times)
    step_ms = result["arms"]["joint"]["ms_per_step"]["median"]
    shares = {name: 1000 * statistics.median(values) / len(batches) for name, values in parts.items()}
    shares["other"] = step_ms - sum(shares.values())
    result["profile"] = {name: {"ms_per_step": ms, "share": ms / step_ms} for name, ms in shares.items()}
    result["targets"] = targets({**result["ratios"], "prune_round_ms": result["prune_round_ms"]}, args.reps)
    return result

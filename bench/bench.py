"""Training and evaluation speed on real data, every arm on the same pre-built batches in one process, and the
training step against the machine's arithmetic limit.

    python bench/bench.py --data_path data/processed/conll03 [--device cpu] [--reps 15] [--json FILE]

Arms (bench/arms.py): (a) dense step, (b) masked single-task step (Step 1), (c) masked joint step, tasks
alternating (Step 3), (d) the original code's technique (deep copy of the model state per batch), (e) one
pruning round, (f) evaluation, (g) data preparation, (h) the floor: the bare BiLSTM and a linear head, (i) the
BiLSTM alone and (j) dense matrix products of its shapes (bench/rates.py: the BiLSTM's FLOPs over the padded
grid, its achieved GFLOP/s against the machine's for those shapes, and the joint step's share outside the
BiLSTM). Repetitions are interleaved (the arm order rotates every repetition) after warm-up ones; medians and
spreads are over repetitions, ratios are medians of per-repetition ratios. A profile of the joint step (c)
follows (bench/parts.py). Targets: masked/dense ≤ 1.05 and joint/dense ≤ 1.05 (assessed at ≥ 15 repetitions),
copy/ours ≥ 1.25, a pruning round < 50 ms. The results, with the commit, whether the tree was dirty and the
date, go to --json, by default bench/results/bench-<commit>.json."""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# run as a script, Python puts bench/ first on the path, where bench.py would shadow the bench package
sys.path[:] = [os.path.dirname(HERE)] + [p for p in sys.path if os.path.abspath(p) != HERE]

import torch  # noqa: E402

from bench.arms import arms  # noqa: E402
from bench.output import default_path, provenance, save, unwritable, write_text  # noqa: E402
from bench.parts import profile_parts  # noqa: E402
from bench.results import TARGETS, collect  # noqa: E402
from bench.tables import markdown  # noqa: E402
from bench.timing import interleave  # noqa: E402
from bench.workload import build  # noqa: E402
from utils.data.dataset import Dataset  # noqa: E402
from utils.settings.checks import broken_rule  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags, each refused with one line naming it when it cannot work."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_path", default="data/processed/conll03", help="processed data (prepare-data.py)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write the results here (default: bench/results/bench-<commit>.json)")
    parser.add_argument("--markdown", help="write the tables here")
    parser.add_argument("--task_id", type=int, default=-1, help="task of the single-task arms (default: the last)")
    parser.add_argument("--steps", type=int, default=60, help="batches per arm and repetition")
    parser.add_argument("--reps", type=int, default=7, help="timed repetitions (a target is assessed from its own minimum: "
                        + ", ".join(f"{name} {need}" for name, (_, _, need) in TARGETS.items()) + ")")
    parser.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    parser.add_argument("--eval_sentences", type=int, default=1000, help="dev sentences the evaluation arm scores")
    parser.add_argument("--batch_size", type=int, default=10)
    parser.add_argument("--hidden_size", type=int, default=200)
    parser.add_argument("--n_layer", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch threads (default: OMP_NUM_THREADS or torch's)")
    parser.add_argument("--seed", type=int, default=2019)
    args = parser.parse_args(argv)
    rules = {"steps": "positive", "reps": "positive", "eval_sentences": "positive", "batch_size": "positive",
             "hidden_size": "positive", "n_layer": "positive", "threads": "positive", "warmup": "non_negative",
             "device": "device"}
    for flag, rule in rules.items():
        problem = broken_rule(flag, getattr(args, flag), rule)
        if problem:
            parser.error(problem)
    for flag in ("json", "markdown"):
        problem = getattr(args, flag) and unwritable(getattr(args, flag))
        if problem:
            parser.error(f"--{flag} {getattr(args, flag)}: {problem}")
    return args


def load(args: argparse.Namespace) -> Dataset:
    """The processed data; a missing or foreign folder, or a --task_id it lacks, ends the run with one line."""
    try:
        data = Dataset.load(args.data_path)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"bench.py: --data_path {args.data_path}: {error}")
    n_tasks = len(data.tasks)
    if not -n_tasks <= args.task_id < n_tasks:
        sys.exit(f"bench.py: --task_id {args.task_id}: {args.data_path} has {n_tasks} tasks (0–{n_tasks - 1})")
    args.task_id %= n_tasks
    return data


def main(argv: list[str] | None = None) -> dict:
    """Run every arm and the profile, print the tables, write the JSON (and --markdown); the results."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    source = provenance()  # the code as it was when the run started
    work = build(args, load(args))
    times = interleave(arms(args, work), args.reps, args.warmup, args.device)
    parts = interleave(profile_parts(args, work), args.reps, args.warmup, args.device)
    result = {"source": source, **collect(args, work, times, parts)}
    table = markdown(result)
    print(table)
    print(json.dumps({"ratios": result["ratios"], "prune_round_ms": result["prune_round_ms"],
                      "limit": result["limit"]}, indent=2))
    path = args.json or default_path(result["source"], args.device)
    save(path, result)
    print(f"results: {path}")
    if args.markdown:
        write_text(args.markdown, table)
    return result


if __name__ == "__main__":
    main()

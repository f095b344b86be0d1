"""Training and evaluation speed on real data, every arm on the same pre-built batches in one process, and the
training step against the machine's arithmetic limit.

    python bench/bench.py --data_path data/processed/conll03 [--device cpu] [--reps 15] [--json FILE]
    python bench/bench.py --data_path data/processed/conll03 --encoder transformer --pretrained PATH --reps 5

Arms (bench/arms.py): (a) dense step, (b) masked single-task step (Step 1), (c) masked joint step, tasks
alternating (Step 3), (d) the original code's technique (deep copy of the model state per batch), (e) one
pruning round, (f) evaluation, (g) data preparation, (h) the floor: the bare BiLSTM and a linear head, (i) the
BiLSTM alone and (j) dense matrix products of its shapes (bench/rates.py: the BiLSTM's FLOPs over the padded
grid, its achieved GFLOP/s against the machine's for those shapes, and the joint step's share outside the
BiLSTM). Repetitions are interleaved (the arm order rotates every repetition) after warm-up ones; medians and
spreads are over repetitions, ratios are medians of per-repetition ratios. A profile of the joint step (c)
follows (bench/parts.py). Targets: masked/dense ≤ 1.05 and joint/dense ≤ 1.05 (assessed at ≥ 15 repetitions),
copy/ours ≥ 1.25, a pruning round < 50 ms. The results, with the commit, whether the tree was dirty and the
date, go to --json, by default bench/results/bench-<commit>.json.

--encoder transformer runs the transformer arm instead (bench/transformer.py: (i) plain fine-tuning of the
--pretrained AutoModel with a linear head, (ii) the project's dense step, (iii) its masked joint step; target
(iii)/(i) ≤ 1.10), into a "transformer" block of bench/results/bench-transformer-<commit>.json; --encoder both
runs the BiLSTM arms and then the transformer arm into one JSON."""
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
from bench.results import TARGETS, TRANSFORMER_TARGETS, collect  # noqa: E402
from bench.tables import markdown, transformer_markdown  # noqa: E402
from bench.timing import interleave  # noqa: E402
from bench.transformer import RECIPE, build_transformer, collect_transformer, transformer_arms  # noqa: E402
from bench.workload import build  # noqa: E402
from utils.data.dataset import Dataset  # noqa: E402
from utils.settings.checks import broken_rule  # noqa: E402

ENCODERS = ("bilstm", "transformer", "both")  # which arms run: the BiLSTM's, the transformer's, or both
BILSTM_BATCH = 10  # the BiLSTM arms' batch size (the paper's recipe); the transformer arm's is its recipe's


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags, each refused with one line naming it when it cannot work."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_path", default="data/processed/conll03", help="processed data (prepare-data.py)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write the results here (default: bench/results/bench-<commit>.json)")
    parser.add_argument("--markdown", help="write the tables here")
    parser.add_argument("--task_id", type=int, default=-1, help="task of the single-task arms (default: the last)")
    parser.add_argument("--steps", type=int, default=60, help="batches per arm and repetition")
    needs = ", ".join(f"{name} {need}" for name, (_, _, need) in {**TARGETS, **TRANSFORMER_TARGETS}.items())
    parser.add_argument("--reps", type=int, default=7,
                        help=f"timed repetitions (a target is assessed from its own minimum: {needs})")
    parser.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    parser.add_argument("--eval_sentences", type=int, default=1000, help="dev sentences the evaluation arm scores")
    parser.add_argument("--batch_size", type=int, help=f"sentences per batch (default: {BILSTM_BATCH} for the "
                        f"BiLSTM arms, {RECIPE['batch_size']} for the transformer arm)")
    parser.add_argument("--hidden_size", type=int, default=200)
    parser.add_argument("--n_layer", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch threads (default: OMP_NUM_THREADS or torch's)")
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--encoder", choices=ENCODERS, default="bilstm", help="which arms run (default: bilstm)")
    parser.add_argument("--pretrained", help="the transformer arm's Hugging Face model folder (or hub name)")
    args = parser.parse_args(argv)
    if args.encoder != "bilstm" and not args.pretrained:
        parser.error(f"--encoder {args.encoder} needs --pretrained (a Hugging Face model folder)")
    if args.encoder == "bilstm" and args.pretrained:
        parser.error("--pretrained applies to --encoder transformer or both only")
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
    if args.batch_size is None:
        args.batch_size = RECIPE["batch_size"] if args.encoder == "transformer" else BILSTM_BATCH
        args.transformer_batch_size = RECIPE["batch_size"]
    else:
        args.transformer_batch_size = args.batch_size
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


def with_batch_size(args: argparse.Namespace, batch_size: int) -> argparse.Namespace:
    """The flags with another --batch_size (the transformer arm's, beside the BiLSTM arms' under --encoder both)."""
    return argparse.Namespace(**{**vars(args), "batch_size": batch_size})


def bilstm_result(args: argparse.Namespace, data: Dataset) -> dict:
    """Every BiLSTM arm and the profile of the joint step."""
    work = build(args, data)
    times = interleave(arms(args, work), args.reps, args.warmup, args.device)
    parts = interleave(profile_parts(args, work), args.reps, args.warmup, args.device)
    return collect(args, work, times, parts)


def transformer_result(args: argparse.Namespace, data: Dataset) -> dict:
    """The transformer arm's block (bench/transformer.py); a model that cannot be loaded ends the run with one
    line naming --pretrained."""
    try:
        work = build_transformer(args, data)
    except ValueError as error:
        sys.exit(f"bench.py: {error}")
    times = interleave(transformer_arms(work), args.reps, args.warmup, args.device)
    return collect_transformer(args, work, times)


def output_path(args: argparse.Namespace, source: dict) -> str:
    """--json, else the default file, named bench-transformer-... when only the transformer arm ran."""
    if args.json:
        return args.json
    folder, name = os.path.split(default_path(source, args.device))
    return os.path.join(folder, name.replace("bench", "bench-transformer", 1) if args.encoder == "transformer"
                        else name)


def main(argv: list[str] | None = None) -> dict:
    """Run the arms --encoder chooses, print the tables, write the JSON (and --markdown); the results."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    source = provenance()  # the code as it was when the run started
    data = load(args)
    result, tables = {"source": source}, []
    if args.encoder != "transformer":
        result.update(bilstm_result(args, data))
        tables.append(markdown(result))
        print(tables[-1])
        print(json.dumps({"ratios": result["ratios"], "prune_round_ms": result["prune_round_ms"],
                          "limit": result["limit"]}, indent=2))
    if args.encoder != "bilstm":
        result["transformer"] = transformer_result(with_batch_size(args, args.transformer_batch_size), data)
        tables.append(transformer_markdown(result))
        print(tables[-1])
    path = output_path(args, source)
    save(path, result)
    print(f"results: {path}")
    if args.markdown:
        write_text(args.markdown, "\n".join(tables))
    return result


if __name__ == "__main__":
    main()

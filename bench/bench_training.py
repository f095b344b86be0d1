"""Throughput of the training step: dense vs. masked (functional_call) forward, per task and joint.

    python bench/bench_training.py --data_path data/processed/conll03 --batches 200 [--device cuda]

Prints sentences per second for a plain dense step, a masked step (Step 1 / Step 3 path) and evaluation."""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from models import get_model  # noqa: E402
from utils.batching import bucket_batches, collate  # noqa: E402
from utils.dataset import Dataset  # noqa: E402
from utils.masks import full_mask, prunable_names  # noqa: E402
from utils.pruning import prune_global  # noqa: E402
from utils.training import evaluate, make_optimizer, train_step  # noqa: E402


def timed_steps(model, mask, task_id, split, batches, pad, device) -> float:
    """Sentences per second over the given batches."""
    optimizer = make_optimizer("sgd(lr=0.1, momentum=0.9)", model.parameters())
    start, sentences = time.perf_counter(), 0
    for indices in batches:
        train_step(model, mask, task_id, collate(split, indices, pad, device), optimizer, clip_norm=5.0)
        sentences += len(indices)
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    return sentences / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_path", default="data/processed/conll03")
    parser.add_argument("--task_id", type=int, default=2)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch_size", type=int, default=10)
    parser.add_argument("--hidden_size", type=int, default=200)
    parser.add_argument("--n_layer", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    data = Dataset.load(args.data_path)
    task = data.tasks[args.task_id]
    split = task.splits["train"]
    model = get_model("cnn-lstm", data, args.hidden_size, args.n_layer).to(args.device)
    names = prunable_names(model)
    mask = prune_global({n: model.get_parameter(n).detach() for n in names}, full_mask(model, names), 0.5)
    batches = bucket_batches(split.lengths, args.batch_size, torch.Generator().manual_seed(0))[:args.batches]
    pad = data.words.padding_idx
    timed_steps(model, None, args.task_id, split, batches[:10], pad, args.device)
    dense = timed_steps(model, None, args.task_id, split, batches, pad, args.device)
    masked = timed_steps(model, mask, args.task_id, split, batches, pad, args.device)
    start = time.perf_counter()
    evaluate(model, mask, args.task_id, task, "dev", args.batch_size, args.device, pad)
    dev_rate = len(task.splits["dev"]) / (time.perf_counter() - start)
    print(f"device {args.device}, threads {torch.get_num_threads()}, task {task.name}, batch {args.batch_size}")
    print(f"train step, dense:        {dense:8.1f} sentences/s")
    print(f"train step, masked (50%): {masked:8.1f} sentences/s  ({masked / dense:.2f}x dense)")
    print(f"evaluation (dev, masked): {dev_rate:8.1f} sentences/s")
    print(f"one epoch of {len(split):,} sentences at the masked rate: {len(split) / masked:.0f} s")


if __name__ == "__main__":
    main()

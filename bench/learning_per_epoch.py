"""Learning per epoch: dense single-task runs (Step 1 with --pruning_iter 0) per task, batching mode and seed;
the dev score after each epoch as mean ± std over seeds, and seconds per epoch, as a Markdown table.

    python bench/learning_per_epoch.py --data_path data/processed/conll03 --out exp/per_epoch \\
        --tasks 0,2 --batchings original,bucket,random --seeds 1,2,3 --epochs 3

Runs that already finished in --out are read, not re-run, so an interrupted study continues where it stopped."""
import argparse
import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from utils.runs import layout  # noqa: E402


def run_dir(out: str, task: int, batching: str, seed: int) -> str:
    return os.path.join(out, layout.STEP1_TASKS, f"task{task}-{batching}-seed{seed}")


def run_one(args: argparse.Namespace, task: int, batching: str, seed: int) -> dict:
    """Train one dense round (unless done) and return its first Step 1 scores record."""
    folder = run_dir(args.out, task, batching, seed)
    scores = layout.in_folder(folder, layout.SCORES)
    if not os.path.isfile(scores):
        if os.path.isdir(folder):
            subprocess.run(["rm", "-rf", folder], check=True)
        command = [sys.executable, os.path.join(REPO, "train_single.py"), "--data_path", args.data_path,
                   "--task_id", str(task), "--pruning_iter", "0", "--epochs", str(args.epochs), "--seed", str(seed),
                   "--batching", batching, "--save_dir", args.out, "--exp_name", os.path.basename(folder),
                   "--device", args.device]
        print(f"== task {task}, batching {batching}, seed {seed}", flush=True)
        subprocess.run(command, check=True, cwd=REPO)
    with open(scores, encoding="utf-8") as f:
        return json.loads(f.readline())


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def table(records: dict, tasks: list[int], names: dict[int, str], batchings: list[str], epochs: int) -> str:
    """Rows (task, batching); columns dev after epoch 1..E, then seconds per epoch (training + dev)."""
    head = "| task | batching | " + " | ".join(f"epoch {e}" for e in range(1, epochs + 1)) + " | s / epoch |"
    lines = [head, "|" + "---|" * (epochs + 3)]
    for task in tasks:
        for batching in batchings:
            runs = [r for (t, b, _), r in records.items() if t == task and b == batching]
            cells = [mean_std([r["history"][e]["dev"] for r in runs]) for e in range(epochs)]
            seconds = statistics.mean(h["seconds"] for r in runs for h in r["history"])
            lines.append(f"| {names[task]} | {batching} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_path", required=True, help="processed data folder (prepare-data.py)")
    parser.add_argument("--out", required=True, help="folder for the runs and per_epoch.md / per_epoch.json")
    parser.add_argument("--tasks", default="0,2", help="task ids (conll03: 0 pos, 1 chunk, 2 ner)")
    parser.add_argument("--batchings", default="original,bucket,random", help="batching modes to compare")
    parser.add_argument("--seeds", default="1,2,3", help="seeds, one run each")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run")
    parser.add_argument("--device", default="cpu", help="torch device")
    args = parser.parse_args(argv)
    tasks = [int(t) for t in args.tasks.split(",")]
    batchings = args.batchings.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    records = {(t, b, s): run_one(args, t, b, s) for b in batchings for t in tasks for s in seeds}
    with open(os.path.join(args.data_path, "meta.json"), encoding="utf-8") as f:
        names = dict(enumerate(task["name"] for task in json.load(f)["tasks"]))
    markdown = table(records, tasks, names, batchings, args.epochs)
    with open(os.path.join(args.out, "per_epoch.md"), "w", encoding="utf-8") as f:
        f.write(markdown + "\n")
    with open(os.path.join(args.out, "per_epoch.json"), "w", encoding="utf-8") as f:
        json.dump({f"{t}-{b}-{s}": r for (t, b, s), r in records.items()}, f, indent=1)
    print(markdown)


if __name__ == "__main__":
    main()

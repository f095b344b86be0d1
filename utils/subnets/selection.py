"""Step 2: choose one subnet per task (the paper's rule: best dev score, the sparsest among equals, or the rounds
given by hand) and gather the chosen masks and the shared rewind point into the masks folder of Step 3."""
import argparse
import filecmp
import json
import os
import shutil
import sys

import torch

from utils.runs.checkpoint import link_or_copy, load_tensors
from utils.runs import layout


def task_dirs(single_dir: str) -> list[str]:
    """The Step 1 folders <single_dir>/<task_id>, in task-id order (0, 1, 2, ...)."""
    if not os.path.isdir(single_dir):
        raise FileNotFoundError(f"{single_dir}: no Step 1 output (run train_single.py / run_<setting>.sh single)")
    ids = sorted(int(d) for d in os.listdir(single_dir) if d.isdigit())
    if ids != list(range(len(ids))) or not ids:
        raise FileNotFoundError(f"{single_dir}: expected task folders 0..T-1, found {ids or 'none'}")
    return [os.path.join(single_dir, str(i)) for i in ids]


def read_scores(directory: str) -> list[dict]:
    """The rounds recorded in a task folder's scores.jsonl."""
    path = os.path.join(directory, layout.SCORES)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: missing (did Step 1 finish for this task?)")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def choose_round(records: list[dict], tolerance: float = 0.0) -> dict:
    """The round with the best dev score; among rounds within `tolerance` of it, the one keeping the fewest
    weights. Test scores play no part."""
    best = max(r["dev"] for r in records)
    tied = [r for r in records if r["dev"] >= best - tolerance]
    return min(tied, key=lambda r: (r["kept"], r["round"]))


def mask_file(directory: str, round_: int) -> str:
    """The `<round>_<kept>.th` mask file of a round."""
    found = layout.round_masks(directory)
    if round_ not in found:
        raise FileNotFoundError(f"{directory}: no mask of round {round_}")
    return found[round_]


def same_rewind_point(paths: list[str]) -> None:
    """All tasks must share one rewind point, or their subnets' overlapping weights would not be shared."""
    reference = load_tensors(paths[0])
    for path in paths[1:]:
        other = load_tensors(path)
        if set(other) != set(reference) or any(not torch.equal(reference[k], other[k]) for k in reference):
            raise ValueError(f"{path} differs from {paths[0]}: the tasks were not pruned from the same rewind "
                             f"point (same --seed, data and --init_weights)")


class SelectionExists(ValueError):
    """The masks folder holds a different choice of subnets, and replacing it was not asked for."""


def describe(chosen: list[dict]) -> str:
    """A choice in one phrase, e.g. "pos round 3, ner round 5"."""
    return ", ".join(f"{c['task']} round {c['round']}" for c in chosen)


def same_selection(out_dir: str, chosen: list[dict], init: str) -> bool | None:
    """Whether <out_dir> holds exactly this choice (same tasks, rounds and mask and rewind-point files);
    None when it holds no selection."""
    path = os.path.join(out_dir, layout.SELECTION)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        old = json.load(f).get("chosen", [])
    if [(c.get("task_id"), c.get("task"), c.get("round")) for c in old] != \
            [(c["task_id"], c["task"], c["round"]) for c in chosen]:
        return False
    pairs = [(c["source"], os.path.join(out_dir, layout.task_mask(c["task_id"]))) for c in chosen]
    pairs.append((init, os.path.join(out_dir, layout.INIT)))
    return all(os.path.isfile(b) and filecmp.cmp(a, b, shallow=False) for a, b in pairs)


def prepare_masks(single_dir: str, out_dir: str, rounds: list[int] | None = None, tolerance: float = 0.0,
                  overwrite: bool = False) -> list[dict]:
    """Copy the chosen round's mask of each task to <out_dir>/<task_id>.th and the rewind point to
    <out_dir>/init_weights.th; record the choice in selection.json. Returns the chosen rows. A different choice
    already in <out_dir> is replaced only with `overwrite` (SelectionExists otherwise): Step 3 runs started from
    it keep their own copies, but a run started later would silently train other subnets."""
    dirs = task_dirs(single_dir)
    if rounds is not None and len(rounds) != len(dirs):
        raise ValueError(f"{len(rounds)} rounds given for {len(dirs)} tasks in {single_dir}")
    for directory in dirs:
        if not os.path.isfile(os.path.join(directory, layout.COMPLETE)):
            raise ValueError(f"{directory}: Step 1 has not finished (no complete.json): resume it (re-run the same "
                             f"command; train_single.py --resume) before choosing its subnet")
    same_rewind_point([os.path.join(d, layout.INIT) for d in dirs])
    chosen = []
    for i, directory in enumerate(dirs):
        records = read_scores(directory)
        if rounds is None:
            row = choose_round(records, tolerance)
        else:
            row = next((r for r in records if r["round"] == rounds[i]), None)
            if row is None:
                raise ValueError(f"{directory}: round {rounds[i]} does not exist (rounds: {[r['round'] for r in records]})")
        with open(os.path.join(directory, layout.CONFIG), encoding="utf-8") as f:
            task = json.load(f)["task"]
        chosen.append({"task_id": i, "task": task, **row, "source": mask_file(directory, row["round"])})
    init = os.path.join(dirs[0], layout.INIT)
    if same_selection(out_dir, chosen, init) is False and not overwrite:
        with open(os.path.join(out_dir, layout.SELECTION), encoding="utf-8") as f:
            old = json.load(f).get("chosen", [])
        raise SelectionExists(f"{out_dir} holds another choice of subnets ({describe(old)}) than this one "
                              f"({describe(chosen)}, from {single_dir}): pass --overwrite (OVERWRITE=1 for "
                              f"run_<setting>.sh) to replace it, or write to another folder (--out_dir, MASK_DIR)")
    os.makedirs(out_dir, exist_ok=True)
    for row in chosen:
        shutil.copyfile(row["source"], os.path.join(out_dir, layout.task_mask(row["task_id"])))
    link_or_copy(init, os.path.join(out_dir, layout.INIT))
    tmp = os.path.join(out_dir, f".{layout.SELECTION}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"rule": "manual" if rounds is not None else "best dev, sparsest among ties",
                   "single_dir": single_dir, "chosen": chosen}, f, indent=2)
    os.replace(tmp, os.path.join(out_dir, layout.SELECTION))
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single_dir", required=True, help="Step 1 output: folder of <task_id>/ folders")
    parser.add_argument("--out_dir", required=True, help="masks folder for train_mtl.py --masks_path")
    parser.add_argument("--rounds", nargs="*", type=int, default=None, help="one round per task (default: automatic choice)")
    parser.add_argument("--tolerance", type=float, default=0.0, help="dev scores within this many points count as equal")
    parser.add_argument("--overwrite", action="store_true", help="replace a different choice already in --out_dir")
    args = parser.parse_args(argv)
    try:
        chosen = prepare_masks(args.single_dir, args.out_dir, args.rounds or None, args.tolerance, args.overwrite)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"{'task':<8}{'round':>6}{'kept %':>9}{'dev':>8}")
    for row in chosen:
        print(f"{row['task']:<8}{row['round']:>6}{row['kept']:>9.2f}{row['dev']:>8.2f}")
    print(f"masks and rewind point written to {args.out_dir}")


if __name__ == "__main__":
    main()

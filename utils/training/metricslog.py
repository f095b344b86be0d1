"""metrics.jsonl: one JSON record per trained epoch of a run folder (a Step 1 task folder or a joint run), for
learning curves. It is rewritten whole from the run's own history after every epoch, so a resumed run never
records an epoch twice."""
import json
import os

from utils.runs.checkpoint import write_jsonl
from utils.subnets.masks import Mask, kept_fraction
from utils.runs.layout import METRICS


def step1_metrics(task: str, rounds: list[dict], current_round: int, mask: Mask, training: dict | None) -> list[dict]:
    """Step 1's records: every epoch of the finished `rounds` (scores.jsonl rows with their "history"), then those
    of the round in progress (`training`: its saved training state, None between rounds)."""
    def records(round_: int, kept: float, history: list[dict]) -> list[dict]:
        return [{"stage": "step1", "task": task, "round": round_, "kept": kept, "epoch": h["epoch"],
                 "dev": {task: h["dev"]}, "loss": h["loss"], "seconds": h["seconds"]} for h in history]

    lines = [line for r in rounds for line in records(r["round"], r["kept"], r.get("history", []))]
    if training is not None:
        lines += records(current_round, round(100.0 * kept_fraction(mask), 4), training["history"])
    return lines


def step1_history(history: list[dict], task: str) -> list[dict]:
    """A one-task joint run's epochs as Step 1 records them (scores.jsonl, metrics.jsonl): the task's dev score."""
    return [{"epoch": h["epoch"], "dev": h["dev"][task], "loss": h["loss"], "seconds": round(h["seconds"], 2)}
            for h in history]


def joint_metrics(system: str, history: list[dict]) -> list[dict]:
    """Joint training's records (Step 3, a warmup or a baseline): per epoch every task's dev score and their
    average, the mean loss, seconds, and whether the epoch became the selected one so far."""
    return [{"stage": "joint", "system": system, "tasks": list(h["dev"]), "epoch": h["epoch"], "dev": h["dev"],
             "dev_average": h["average"], "loss": h["loss"], "seconds": round(h["seconds"], 2),
             "best": h["improved"]} for h in history]


def write_metrics(out_dir: str, records: list[dict]) -> None:
    """Replace <out_dir>/metrics.jsonl with `records` (atomically)."""
    write_jsonl(os.path.join(out_dir, METRICS), records)


def read_metrics(path: str) -> list[dict]:
    """The records of a metrics.jsonl; a line that is not JSON is a ValueError naming path:line."""
    return [record for _, record in numbered_records(path)]


def numbered_records(path: str) -> list[tuple[int, object]]:
    """(line number, value) of every non-blank line of a JSON-lines file (metrics.jsonl, scores.jsonl); a line
    that is not JSON is a ValueError naming path:line."""
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append((number, json.loads(line)))
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from None
    return records

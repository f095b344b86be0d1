"""The finder table (`report.py SETTING --finders NAME [NAME ...]`): one row per named run, each trained with one
mask finder (FINDER) through `run_<setting>.sh all`: Step 1's cost (task-epochs, optimiser steps in thousands and
minutes, summed over its tasks and rounds, a finder's own scoring pass included), the kept % Step 2 chose per task,
sparse sharing's test score per task and their average, # Params and the all-task mask overlap, as mean ± std over
the run's seeds; and, per finder, the issue's claim against the imp run: a Step 1 at ≤ 1/5 of IMP's cost whose
sparse-sharing average test score is not below IMP's by more than one standard deviation."""
import os

from utils.report.files import field, read_object
from utils.report.read import read_joint, read_rounds, read_selection, step1_task_dirs
from utils.report.runs import task_metrics
from utils.report.seeds import SeedTable, stat
from utils.report.tables import ordered_tasks, task_label
from utils.runs import layout


CLAIM_COST = 1 / 5   # the claim's share of IMP's Step 1 cost (task-epochs)


def run_label(name: str, finder: str) -> str:
    """A row's first cell: the run's name and its finder."""
    return f"{name} ({finder})"


def finder_of(run: layout.Run) -> str | None:
    """The --finder of the run's Step 1 (imp for runs from before finders), None when it has no Step 1."""
    for _, folder in step1_task_dirs(run.step1_tasks()) if os.path.isdir(run.step1_tasks()) else []:
        config = layout.in_folder(folder, layout.CONFIG)
        pruning = field(config, read_object(config), "pruning", dict, required=False) or {}
        return pruning.get("finder", "imp")
    return None


def seed_values(run: layout.Run) -> dict[str, float] | None:
    """One seed's numbers (column key -> value), None when its Step 3 has not finished."""
    results = layout.in_folder(run.step3(), layout.RESULTS)
    if not os.path.isfile(results):
        return None
    values = {"task_epochs": 0.0, "steps": 0.0, "minutes": 0.0}
    for _, folder in step1_task_dirs(run.step1_tasks()):
        for record in read_rounds(layout.in_folder(folder, layout.SCORES)):
            for cost in (record, record.get("scoring") or {}):   # a finder's own pass (movement's), if any
                values["task_epochs"] += cost.get("epochs", 0)
                values["steps"] += cost.get("steps", 0)
                values["minutes"] += cost.get("seconds", 0.0) / 60.0
    for choice in read_selection(run.masks()) or []:
        values[f"kept:{choice['task']}"] = choice["kept"]
    results = read_joint(run.step3()).results
    scores = {task: row["test"] for task, row in results["tasks"].items() if row.get("test") is not None}
    values.update({f"test:{task}": score for task, score in scores.items()})
    if scores:
        values["average"] = sum(scores.values()) / len(scores)
    if results.get("params") is not None:
        values["params"] = results["params"]
    if (results.get("overlap") or {}).get("all") is not None:
        values["overlap"] = results["overlap"]["all"]
    return values


def finder_table(exp_dir: str, names: list[str]) -> tuple[SeedTable, list[str]]:
    """The table over the named runs, and a line per run or seed that is missing."""
    per_run, missing, tasks, metrics = {}, [], [], {}
    for name in names:
        run = layout.run(exp_dir, name)
        runs = [r for _, r in run.seeds()] or [run]
        found = [v for v in (seed_values(r) for r in runs) if v is not None]
        missing += [f"- {name}: {len(runs) - len(found)} of {len(runs)} seed(s) without a finished Step 3"
                    ] if len(found) < len(runs) else []
        if found:
            per_run[name] = (finder_of(runs[0]) or "?", found, len(runs))
            tasks = tasks or ordered_tasks(k.split(":", 1)[1] for k in found[0] if k.startswith("test:"))
            metrics = metrics or task_metrics(runs[0])
    columns = [("Run (finder)", "run", "text"), ("Task-epochs", "task_epochs", "score"),
               ("Steps", "steps", "params"), ("Minutes", "minutes", "score")]
    columns += [(f"Kept % {t}", f"kept:{t}", "score") for t in tasks]
    columns += [(task_label(t, metrics), f"test:{t}", "score") for t in tasks]
    columns += [("Average", "average", "score"), ("# Params", "params", "params"), ("Overlap", "overlap", "ratio")]
    rows, seeds = [], 1
    for name, (finder, found, n) in per_run.items():
        seeds = max(seeds, n)
        rows.append([run_label(name, finder)] + [stat([v[key] for v in found if key in v]) for _, key, _ in columns[1:]])
    return SeedTable(columns, rows, seeds), missing


def claim_lines(table: SeedTable) -> list[str]:
    """Per row other than the first imp run's: its Step 1 cost as a share of IMP's (task-epochs, and minutes), its
    average's difference from IMP's, and whether the claim holds: cost ≤ CLAIM_COST and the average not below IMP's
    by more than IMP's standard deviation over seeds (above it counts; undecided without a std)."""
    keys = [key for _, key, _ in table.columns]
    rows = [dict(zip(keys, row)) for row in table.rows]
    imp = next((row for row in rows if row["run"].endswith(run_label("", "imp"))), None)
    if imp is None or imp["task_epochs"] is None or imp["average"] is None:
        return ["claim: no finished imp run among the named runs to compare with"] if len(rows) > 1 else []
    lines = [f"claim (Step 1 at ≤ 1/{round(1 / CLAIM_COST)} of IMP's cost, average within one std of IMP's "
             f"{imp['average'].mean:.2f}" + (f" ± {imp['average'].std:.2f}" if imp["average"].std is not None else "")
             + "):"]
    for row in rows:
        if row is imp or row["task_epochs"] is None or row["average"] is None:
            continue
        cost = row["task_epochs"].mean / imp["task_epochs"].mean
        minutes = row["minutes"].mean / imp["minutes"].mean if row["minutes"] and imp["minutes"] else None
        gap = row["average"].mean - imp["average"].mean
        spread = imp["average"].std
        side = None if spread is None else ("within one std" if abs(gap) <= spread else
                                            "above by more than one std" if gap > 0 else "below by more than one std")
        holds = "undecided (IMP has one seed)" if side is None else (
            "holds" if cost <= CLAIM_COST and gap >= -spread else "does not hold")
        lines.append(f"- {row['run']}: cost {cost:.2f} × IMP's in task-epochs"
                     + (f" ({minutes:.2f} × in minutes)" if minutes is not None else "")
                     + f", average {gap:+.2f}"
                     + ("" if side is None else f" ({side})")
                     + f": {holds}")
    return lines

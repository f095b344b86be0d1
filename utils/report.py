"""The paper's tables and figures from the runs under exp/<setting>/ (the layout of utils/pipeline.sh): main table,
MTW ablation, mask overlap against the gain of sparse over hard sharing, negative transfer, Step 1's dev score
against kept %, learning curves. A run that is not there is shown as missing and listed, never filled in.
Tasks appear in the data's order (their task ids), as in the training logs."""
import csv
import itertools
import json
import os
import re
from dataclasses import dataclass, field


from utils.checkpoint import load_tensors
from utils.dataset import TASK_METRICS
from utils.masks import Mask, load_mask, overlap_ratio
from utils.metricslog import METRICS_FILE, read_metrics
from utils.params import encoder_params
from utils.selection import read_scores

TASK_NAMES = {"pos": "POS", "ner": "NER", "chunk": "Chunk", "pp": "PP"}
DEFAULT_TASKS = ("pos", "chunk", "ner")
RUN_FOLDERS = ("mtl", "baselines")  # joint runs; warmup/ holds hard-sharing runs too, but they are no table row
JOINT_SYSTEMS = {"Hard sharing": "hard sharing", "Soft sharing": "soft sharing",
                 "Hierarchical sharing": "hierarchical sharing", "Sparse sharing": "sparse sharing"}
NOMTW_SYSTEM = "sparse sharing (no MTW)"
MISSING = "—"
KEPT_TICKS = (100, 50, 30, 20, 10, 5)  # kept-% ticks of the figure's log axis


@dataclass
class Row:
    """One system: its test score per task and encoder parameters; `source` None means the run is missing."""

    system: str
    scores: dict[str, float] = field(default_factory=dict)
    params: int | None = None
    source: str | None = None
    note: str = ""


@dataclass
class Run:
    """A finished joint run: its results.json (path relative to the runs folder) and modification time."""

    path: str
    results: dict
    mtime: float


@dataclass
class Step1Task:
    """One task folder of a Step 1 output: its rounds (scores.jsonl) and one dense encoder's parameter count."""

    task: str
    records: list[dict]
    dense_params: int


@dataclass
class Table:
    """Columns as (Markdown header, CSV header, kind) and rows of raw values (None = missing)."""

    columns: list[tuple[str, str, str]]
    rows: list[list] = field(default_factory=list)

    def markdown(self) -> str:
        """A Markdown table, numbers formatted by column kind, missing cells as "—"."""
        lines = ["| " + " | ".join(h for h, _, _ in self.columns) + " |",
                 "|" + "|".join("---" if kind == "text" else "---:" for _, _, kind in self.columns) + "|"]
        for row in self.rows:
            lines.append("| " + " | ".join(format_cell(v, kind) for v, (_, _, kind) in zip(row, self.columns)) + " |")
        return "\n".join(lines)

    def write_csv(self, path: str) -> None:
        """The raw values, rounded to 4 decimals, missing cells empty."""
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([key for _, key, _ in self.columns])
            for row in self.rows:
                writer.writerow(["" if v is None else round(v, 4) if isinstance(v, float) else v for v in row])


def format_cell(value, kind: str) -> str:
    """Markdown text of a cell: scores with 2 decimals, Δ's signed, parameters in thousands, ratios with 3."""
    if value is None:
        return MISSING
    if kind == "score":
        return f"{value:.2f}"
    if kind == "delta":
        return f"{value:+.2f}"
    if kind == "params":
        return f"{value / 1000:.0f}k"
    if kind == "ratio":
        return f"{value:.3f}"
    return str(value)


def read_json(path: str) -> dict:
    """A JSON file, or a one-line error naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def ordered_tasks(names) -> list[str]:
    """Task names once each, in the order first given (the data's task order when read from runs)."""
    return list(dict.fromkeys(names))


def task_label(task: str, metrics: dict[str, str]) -> str:
    """A column header naming the task and its metric, e.g. "NER F1" or "pos acc"."""
    metric = metrics.get(task, TASK_METRICS.get(task, "acc"))
    return f"{TASK_NAMES.get(task, task)} {'acc' if metric == 'acc' else 'F1'}"


def run_metrics(exp_dir: str) -> dict[str, str]:
    """Each task's metric as the data snapshots of the runs under exp_dir record it (<run>/data/meta.json)."""
    metrics: dict[str, str] = {}
    for folder, dirs, files in os.walk(exp_dir):
        if os.path.basename(folder) == "data" and "meta.json" in files:
            for spec in read_json(os.path.join(folder, "meta.json")).get("tasks", []):
                metrics.setdefault(spec.get("name"), spec.get("metric"))
            dirs.clear()
    return metrics


def read_step1(cp_dir: str) -> list[Step1Task]:
    """Every task folder <cp_dir>/<task_id>/ that holds config.json and init_weights.th, by task id; the rounds of
    a Step 1 that has not finished (no complete.json) are left out, so its rows show as missing."""
    if not os.path.isdir(cp_dir):
        return []
    tasks = []
    for name in sorted((d for d in os.listdir(cp_dir) if d.isdigit()), key=int):
        folder = os.path.join(cp_dir, name)
        config, init = os.path.join(folder, "config.json"), os.path.join(folder, "init_weights.th")
        if os.path.isfile(config) and os.path.isfile(init):
            finished = os.path.isfile(os.path.join(folder, "complete.json"))
            records = read_scores(folder) if finished and os.path.isfile(os.path.join(folder, "scores.jsonl")) else []
            tasks.append(Step1Task(read_json(config)["task"], records, encoder_params(load_tensors(init))))
    return tasks


def test_score(record: dict, score_key: str = "test") -> float | None:
    """A record's test score: `score_key` ("test", or "test_lenient" for the original's Step 1 span decoders),
    the plain test score for tasks that have no such field (token accuracy is the same either way)."""
    return record.get(score_key, record.get("test"))


def single_task_row(exp_dir: str, cp_rel: str, system: str = "Single task", score_key: str = "test") -> Row:
    """Round 0 of a Step 1 run from θ(0): a dense model per task, trained alone. # Params: Σ over the tasks of
    one dense encoder."""
    tasks = read_step1(os.path.join(exp_dir, cp_rel))
    scores = {t.task: test_score(r, score_key) for t in tasks for r in t.records if r["round"] == 0}
    if not scores:
        return Row(system)
    return Row(system, scores, sum(t.dense_params for t in tasks), f"{cp_rel}/*/scores.jsonl, round 0",
               "# Params: Σ over tasks of one dense encoder (tensors of init_weights.th)")


def subnet_row(exp_dir: str, mask_rel: str = "mtl/mask", score_key: str = "test") -> Row:
    """The Step 1 rounds Step 2 chose, each subnet trained alone from the rewind point. # Params: Σ over the tasks
    of the subnet's kept weights plus the encoder's unmasked tensors (biases)."""
    mask_dir = os.path.join(exp_dir, mask_rel)
    selection = os.path.join(mask_dir, "selection.json")
    if not os.path.isfile(selection):
        return Row("Single task (subnet)")
    chosen = read_json(selection)["chosen"]
    state = load_tensors(os.path.join(mask_dir, "init_weights.th"))
    params = sum(encoder_params(state, [load_mask(os.path.join(mask_dir, f"{c['task_id']}.th"))["mask"]]) for c in chosen)
    kept = ", ".join(f"{c['task']} round {c['round']} ({c['kept']:.2f}% kept)" for c in chosen)
    return Row("Single task (subnet)", {c["task"]: test_score(c, score_key) for c in chosen}, params,
               f"{mask_rel}/selection.json", f"{kept}; # Params: Σ of kept weights + biases")


def find_runs(exp_dir: str, folders: tuple[str, ...] = RUN_FOLDERS) -> tuple[dict[str, list[Run]], list[str]]:
    """Finished joint runs (results.json in <exp_dir>/<folder>/*/) by lower-cased system label, newest first,
    and a line for each run skipped: a folder with config.json but no results.json (unfinished or failed), or a
    results.json without a "system" label."""
    runs: dict[str, list[Run]] = {}
    skipped = []
    for top in folders:
        root = os.path.join(exp_dir, top)
        for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            path = os.path.join(root, name, "results.json")
            if os.path.isfile(path):
                results = read_json(path)
                if "system" not in results:
                    skipped.append(f"{top}/{name}/results.json: no \"system\" label, so no table row")
                    continue
                runs.setdefault(results["system"].lower(), []).append(
                    Run(f"{top}/{name}/results.json", results, os.path.getmtime(path)))
            elif os.path.isfile(os.path.join(root, name, "config.json")):
                skipped.append(f"{top}/{name}: unfinished (no results.json)")
    for found in runs.values():
        found.sort(key=lambda r: (r.mtime, r.path), reverse=True)
    return runs, skipped


def joint_row(system: str, runs: dict[str, list[Run]], label: str, score_key: str = "test") -> Row:
    """The newest run whose results.json "system" is `label`; its test scores and "params"."""
    found = runs.get(label.lower(), [])
    if not found:
        return Row(system)
    run = found[0]
    scores = {name: test_score(r, score_key) for name, r in run.results.get("tasks", {}).items()
              if r.get("test") is not None}
    note = f"newest of {len(found)} (also {', '.join(r.path for r in found[1:])})" if len(found) > 1 else ""
    return Row(system, scores, run.results.get("params"), run.path, note)


def delta(row: Row, base: Row, task: str) -> float | None:
    """Test score of `row` minus that of `base` on `task`; None when either is missing."""
    if task in row.scores and task in base.scores and row is not base:
        return row.scores[task] - base.scores[task]
    return None


def score_table(rows: list[Row], tasks: list[str], base: Row | None, metrics: dict[str, str] | None = None) -> Table:
    """Rows of test scores per task (each with its Δ against `base` when given) and # Params."""
    columns = [("System", "system", "text")]
    for task in tasks:
        columns.append((task_label(task, metrics or {}), task, "score"))
        if base is not None:
            columns.append(("Δ", f"{task}_delta", "delta"))
    columns.append(("# Params", "params", "params"))
    table = Table(columns)
    for row in rows:
        cells = [row.system]
        for task in tasks:
            cells.append(row.scores.get(task))
            if base is not None:
                cells.append(delta(row, base, task))
        table.rows.append(cells + [row.params])
    return table


def read_masks(mask_dir: str) -> dict[str, Mask]:
    """The chosen masks of a Step 2 folder (<task_id>.th) by task name; {} if the folder is absent."""
    if not os.path.isdir(mask_dir):
        return {}
    masks = {}
    for task_id in sorted(int(f[:-3]) for f in os.listdir(mask_dir) if f.endswith(".th") and f[:-3].isdigit()):
        record = load_mask(os.path.join(mask_dir, f"{task_id}.th"))
        masks[record["task"]] = record["mask"]
    return masks


def average(row: Row, tasks: tuple[str, ...]) -> float | None:
    """Mean test score of `tasks` in `row`; None unless all are there."""
    if not all(t in row.scores for t in tasks):
        return None
    return sum(row.scores[t] for t in tasks) / len(tasks)


def overlap_table(masks: dict[str, Mask], sparse: Row, hard: Row, tasks: list[str]) -> Table:
    """Per pair of tasks and for all of them: the mask overlap ratio ‖∩ M‖₀ / ‖∪ M‖₀ and the gain Δ(S² − HS),
    the average test score of those tasks under sparse sharing minus under hard sharing (the paper's Table 7)."""
    table = Table([("Tasks", "tasks", "text"), ("Overlap ratio", "overlap", "ratio"), ("Sparse avg", "sparse", "score"),
                   ("Hard avg", "hard", "score"), ("Δ(S² − HS)", "gain", "delta")])
    groups = [(" & ".join(pair), pair) for pair in itertools.combinations(tasks, 2)]
    groups += [("all", tuple(tasks))] if len(tasks) > 2 else []
    for name, group in groups:
        ratio = overlap_ratio([masks[t] for t in group]) if all(t in masks for t in group) else None
        s, h = average(sparse, group), average(hard, group)
        table.rows.append([name, ratio, s, h, None if s is None or h is None else s - h])
    return table


def row_tasks(rows: list[Row], default: tuple[str, ...]) -> list[str]:
    """The tasks any of the rows scores, in the order the rows give them (the data's); `default` when none has any."""
    return ordered_tasks([t for row in rows for t in row.scores] or default)


def source_lines(rows: list[Row]) -> list[str]:
    """A Markdown bullet per present row naming its files (and notes such as which of several runs)."""
    lines = []
    for row in rows:
        if row.source:
            lines.append(f"- {row.system}: `{row.source}`" + (f"; {row.note}" if row.note else ""))
    return lines


def missing_lines(rows: list[Row], tasks: list[str], hint: str) -> list[str]:
    """A Markdown bullet per missing row, and per present row lacking a task's score."""
    lines = []
    for row in rows:
        if row.source is None:
            lines.append(f"- {row.system}: no run found ({hint})")
        else:
            lines += [f"- {row.system}: no {t} score in `{row.source}`" for t in tasks if t not in row.scores]
    return lines


def plot_kept_vs_dev(exp_dir: str, path: str, metrics: dict[str, str]) -> bool:
    """Dev score against kept % per task from Step 1 (single/cp, and single-nomtw/cp if present), the chosen
    rounds starred; False (no file) when no Step 1 has recorded a round."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    arms = {"MTW": ("single/cp", "mtl/mask"), "no MTW": ("single-nomtw/cp", "mtl/mask-nomtw")}
    curves = {label: (read_step1(os.path.join(exp_dir, cp)), chosen_rounds(os.path.join(exp_dir, mask, "selection.json")))
              for label, (cp, mask) in arms.items()}
    tasks = ordered_tasks(t.task for found, _ in curves.values() for t in found if t.records)
    if not tasks:
        return False
    figure = Figure(figsize=(4.2 * len(tasks), 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    for ax, task in zip(figure.subplots(1, len(tasks), squeeze=False)[0], tasks):
        for (label, (found, chosen)), style in zip(curves.items(), ("o-", "s--")):
            for step1 in (t for t in found if t.task == task and t.records):
                plot_curve(ax, step1.records, chosen.get(task), style, label)
        format_axes(ax, task, metrics)
    figure.savefig(path, dpi=120)
    return True


def plot_curve(ax, records: list[dict], chosen: int | None, style: str, label: str) -> None:
    """One Step 1 run of one task: dev against kept % over the rounds, a star on the chosen round."""
    records = sorted(records, key=lambda r: r["round"])
    line, = ax.plot([r["kept"] for r in records], [r["dev"] for r in records], style, label=label)
    for r in (r for r in records if r["round"] == chosen):
        ax.plot(r["kept"], r["dev"], "*", markersize=14, color=line.get_color())


def format_axes(ax, task: str, metrics: dict[str, str]) -> None:
    """Kept % on a log axis, decreasing to the right as pruning proceeds, with plain tick labels."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    limits = ax.get_xlim()
    ax.set_xticks(KEPT_TICKS, [f"{k:g}" for k in KEPT_TICKS])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(max(limits), min(limits))
    ax.set_xlabel("kept % of prunable weights")
    ax.set_ylabel(f"dev {task_label(task, metrics)}")
    ax.set_title(task)
    ax.legend(title="★ chosen subnet", fontsize="small")


def chosen_rounds(selection: str) -> dict[str, int]:
    """The round Step 2 chose per task ({} if the selection.json is absent)."""
    if not os.path.isfile(selection):
        return {}
    return {c["task"]: c["round"] for c in read_json(selection)["chosen"]}


def find_metrics(exp_dir: str) -> list[tuple[str, list[dict]]]:
    """Every metrics.jsonl under exp_dir (the report folder aside) as (folder relative to exp_dir, records)."""
    found = []
    for folder, dirs, files in os.walk(exp_dir):
        dirs[:] = sorted(d for d in dirs if d not in ("report", "data", "log"))
        if METRICS_FILE in files:
            records = read_metrics(os.path.join(folder, METRICS_FILE))
            if records:
                found.append((os.path.relpath(folder, exp_dir), records))
    return found


def curve(records: list[dict], task: str) -> tuple[list[int], list[float], list[int]]:
    """A run's dev score of `task` per epoch, Step 1's rounds one after another (x counts every epoch trained),
    and the indices where a Step 1 round starts."""
    points = sorted((r for r in records if task in r.get("dev", {})), key=lambda r: (r.get("round", 0), r["epoch"]))
    starts = [i for i, r in enumerate(points) if r.get("stage") == "step1" and r["epoch"] == 1]
    return list(range(1, len(points) + 1)), [r["dev"][task] for r in points], starts


def plot_learning_curves(exp_dir: str, path: str, metrics: dict[str, str]) -> list[str]:
    """Dev score per epoch, one panel per task and one line per run (a Step 1 task folder: all its rounds in a
    row, a dot where each round starts); returns the folders plotted ([] and no file when none has metrics.jsonl)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = find_metrics(exp_dir)
    tasks = ordered_tasks(t for _, records in runs for r in records for t in r.get("dev", {}))
    if not tasks:
        return []
    figure = Figure(figsize=(4.2 * len(tasks), 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    for ax, task in zip(figure.subplots(1, len(tasks), squeeze=False)[0], tasks):
        for folder, records in runs:
            x, y, starts = curve(records, task)
            if x:
                line, = ax.plot(x, y, "-", label=folder)
                ax.plot([x[i] for i in starts], [y[i] for i in starts], ".", color=line.get_color())
        ax.set_xlabel("epoch (Step 1: rounds in a row)")
        ax.set_ylabel(f"dev {task_label(task, metrics)}")
        ax.set_title(task)
        ax.legend(fontsize="x-small")
    figure.savefig(path, dpi=120)
    return [folder for folder, _ in runs]


def compare_run(exp_dir: str, name: str) -> str:
    """The closing table of run_<setting>.sh all: per task (data order) the test score of Step 1's dense round 0,
    of the subnet Step 2 chose (trained alone), of joint training in mtl/<name>, and joint − dense."""
    results_path = os.path.join(exp_dir, "mtl", name, "results.json")
    if not os.path.isfile(results_path):
        raise FileNotFoundError(f"{results_path}: no finished Step 3 run {name!r} (run_<setting>.sh mtl or all)")
    joint = read_json(results_path)["tasks"]
    step1 = {t.task: t.records for t in read_step1(os.path.join(exp_dir, "single", "cp"))}
    selection = os.path.join(exp_dir, "mtl", "mask", "selection.json")
    chosen = {c["task"]: c for c in read_json(selection)["chosen"]} if os.path.isfile(selection) else {}
    metrics = run_metrics(os.path.join(exp_dir, "mtl", name))
    table = Table([("Task", "task", "text"), ("Single task (Step 1 round 0)", "dense", "score"),
                   ("Subnet alone (Step 1)", "subnet", "score"), ("Kept %", "kept", "score"),
                   ("Sparse sharing (Step 3)", "joint", "score"), ("Δ joint − single", "delta", "delta")])
    for task, row in joint.items():
        dense = next((r["test"] for r in step1.get(task, []) if r["round"] == 0), None)
        subnet = chosen.get(task, {})
        table.rows.append([task_label(task, metrics), dense, subnet.get("test"), row.get("kept"), row["test"],
                           None if dense is None else row["test"] - dense])
    return (f"Test scores, run mtl/{name} (selected on dev); Step 1 here starts from the warmup weights:\n"
            + table.markdown())


def negative_section(exp_dir: str, score_key: str = "test") -> tuple[list[str], list[str], Table | None]:
    """Markdown lines, missing-run lines and the table of the negative-transfer runs under <exp_dir>/negative
    (single task = Step 1 round 0, hard and sparse sharing); nothing when that folder is absent."""
    if not os.path.isdir(os.path.join(exp_dir, "negative")):
        return [], ["- Negative transfer: not run (`bash run_conll03.sh negative`)"], None
    runs, skipped = find_runs(exp_dir, tuple(f"negative/{top}" for top in RUN_FOLDERS))
    single = single_task_row(exp_dir, "negative/single/cp", score_key=score_key)
    rows = [single, *(joint_row(system, runs, system.lower(), score_key)
                      for system in ("Hard sharing", "Sparse sharing"))]
    tasks = row_tasks(rows, ("ner", "pp"))
    table = score_table(rows, tasks, single, run_metrics(os.path.join(exp_dir, "negative")))
    lines = ["## Negative transfer: NER + position prediction (test)", "",
             "Δ = system − single task. The paper: single 71.05 / 99.21, hard 61.62 / 99.50, sparse 71.46 / 99.45 "
             "(NER / PP).", "", table.markdown(), "", *source_lines(rows), ""]
    missing = missing_lines(rows, tasks, "`bash run_conll03.sh negative`")
    missing = [m.replace("- ", "- Negative transfer, ", 1) for m in missing]
    return lines, missing + [f"- {line}" for line in skipped], table


@dataclass
class Collected:
    """What one runs folder gives the report: its tables, rows, negative-transfer lines and missing-run lines
    (those before the figures' and the negative transfer's own, in the report's order)."""

    tables: dict[str, Table]
    rows: list[Row]
    neg_lines: list[str]
    missing: list[str]
    neg_missing: list[str]


def collect(exp_dir: str, setting: str, score_key: str = "test") -> Collected:
    """The tables of one runs folder (main, mtw, overlap and, when run, negative), scored by `score_key`."""
    runs, skipped = find_runs(exp_dir)
    single = single_task_row(exp_dir, "single-nomtw/cp", score_key=score_key)
    joint = {system: joint_row(system, runs, label, score_key) for system, label in JOINT_SYSTEMS.items()}
    rows = [single, subnet_row(exp_dir, score_key=score_key), *joint.values()]
    sparse, hard = joint["Sparse sharing"], joint["Hard sharing"]
    nomtw = joint_row("Sparse sharing (no MTW)", runs, NOMTW_SYSTEM, score_key)
    tasks = row_tasks(rows + [nomtw], DEFAULT_TASKS)
    masks = read_masks(os.path.join(exp_dir, "mtl", "mask"))
    metrics = run_metrics(exp_dir)
    tables = {"main": score_table(rows, tasks, single, metrics),
              "mtw": score_table([nomtw, Row("Sparse sharing (MTW)", sparse.scores, sparse.params, sparse.source)],
                                 tasks, nomtw, metrics),
              "overlap": overlap_table(masks, sparse, hard, ordered_tasks(masks) or tasks)}
    neg_lines, neg_missing, neg_table = negative_section(exp_dir, score_key)
    if neg_table is not None:
        tables["negative"] = neg_table
    missing = (missing_lines(rows + [nomtw], tasks, f"`bash run_{setting}.sh baselines`")
               + ([] if masks else ["- Mask overlap: no masks in `mtl/mask/`"])
               + [f"- {line}" for line in skipped])
    return Collected(tables, rows + [nomtw], neg_lines, missing, neg_missing)


def write_report(exp_dir: str, out_dir: str, setting: str, score_key: str = "test") -> list[str]:
    """Write report.md, main.csv, mtw.csv, overlap.csv (and negative.csv, kept_vs_dev.png when their runs exist)
    into `out_dir`; returns the paths written. An exp_dir of seed<s>/ folders gets the report over seeds.
    score_key "test_lenient" scores span tasks with the original's Step 1 decoders instead of conlleval's."""
    seeds = seed_folders(exp_dir)
    if seeds:
        from utils.report_seeds import write_seed_report

        return write_seed_report(exp_dir, out_dir, setting, seeds, score_key)
    found = collect(exp_dir, setting, score_key)
    tables, metrics = found.tables, run_metrics(exp_dir)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, table in tables.items():
        table.write_csv(os.path.join(out_dir, f"{name}.csv"))
        written.append(os.path.join(out_dir, f"{name}.csv"))
    figure = os.path.join(out_dir, "kept_vs_dev.png")
    plotted = plot_kept_vs_dev(exp_dir, figure, metrics)
    written += [figure] if plotted else []
    curves_path = os.path.join(out_dir, "learning_curves.png")
    curves = plot_learning_curves(exp_dir, curves_path, metrics)
    written += [curves_path] if curves else []
    missing = (found.missing
               + ([] if plotted else ["- kept_vs_dev.png: no Step 1 scores in `single/cp/` or `single-nomtw/cp/`"])
               + ([] if curves else ["- learning_curves.png: no run has a metrics.jsonl"])
               + found.neg_missing)
    markdown = render(setting, exp_dir, tables, found.rows, found.neg_lines, plotted, curves, missing)
    with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write(markdown)
    return [os.path.join(out_dir, "report.md")] + written


def seed_folders(exp_dir: str) -> list[tuple[int, str]]:
    """(seed, folder) of every <exp_dir>/seed<s>/ (run_<setting>.sh with SEEDS), by seed."""
    found = [(int(name[4:]), os.path.join(exp_dir, name)) for name in os.listdir(exp_dir)
             if re.fullmatch(r"seed[0-9]+", name) and os.path.isdir(os.path.join(exp_dir, name))]
    return sorted(found)


def render(setting: str, exp_dir: str, tables: dict[str, Table], rows: list[Row], neg_lines: list[str],
           plotted: bool, curves: list[str], missing: list[str]) -> str:
    """The Markdown report."""
    lines = [f"# Sparse sharing: {setting}", "",
             f"Runs read from `{exp_dir}`. Test scores of the checkpoint selected on dev; Δ = system − single task; "
             "# Params = encoder parameters (BiLSTM + char CNN (+ cross-stitch units), weights and biases; a masked "
             "weight counts where some mask keeps it), in thousands. Missing runs are shown as —.", "",
             "## Main table (test)", "", tables["main"].markdown(), "", *source_lines(rows), "",
             "## Multi-task warmup ablation (test)", "", "Δ = with MTW − without (the paper, CoNLL-2003: "
             "95.56 / 90.35 / 91.55 with, 95.36 / 89.62 / 91.04 without).", "", tables["mtw"].markdown(), "",
             "## Mask overlap and gain of sparse over hard sharing", "",
             "Overlap of the sparse-sharing masks in `mtl/mask/`; Δ(S² − HS) = average test score of the tasks under "
             "sparse sharing minus under hard sharing (the runs of the main table).", "",
             tables["overlap"].markdown(), "", *neg_lines]
    if plotted:
        lines += ["## Step 1: dev score against kept %", "", "![dev score against kept %](kept_vs_dev.png)", ""]
    if curves:
        lines += ["## Learning curves", "", "Dev score per epoch of every run with a `metrics.jsonl` (Step 1: a task's "
                  "rounds one after another, a dot where a round starts):", "",
                  "![learning curves](learning_curves.png)", "", *(f"- `{folder}/metrics.jsonl`" for folder in curves), ""]
    lines += ["## Missing", ""] + (missing or ["- nothing"])
    return "\n".join(lines) + "\n"

"""The rows and tables of one run (a named run, or one seed of it): the main table (single task = Step 1's dense
round 0 from θ(0), or from the warmup weights when the run has no Step 1 from θ(0), and labelled so; the subnets
Step 2 chose, trained alone; hard, soft, hierarchical and sparse sharing), the warmup ablation (Step 3 with and
without MTW), the mask overlap of the subnets Step 3 trained with against the gain of sparse over hard sharing in
the same run, and, for CoNLL-2003, negative transfer. A run that is not there is a missing row with the reason
and the command that trains it, never filled in from another run."""
import os
from dataclasses import dataclass, field

from utils.runs.checkpoint import load_tensors
from utils.subnets.masks import load_mask
from utils.subnets.params import encoder_params
from utils.report.read import read_joint, read_masks, read_selection, read_step1
from utils.report.runs import Context, task_metrics
from utils.report.tables import DEFAULT_TASKS, Row, Table, missing_lines, overlap_table, row_tasks, score_table
from utils.runs import layout

SINGLE = "Single task"
SINGLE_FROM_WARMUP = "Single task (from the warmup)"
SUBNET = "Single task (subnet)"
BASELINE_SYSTEMS = {"hard": "Hard sharing", "soft": "Soft sharing", "hier": "Hierarchical sharing"}
SPARSE, NOMTW, MTW = "Sparse sharing", "Sparse sharing (no MTW)", "Sparse sharing (MTW)"
NEGATIVE_TASKS = ("ner", "pp")


@dataclass
class Collected:
    """What one run gives the report: its tables (main, mtw, overlap, negative when run), the rows of the main
    and MTW tables, the negative-transfer rows, where the overlap's masks came from, and the missing-run lines
    (the negative transfer's apart, as the report lists them after the figures')."""

    tables: dict[str, Table]
    rows: list[Row]
    negative_rows: list[Row] = field(default_factory=list)
    masks_source: str | None = None
    missing: list[str] = field(default_factory=list)
    negative_missing: list[str] = field(default_factory=list)


def relative(path: str, root: str) -> str:
    return os.path.relpath(path, root)


def test_score(record: dict, score_key: str = "test") -> float | None:
    """A record's test score: `score_key` ("test", or "test_lenient" for the original's Step 1 span decoders),
    the plain test score for tasks that have no such field (token accuracy is the same either way)."""
    value = record.get(score_key)
    return record.get("test") if value is None else value


def single_task_row(run: layout.Run, arm: str, root: str, system: str, score_key: str = "test",
                    note: str = "") -> tuple[Row, list[str]]:
    """Round 0 of Step 1's arm: a dense model per task, trained alone; # Params: Σ over the tasks of one dense
    encoder. Also a line per task folder whose Step 1 has not finished."""
    tasks_dir = run.step1_tasks(arm)
    tasks = read_step1(tasks_dir)
    unfinished = [f"- `{relative(run.step1_task(t.task_id, arm), root)}`: Step 1 of {t.task} unfinished "
                  f"(no {layout.COMPLETE})" for t in tasks if not t.finished]
    scores = {t.task: test_score(r, score_key) for t in tasks for r in t.records if r["round"] == 0}
    if not scores:
        return Row(system, absent=f"no finished Step 1 in `{relative(tasks_dir, root)}/`"), unfinished
    note = "; ".join(filter(None, [note, "# Params: Σ over tasks of one dense encoder (tensors of "
                                         f"{layout.INIT})"]))
    return (Row(system, scores, sum(t.dense_params for t in tasks),
                f"{relative(tasks_dir, root)}/*/{layout.SCORES}, round 0", note), unfinished)


def subnet_row(run: layout.Run, root: str, score_key: str = "test") -> Row:
    """The Step 1 rounds Step 2 chose, each subnet trained alone from the rewind point. # Params: Σ over the tasks
    of the subnet's kept weights plus the encoder's unmasked tensors (biases)."""
    masks_dir = run.masks()
    chosen = read_selection(masks_dir)
    if chosen is None:
        return Row(SUBNET, absent=f"no {layout.SELECTION} in `{relative(masks_dir, root)}/`")
    state = load_tensors(layout.in_folder(masks_dir, layout.INIT))
    params = sum(encoder_params(state, [load_mask(layout.in_folder(masks_dir, layout.task_mask(c["task_id"])))["mask"]])
                 for c in chosen)
    kept = ", ".join(f"{c['task']} round {c['round']} ({c['kept']:.2f}% kept)" for c in chosen)
    return Row(SUBNET, {c["task"]: test_score(c, score_key) for c in chosen}, params,
               f"{relative(masks_dir, root)}/{layout.SELECTION}", f"{kept}; # Params: Σ of kept weights + biases")


def joint_row(system: str, folder: str, root: str, score_key: str = "test") -> Row:
    """A joint run folder's test scores and "params"; missing (unfinished, or not run) without results.json."""
    joint = read_joint(folder)
    where = relative(folder, root)
    if joint.results is None:
        reason = f"`{where}/` unfinished: no {layout.RESULTS}" if joint.started else f"nothing in `{where}/`"
        return Row(system, absent=reason)
    scores = {task: test_score(r, score_key) for task, r in joint.results["tasks"].items() if r.get("test") is not None}
    return Row(system, scores, joint.results.get("params"), f"{where}/{layout.RESULTS}")


def single_row(run: layout.Run, root: str, hint: str, score_key: str) -> tuple[Row, list[str]]:
    """The single-task row: Step 1 from θ(0)'s round 0; when the run has none (`all` trains Step 1 from the
    warmup only), Step 1 from the warmup's round 0, labelled so; plus the lines of what is missing or unfinished."""
    single, unfinished = single_task_row(run, "nomtw", root, SINGLE, score_key)
    if single.source:
        return single, unfinished
    warm, warm_unfinished = single_task_row(
        run, "mtw", root, SINGLE_FROM_WARMUP, score_key,
        "Step 1's dense round 0 trained from the warmup weights θ(w), not from θ(0): this run has no Step 1 from "
        f"θ(0) (`{relative(run.step1_tasks('nomtw'), root)}/`)")
    if not warm.source:
        return single, unfinished + warm_unfinished
    return warm, missing_lines([single], [], hint) + unfinished + warm_unfinished


def negative_rows(run: layout.Run, root: str, score_key: str) -> tuple[list[Row], list[str]]:
    """Negative transfer (its own run inside the run): single task = its Step 1 (from θ(0)) round 0, hard sharing,
    sparse sharing."""
    negative = run.negative
    single, unfinished = single_task_row(negative, "mtw", root, SINGLE, score_key)
    rows = [single, joint_row(BASELINE_SYSTEMS["hard"], negative.baseline("hard"), root, score_key),
            joint_row(SPARSE, negative.step3(), root, score_key)]
    return rows, unfinished


def collect(run: layout.Run, ctx: Context, score_key: str = "test") -> Collected:
    """The tables of one run (main, mtw, overlap and, for CoNLL-2003 when run, negative), scored by `score_key`."""
    root = run.root
    hint = f"{ctx.command('baselines')} trains it"
    single, missing = single_row(run, root, hint, score_key)
    joint = {system: joint_row(system, run.baseline(kind), root, score_key)
             for kind, system in BASELINE_SYSTEMS.items()}
    sparse = joint_row(SPARSE, run.step3(), root, score_key)
    nomtw = joint_row(NOMTW, run.step3("nomtw"), root, score_key)
    rows = [single, subnet_row(run, root, score_key), *joint.values(), sparse]
    tasks = row_tasks(rows + [nomtw], DEFAULT_TASKS)
    metrics = task_metrics(run)
    own = layout.in_folder(run.step3(), layout.OWN_MASKS)
    masks_dir = own if os.path.isdir(own) else run.masks()
    masks = read_masks(masks_dir)
    tables = {"main": score_table(rows, tasks, single, metrics),
              "mtw": score_table([nomtw, Row(MTW, sparse.scores, sparse.params, sparse.source)], tasks, nomtw, metrics),
              "overlap": overlap_table(masks, sparse, joint["Hard sharing"], list(masks) or tasks)}
    found = Collected(tables, rows + [nomtw], masks_source=f"{relative(masks_dir, root)}/" if masks else None)
    found.missing = (missing_lines(rows + [nomtw], tasks, hint) + missing
                     + ([] if masks else [f"- Mask overlap: no masks in `{relative(run.masks(), root)}/`"]))
    if ctx.paper == "conll03":
        add_negative(found, run, ctx, score_key)
    return found


def add_negative(found: Collected, run: layout.Run, ctx: Context, score_key: str) -> None:
    """The negative-transfer table and its missing lines (one line when it has not been run)."""
    if not os.path.isdir(run.negative.root):
        found.negative_missing = [f"- Negative transfer: not run ({ctx.command('negative')})"]
        return
    rows, unfinished = negative_rows(run, run.root, score_key)
    tasks = row_tasks(rows, NEGATIVE_TASKS)
    found.tables["negative"] = score_table(rows, tasks, rows[0], task_metrics(run.negative))
    found.negative_rows = rows
    lines = missing_lines(rows, tasks, f"{ctx.command('negative')} trains it") + unfinished
    found.negative_missing = [line.replace("- ", "- Negative transfer, ", 1) for line in lines]

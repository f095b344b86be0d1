"""The closing table of `run_<setting>.sh all` (`report.py --compare NAME`): per task, in the data's order, the
test score of Step 1's dense round 0 (trained alone from the warmup weights), of the subnet Step 2 chose (trained
alone), of the subnets trained jointly (Step 3), and joint − dense; all from the folders of run NAME (each seed's,
one table per seed, when it has seeds). Writes nothing."""
from utils.report.files import NUMBER, field
from utils.report.read import read_joint, read_selection, read_step1
from utils.report.runs import Context, task_metrics
from utils.report.tables import Table, task_label
from utils.runs import layout

TITLE = "Test scores, {} (selected on dev); Step 1 here starts from the warmup weights:"


def compare_table(run: layout.Run) -> Table:
    """The comparison of one run; a one-line error when its Step 3 has not finished."""
    joint = read_joint(run.step3())
    if joint.results is None:
        raise FileNotFoundError(f"{layout.in_folder(run.step3(), layout.RESULTS)}: no finished Step 3 in this run "
                                "(the modes mtl or all train it)")
    step1 = {t.task: t.records for t in read_step1(run.step1_tasks())}
    chosen = {c["task"]: c for c in read_selection(run.masks()) or []}
    metrics = task_metrics(run)
    table = Table([("Task", "task", "text"), ("Single task (Step 1 round 0)", "dense", "score"),
                   ("Subnet alone (Step 1)", "subnet", "score"), ("Kept %", "kept", "score"),
                   ("Sparse sharing (Step 3)", "joint", "score"), ("Δ joint − single", "delta", "delta")])
    results = layout.in_folder(run.step3(), layout.RESULTS)
    for task, row in joint.results["tasks"].items():
        test = field(f"{results}: tasks.{task}", row, "test", NUMBER)
        dense = next((r["test"] for r in step1.get(task, []) if r["round"] == 0), None)
        table.rows.append([task_label(task, metrics), dense, chosen.get(task, {}).get("test"), row.get("kept"), test,
                           None if dense is None else test - dense])
    return table


def compare_run(ctx: Context, seed: int | None = None) -> str:
    """The closing table of run `ctx.name` as Markdown: of each of its seeds (or of `seed` only), a seed whose
    Step 3 has not finished yet said in a line (an error when no seed has finished one)."""
    seeds = ctx.run.seeds()
    if not seeds or seed is not None:
        run = ctx.run if seed is None else ctx.run.seed(seed)
        title = f"run {ctx.name}" + ("" if seed is None else f", seed {seed}")
        return f"{TITLE.format(title)}\n{compare_table(run).markdown()}"
    parts, unfinished = [], []
    for s, run in seeds:
        try:
            parts.append(f"{TITLE.format(f'run {ctx.name}, seed {s}')}\n{compare_table(run).markdown()}")
        except FileNotFoundError as error:
            unfinished.append(f"seed {s}: {error}")
    if not parts:
        raise FileNotFoundError("; ".join(unfinished))
    return "\n\n".join(parts + unfinished)

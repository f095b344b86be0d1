"""The report of one run (a named run without seeds, or one seed of one): report.md, a CSV per table (main, mtw,
overlap, negative when run), kept_vs_dev.png and learning_curves.png when their runs exist. report.md quotes the
paper's numbers for the data setting the run was trained on (none for your own tasks), shows the negative-transfer
section for CoNLL-2003 only, names the files of every row and lists what is missing with the command that
trains it."""
import os

from utils.report.collect import SINGLE, Collected, collect
from utils.report.figures import epoch_runs, kept_vs_dev_figure, learning_curves_figure, save_figure
from utils.report.files import write_text
from utils.report.paper import mtw_text, negative_text, overlap_text
from utils.report.runs import ARMS, Context, task_metrics
from utils.report.tables import MISSING, source_lines
from utils.runs import layout


def write_report(ctx: Context, run: layout.Run, out_dir: str, score_key: str = "test") -> list[str]:
    """Write the report of `run` into `out_dir`; the paths written, report.md first. score_key "test_lenient"
    scores span tasks with the original's Step 1 decoders instead of conlleval's."""
    found = collect(run, ctx, score_key)
    metrics = task_metrics(run)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, table in found.tables.items():
        path = os.path.join(out_dir, layout.report_table(name))
        table.write_csv(path)
        written.append(path)
    figure = kept_vs_dev_figure(run, metrics)
    if figure is not None:
        written.append(os.path.join(out_dir, layout.KEPT_VS_DEV))
        save_figure(figure, written[-1])
    runs = epoch_runs(run)
    curves = learning_curves_figure(runs, metrics)
    if curves is not None:
        written.append(os.path.join(out_dir, layout.LEARNING_CURVES))
        save_figure(curves, written[-1])
    step1 = " or ".join(f"`{os.path.relpath(run.step1_tasks(arm), run.root)}/`" for arm in ARMS)
    missing = (found.missing
               + ([] if figure is not None else [f"- {layout.KEPT_VS_DEV}: no Step 1 scores in {step1}"])
               + ([] if curves is not None else [f"- {layout.LEARNING_CURVES}: no run has a {layout.METRICS}"])
               + found.negative_missing)
    markdown = render(ctx, run, found, figure is not None, [folder for folder, _ in runs] if curves else [], missing)
    path = os.path.join(out_dir, layout.REPORT_MARKDOWN)
    write_text(path, markdown)
    return [path] + written


def render(ctx: Context, run: layout.Run, found: Collected, plotted: bool, curves: list[str],
           missing: list[str]) -> str:
    """The Markdown report of one run."""
    tables, single = found.tables, found.rows[0].system
    base = "single task" if single == SINGLE else "single task (Step 1's round 0 from the warmup weights, not θ(0))"
    lines = [f"# Sparse sharing: {ctx.setting}", "",
             f"Run `{ctx.name}` read from `{run.root}`. Test scores of the checkpoint selected on dev; Δ = system − "
             f"{base}; # Params = encoder parameters (BiLSTM + char CNN (+ cross-stitch units), weights and biases; a "
             "masked weight counts where some mask keeps it), in thousands. Missing runs are shown as —.", "",
             "## Main table (test)", "", tables["main"].markdown(), "", *source_lines(found.rows), "",
             "## Multi-task warmup ablation (test)", "",
             " ".join(filter(None, ["Δ = with MTW − without.", mtw_text(ctx.paper)])), "", tables["mtw"].markdown(), "",
             "## Mask overlap and gain of sparse over hard sharing", "",
             " ".join(filter(None, [
                 f"Overlap of the masks sparse sharing trained with (`{found.masks_source or MISSING}`); Δ(S² − HS) = "
                 "average test score of the tasks under sparse sharing minus under hard sharing (this run's main "
                 "table).", overlap_text(ctx.paper)])), "", tables["overlap"].markdown(), ""]
    if "negative" in tables:
        lines += ["## Negative transfer: NER + position prediction (test)", "",
                  " ".join(filter(None, ["Δ = system − single task.", negative_text(ctx.paper)])), "",
                  tables["negative"].markdown(), "", *source_lines(found.negative_rows), ""]
    if plotted:
        lines += ["## Step 1: dev score against kept %", "", f"![dev score against kept %]({layout.KEPT_VS_DEV})", ""]
    if curves:
        lines += ["## Learning curves", "", f"Dev score per epoch of every run with a `{layout.METRICS}` (Step 1: a "
                  "task's rounds one after another, a larger dot where a round starts):", "",
                  f"![learning curves]({layout.LEARNING_CURVES})", "",
                  *(f"- `{folder}/{layout.METRICS}`" for folder in curves), ""]
    lines += ["## Missing", ""] + (missing or ["- nothing"])
    return "\n".join(lines) + "\n"

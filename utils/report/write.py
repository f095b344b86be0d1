"""The report of one run (a named run without seeds, or one seed of one): report.md, a CSV per table (main, mtw,
overlap, negative when run), kept_vs_dev.png and learning_curves.png when their runs exist, and the mask analysis
per layer and part (mask_layers.csv, mask_parts.csv, mask_overlap.png; mask_rounds.csv and mask_round_overlap.csv
over Step 1's rounds). report.md quotes the paper's numbers for the data setting the run was trained on (none for
your own tasks), shows the negative-transfer section for CoNLL-2003 only, names the files of every row and lists
what is missing with the command that trains it."""
import os

from utils.report.collect import SINGLE, Collected, collect
from utils.report.figures import epoch_runs, kept_vs_dev_figure, learning_curves_figure, save_figure
from utils.report.files import write_text
from utils.report.heatmap import overlap_heatmap
from utils.report.layers import analyse, layers_table, parts_table, step1_masks, step1_tables
from utils.report.paper import mtw_text, negative_text, overlap_text
from utils.report.read import read_masks
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
    layers, layer_files, layer_missing = write_mask_layers(run, found, out_dir)
    written += layer_files
    missing = (found.missing
               + ([] if figure is not None else [f"- {layout.KEPT_VS_DEV}: no Step 1 scores in {step1_folders(run)}"])
               + ([] if curves is not None else [f"- {layout.LEARNING_CURVES}: no run has a {layout.METRICS}"])
               + layer_missing + found.negative_missing)
    markdown = render(ctx, run, found, figure is not None, [folder for folder, _ in runs] if curves else [], missing,
                      layers)
    path = os.path.join(out_dir, layout.REPORT_MARKDOWN)
    write_text(path, markdown)
    return [path] + written


def step1_folders(run: layout.Run) -> str:
    """Both arms' Step 1 folders of the run, for the missing lines."""
    return " or ".join(f"`{os.path.relpath(run.step1_tasks(arm), run.root)}/`" for arm in ARMS)


def write_mask_layers(run: layout.Run, found: Collected, out_dir: str) -> tuple[list[str], list[str], list[str]]:
    """The mask analysis per part and layer (utils.report.layers) of the masks the overlap table reads, and each
    task's mask over Step 1's rounds: (report.md's section, the paths written, the missing lines)."""
    subnets, written, missing = write_subnet_layers(run, found, out_dir)
    rounds, rounds_written, rounds_missing = write_step1_rounds(run, out_dir)
    section = subnets + rounds
    return ((["## Mask overlap per layer", "", *section] if section else []), written + rounds_written,
            missing + rounds_missing)


def write_subnet_layers(run: layout.Run, found: Collected, out_dir: str) -> tuple[list[str], list[str], list[str]]:
    """mask_layers.csv, mask_parts.csv and mask_overlap.png of the masks the overlap table reads: (report.md's
    lines, the paths written, the missing lines)."""
    if not found.masks_source:
        return [], [], [f"- {layout.MASK_LAYERS}, {layout.MASK_PARTS}, {layout.MASK_OVERLAP}: no masks in "
                        f"`{os.path.relpath(run.masks(), run.root)}/`"]
    masks_dir = os.path.normpath(os.path.join(run.root, found.masks_source))
    subnets = analyse(read_masks(masks_dir), masks_dir)
    layers = layers_table(subnets)
    written = []
    for name, table in ((layout.MASK_LAYERS, layers), (layout.MASK_PARTS, parts_table(subnets))):
        written.append(os.path.join(out_dir, name))
        table.write_csv(written[-1])
    heatmap = overlap_heatmap(subnets)
    if heatmap is not None:
        written.append(os.path.join(out_dir, layout.MASK_OVERLAP))
        save_figure(heatmap, written[-1])
    lines = [f"The overlap table per layer of the encoder (`{found.masks_source}`): the fraction of the layer's "
             "weights each task keeps, and ‖∩ M‖₀ / ‖∪ M‖₀ over them (— where no task of the group keeps one); the "
             f"last row is the overlap table's. `{layout.MASK_LAYERS}` holds this table, `{layout.MASK_PARTS}` the "
             "same per part (each gate block i, f, g, o of an LSTM weight per direction, the char CNN)"
             + (f", drawn in `{layout.MASK_OVERLAP}`" if heatmap is not None else "") + ".", "", layers.markdown(), ""]
    if heatmap is not None:
        lines += [f"![mask overlap per part]({layout.MASK_OVERLAP})", ""]
    return lines, written, []


def write_step1_rounds(run: layout.Run, out_dir: str) -> tuple[list[str], list[str], list[str]]:
    """mask_rounds.csv and (with more than one task) mask_round_overlap.csv of the run's finished Step 1 task
    folders: (report.md's lines, the paths written, the missing lines)."""
    step1 = step1_masks(run)
    if not step1:
        return [], [], [f"- {layout.MASK_ROUNDS}: no mask files of a finished Step 1 in {step1_folders(run)}"]
    change, overlap = step1_tables(step1)
    written = []
    tables = [(layout.MASK_ROUNDS, change)] + ([(layout.MASK_ROUND_OVERLAP, overlap)] if overlap.rows else [])
    for name, table in tables:
        written.append(os.path.join(out_dir, name))
        table.write_csv(written[-1])
    line = (f"Step 1 round by round, per part: `{layout.MASK_ROUNDS}`, each task's kept fraction and the fraction kept "
            "in its previous round and pruned in this one"
            + (f"; `{layout.MASK_ROUND_OVERLAP}`, the overlap of the tasks' masks of the same round" if overlap.rows
               else "") + ".")
    return [line, ""], written, []


def render(ctx: Context, run: layout.Run, found: Collected, plotted: bool, curves: list[str],
           missing: list[str], layers: list[str]) -> str:
    """The Markdown report of one run; `layers`: the section of the mask analysis per layer."""
    tables, single = found.tables, found.rows[0].system
    base = "single task" if single == SINGLE else "single task (Step 1's round 0 from the warmup weights, not θ(0))"
    lines = [f"# Sparse sharing: {ctx.setting}", "",
             f"Run `{ctx.name}` read from `{run.root}`. Test scores of the checkpoint selected on dev; Δ = system − "
             f"{base}; # Params = encoder parameters (BiLSTM + char CNN (+ cross-stitch units), weights and biases; "
             "a transformer: its prunable scope; a masked weight counts where some mask keeps it), in thousands. "
             "Missing runs are shown as —.", "",
             "## Main table (test)", "", tables["main"].markdown(), "", *source_lines(found.rows), "",
             "## Multi-task warmup ablation (test)", "",
             " ".join(filter(None, ["Δ = with MTW − without.", mtw_text(ctx.paper)])), "", tables["mtw"].markdown(), "",
             "## Mask overlap and gain of sparse over hard sharing", "",
             " ".join(filter(None, [
                 f"Overlap of the masks sparse sharing trained with (`{found.masks_source or MISSING}`); Δ(S² − HS) = "
                 "average test score of the tasks under sparse sharing minus under hard sharing (this run's main "
                 "table).", overlap_text(ctx.paper)])), "", tables["overlap"].markdown(), "", *layers]
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

"""The report's two figures of one run. kept_vs_dev.png: Step 1's dev score against the kept % of prunable weights,
one panel per task, one line per arm (from the warmup, from θ(0)), a star on the round Step 2 chose; the kept %
axis is logarithmic and decreases to the right, the score axis spans at least MIN_SPAN points so that noise of a
few tenths does not look like a cliff. learning_curves.png: the dev score per epoch of every training folder with
a metrics.jsonl (Step 1: a task's rounds one after another, a larger dot where a round starts), with markers, so
that a one-epoch run is a visible point, and whole-epoch ticks. Figures are built as matplotlib Figures (for
tests) and saved atomically."""
import os
from typing import TYPE_CHECKING

from utils.report.files import write_atomic
from utils.report.read import Step1Task, read_epochs, read_selection, read_step1
from utils.report.runs import ARMS, training_folders
from utils.report.tables import ordered_tasks, task_label
from utils.runs import layout

KEPT_TICKS = (100, 50, 30, 20, 10, 5)   # kept-% ticks of the figure's log axis
MIN_SPAN = 5.0                          # points of score the y-axis spans at least
CEILING = 100.0                         # no score is above 100
ARM_LABELS = {"mtw": "MTW", "nomtw": "no MTW"}
ARM_STYLES = {"mtw": "o-", "nomtw": "s--"}

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def y_limits(values: list[float], min_span: float = MIN_SPAN, ceiling: float = CEILING) -> tuple[float, float]:
    """The score axis: the values' range padded by 5% of it on each side, widened about its middle to
    `min_span`, and moved down (keeping its span) so that it does not reach more than half a point above
    `ceiling`."""
    low, high = min(values), max(values)
    pad = max(0.05 * (high - low), (min_span - (high - low)) / 2)
    low, high = low - pad, high + pad
    if high > ceiling + 0.5:
        low, high = low - (high - ceiling - 0.5), ceiling + 0.5
    return low, high


def new_figure(panels: int) -> tuple["Figure", list["Axes"]]:
    """A Figure of `panels` side-by-side axes (no pyplot state), and the axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2 * panels, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, list(figure.subplots(1, panels, squeeze=False)[0])


def save_figure(figure: "Figure", path: str) -> None:
    """A Figure as a PNG, written atomically."""
    write_atomic(path, lambda tmp: figure.savefig(tmp, dpi=120, format="png"))


def step1_curves(run: layout.Run) -> dict[str, tuple[list[Step1Task], dict[str, int]]]:
    """Per arm: its Step 1 tasks and the round Step 2 chose per task."""
    curves = {}
    for arm in ARMS:
        chosen = read_selection(run.masks(arm)) or []
        curves[arm] = (read_step1(run.step1_tasks(arm)), {c["task"]: c["round"] for c in chosen})
    return curves


def kept_vs_dev_figure(run: layout.Run, metrics: dict[str, str]) -> "Figure | None":
    """Dev score against kept % per task, both arms, the chosen rounds starred; None when no Step 1 of the run
    has recorded a round."""
    curves = step1_curves(run)
    tasks = ordered_tasks(t.task for found, _ in curves.values() for t in found if t.records)
    if not tasks:
        return None
    figure, axes = new_figure(len(tasks))
    for ax, task in zip(axes, tasks):
        scores = []
        for arm, (found, chosen) in curves.items():
            for step1 in (t for t in found if t.task == task and t.records):
                plot_rounds(ax, step1.records, chosen.get(task), ARM_STYLES[arm], ARM_LABELS[arm])
                scores += [r["dev"] for r in step1.records]
        format_kept_axes(ax, task, metrics)
        ax.set_ylim(*y_limits(scores))
    return figure


def plot_rounds(ax: "Axes", records: list[dict], chosen: int | None, style: str, label: str) -> None:
    """One Step 1 run of one task: dev against kept % over the rounds, a star on the chosen round."""
    records = sorted(records, key=lambda r: r["round"])
    line, = ax.plot([r["kept"] for r in records], [r["dev"] for r in records], style, label=label)
    for r in (r for r in records if r["round"] == chosen):
        ax.plot(r["kept"], r["dev"], "*", markersize=14, color=line.get_color())


def format_kept_axes(ax: "Axes", task: str, metrics: dict[str, str]) -> None:
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


def epoch_runs(run: layout.Run) -> list[tuple[str, list[dict]]]:
    """Every training folder of the run with a metrics.jsonl, as (folder relative to the run, records)."""
    found = []
    for folder in training_folders(run):
        records = read_epochs(folder)
        if records:
            found.append((os.path.relpath(folder, run.root), records))
    return found


def curve(records: list[dict], task: str) -> tuple[list[int], list[float], list[int]]:
    """A run's dev score of `task` per epoch, Step 1's rounds one after another (x counts every epoch trained,
    from 1), and the indices where a Step 1 round starts."""
    points = sorted((r for r in records if task in r["dev"]), key=lambda r: (r.get("round") or 0, r["epoch"]))
    starts = [i for i, r in enumerate(points) if r.get("stage") == "step1" and r["epoch"] == 1]
    return list(range(1, len(points) + 1)), [r["dev"][task] for r in points], starts


def learning_curves_figure(runs: list[tuple[str, list[dict]]], metrics: dict[str, str]) -> "Figure | None":
    """Dev score per epoch, one panel per task and one line (with markers) per run; None when no run has a dev
    score."""
    from matplotlib.ticker import MaxNLocator

    tasks = ordered_tasks(t for _, records in runs for r in records for t in r["dev"])
    if not tasks:
        return None
    figure, axes = new_figure(len(tasks))
    for ax, task in zip(axes, tasks):
        scores, epochs = [], 1
        for folder, records in runs:
            x, y, starts = curve(records, task)
            if x:
                line, = ax.plot(x, y, "-", marker="o", markersize=3, label=folder)
                ax.plot([x[i] for i in starts], [y[i] for i in starts], "o", markersize=7, color=line.get_color())
                scores, epochs = scores + y, max(epochs, x[-1])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlim(0.5, epochs + 0.5)
        ax.set_ylim(*y_limits(scores))
        ax.set_xlabel("epoch (Step 1: rounds in a row)")
        ax.set_ylabel(f"dev {task_label(task, metrics)}")
        ax.set_title(task)
        ax.legend(fontsize="x-small")
    return figure

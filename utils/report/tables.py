"""The report's tables as data: a Row is one system's test score per task and its # Params (or missing, with the
reason); a Table holds typed columns and raw cells, and renders them as Markdown (scores with 2 decimals, Δ signed,
parameters in thousands, missing cells "—") or CSV (raw values rounded to 4 decimals, missing cells empty). The
table builders here (scores with Δ against a base row, mask overlap against the gain of sparse over hard sharing)
compute from Rows only; reading runs is utils.report.collect's."""
import csv
import io
import itertools
from dataclasses import dataclass, field

from utils.data.dataset import TASK_METRICS
from utils.subnets.masks import Mask, overlap_ratio
from utils.report.files import write_text

TASK_NAMES = {"pos": "POS", "ner": "NER", "chunk": "Chunk", "pp": "PP"}
DEFAULT_TASKS = ("pos", "chunk", "ner")
MISSING = "—"


@dataclass
class Row:
    """One system: its test score per task and encoder parameters; `source` None means the run is missing, and
    `absent` then says why (beyond "no run found")."""

    system: str
    scores: dict[str, float] = field(default_factory=dict)
    params: int | None = None
    source: str | None = None
    note: str = ""
    absent: str = ""


@dataclass
class Table:
    """Columns as (Markdown header, CSV header, kind) and rows of raw values (None = missing)."""

    columns: list[tuple[str, str, str]]
    rows: list[list] = field(default_factory=list)

    def markdown(self) -> str:
        """A Markdown table, numbers formatted by column kind, missing cells as "—"."""
        lines = [markdown_header(self.columns)]
        for row in self.rows:
            lines.append("| " + " | ".join(format_cell(v, kind) for v, (_, _, kind) in zip(row, self.columns)) + " |")
        return "\n".join(lines)

    def write_csv(self, path: str) -> None:
        """The raw values, rounded to 4 decimals, missing cells empty."""
        rows = [[key for _, key, _ in self.columns]]
        rows += [["" if v is None else round(v, 4) if isinstance(v, float) else v for v in row] for row in self.rows]
        write_csv_rows(path, rows)


def markdown_header(columns: list[tuple[str, str, str]]) -> str:
    """A Markdown table's header and alignment lines: text left, numbers right."""
    return ("| " + " | ".join(h for h, _, _ in columns) + " |\n"
            + "|" + "|".join("---" if kind == "text" else "---:" for _, _, kind in columns) + "|")


def write_csv_rows(path: str, rows: list[list]) -> None:
    """A CSV file of `rows`, written atomically."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    write_text(path, buffer.getvalue())


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


def ordered_tasks(names) -> list[str]:
    """Task names once each, in the order first given (the data's task order when read from runs)."""
    return list(dict.fromkeys(names))


def task_label(task: str, metrics: dict[str, str]) -> str:
    """A column header naming the task and its metric, e.g. "NER F1" or "pos acc"."""
    metric = metrics.get(task, TASK_METRICS.get(task, "acc"))
    return f"{TASK_NAMES.get(task, task)} {'acc' if metric == 'acc' else 'F1'}"


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
    """A Markdown bullet per present row naming its files (and notes such as how it was trained)."""
    return [f"- {row.system}: `{row.source}`" + (f"; {row.note}" if row.note else "") for row in rows if row.source]


def missing_lines(rows: list[Row], tasks: list[str], hint: str) -> list[str]:
    """A Markdown bullet per missing row (why, and the command that trains it), and per present row lacking a
    task's score."""
    lines = []
    for row in rows:
        if row.source is None:
            lines.append(f"- {row.system}: no run found{f' ({row.absent})' if row.absent else ''}; {hint}")
        else:
            lines += [f"- {row.system}: no {t} score in `{row.source}`" for t in tasks if t not in row.scores]
    return lines

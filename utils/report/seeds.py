"""The report over seeds (run_<setting>.sh with SEEDS=1,2,3: a named run holding one full run per seed,
<run>/seed<s>/): every cell of the paper's tables as mean ± standard deviation over the seeds that have it, and,
for each ordering the paper's tables claim, whether it holds in every seed and in the mean, beside the paper's
numbers for the run's data setting."""
import math
import os
from dataclasses import dataclass

from utils.report.collect import SINGLE, SUBNET, Collected, collect
from utils.report.files import write_text
from utils.report.paper import paper_numbers
from utils.report.runs import Context, task_metrics
from utils.report.tables import MISSING, Table, format_cell, markdown_header, task_label, write_csv_rows
from utils.runs import layout

Values = dict[str, dict[str, dict[str, float]]]  # table -> row -> column key -> value


@dataclass
class Stat:
    """A cell over seeds: the mean, the sample standard deviation (None for one seed) and how many seeds."""

    mean: float
    std: float | None
    n: int


def stat(values: list[float]) -> Stat | None:
    """Mean and sample standard deviation (n − 1) of the values present; None when there are none."""
    if not values:
        return None
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    return Stat(mean, std, len(values))


def format_stat(cell: Stat | None, kind: str, seeds: int) -> str:
    """"mean ± std" in the column's format, "(n=k)" when fewer than all seeds have the cell."""
    if cell is None:
        return MISSING
    text = format_cell(cell.mean, kind)
    if cell.std is not None:
        text += f" ± {format_cell(cell.std, kind if kind in ('params', 'ratio') else 'score')}"
    return text + (f" (n={cell.n})" if cell.n < seeds else "")


@dataclass
class SeedTable:
    """A table whose cells are Stats over seeds: columns as in Table, rows keyed by their first cell."""

    columns: list[tuple[str, str, str]]
    rows: list[list]
    seeds: int

    def markdown(self) -> str:
        """A Markdown table of "mean ± std" cells."""
        lines = [markdown_header(self.columns)]
        for row in self.rows:
            cells = [row[0]] + [format_stat(c, kind, self.seeds) for c, (_, _, kind) in zip(row[1:], self.columns[1:])]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def write_csv(self, path: str) -> None:
        """One row per table row: its key, then <column>_mean, <column>_std, <column>_n (empty when missing)."""
        rows = [[self.columns[0][1]] + [f"{key}_{part}" for _, key, _ in self.columns[1:]
                                        for part in ("mean", "std", "n")]]
        for row in self.rows:
            cells = [row[0]]
            for cell in row[1:]:
                cells += ["", "", 0] if cell is None else [
                    round(cell.mean, 4), "" if cell.std is None else round(cell.std, 4), cell.n]
            rows.append(cells)
        write_csv_rows(path, rows)


def aggregate(tables: list[Table], seeds: int) -> SeedTable:
    """Cell by cell (rows by their first cell, columns by CSV key, in order of first appearance) over the seeds'
    tables: mean ± std of the values present."""
    columns = list({key: (header, key, kind) for table in tables for header, key, kind in table.columns}.values())
    keys = [key for _, key, _ in columns]
    found: dict[str, dict[str, list[float]]] = {}
    for table in tables:
        table_keys = [key for _, key, _ in table.columns]
        for row in table.rows:
            cells = found.setdefault(row[0], {})
            for key, value in zip(table_keys[1:], row[1:]):
                if value is not None:
                    cells.setdefault(key, []).append(value)
    rows = [[name] + [stat(cells.get(key, [])) for key in keys[1:]] for name, cells in found.items()]
    return SeedTable(columns, rows, seeds)


def values_of(found: Collected) -> Values:
    """A seed's tables as table -> row -> column key -> value (missing cells left out)."""
    out: Values = {}
    for name, table in found.tables.items():
        keys = [key for _, key, _ in table.columns]
        out[name] = {row[0]: {k: v for k, v in zip(keys[1:], row[1:]) if v is not None} for row in table.rows}
    return out


@dataclass
class Ordering:
    """A claim of the paper's tables: `left` relation `right`, each (table, row, column key or "avg")."""

    text: str
    left: tuple[str, str, str]
    relation: str
    right: tuple[str, str, str]


def quantity(values: Values, where: tuple[str, str, str], tasks: dict[str, list[str]]) -> float | None:
    """One number of a seed (or of the paper): a cell, or "avg", the mean test score over the table's tasks
    (None unless every task is there)."""
    table, row, column = where
    cells = values.get(table, {}).get(row, {})
    if column != "avg":
        return cells.get(column)
    names = tasks.get(table, [])
    if not names or any(t not in cells for t in names):
        return None
    return sum(cells[t] for t in names) / len(names)


def in_sentence(label: str) -> str:
    """A row label inside a sentence: "Single task (x)" -> "single task (x)"."""
    return label[0].lower() + label[1:]


def holds(left: float, relation: str, right: float) -> bool:
    """Whether `left relation right` (strictly: a tie does not hold)."""
    return left > right if relation == ">" else left < right


def paper_orderings(tasks: list[str], metrics: dict[str, str], negative: bool, single: str = SINGLE) -> list[Ordering]:
    """The orderings the paper's tables claim (REFERENCE §3): sparse sharing above hard sharing and the single
    task (average and per task) and above soft and hierarchical sharing (average); the subnet alone above the
    dense single task; MTW above no MTW; sparse sharing with fewer parameters than hard sharing, the subnets with
    fewer than the single-task models; in negative transfer, sparse above hard sharing on NER, hard sharing below
    the single task. `single` is the label of the runs' single-task row (the paper's has no number for a single
    task trained from the warmup weights)."""
    def main(row: str, column: str) -> tuple[str, str, str]:
        return "main", row, column

    name = in_sentence(single)
    out = [Ordering("Sparse sharing > hard sharing, average", main("Sparse sharing", "avg"), ">",
                    main("Hard sharing", "avg"))]
    out += [Ordering(f"Sparse sharing > hard sharing, {task_label(t, metrics)}", main("Sparse sharing", t), ">",
                     main("Hard sharing", t)) for t in tasks]
    out += [Ordering(f"Sparse sharing > {name}, average", main("Sparse sharing", "avg"), ">", main(single, "avg"))]
    out += [Ordering(f"Sparse sharing > {name}, {task_label(t, metrics)}", main("Sparse sharing", t), ">",
                     main(single, t)) for t in tasks]
    out += [Ordering(f"Sparse sharing > {other.lower()}, average", main("Sparse sharing", "avg"), ">",
                     main(other, "avg")) for other in ("Soft sharing", "Hierarchical sharing")]
    out += [Ordering(f"Single task (subnet) > {name}, average", main(SUBNET, "avg"), ">", main(single, "avg")),
            Ordering("MTW > no MTW (sparse sharing), average", ("mtw", "Sparse sharing (MTW)", "avg"), ">",
                     ("mtw", "Sparse sharing (no MTW)", "avg")),
            Ordering("# Params: sparse < hard sharing", main("Sparse sharing", "params"), "<",
                     main("Hard sharing", "params")),
            Ordering(f"# Params: single task (subnet) < {name}", main(SUBNET, "params"), "<", main(single, "params"))]
    if negative:
        out += [Ordering("Negative transfer: sparse sharing > hard sharing, NER",
                         ("negative", "Sparse sharing", "ner"), ">", ("negative", "Hard sharing", "ner")),
                Ordering("Negative transfer: hard sharing < single task, NER", ("negative", "Hard sharing", "ner"),
                         "<", ("negative", SINGLE, "ner"))]
    return out


def format_number(value: float, column: str) -> str:
    """A score with 2 decimals, a parameter count in thousands."""
    return format_cell(value, "params" if column == "params" else "score")


def ordering_table(seeds: dict[int, Values], tasks: dict[str, list[str]], orderings: list[Ordering],
                   paper: Values) -> Table:
    """Per ordering: the paper's two numbers, in how many seeds (of those that have both numbers) it holds,
    whether it holds in every seed, the two means over those seeds and whether it holds in the mean."""
    table = Table([("Ordering", "ordering", "text"), ("Paper", "paper", "text"),
                   ("Seeds where it holds", "seeds", "text"), ("Every seed", "every_seed", "text"),
                   ("Means", "means", "text"), ("In the mean", "in_mean", "text")])
    for o in orderings:
        column = o.left[2]
        pl, pr = quantity(paper, o.left, tasks), quantity(paper, o.right, tasks)
        paper_text = (MISSING if pl is None or pr is None
                      else f"{format_number(pl, column)} {o.relation} {format_number(pr, column)}")
        pairs = [(quantity(v, o.left, tasks), quantity(v, o.right, tasks)) for v in seeds.values()]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        if not pairs:
            table.rows.append([o.text, paper_text] + [MISSING] * 4)
            continue
        count = sum(holds(a, o.relation, b) for a, b in pairs)
        left, right = (sum(p[i] for p in pairs) / len(pairs) for i in (0, 1))
        table.rows.append([o.text, paper_text, f"{count} of {len(pairs)}", "yes" if count == len(pairs) else "no",
                           f"{format_number(left, column)} vs {format_number(right, column)}",
                           "yes" if holds(left, o.relation, right) else "no"])
    return table


def score_tasks(found: list[Collected]) -> dict[str, list[str]]:
    """Per table, the task columns (kind "score") the seeds' tables have, in column order."""
    out: dict[str, list[str]] = {}
    for seed in found:
        for name, table in seed.tables.items():
            if name != "overlap":
                names = out.setdefault(name, [])
                names += [key for _, key, kind in table.columns if kind == "score" and key not in names]
    return out


def single_label(found: list[Collected]) -> str:
    """The single-task row the orderings compare with: θ(0)'s when a seed has it, else the warmup's."""
    labels = [f.rows[0].system for f in found if f.rows[0].source]
    return SINGLE if SINGLE in labels or not labels else labels[0]


def write_seed_report(ctx: Context, out_dir: str, score_key: str = "test") -> list[str]:
    """report.md, <table>.csv (mean, std and n per cell) and orderings.csv over the seeds of the named run."""
    seeds = ctx.run.seeds()
    found = {seed: collect(run, ctx, score_key) for seed, run in seeds}
    names = list(dict.fromkeys(name for f in found.values() for name in f.tables))
    tables = {name: aggregate([f.tables[name] for f in found.values() if name in f.tables], len(seeds))
              for name in names}
    tasks = score_tasks(list(found.values()))
    metrics = task_metrics(seeds[0][1])
    orderings = paper_orderings(tasks.get("main", []), metrics, "negative" in names, single_label(list(found.values())))
    order = ordering_table({s: values_of(f) for s, f in found.items()}, tasks, orderings, paper_numbers(ctx.paper))
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, table in [*tables.items(), ("orderings", order)]:
        path = os.path.join(out_dir, layout.report_table(name))
        table.write_csv(path)
        written.append(path)
    missing = [line.replace("- ", f"- seed{seed}: ", 1) for seed, f in found.items()
               for line in f.missing + f.negative_missing]
    path = os.path.join(out_dir, layout.REPORT_MARKDOWN)
    single = single_label(list(found.values()))
    write_text(path, render_seeds(ctx, [s for s, _ in seeds], tables, order, missing, single))
    return [path] + written


TITLES = {"main": "Main table (test)", "mtw": "Multi-task warmup ablation (test; Δ = with MTW − without)",
          "overlap": "Mask overlap and gain of sparse over hard sharing",
          "negative": "Negative transfer: NER + position prediction (test)"}


def render_seeds(ctx: Context, seeds: list[int], tables: dict[str, SeedTable], order: Table, missing: list[str],
                 single: str = SINGLE) -> str:
    """The Markdown report over seeds; `single` labels the single-task row Δ is taken against."""
    one = f"python report.py {ctx.setting} --exp_dir {ctx.exp_dir} --name {ctx.name} --seed {seeds[0]}"
    lines = [f"# Sparse sharing: {ctx.setting}, {len(seeds)} seeds", "",
             f"Run `{ctx.name}` read from `{ctx.run.root}`: {len(seeds)} seeds "
             f"({', '.join(f'seed{s}/' for s in seeds)}), each a full run. Every cell is the mean ± standard deviation "
             f"(sample, n − 1) over the seeds that have it; (n=k) marks a cell fewer than all {len(seeds)} seeds have. "
             f"Test scores of the checkpoint selected on dev; Δ = system − {in_sentence(single)}, averaged "
             "over the seeds; "
             f"# Params in thousands. Figures and run sources: the report of one seed (`{one}`).", ""]
    for name, table in tables.items():
        lines += [f"## {TITLES.get(name, name)}", "", table.markdown(), ""]
    lines += ["## Orderings across seeds", "",
              "Each ordering the paper's tables claim: the paper's numbers, in how many seeds it holds (of those with "
              "both numbers), and whether it holds between the means over those seeds.", "", order.markdown(), "",
              "## Missing", ""] + (missing or ["- nothing"])
    return "\n".join(lines) + "\n"

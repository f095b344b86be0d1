"""The mask analysis per part and layer (utils.report.layers, utils.report.heatmap): LSTM weights split into their
gate blocks i, f, g, o per direction, counts checked against numbers worked out by hand, totals over all parts
exactly utils.subnets.masks' kept_fraction and overlap_ratio, the change of a task's mask between Step 1 rounds;
report.py's files of it on a hand-made run and on a budget run of the real scripts (Step 1 and Step 2 on CoNLL-2003),
whose all-layer row is the overlap table's."""
import ast
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.test_report import TASKS, hand_mask, named_run, read_csv, run_report, write_all
from tests.test_report_package import docstrings
from utils.report import heatmap, layers
from utils.report.layers import Step1Masks, analyse, layers_table, mask_parts, parts_table, step1_tables
from utils.runs import layout
from utils.subnets.masks import kept_fraction, load_mask, overlap_ratio, save_mask

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def bools(values: list[int], shape: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.bool).view(shape)


def rows(table) -> dict[str, dict]:
    """A Table's rows keyed by their first cell, cells keyed by CSV column."""
    keys = [key for _, key, _ in table.columns]
    return {row[0]: dict(zip(keys, row)) for row in table.rows}


def test_an_lstm_weight_is_four_gate_blocks_in_pytorchs_order() -> None:
    # weight_ih_l0 of hidden size 2 (8 rows of 2): gate i keeps 1 weight, f 2, g 3, o 4 of 4 each.
    kept = [1, 0, 0, 0] + [1, 1, 0, 0] + [1, 1, 1, 0] + [1, 1, 1, 1]
    subnets = analyse({"pos": {"lstm.lstm.weight_ih_l0": bools(kept, (8, 2))}}, "here")
    names = [p.name for p in subnets.parts]
    assert names == [f"lstm layer 1 forward W_ih gate {g}" for g in "ifgo"]
    assert [subnets.shares[n].kept["pos"] for n in names] == [1, 2, 3, 4]
    assert [subnets.shares[n].size for n in names] == [4, 4, 4, 4]
    assert {p.tensor for p in subnets.parts} == {"lstm.lstm.weight_ih_l0"}


def test_part_and_layer_names() -> None:
    mask = {"char.convs.0.weight": torch.ones(3, 2, 3, dtype=torch.bool),
            "lstm.lstm.weight_hh_l1_reverse": torch.ones(8, 2, dtype=torch.bool),
            "encoder.layer.3.attention.self.query.weight": torch.ones(2, 2, dtype=torch.bool),
            "encoder.layer.3.intermediate.dense.weight": torch.ones(4, 2, dtype=torch.bool),
            "pooler.dense.weight": torch.ones(2, 2, dtype=torch.bool)}
    parts = mask_parts(mask, "here")
    assert [(p.name, p.layer, p.rows) for p in parts] == [
        ("char.convs.0.weight", "char CNN", None),
        *[(f"lstm layer 2 backward W_hh gate {g}", "BiLSTM layer 2", (2 * i, 2 * i + 2)) for i, g in enumerate("ifgo")],
        ("encoder.layer.3.attention.self.query.weight", "transformer block 3", None),
        ("encoder.layer.3.intermediate.dense.weight", "transformer block 3", None),
        ("pooler.dense.weight", "pooler.dense.weight", None)]


def test_two_lstm_modules_are_told_apart() -> None:
    mask = {f"{module}.weight_ih_l0": torch.ones(4, 1, dtype=torch.bool) for module in ("lower", "upper")}
    assert {p.layer for p in mask_parts(mask, "here")} == {"lower BiLSTM layer 1", "upper BiLSTM layer 1"}


@pytest.mark.parametrize("shape", [(6, 2), (8,), (4, 2, 1)])
def test_an_lstm_weight_without_four_gate_blocks_is_one_line(shape: tuple[int, ...]) -> None:
    mask = {"lstm.lstm.weight_hh_l0": torch.ones(shape, dtype=torch.bool)}
    with pytest.raises(ValueError, match=r"^masks/: mask tensor lstm.lstm.weight_hh_l0: shape .* is no LSTM weight"):
        analyse({"pos": mask, "ner": mask}, "masks/")


@pytest.mark.parametrize("other", [{"lstm.lstm.weight_ih_l0": torch.ones(8, 3, dtype=torch.bool)},
                                   {"lstm.lstm.weight_ih_l0": torch.ones(4, 3, dtype=torch.bool)},
                                   {**hand_mask("ner"), "lstm.lstm.weight_hh_l0": torch.ones(4, 1, dtype=torch.bool)}])
def test_masks_of_other_tensors_are_one_line(other: dict) -> None:
    with pytest.raises(ValueError, match=r"^masks/: (the mask of \w+ has no tensor|mask tensor .* has shape)"):
        analyse({"pos": hand_mask("pos"), "ner": other}, "masks/")


# tests/test_report.py's hand-made subnets: lstm weight_ih_l0 4×3 (a gate block is one row of 3), conv 2×2; kept
# flat entries: pos lstm 0-7 conv 0-3, ner lstm 4-11 conv 0-1, chunk lstm 0-5 and no conv weight.
HAND = {t: hand_mask(t) for t in ("pos", "ner", "chunk")}
GATE_KEPT = {"pos": [3, 3, 2, 0], "ner": [0, 2, 3, 3], "chunk": [3, 3, 0, 0]}
GATE_OVERLAP = {"pos & ner": [0 / 3, 2 / 3, 2 / 3, 0 / 3], "pos & chunk": [3 / 3, 3 / 3, 0 / 2, None],
                "ner & chunk": [0 / 3, 2 / 3, 0 / 3, 0 / 3], "all": [0 / 3, 2 / 3, 0 / 3, 0 / 3]}
LAYER_OVERLAP = {"BiLSTM layer 1": {"pos & ner": 4 / 12, "pos & chunk": 6 / 8, "ner & chunk": 2 / 12, "all": 2 / 12},
                 "char CNN": {"pos & ner": 2 / 4, "pos & chunk": 0 / 4, "ner & chunk": 0 / 2, "all": 0 / 4},
                 "all layers": {"pos & ner": 6 / 16, "pos & chunk": 6 / 12, "ner & chunk": 2 / 14, "all": 2 / 16}}


def test_parts_of_hand_made_subnets() -> None:
    table = rows(parts_table(analyse(HAND, "masks/")))
    gates = [f"lstm layer 1 forward W_ih gate {g}" for g in "ifgo"]
    assert list(table) == [*gates, "char.convs.0.weight", layers.ALL_PARTS]   # the mask's tensor order
    for task, kept in GATE_KEPT.items():
        assert [table[g][f"{task}_kept_fraction"] for g in gates] == [k / 3 for k in kept]
    for group, ratios in GATE_OVERLAP.items():
        assert [table[g][group] for g in gates] == ratios   # None: neither task keeps a weight of gate o
    assert [table["char.convs.0.weight"][f"{t}_kept_fraction"] for t in HAND] == [4 / 4, 2 / 4, 0 / 4]
    assert table[layers.ALL_PARTS]["size"] == 16 and table[layers.ALL_PARTS]["pos_kept_fraction"] == 12 / 16


def test_table7_per_layer_of_hand_made_subnets() -> None:
    table = rows(layers_table(analyse(HAND, "masks/")))
    assert list(table) == ["BiLSTM layer 1", "char CNN", layers.ALL_LAYERS]
    for layer, ratios in LAYER_OVERLAP.items():
        assert {g: table[layer][g] for g in ratios} == ratios
    assert [table["BiLSTM layer 1"][f"{t}_kept_fraction"] for t in HAND] == [8 / 12, 8 / 12, 6 / 12]


def random_masks(tasks: int, seed: int) -> dict[str, dict[str, torch.Tensor]]:
    """Masks of a 2-layer BiLSTM (input 5, hidden 3) and a char CNN, each entry kept with its own probability."""
    shapes = {"char.convs.0.weight": (4, 2, 3)}
    for layer, width in ((0, 5), (1, 6)):
        for suffix in ("", "_reverse"):
            shapes[f"lstm.lstm.weight_ih_l{layer}{suffix}"] = (12, width)
            shapes[f"lstm.lstm.weight_hh_l{layer}{suffix}"] = (12, 3)
    generator = torch.Generator().manual_seed(seed)
    return {f"t{t}": {n: torch.rand(s, generator=generator) < (t + 1) / (tasks + 1) for n, s in shapes.items()}
            for t in range(tasks)}


@pytest.mark.parametrize("tasks,seed", [(2, 0), (3, 1), (4, 2)])
def test_totals_are_exactly_kept_fraction_and_overlap_ratio(tasks: int, seed: int) -> None:
    masks = random_masks(tasks, seed)
    subnets = analyse(masks, "masks/")
    table = rows(layers_table(subnets))
    assert list(table)[:2] == ["char CNN", "BiLSTM layer 1"] and list(table)[2] == "BiLSTM layer 2"
    for label, group in layers.task_groups(list(masks)):
        assert subnets.whole.overlap(label) == overlap_ratio([masks[t] for t in group])
        assert table[layers.ALL_LAYERS][label] == overlap_ratio([masks[t] for t in group])
    for task, mask in masks.items():
        assert subnets.whole.density(task) == kept_fraction(mask)
    assert sum(s.size for s in subnets.shares.values()) == sum(m.numel() for m in masks["t0"].values())


def test_change_between_rounds(tmp_path: Path) -> None:
    """An LSTM weight of 4 rows (a gate block of 1 weight each) and a conv of 2: round 1 prunes gates g, o and a
    conv weight; round 2 prunes gate i and the other conv weight and (never in IMP, but counted right) brings gate
    g back: pruned since round 1 is what was kept then and is not now."""
    shapes = {"lstm.lstm.weight_ih_l0": (4, 1), "char.convs.0.weight": (2, 1, 1)}
    rounds = {0: ([1, 1, 1, 1], [1, 1]), 1: ([1, 1, 0, 0], [1, 0]), 2: ([0, 1, 1, 0], [0, 0])}
    paths = {}
    for r, (lstm, conv) in rounds.items():
        paths[r] = str(tmp_path / layout.mask_file(r, 50.0))
        save_mask(paths[r], {"lstm.lstm.weight_ih_l0": bools(lstm, shapes["lstm.lstm.weight_ih_l0"]),
                             "char.convs.0.weight": bools(conv, shapes["char.convs.0.weight"])}, r, "pos")
    table, overlap = step1_tables([Step1Masks("step1", "pos", paths)])
    assert not overlap.rows   # one task: no overlap
    got = {(row[2], row[3]): (row[5], row[6], row[7]) for row in table.rows}
    gate = "lstm layer 1 forward W_ih gate {}".format
    assert got[(0, layers.ALL_PARTS)] == (6, 1.0, None)
    assert got[(1, "char.convs.0.weight")] == (2, 0.5, 0.5)
    assert [got[(1, gate(g))][1:] for g in "ifgo"] == [(1.0, 0.0), (1.0, 0.0), (0.0, 1.0), (0.0, 1.0)]
    assert [got[(2, gate(g))][1:] for g in "ifgo"] == [(0.0, 1.0), (1.0, 0.0), (1.0, 0.0), (0.0, 0.0)]
    assert got[(1, layers.ALL_PARTS)] == (6, 3 / 6, 3 / 6)
    assert got[(2, layers.ALL_PARTS)] == (6, 2 / 6, 2 / 6)
    assert got[(2, layers.ALL_PARTS)][1] == kept_fraction(load_mask(paths[2])["mask"])


def test_overlap_of_each_round(tmp_path: Path) -> None:
    """Two tasks' Step 1 masks: rounds 0 and 1 of both, round 2 of pos only (no overlap row for it)."""
    kept = {"pos": {0: [1, 1, 1, 1], 1: [1, 1, 0, 0], 2: [1, 0, 0, 0]}, "ner": {0: [1, 1, 1, 1], 1: [0, 1, 1, 0]}}
    step1 = []
    for task, rounds in kept.items():
        paths = {r: str(tmp_path / task / layout.mask_file(r, 50.0)) for r in rounds}
        for r, values in rounds.items():
            os.makedirs(tmp_path / task, exist_ok=True)
            save_mask(paths[r], {"lstm.lstm.weight_hh_l0": bools(values, (4, 1))}, r, task)
        step1.append(Step1Masks("step1-nomtw", task, paths))
    change, overlap = step1_tables(step1)
    assert [row[:3] for row in change.rows if row[3] == layers.ALL_PARTS] == [
        ["step1-nomtw", "pos", 0], ["step1-nomtw", "ner", 0], ["step1-nomtw", "pos", 1], ["step1-nomtw", "ner", 1],
        ["step1-nomtw", "pos", 2]]
    assert [key for _, key, _ in overlap.columns][-1] == "pos & ner"
    got = {(row[1], row[2]): row[-1] for row in overlap.rows}
    gate = "lstm layer 1 forward W_hh gate {}".format
    assert sorted({r for r, _ in got}) == [0, 1]
    assert [got[(1, gate(g))] for g in "ifgo"] == [0 / 1, 1 / 1, 0 / 1, None]
    assert got[(1, layers.ALL_PARTS)] == 1 / 3 == overlap_ratio([{"w": bools(kept[t][1], (4, 1))} for t in kept])
    assert got[(0, layers.ALL_PARTS)] == 1.0


def test_a_round_mask_of_other_tensors_is_one_line_naming_its_file(tmp_path: Path) -> None:
    paths = {r: str(tmp_path / layout.mask_file(r, 50.0)) for r in (0, 1)}
    save_mask(paths[0], {"lstm.lstm.weight_hh_l0": torch.ones(4, 1, dtype=torch.bool)}, 0, "pos")
    save_mask(paths[1], {"lstm.lstm.weight_hh_l0": torch.ones(8, 1, dtype=torch.bool)}, 1, "pos")
    with pytest.raises(ValueError, match=rf"^{paths[1]}: mask tensor lstm.lstm.weight_hh_l0 of this one has shape"):
        step1_tables([Step1Masks("step1", "pos", paths)])


def test_a_chosen_mask_that_cannot_be_split_stops_the_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = named_run(tmp_path / "exp", "a")
    write_all(run)
    for task_id, task in TASKS.items():
        save_mask(layout.in_folder(run.masks(), layout.task_mask(task_id)),
                  {"lstm.lstm.weight_hh_l0": torch.ones(6, 1, dtype=torch.bool)}, 1, task)
    with pytest.raises(SystemExit) as stop:
        run_report(tmp_path / "exp", tmp_path / "out")
    assert stop.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: {os.path.normpath(run.masks())}: mask tensor lstm.lstm.weight_hh_l0: shape (6, 1) "
                       "is no LSTM weight of 4 gate blocks"), err


def test_heatmap_rows_are_parts_and_columns_groups() -> None:
    figure = heatmap.overlap_heatmap(analyse(HAND, "masks/"))
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["pos & ner", "pos & chunk", "ner & chunk", "all"]
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == layers.ALL_PARTS
    assert [t.get_text() for t in ax.texts[3 * 4:4 * 4]] == ["0.00", "—", "0.00", "0.00"]   # gate o: no pos/chunk
    assert heatmap.overlap_heatmap(analyse({"pos": HAND["pos"]}, "masks/")) is None


def test_report_of_a_hand_made_run(tmp_path: Path) -> None:
    run = named_run(tmp_path / "exp", "a")
    write_all(run)
    markdown = run_report(tmp_path / "exp", tmp_path / "out")
    out = tmp_path / "out"
    assert (out / layout.MASK_OVERLAP).read_bytes()[:8] == PNG
    table = read_csv(out / layout.MASK_LAYERS)
    overlap = read_csv(out / layout.report_table("overlap"))
    assert {g: table[layers.ALL_LAYERS][g] for g in overlap} == {g: row["overlap"] for g, row in overlap.items()}
    assert float(table["char CNN"]["pos & ner"]) == 0.5
    parts = read_csv(out / layout.MASK_PARTS)
    assert parts[layers.ALL_PARTS]["all"] == overlap["all"]["overlap"]
    assert parts["lstm layer 1 forward W_ih gate o"]["pos & chunk"] == ""   # neither keeps a weight of it
    assert "## Mask overlap per layer" in markdown and "| all layers | 16 | 0.750 |" in markdown
    assert f"![mask overlap per part]({layout.MASK_OVERLAP})" in markdown
    # The hand-made Step 1 folders hold no mask files: the round table is missing, said so.
    assert f"- {layout.MASK_ROUNDS}: no mask files of a finished Step 1 in `step1/cp/` or `step1-nomtw/cp/`" in markdown


def test_the_mask_files_join_the_reports_files(tmp_path: Path) -> None:
    """The report of `run_<setting>.sh all`'s files (tests/test_report.py's write_all): the files it wrote before,
    and the three of the chosen subnets."""
    run = named_run(tmp_path, "a")
    write_all(run)
    report_files = [layout.REPORT_MARKDOWN, layout.KEPT_VS_DEV, *map(layout.report_table, ("main", "mtw", "overlap"))]
    run_report(tmp_path, Path(run.report))
    assert sorted(os.listdir(run.report)) == sorted(report_files + [layout.MASK_LAYERS, layout.MASK_PARTS,
                                                                    layout.MASK_OVERLAP])


def test_no_masks_is_a_missing_line(tmp_path: Path) -> None:
    named_run(tmp_path / "exp", "a")
    markdown = run_report(tmp_path / "exp", tmp_path / "out")
    assert f"- {layout.MASK_LAYERS}, {layout.MASK_PARTS}, {layout.MASK_OVERLAP}: no masks in `masks/`" in markdown
    assert "## Mask overlap per layer" not in markdown
    assert not any((tmp_path / "out" / name).exists() for name in (layout.MASK_LAYERS, layout.MASK_OVERLAP))


def test_new_modules_follow_the_packages_rules() -> None:
    """Docstring, at most 300 lines, only earlier modules imported (read, runs, tables; figures for the figure),
    and no runs-folder file name spelled."""
    spelled = {layout.MASK_PARTS, layout.MASK_LAYERS, layout.MASK_ROUNDS, layout.MASK_OVERLAP, layout.COMPLETE,
               layout.SELECTION, layout.INIT}
    allowed = {"layers": {"utils.report.read", "utils.report.runs", "utils.report.tables"},
               "heatmap": {"utils.report.figures", "utils.report.layers"}}
    for name, imports in allowed.items():
        text = (REPO / "utils" / "report" / f"{name}.py").read_text(encoding="utf-8")
        tree = ast.parse(text)
        assert ast.get_docstring(tree) and len(text.splitlines()) <= 300
        found = {n.module for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module.startswith("utils.report")}
        assert found == imports
        assert not [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in spelled]
    write = ast.parse((REPO / "utils" / "report" / "write.py").read_text(encoding="utf-8"))
    skip = docstrings(write)
    assert not [n.value for n in ast.walk(write) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                and id(n) not in skip and any(f in n.value for f in spelled)]


# --- A budget run of the real scripts: Step 1 (3 rounds to 25%) and Step 2 on 20 CoNLL-2003 sentences. ---

BUDGET = {"NAME": "layers", "TRAIN_LIMIT": "20", "EVAL_LIMIT": "20", "EPOCHS": "1", "PRUNING_ITER": "2",
          "FINAL_RATE": "0.25", "HIDDEN_SIZE": "16", "JOBS": "2", "SEED": "3", "OMP_NUM_THREADS": "1"}
PROJECT_VARIABLES = ("PROFILE", "SEEDS", "MTL_EPOCHS", "PATIENCE", "MTL_PATIENCE", "WARMUP_EPOCHS", "OVERWRITE",
                     "DEVICE", "DEVICES", "BATCHING", "N_LAYER", "CRF")


@pytest.fixture(scope="module")
def budget_report(processed_conll03_small: Path, tmp_path_factory: pytest.TempPathFactory) -> layout.Run:
    """`run_conll03.sh single`, then `masks` (auto), then report.py on the run; the run."""
    exp = tmp_path_factory.mktemp("layers") / "exp"
    env = {**{k: v for k, v in os.environ.items() if k not in PROJECT_VARIABLES}, **BUDGET,
           "PYTHON": sys.executable, "PROCESSED": str(processed_conll03_small), "EXP_DIR": str(exp)}
    for command in (["bash", "run_conll03.sh", "single"], ["bash", "run_conll03.sh", "masks"],
                    [sys.executable, "report.py", "conll03", "--exp_dir", str(exp), "--name", "layers"]):
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    return layout.run(str(exp), "layers")


def csv_rows(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_budget_run_totals_are_the_overlap_table(budget_report: layout.Run) -> None:
    out = Path(budget_report.report)
    assert (out / layout.MASK_OVERLAP).read_bytes()[:8] == PNG
    overlap = read_csv(out / layout.report_table("overlap"))
    assert list(overlap) == ["pos & chunk", "pos & ner", "chunk & ner", "all"]
    table = read_csv(out / layout.MASK_LAYERS)
    assert list(table) == ["char CNN", "BiLSTM layer 1", layers.ALL_LAYERS]
    parts = read_csv(out / layout.MASK_PARTS)
    assert len(parts) == 1 + 4 * 4 + 1
    for group, row in overlap.items():
        assert table[layers.ALL_LAYERS][group] == parts[layers.ALL_PARTS][group] == row["overlap"] != ""
    for task_id, task in enumerate(("pos", "chunk", "ner")):
        mask = load_mask(layout.in_folder(budget_report.masks(), layout.task_mask(task_id)))["mask"]
        assert float(table[layers.ALL_LAYERS][f"{task}_kept_fraction"]) == round(kept_fraction(mask), 4)
        gate = mask["lstm.lstm.weight_hh_l0_reverse"][16:32]   # hidden 16: gate f of the backward W_hh
        want = round(int(gate.sum()) / gate.numel(), 4)
        assert float(parts["lstm layer 1 backward W_hh gate f"][f"{task}_kept_fraction"]) == want
    markdown = (out / layout.REPORT_MARKDOWN).read_text(encoding="utf-8")
    assert "## Mask overlap per layer" in markdown and f"- {layout.MASK_ROUNDS}" not in markdown


def test_budget_run_rounds(budget_report: layout.Run) -> None:
    found = csv_rows(os.path.join(budget_report.report, layout.MASK_ROUNDS))
    for task_id, task in enumerate(("pos", "chunk", "ner")):
        files = layout.round_masks(budget_report.step1_task(task_id))
        mine = [r for r in found if r["task"] == task and r["arm"] == layout.STEP1["mtw"]]
        assert sorted({int(r["round"]) for r in mine}) == sorted(files) == [0, 1, 2]
        totals = {int(r["round"]): r for r in mine if r["part"] == layers.ALL_PARTS}
        masks = {r: load_mask(p)["mask"] for r, p in files.items()}
        for r, mask in masks.items():
            assert float(totals[r]["kept_fraction"]) == round(kept_fraction(mask), 4)
        assert totals[0]["pruned_fraction"] == ""
        for r in (1, 2):   # IMP only prunes: what a round prunes is the drop of the kept fraction
            lost = sum(int((masks[r - 1][n] & ~masks[r][n]).sum()) for n in masks[r])
            assert float(totals[r]["pruned_fraction"]) == round(lost / int(totals[r]["size"]), 4)
            assert lost == sum(int(masks[r - 1][n].sum()) - int(masks[r][n].sum()) for n in masks[r])
    overlap = [r for r in csv_rows(os.path.join(budget_report.report, layout.MASK_ROUND_OVERLAP))
               if r["arm"] == layout.STEP1["mtw"] and r["part"] == layers.ALL_PARTS]
    assert [int(r["round"]) for r in overlap] == [0, 1, 2]
    for row in overlap:
        files = [layout.round_masks(budget_report.step1_task(task_id))[int(row["round"])] for task_id in range(3)]
        masks = [load_mask(path)["mask"] for path in files]
        assert float(row["all"]) == round(overlap_ratio(masks), 4)
        assert float(row["pos & ner"]) == round(overlap_ratio([masks[0], masks[2]]), 4)

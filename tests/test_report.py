"""Tests for report.py / utils.report on a hand-made named run (utils.runs.layout) whose numbers are computed by
hand. The builders here (write_step1, write_joint, write_masks, named_run) are shared by tests/test_report_*.py."""
import csv
import json
import os
from pathlib import Path

import pytest
import torch

import report
from utils.runs.checkpoint import atomic_save
from utils.subnets.masks import save_mask
from utils.runs import layout

# A hand-made "model": prunable weights lstm 4×3 (12) and conv 2×2 (4); biases 4 + 2; embedding and head are no
# encoder tensors. One dense encoder: 12 + 4 + 4 + 2 = 22 parameters.
STATE = {"embedding.embedding.weight": torch.zeros(5, 3), "char.convs.0.weight": torch.ones(2, 2),
         "char.convs.0.bias": torch.zeros(2), "lstm.lstm.weight_ih_l0": torch.ones(4, 3),
         "lstm.lstm.bias_ih_l0": torch.zeros(4), "heads.out.0.weight": torch.ones(7, 8)}
DENSE = 22
TASKS = {0: "pos", 1: "ner", 2: "chunk"}
# Kept entries (flat indices) of the chosen masks: lstm of 12, conv of 4.
KEPT = {"pos": (range(0, 8), range(0, 4)), "ner": (range(4, 12), range(0, 2)), "chunk": (range(0, 6), range(0))}

SINGLE = {"pos": 95.0, "ner": 89.0, "chunk": 90.0}
WARM = {"pos": 95.2, "ner": 88.5, "chunk": 90.4}     # Step 1 from the warmup, round 0
SUBNET = {"pos": 95.1, "ner": 89.4, "chunk": 90.0}
HARD = {"pos": 95.3, "ner": 88.6, "chunk": 90.9}
SOFT = {"pos": 95.2, "ner": 89.3, "chunk": 90.7}
SPARSE = {"pos": 95.6, "ner": 90.3, "chunk": 91.5}
NOMTW = {"pos": 95.4, "ner": 89.6, "chunk": 91.0}


def hand_mask(task: str) -> dict[str, torch.Tensor]:
    """The KEPT entries of a task as a boolean mask over the two prunable weights."""
    lstm, conv = torch.zeros(12, dtype=torch.bool), torch.zeros(4, dtype=torch.bool)
    lstm[list(KEPT[task][0])] = True
    conv[list(KEPT[task][1])] = True
    return {"lstm.lstm.weight_ih_l0": lstm.view(4, 3), "char.convs.0.weight": conv.view(2, 2)}


def write_json(path: Path | str, obj: object) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def named_run(exp: Path, name: str, mtime: float | None = None) -> layout.Run:
    """A named run's folder with its plan.json (the pipeline's mark of a named run)."""
    run = layout.run(str(exp), name)
    write_json(run.plan, {"mode": "baselines"})
    if mtime is not None:
        os.utime(run.plan, (mtime, mtime))
    return run


def write_snapshot(folder: str, setting: str, tasks: dict[str, str]) -> None:
    """A data snapshot's meta.json (the only file of it the report reads)."""
    write_json(layout.in_folder(folder, layout.SNAPSHOT, layout.SNAPSHOT_META),
               {"setting": setting, "tasks": [{"name": t, "metric": m} for t, m in tasks.items()]})


def write_step1(tasks_dir: str, tasks: dict[int, str], round0: dict[str, float], dev: float = 50.0) -> None:
    """Step 1 task folders with two rounds per task (100% and 50% kept); round 0's test score from `round0`."""
    for task_id, task in tasks.items():
        folder = Path(tasks_dir) / str(task_id)
        write_json(folder / layout.CONFIG, {"task": task})
        atomic_save(STATE, str(folder / layout.INIT))
        rounds = [{"round": 0, "kept": 100.0, "dev": dev, "test": round0[task]},
                  {"round": 1, "kept": 50.0, "dev": dev + 1, "test": round0[task] + 0.5}]
        (folder / layout.SCORES).write_text("".join(json.dumps(r) + "\n" for r in rounds), encoding="utf-8")
        write_json(folder / layout.COMPLETE, {"task": task, "rounds": 2})


def write_joint(folder: str, system: str, scores: dict[str, float], params: int) -> None:
    """A results.json as train_mtl.py writes it (only the fields the report reads, plus config.json)."""
    write_json(layout.in_folder(folder, layout.CONFIG), {})
    write_json(layout.in_folder(folder, layout.RESULTS),
               {"system": system, "params": params, "tasks": {t: {"dev": 0.0, "test": s} for t, s in scores.items()}})


def write_masks(folder: str, tasks: dict[int, str], subnet: dict[str, float], round_: int = 1) -> None:
    """Step 2's folder: the hand-made masks, the rewind point and selection.json."""
    for task_id, task in tasks.items():
        save_mask(layout.in_folder(folder, layout.task_mask(task_id)), hand_mask(task), round_, task)
    atomic_save(STATE, layout.in_folder(folder, layout.INIT))
    write_json(layout.in_folder(folder, layout.SELECTION),
               {"chosen": [{"task_id": i, "task": t, "round": round_, "kept": 50.0, "dev": 1.0, "test": subnet[t]}
                           for i, t in tasks.items()]})


def write_all(run: layout.Run) -> None:
    """What `run_<setting>.sh all` leaves: warmup, Step 1 from the warmup, masks, Step 3."""
    write_step1(run.step1_tasks(), TASKS, WARM, dev=60.0)
    write_masks(run.masks(), TASKS, SUBNET)
    write_joint(run.step3(), "sparse sharing", SPARSE, 39)


@pytest.fixture(scope="module")
def exp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder whose newest named run has every run but hierarchical sharing (unfinished: no results.json),
    beside an older run with other numbers, which the report must not read."""
    root = tmp_path_factory.mktemp("exp")
    old = named_run(root, "old", mtime=1e9)
    write_step1(old.step1_tasks("nomtw"), TASKS, {t: 10.0 for t in TASKS.values()})
    write_joint(old.baseline("hard"), "hard sharing", {t: 10.0 for t in TASKS.values()}, 1)
    run = named_run(root, "new", mtime=2e9)
    write_all(run)
    write_step1(run.step1_tasks("nomtw"), TASKS, SINGLE)
    write_masks(run.masks("nomtw"), TASKS, SUBNET)
    write_joint(run.step3("nomtw"), "sparse sharing (no MTW)", NOMTW, 40)
    write_joint(run.baseline("hard"), "hard sharing", HARD, 534)
    write_joint(run.baseline("soft"), "soft sharing", SOFT, 1596)
    write_json(layout.in_folder(run.baseline("hier"), layout.CONFIG), {})
    return root


def read_csv(path: Path | str) -> dict[str, dict[str, str]]:
    """A report CSV keyed by its first column."""
    with open(path, encoding="utf-8") as f:
        return {row[next(iter(row))]: row for row in csv.DictReader(f)}


def run_report(exp: Path, out: Path, *flags: str, setting: str = "conll03") -> str:
    """Run report.py on `exp` into `out`; the Markdown it wrote."""
    report.main([setting, "--exp_dir", str(exp), "--out", str(out), *flags])
    return (out / layout.REPORT_MARKDOWN).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def out(exp: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the `exp` fixture's newest run, written once for the module."""
    folder = tmp_path_factory.mktemp("report")
    run_report(exp, folder)
    return folder


def read_markdown(out: Path) -> str:
    return (out / layout.REPORT_MARKDOWN).read_text(encoding="utf-8")


def test_main_table_numbers(out: Path) -> None:
    main = read_csv(out / layout.report_table("main"))
    assert list(main) == ["Single task", "Single task (subnet)", "Hard sharing", "Soft sharing",
                          "Hierarchical sharing", "Sparse sharing"]
    expected = {"Single task": SINGLE, "Single task (subnet)": SUBNET, "Hard sharing": HARD, "Soft sharing": SOFT,
                "Sparse sharing": SPARSE}
    for system, scores in expected.items():
        for task, score in scores.items():
            assert float(main[system][task]) == pytest.approx(score)
            delta = main[system][f"{task}_delta"]
            if system == "Single task":
                assert delta == ""
            else:
                assert float(delta) == pytest.approx(score - SINGLE[task], abs=1e-4)
    assert int(main["Single task"]["params"]) == 3 * DENSE
    assert int(main["Single task (subnet)"]["params"]) == (12 + 6) + (10 + 6) + (6 + 6)  # kept weights + biases
    assert [int(main[s]["params"]) for s in ("Hard sharing", "Soft sharing", "Sparse sharing")] == [534, 1596, 39]


def test_missing_run_is_shown_missing(exp: Path, out: Path) -> None:
    markdown = read_markdown(out)
    hier = read_csv(out / layout.report_table("main"))["Hierarchical sharing"]
    assert all(value == "" for key, value in hier.items() if key != "system")
    assert "| Hierarchical sharing | — | — | — | — | — | — | — |" in markdown
    missing = markdown.split("## Missing")[1]
    assert (f"- Hierarchical sharing: no run found (`hier/` unfinished: no {layout.RESULTS}); "
            f"`EXP_DIR={exp} NAME=new bash run_conll03.sh baselines` trains it") in missing
    assert "Soft sharing" not in missing


def test_the_named_run_is_read_and_no_other(out: Path) -> None:
    markdown = read_markdown(out)
    assert f"- Hard sharing: `hard/{layout.RESULTS}`" in markdown
    assert f"- Single task: `step1-nomtw/cp/*/{layout.SCORES}, round 0`" in markdown
    assert "Run `new` read from" in markdown and "10.00" not in markdown


def test_default_run_is_the_newest_and_said(exp: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    report.main(["conll03", "--exp_dir", str(exp), "--out", str(tmp_path / "a")])
    assert "report of run new, the newest in" in capsys.readouterr().err
    report.main(["conll03", "--exp_dir", str(exp), "--name", "old", "--out", str(tmp_path / "b")])
    assert "report of run" not in capsys.readouterr().err
    old = read_csv(tmp_path / "b" / layout.report_table("main"))
    assert float(old["Single task"]["pos"]) == 10.0 and float(old["Hard sharing"]["ner"]) == 10.0
    assert old["Sparse sharing"]["pos"] == ""


def test_report_goes_into_the_run(tmp_path: Path) -> None:
    run = named_run(tmp_path, "a")
    write_all(run)
    report.main(["conll03", "--exp_dir", str(tmp_path)])
    assert sorted(os.listdir(run.report)) == sorted(
        [layout.REPORT_MARKDOWN, layout.KEPT_VS_DEV, layout.MASK_LAYERS, layout.MASK_PARTS, layout.MASK_OVERLAP]
        + [layout.report_table(t) for t in ("main", "mtw", "overlap")])


def test_mtw_table(out: Path) -> None:
    mtw = read_csv(out / layout.report_table("mtw"))
    assert list(mtw) == ["Sparse sharing (no MTW)", "Sparse sharing (MTW)"]
    for task in TASKS.values():
        assert float(mtw["Sparse sharing (no MTW)"][task]) == pytest.approx(NOMTW[task])
        assert float(mtw["Sparse sharing (MTW)"][task]) == pytest.approx(SPARSE[task])
        gain = float(mtw["Sparse sharing (MTW)"][f"{task}_delta"])
        assert gain == pytest.approx(SPARSE[task] - NOMTW[task], abs=1e-4)
    assert [int(row["params"]) for row in mtw.values()] == [40, 39]


def test_overlap_and_gain(out: Path) -> None:
    overlap = read_csv(out / layout.report_table("overlap"))
    # ∩ / ∪ of the hand-made masks, counted entry by entry (lstm + conv).
    ratios = {"pos & ner": (4 + 2) / (12 + 4), "pos & chunk": (6 + 0) / (8 + 4), "ner & chunk": (2 + 0) / (12 + 2),
              "all": (2 + 0) / (12 + 4)}
    gains = {"pos & ner": (95.6 + 90.3) / 2 - (95.3 + 88.6) / 2, "pos & chunk": (95.6 + 91.5) / 2 - (95.3 + 90.9) / 2,
             "ner & chunk": (90.3 + 91.5) / 2 - (88.6 + 90.9) / 2,
             "all": (95.6 + 90.3 + 91.5) / 3 - (95.3 + 88.6 + 90.9) / 3}
    assert list(overlap) == list(ratios)
    for name in ratios:
        assert float(overlap[name]["overlap"]) == pytest.approx(ratios[name], abs=1e-4)
        assert float(overlap[name]["gain"]) == pytest.approx(gains[name], abs=1e-4)


def test_overlap_reads_the_masks_step3_trained_with(tmp_path: Path) -> None:
    """A joint run's own copies of its masks win over Step 2's folder (which a later Step 2 may change)."""
    run = named_run(tmp_path, "a")
    write_all(run)
    own = layout.in_folder(run.step3(), layout.OWN_MASKS)
    for task_id, task in TASKS.items():  # every task keeps the pos mask: overlap 1
        save_mask(layout.in_folder(own, layout.task_mask(task_id)), hand_mask("pos"), 1, task)
    markdown = run_report(tmp_path, tmp_path / "out")
    assert all(float(r["overlap"]) == 1.0 for r in read_csv(tmp_path / "out" / layout.report_table("overlap")).values())
    assert f"(`step3/{layout.OWN_MASKS}/`)" in markdown


def test_png_is_written(out: Path) -> None:
    assert (out / layout.KEPT_VS_DEV).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"![dev score against kept %]({layout.KEPT_VS_DEV})" in read_markdown(out)


def test_empty_run_reports_everything_missing(tmp_path: Path) -> None:
    named_run(tmp_path / "exp", "a")
    markdown = run_report(tmp_path / "exp", tmp_path / "out")
    main = read_csv(tmp_path / "out" / layout.report_table("main"))
    assert all(v == "" for row in main.values() for k, v in row.items() if k != "system")
    assert not (tmp_path / "out" / layout.KEPT_VS_DEV).exists()
    assert "- Single task: no run found" in markdown and "- Negative transfer: not run" in markdown


def test_negative_transfer_table(tmp_path: Path) -> None:
    negative = named_run(tmp_path / "exp", "a").negative
    write_step1(negative.step1_tasks(), {0: "ner", 1: "pp"}, {"ner": 71.05, "pp": 99.21})
    write_joint(negative.baseline("hard"), "hard sharing", {"ner": 61.62, "pp": 99.50}, 534)
    markdown = run_report(tmp_path / "exp", tmp_path / "out")
    table = read_csv(tmp_path / "out" / layout.report_table("negative"))
    assert float(table["Hard sharing"]["ner_delta"]) == pytest.approx(61.62 - 71.05, abs=1e-4)
    assert float(table["Hard sharing"]["pp_delta"]) == pytest.approx(99.50 - 99.21, abs=1e-4)
    assert int(table["Single task"]["params"]) == 2 * DENSE
    assert table["Sparse sharing"]["ner"] == ""
    assert "| System | NER F1 | Δ | PP acc | Δ | # Params |" in markdown
    assert f"- Hard sharing: `negative/hard/{layout.RESULTS}`" in markdown
    assert "- Negative transfer, Sparse sharing: no run found (nothing in `negative/step3/`)" in markdown
    assert ("The paper (NER / PP): single task 71.05 / 99.21, hard sharing 61.62 / 99.50, sparse sharing "
            "71.46 / 99.45.") in markdown


def test_encoder_count_of_the_paper_model() -> None:
    from models import get_model
    from tests.conftest import build_tiny_dataset
    from utils.subnets.params import encoder_params

    model = get_model("cnn-lstm", build_tiny_dataset(dim=100), hidden_size=200, n_layer=1)
    assert encoder_params(model.state_dict()) == encoder_params(model) == 533_930
    assert 3 * encoder_params(model.state_dict()) == 1_601_790


def test_lenient_scores_on_request(tmp_path: Path) -> None:
    """report.py --lenient: span tasks show the original's lenient F1 (test_lenient), POS its accuracy; the
    default report shows conlleval's."""
    run = named_run(tmp_path / "exp", "a")
    for task_id, task in {0: "pos", 1: "ner"}.items():
        folder = Path(run.step1_task(task_id, "nomtw"))
        write_json(folder / layout.CONFIG, {"task": task})
        atomic_save(STATE, str(folder / layout.INIT))
        record = {"round": 0, "kept": 100.0, "dev": 50.0, "test": 80.0 + task_id}
        if task == "ner":
            record["test_lenient"] = 84.5
        (folder / layout.SCORES).write_text(json.dumps(record) + "\n", encoding="utf-8")
        write_json(folder / layout.COMPLETE, {"task": task, "rounds": 1})
    for flag, ner in (([], 81.0), (["--lenient"], 84.5)):
        out = tmp_path / f"report{len(flag)}"
        run_report(tmp_path / "exp", out, *flag)
        single = read_csv(out / layout.report_table("main"))["Single task"]
        assert float(single["pos"]) == 80.0 and float(single["ner"]) == ner

"""Tests for report.py / utils.report on a hand-made exp/ folder whose numbers are computed by hand."""
import csv
import json
import os
from pathlib import Path

import pytest
import torch

import report
from utils.checkpoint import atomic_save
from utils.masks import save_mask

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


def write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def write_step1(cp: Path, tasks: dict[int, str], round0: dict[str, float], dev: float = 50.0) -> None:
    """Step 1 folders with two rounds per task (100% and 50% kept); round 0's test score from `round0`."""
    for task_id, task in tasks.items():
        folder = cp / str(task_id)
        write_json(folder / "config.json", {"task": task})
        atomic_save(STATE, str(folder / "init_weights.th"))
        rounds = [{"round": 0, "kept": 100.0, "dev": dev, "test": round0[task]},
                  {"round": 1, "kept": 50.0, "dev": dev + 1, "test": round0[task] + 0.5}]
        (folder / "scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rounds), encoding="utf-8")
        write_json(folder / "complete.json", {"task": task, "rounds": 2})


def write_run(path: Path, system: str, scores: dict[str, float], params: int, mtime: float | None = None) -> None:
    """A results.json as train_mtl.py writes it (only the fields the report reads, plus config.json)."""
    write_json(path / "config.json", {})
    write_json(path / "results.json", {"system": system, "params": params,
                                       "tasks": {t: {"dev": 0.0, "test": s} for t, s in scores.items()}})
    if mtime is not None:
        os.utime(path / "results.json", (mtime, mtime))


@pytest.fixture(scope="module")
def exp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exp/conll03 folder with every run but hierarchical sharing (whose run has no results.json)."""
    root = tmp_path_factory.mktemp("exp")
    write_step1(root / "single-nomtw" / "cp", TASKS, SINGLE)
    write_step1(root / "single" / "cp", TASKS, SINGLE, dev=60.0)
    masks = root / "mtl" / "mask"
    for task_id, task in TASKS.items():
        save_mask(str(masks / f"{task_id}.th"), hand_mask(task), 1, task)
    atomic_save(STATE, str(masks / "init_weights.th"))
    write_json(masks / "selection.json", {"chosen": [{"task_id": i, "task": t, "round": 1, "kept": 50.0, "dev": 1.0,
                                                      "test": SUBNET[t]} for i, t in TASKS.items()]})
    write_run(root / "mtl" / "run-a", "sparse sharing", SPARSE, 39)
    write_run(root / "mtl" / "run-a-nomtw", "sparse sharing (no MTW)", NOMTW, 40)
    write_run(root / "baselines" / "hard-old", "hard sharing", {t: 10.0 for t in TASKS.values()}, 1, mtime=1e9)
    write_run(root / "baselines" / "hard-new", "hard sharing", HARD, 534, mtime=2e9)
    write_run(root / "baselines" / "soft-a", "soft sharing", SOFT, 1596)
    write_json(root / "baselines" / "hier-a" / "config.json", {})
    write_json(root / "mtl" / "unlabelled" / "results.json", {"tasks": {}})
    return root


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    """A report CSV keyed by its first column."""
    with open(path, encoding="utf-8") as f:
        return {row[next(iter(row))]: row for row in csv.DictReader(f)}


def run_report(exp: Path, out: Path) -> str:
    """Run report.py on `exp` into `out`; the Markdown it wrote."""
    report.main(["conll03", "--exp_dir", str(exp), "--out", str(out)])
    return (out / "report.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def out(exp: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the `exp` fixture, written once for the module."""
    folder = tmp_path_factory.mktemp("report")
    run_report(exp, folder)
    return folder


def read_markdown(out: Path) -> str:
    """The report.md of a report folder."""
    return (out / "report.md").read_text(encoding="utf-8")


def test_main_table_numbers(out: Path) -> None:
    main = read_csv(out / "main.csv")
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


def test_missing_run_is_shown_missing(out: Path) -> None:
    markdown = read_markdown(out)
    hier = read_csv(out / "main.csv")["Hierarchical sharing"]
    assert all(value == "" for key, value in hier.items() if key != "system")
    assert "| Hierarchical sharing | — | — | — | — | — | — | — |" in markdown
    missing = markdown.split("## Missing")[1]
    assert "- Hierarchical sharing: no run found" in missing
    assert "- baselines/hier-a: unfinished (no results.json)" in missing
    assert '- mtl/unlabelled/results.json: no "system" label, so no table row' in missing
    assert "Soft sharing" not in missing


def test_newest_run_is_taken_and_named(out: Path) -> None:
    assert ("- Hard sharing: `baselines/hard-new/results.json`; newest of 2 (also baselines/hard-old/results.json)"
            in read_markdown(out))


def test_mtw_table(out: Path) -> None:
    mtw = read_csv(out / "mtw.csv")
    assert list(mtw) == ["Sparse sharing (no MTW)", "Sparse sharing (MTW)"]
    for task in TASKS.values():
        assert float(mtw["Sparse sharing (no MTW)"][task]) == pytest.approx(NOMTW[task])
        assert float(mtw["Sparse sharing (MTW)"][task]) == pytest.approx(SPARSE[task])
        gain = float(mtw["Sparse sharing (MTW)"][f"{task}_delta"])
        assert gain == pytest.approx(SPARSE[task] - NOMTW[task], abs=1e-4)
    assert [int(row["params"]) for row in mtw.values()] == [40, 39]


def test_overlap_and_gain(out: Path) -> None:
    overlap = read_csv(out / "overlap.csv")
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


def test_png_is_written(out: Path) -> None:
    assert (out / "kept_vs_dev.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![dev score against kept %](kept_vs_dev.png)" in read_markdown(out)


def test_empty_exp_dir_reports_everything_missing(tmp_path: Path) -> None:
    (tmp_path / "exp").mkdir()
    markdown = run_report(tmp_path / "exp", tmp_path / "out")
    main = read_csv(tmp_path / "out" / "main.csv")
    assert all(v == "" for row in main.values() for k, v in row.items() if k != "system")
    assert not (tmp_path / "out" / "kept_vs_dev.png").exists()
    assert "- Single task: no run found" in markdown and "- Negative transfer: not run" in markdown


def test_missing_exp_dir_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        report.main(["conll03", "--exp_dir", str(tmp_path / "nothere")])
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'nothere'}: no runs folder")


def test_negative_transfer_table(tmp_path: Path) -> None:
    neg = tmp_path / "exp" / "negative"
    write_step1(neg / "single" / "cp", {0: "ner", 1: "pp"}, {"ner": 71.05, "pp": 99.21})
    write_run(neg / "baselines" / "hard-a", "hard sharing", {"ner": 61.62, "pp": 99.50}, 534)
    markdown = run_report(tmp_path / "exp", tmp_path / "out")
    table = read_csv(tmp_path / "out" / "negative.csv")
    assert float(table["Hard sharing"]["ner_delta"]) == pytest.approx(61.62 - 71.05, abs=1e-4)
    assert float(table["Hard sharing"]["pp_delta"]) == pytest.approx(99.50 - 99.21, abs=1e-4)
    assert int(table["Single task"]["params"]) == 2 * DENSE
    assert table["Sparse sharing"]["ner"] == ""
    assert "| System | NER F1 | Δ | PP acc | Δ | # Params |" in markdown
    assert "- Hard sharing: `negative/baselines/hard-a/results.json`" in markdown
    assert "- Negative transfer, Sparse sharing: no run found" in markdown


def test_encoder_count_of_the_paper_model() -> None:
    from models import get_model
    from tests.conftest import build_tiny_dataset
    from utils.params import encoder_params

    model = get_model("cnn-lstm", build_tiny_dataset(dim=100), hidden_size=200, n_layer=1)
    assert encoder_params(model.state_dict()) == encoder_params(model) == 533_930
    assert 3 * encoder_params(model.state_dict()) == 1_601_790


def test_lenient_scores_on_request(tmp_path):
    """report.py --lenient: span tasks show the original's lenient F1 (test_lenient), POS its accuracy; the
    default report shows conlleval's."""
    import subprocess
    import sys

    root = tmp_path / "exp"
    cp = root / "single-nomtw" / "cp"
    for task_id, task in {0: "pos", 1: "ner"}.items():
        folder = cp / str(task_id)
        write_json(folder / "config.json", {"task": task})
        atomic_save(STATE, str(folder / "init_weights.th"))
        record = {"round": 0, "kept": 100.0, "dev": 50.0, "test": 80.0 + task_id}
        if task == "ner":
            record["test_lenient"] = 84.5
        (folder / "scores.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
        write_json(folder / "complete.json", {"task": task, "rounds": 1})
    for flag, ner in (([], 81.0), (["--lenient"], 84.5)):
        out = tmp_path / f"report{len(flag)}"
        done = subprocess.run([sys.executable, "report.py", "conll03", "--exp_dir", str(root), "--out", str(out),
                               *flag], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        with open(out / "main.csv", encoding="utf-8") as f:
            single = next(row for row in csv.DictReader(f) if row["system"] == "Single task")
        assert float(single["pos"]) == 80.0 and float(single["ner"]) == ner

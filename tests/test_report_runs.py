"""report.py on named runs: which run it reads (one-line errors listing the names), what it says after `all`
(the single-task row from the warmup's round 0, labelled so), the commands it suggests (the real run script of
the run's data setting), the sections only CoNLL-2003 has, and --compare, the closing table of `all`."""
import subprocess
import sys
from pathlib import Path

import pytest

import report
from tests.test_report import (DENSE, SPARSE, SUBNET, TASKS, WARM, named_run, read_csv, run_report, write_all,
                               write_snapshot, write_step1)
from utils.runs import layout

REPO = Path(__file__).resolve().parents[1]
METRICS = {"pos": "acc", "ner": "bioes", "chunk": "bio"}


def error_of(capsys: pytest.CaptureFixture, *argv: str) -> str:
    """report.py's one error line (exit status 1)."""
    with pytest.raises(SystemExit) as stop:
        report.main(list(argv))
    assert stop.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_which_run_errors_list_what_is_there(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    exp = tmp_path / "exp"
    assert error_of(capsys, "conll03", "--exp_dir", str(exp)) == (
        f"error: {exp}: no runs folder (run `bash run_conll03.sh all`, or pass --exp_dir)")
    assert "run `bash run_columns.sh all`" in error_of(capsys, "turkish", "--exp_dir", str(exp))
    (exp / "mtl").mkdir(parents=True)  # a folder without plan.json is no named run
    assert f"error: {exp}: no named runs in it" in error_of(capsys, "conll03", "--exp_dir", str(exp))
    named_run(exp, "b", mtime=2e9)
    named_run(exp, "a", mtime=1e9)
    assert error_of(capsys, "conll03", "--exp_dir", str(exp), "--name", "c") == (
        f"error: {exp}: no run named 'c'; the runs there (folders holding {layout.PLAN}): a, b")
    assert "error: --name ../b: a run name is" in error_of(capsys, "conll03", "--exp_dir", str(exp), "--name", "../b")
    assert error_of(capsys, "conll03", "--exp_dir", str(exp), "--compare", "d").startswith(
        f"error: {exp}: no run named 'd'")
    assert error_of(capsys, "conll03", "--exp_dir", str(exp), "--name", "a", "--seed", "2") == (
        f"error: --seed 2: run a in {exp} has no seed2/ (it has no seed<s>/ folders)")


def test_newest_run_is_said_with_the_others(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    named_run(tmp_path, "b", mtime=1e9)
    named_run(tmp_path, "a", mtime=2e9)
    report.main(["conll03", "--exp_dir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert f"report of run a, the newest in {tmp_path}; --name picks another of: b" in capsys.readouterr().err


def test_after_all_the_single_row_is_the_warmups_round_0(tmp_path: Path) -> None:
    """`all` trains Step 1 from the warmup only: its dense round 0 is the single-task row, labelled so, and
    every Δ is taken against it; the missing θ(0) row is listed."""
    write_all(named_run(tmp_path / "exp", "quick"))
    markdown = run_report(tmp_path / "exp", tmp_path / "out")
    main = read_csv(tmp_path / "out" / layout.report_table("main"))
    assert list(main)[0] == "Single task (from the warmup)"
    single = main["Single task (from the warmup)"]
    assert [float(single[t]) for t in TASKS.values()] == [WARM[t] for t in TASKS.values()]
    assert int(single["params"]) == 3 * DENSE
    for task in TASKS.values():
        assert float(main["Sparse sharing"][f"{task}_delta"]) == pytest.approx(SPARSE[task] - WARM[task], abs=1e-4)
        assert float(main["Single task (subnet)"][f"{task}_delta"]) == pytest.approx(SUBNET[task] - WARM[task],
                                                                                     abs=1e-4)
    assert "Δ = system − single task (Step 1's round 0 from the warmup weights, not θ(0))" in markdown
    assert (f"- Single task (from the warmup): `step1/cp/*/{layout.SCORES}, round 0`; Step 1's dense round 0 trained "
            "from the warmup weights θ(w), not from θ(0)") in markdown
    assert "- Single task: no run found (no finished Step 1 in `step1-nomtw/cp/`)" in markdown


def test_unfinished_step1_is_listed(tmp_path: Path) -> None:
    run = named_run(tmp_path / "exp", "a")
    write_step1(run.step1_tasks("nomtw"), TASKS, WARM)
    Path(layout.in_folder(run.step1_task(1, "nomtw"), layout.COMPLETE)).unlink()
    markdown = run_report(tmp_path / "exp", tmp_path / "out")
    assert "- `step1-nomtw/cp/1`: Step 1 of ner unfinished (no complete.json)".replace(
        "complete.json", layout.COMPLETE) in markdown
    single = read_csv(tmp_path / "out" / layout.report_table("main"))["Single task"]
    assert float(single["pos"]) == WARM["pos"] and "ner" not in single


@pytest.mark.parametrize("setting, data, script", [
    ("turkish", "columns", "run_columns.sh"),     # your own tasks, whatever the setting was called
    ("columns", "columns", "run_columns.sh"),
    ("ptb", "ptb", "run_ptb.sh"),
    ("ontonotes", "ontonotes", "run_ontonotes.sh"),
    ("conll03", "conll03", "run_conll03.sh"),
    ("turkish", None, "run_columns.sh"),          # nothing trained yet: the setting's name decides
])
def test_hints_name_the_real_script(tmp_path: Path, setting: str, data: str | None, script: str) -> None:
    exp = tmp_path / "exp"
    run = named_run(exp, "r")
    if data:
        write_step1(run.step1_tasks(), TASKS, WARM)
        write_snapshot(run.step1_task(0), data, METRICS)
    markdown = run_report(exp, tmp_path / "out", setting=setting)
    assert f"`EXP_DIR={exp} NAME=r bash {script} baselines` trains it" in markdown
    assert "run_turkish.sh" not in markdown
    assert (REPO / script).is_file()


def test_default_exp_dir_is_left_out_of_the_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    named_run(Path(layout.default_exp_dir("conll03")), "r")
    report.main(["conll03"])
    text = (Path(layout.run(layout.default_exp_dir("conll03"), "r").report) / layout.REPORT_MARKDOWN).read_text()
    assert "`NAME=r bash run_conll03.sh baselines` trains it" in text


@pytest.mark.parametrize("data", ["ptb", "ontonotes", "columns"])
def test_conll03_sections_only_for_conll03(tmp_path: Path, data: str) -> None:
    run = named_run(tmp_path / "exp", "r")
    write_all(run)
    write_snapshot(run.step3(), data, METRICS)
    write_step1(run.negative.step1_tasks(), {0: "ner", 1: "pp"}, {"ner": 71.0, "pp": 99.0})
    markdown = run_report(tmp_path / "exp", tmp_path / "out", setting=data)
    assert "Negative transfer" not in markdown and "CoNLL-2003" not in markdown and "91.55" not in markdown
    assert not (tmp_path / "out" / layout.report_table("negative")).exists()
    if data == "ontonotes":
        assert ("The paper, OntoNotes 5.0 (POS / NER / Chunk): 97.54 / 83.42 / 95.56 with, 97.53 / 81.15 / 95.48 "
                "without.") in markdown
    else:
        assert "Δ = with MTW − without.\n" in markdown and "The paper" not in markdown


def test_conll03_quotes_its_paper_numbers(tmp_path: Path) -> None:
    run = named_run(tmp_path / "exp", "r")
    write_all(run)
    write_snapshot(run.step3(), "conll03", METRICS)
    markdown = run_report(tmp_path / "exp", tmp_path / "out", setting="conll03")
    assert ("The paper, CoNLL-2003 (POS / NER / Chunk): 95.56 / 90.35 / 91.55 with, 95.36 / 89.62 / 91.04 "
            "without.") in markdown
    assert "The paper, CoNLL-2003: pos & ner 0.18 (+0.40)" in markdown
    assert "- Negative transfer: not run (`EXP_DIR=" in markdown and "bash run_conll03.sh negative`)" in markdown


def test_compare_is_the_closing_table_of_all(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_all(named_run(tmp_path, "quick"))
    report.main(["conll03", "--exp_dir", str(tmp_path), "--compare", "quick"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Test scores, run quick (selected on dev); Step 1 here starts from the warmup weights:"
    assert lines[1] == ("| Task | Single task (Step 1 round 0) | Subnet alone (Step 1) | Kept % | "
                        "Sparse sharing (Step 3) | Δ joint − single |")
    # tasks in results.json's (the data's) order; Δ = 95.6 − 95.2, 90.3 − 88.5, 91.5 − 90.4; no "kept" recorded
    assert lines[3:] == ["| POS acc | 95.20 | 95.10 | — | 95.60 | +0.40 |",
                         "| NER F1 | 88.50 | 89.40 | — | 90.30 | +1.80 |",
                         "| Chunk F1 | 90.40 | 90.00 | — | 91.50 | +1.10 |"]


def test_compare_over_seeds_and_without_step3(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    named = named_run(tmp_path, "s")
    for seed in (1, 2):
        write_all(named.seed(seed))
    report.main(["conll03", "--exp_dir", str(tmp_path), "--compare", "s"])
    out = capsys.readouterr().out
    assert "run s, seed 1 (selected on dev)" in out and "run s, seed 2 (selected on dev)" in out
    report.main(["conll03", "--exp_dir", str(tmp_path), "--compare", "s", "--seed", "2"])
    assert "seed 1" not in capsys.readouterr().out
    write_step1(named.seed(3).step1_tasks(), TASKS, WARM)  # seed 3 has not reached Step 3 yet
    report.main(["conll03", "--exp_dir", str(tmp_path), "--compare", "s"])
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"seed 3: {named.seed(3).step3()}/{layout.RESULTS}: no finished Step 3 in this run (the modes mtl or all "
        "train it)")
    named_run(tmp_path, "empty")
    assert error_of(capsys, "conll03", "--exp_dir", str(tmp_path), "--compare", "empty") == (
        f"error: {layout.run(str(tmp_path), 'empty').step3()}/{layout.RESULTS}: no finished Step 3 in this run (the "
        "modes mtl or all train it)")


def test_a_seed_folder_named_as_a_run_is_that_seed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """What the pipeline runs after `all` with SEEDS (--exp_dir EXP_DIR/NAME --compare seed<s>) is --seed s of NAME;
    a run without plan.json (Step 1 and masks given as folders of one's own) can still be named."""
    named = named_run(tmp_path, "s")
    for seed in (1, 2):
        write_all(named.seed(seed))
    report.main(["conll03", "--exp_dir", named.root, "--compare", "seed2"])
    out = capsys.readouterr().out
    assert out.startswith("Test scores, run s, seed 2 (selected on dev)") and "seed 1" not in out
    report.main(["conll03", "--exp_dir", named.root, "--name", "seed1"])
    assert capsys.readouterr().out.startswith("# Sparse sharing: conll03\n\nRun `s` read from")
    assert (Path(named.seed(1).report) / layout.REPORT_MARKDOWN).is_file()
    assert "`SEEDS=1,2 EXP_DIR=" in (Path(named.seed(1).report) / layout.REPORT_MARKDOWN).read_text()
    write_all(layout.run(str(tmp_path), "own"))
    report.main(["conll03", "--exp_dir", str(tmp_path), "--compare", "own"])
    assert capsys.readouterr().out.startswith("Test scores, run own (selected on dev)")


def test_one_seed_report_goes_into_the_seed(tmp_path: Path) -> None:
    named = named_run(tmp_path, "s")
    for seed in (1, 2):
        write_all(named.seed(seed))
    report.main(["conll03", "--exp_dir", str(tmp_path), "--name", "s", "--seed", "2"])
    main = read_csv(Path(named.seed(2).report) / layout.report_table("main"))
    assert float(main["Sparse sharing"]["pos"]) == SPARSE["pos"] and "pos_mean" not in main["Sparse sharing"]
    report.main(["conll03", "--exp_dir", str(tmp_path), "--name", "s"])
    seeds = (Path(named.report) / layout.REPORT_MARKDOWN).read_text()
    assert f"--exp_dir {tmp_path} --name s --seed 1" in seeds
    orderings = read_csv(Path(named.report) / layout.report_table("orderings"))
    assert "Sparse sharing > single task (from the warmup), average" in orderings


def test_the_pipelines_command_lines(tmp_path: Path) -> None:
    """What run_<setting>.sh all runs at its end, and the command it prints next."""
    write_all(named_run(tmp_path, "quick"))
    for flags, shown in ((["--compare", "quick"], "| NER F1 | 88.50 | 89.40 |"),
                         (["--name", "quick"], "| Single task (from the warmup) | 95.20 | — | 88.50 |")):
        done = subprocess.run([sys.executable, "report.py", "conll03", "--exp_dir", str(tmp_path), *flags], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert shown in done.stdout
    assert (Path(layout.run(str(tmp_path), "quick").report) / layout.REPORT_MARKDOWN).is_file()

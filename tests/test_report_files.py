"""Bad input to report.py: every file of a run it reads, damaged in each way the report could trip on (not JSON,
not an object, a field missing or of the wrong type, a tensor file that is not one), is one error line naming the
file (and the line of a JSON-lines file, and the field) with exit status 1; and the report's files are written
whole or not at all. Also metrics.jsonl under layout's name."""
import json
import os
from pathlib import Path

import pytest

import report
from tests.test_report import TASKS, named_run, write_all, write_joint, write_snapshot, write_step1
from utils.training.metricslog import numbered_records, read_metrics, write_metrics
from utils.report.files import write_text
from utils.runs import layout


def full_run(exp: Path) -> layout.Run:
    """A run with a file of every kind the report reads."""
    run = named_run(exp, "r")
    write_all(run)
    write_step1(run.step1_tasks("nomtw"), TASKS, {t: 50.0 for t in TASKS.values()})
    write_joint(run.baseline("hard"), "hard sharing", {t: 60.0 for t in TASKS.values()}, 5)
    write_snapshot(run.step3(), "conll03", {"pos": "acc", "ner": "bioes", "chunk": "bio"})
    write_metrics(run.step3(), [{"stage": "joint", "epoch": 1, "dev": {"pos": 80.0}}])
    return run


def replace_json(path: str, change) -> None:
    with open(path, encoding="utf-8") as f:
        value = json.load(f)
    change(value)
    Path(path).write_text(json.dumps(value), encoding="utf-8")


def replace_line(path: str, number: int, line: str) -> None:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    lines[number - 1] = line
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def scores(run: layout.Run) -> str:
    return layout.in_folder(run.step1_task(1, "nomtw"), layout.SCORES)


def config(run: layout.Run) -> str:
    return layout.in_folder(run.step1_task(0), layout.CONFIG)


def selection(run: layout.Run) -> str:
    return layout.in_folder(run.masks(), layout.SELECTION)


def results(run: layout.Run) -> str:
    return layout.in_folder(run.baseline("hard"), layout.RESULTS)


def metrics(run: layout.Run) -> str:
    return layout.in_folder(run.step3(), layout.METRICS)


def meta(run: layout.Run) -> str:
    return layout.in_folder(run.step3(), layout.SNAPSHOT, layout.SNAPSHOT_META)


def mask(run: layout.Run) -> str:
    return layout.in_folder(run.masks(), layout.task_mask(2))


def init(run: layout.Run) -> str:
    return layout.in_folder(run.step1_task(2, "nomtw"), layout.INIT)


DAMAGES = {
    "scores line not JSON": (scores, lambda p: replace_line(p, 2, "{round: 1"), ":2: not JSON"),
    "scores line no object": (scores, lambda p: replace_line(p, 1, "[1, 2]"), ":1: expected a JSON object, found list"),
    "scores without test": (scores, lambda p: replace_line(p, 2, '{"round": 1, "kept": 50.0, "dev": 1.0}'),
                            ":2: no 'test' field"),
    "scores dev a string": (scores, lambda p: replace_line(p, 1, '{"round": 0, "kept": 100, "dev": "high", "test": 1}'),
                            ':1: \'dev\' is "high", expected a number'),
    "scores round a float": (scores, lambda p: replace_line(p, 1, '{"round": 0.5, "kept": 100, "dev": 1, "test": 1}'),
                             ":1: 'round' is 0.5, expected an integer"),
    "config not JSON": (config, lambda p: Path(p).write_text("{"), ": not valid JSON"),
    "config task a number": (config, lambda p: replace_json(p, lambda v: v.update(task=3)),
                             ": 'task' is 3, expected a string"),
    "selection chosen an object": (selection, lambda p: replace_json(p, lambda v: v.update(chosen={})),
                                   ": 'chosen' is {}, expected a list"),
    "selection without round": (selection, lambda p: replace_json(p, lambda v: v["chosen"][1].pop("round")),
                                ": chosen[1]: no 'round' field"),
    "results a list": (results, lambda p: Path(p).write_text("[]"), ": expected a JSON object, found list"),
    "results without tasks": (results, lambda p: replace_json(p, lambda v: v.pop("tasks")), ": no 'tasks' field"),
    "results test a string": (results, lambda p: replace_json(p, lambda v: v["tasks"]["ner"].update(test="x")),
                              ': tasks.ner: \'test\' is "x", expected a number'),
    "results params true": (results, lambda p: replace_json(p, lambda v: v.update(params=True)),
                            ": 'params' is true, expected an integer"),
    "metrics epoch a string": (metrics, lambda p: replace_line(p, 1, '{"epoch": "1", "dev": {}}'),
                               ':1: \'epoch\' is "1", expected an integer'),
    "metrics dev a list": (metrics, lambda p: replace_line(p, 1, '{"epoch": 1, "dev": [80]}'),
                           ":1: 'dev' is [80], expected an object"),
    "metrics dev score null": (metrics, lambda p: replace_line(p, 1, '{"epoch": 1, "dev": {"pos": null}}'),
                               ":1: 'dev.pos' is null, expected a number"),
    "meta without setting": (meta, lambda p: replace_json(p, lambda v: v.pop("setting")), ": no 'setting' field"),
    "meta task without metric": (meta, lambda p: replace_json(p, lambda v: v["tasks"][0].pop("metric")),
                                 ": tasks[0]: no 'metric' field"),
    "mask not a tensor file": (mask, lambda p: Path(p).write_bytes(b"not torch"), ": not a tensor checkpoint"),
    "init not a tensor file": (init, lambda p: Path(p).write_text("{}"), ": not a tensor checkpoint"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_file_is_one_line_naming_it(damage: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    where, spoil, message = DAMAGES[damage]
    run = full_run(tmp_path)
    path = where(run)
    spoil(path)
    with pytest.raises(SystemExit) as stop:
        report.main(["conll03", "--exp_dir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert stop.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("report of run r")
    assert err[1].startswith(f"error: {path}") and message in err[1], err[1]


def test_an_undamaged_run_reports(tmp_path: Path) -> None:
    """The run the damages start from is read without error."""
    full_run(tmp_path)
    report.main(["conll03", "--exp_dir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert (tmp_path / "out" / layout.LEARNING_CURVES).is_file()


def test_writes_are_whole_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    write_text(str(target), "old")
    with pytest.raises(TypeError):
        write_text(str(target), None)  # the write fails midway
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["report.md"]


def test_metrics_file_is_layouts_name(tmp_path: Path) -> None:
    records = [{"epoch": 1, "dev": {"pos": 1.0}}, {"epoch": 2, "dev": {"pos": 2.0}}]
    write_metrics(str(tmp_path), records)
    assert os.listdir(tmp_path) == [layout.METRICS]
    assert read_metrics(str(tmp_path / layout.METRICS)) == records
    (tmp_path / layout.METRICS).write_text('{"a": 1}\n\n{"b": 2}\n')
    assert numbered_records(str(tmp_path / layout.METRICS)) == [(1, {"a": 1}), (3, {"b": 2})]

"""The report's figures as matplotlib Figures: the score axis spans at least 5 points (hand-computed limits),
learning curves draw one-epoch runs as visible markers on whole-epoch ticks, and kept_vs_dev stars the chosen
round of each arm."""
import json
from pathlib import Path

import pytest

from tests.test_report import TASKS, named_run, write_all, write_json
from utils.report.figures import curve, epoch_runs, kept_vs_dev_figure, learning_curves_figure, y_limits
from utils.runs import layout


@pytest.mark.parametrize("values, limits", [
    ([90.0, 90.6], (87.8, 92.8)),     # a 0.6 range widened to 5 about its middle 90.3
    ([60.0], (57.5, 62.5)),           # one point
    ([20.0, 80.0], (17.0, 83.0)),     # a wide range padded by 5% of it (3) on each side
    ([99.5, 99.9], (95.5, 100.5)),    # 97.2 .. 102.2 moved down to end half a point above 100
])
def test_score_axis_spans_at_least_five_points(values, limits) -> None:
    assert y_limits(values) == pytest.approx(limits)


def test_kept_vs_dev_does_not_zoom_into_tenths(tmp_path: Path) -> None:
    run = named_run(tmp_path, "a")
    write_all(run)  # every task: dev 60.0 at 100% kept, 61.0 at 50% kept; round 1 chosen
    figure = kept_vs_dev_figure(run, {})
    assert [ax.get_title() for ax in figure.axes] == list(TASKS.values())
    for ax in figure.axes:
        low, high = ax.get_ylim()
        assert (low, high) == pytest.approx((58.0, 63.0))
        stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
        assert [(list(s.get_xdata()), list(s.get_ydata())) for s in stars] == [([50.0], [61.0])]
        assert ax.get_xlim()[0] > ax.get_xlim()[1]   # kept % decreases to the right


def epoch_lines(folder: str, task: str, scores: list[float]) -> None:
    """A joint run's metrics.jsonl with one epoch per score."""
    records = [{"stage": "joint", "epoch": i + 1, "dev": {task: s}} for i, s in enumerate(scores)]
    Path(layout.in_folder(folder, layout.METRICS)).parent.mkdir(parents=True, exist_ok=True)
    Path(layout.in_folder(folder, layout.METRICS)).write_text("".join(json.dumps(r) + "\n" for r in records))


def visible_ticks(ax) -> list[float]:
    low, high = ax.get_xlim()
    return [t for t in ax.get_xticks() if low <= t <= high]


def test_a_one_epoch_run_is_a_marked_point_on_whole_epochs(tmp_path: Path) -> None:
    run = named_run(tmp_path, "a")
    epoch_lines(run.step3(), "pos", [80.0])
    runs = epoch_runs(run)
    assert [folder for folder, _ in runs] == ["step3"]
    ax = learning_curves_figure(runs, {}).axes[0]
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [1] and line.get_marker() not in (None, "", " ", "None")
    assert visible_ticks(ax) == [1.0]
    assert ax.get_ylim() == pytest.approx((77.5, 82.5))


def test_learning_curve_ticks_are_whole_epochs(tmp_path: Path) -> None:
    run = named_run(tmp_path, "a")
    epoch_lines(run.step3(), "pos", [70.0, 75.0, 76.0])
    epoch_lines(run.baseline("hard"), "pos", [71.0, 74.0])
    ax = learning_curves_figure(epoch_runs(run), {}).axes[0]
    ticks = visible_ticks(ax)
    assert ticks and all(t == int(t) for t in ticks) and {1.0, 3.0} <= set(ticks)
    assert [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")] == ["step3", "hard"]


def test_step1_rounds_follow_each_other() -> None:
    records = [{"stage": "step1", "round": r, "epoch": e, "dev": {"ner": 10.0 * r + e}} for r in (1, 0) for e in (2, 1)]
    assert curve(records, "ner") == ([1, 2, 3, 4], [1.0, 2.0, 11.0, 12.0], [0, 2])


def test_no_scores_no_figure(tmp_path: Path) -> None:
    run = named_run(tmp_path, "a")
    assert kept_vs_dev_figure(run, {}) is None and learning_curves_figure(epoch_runs(run), {}) is None
    write_json(layout.in_folder(run.step3(), layout.CONFIG), {})
    assert epoch_runs(run) == []

"""Early stopping (--patience): a Step 1 round and joint training stop once dev has not improved for N epochs,
the best-dev weights are still the ones kept; 0 (the default) trains every epoch; a run stopped and resumed
stops where the uninterrupted one does."""
import json

import pytest
import torch

import train_mtl
import train_single
import utils.training.joint
import utils.training.task
from tests.test_joint import scripted_evaluate, tiny_model
from tests.test_resume import BUDGET, Stop, assert_same, files_of, stop_after
from utils.training.joint import JointTask, train_joint
from utils.training.joint import train_task
from utils.training.task import patience_spent

OPTIM = "sgd(lr=0.1, momentum=0.9)"


@pytest.fixture
def tiny_processed(tiny_data, tmp_path):
    directory = tmp_path / "tiny"
    tiny_data.save(str(directory))
    return directory


def test_patience_spent_counts_epochs_since_the_best() -> None:
    assert not patience_spent(5, 1, 0)                      # 0: never stop
    assert [patience_spent(e, 2, 2) for e in (2, 3, 4, 5)] == [False, False, True, True]
    assert patience_spent(3, 2, 1) and not patience_spent(2, 2, 1)


def scripted_dev(scores: list[float]):
    """A stand-in for utils.training.task.evaluate: dev score of epoch k is scores[k-1]; the weights at each call are
    recorded so that the kept best-dev weights can be identified."""
    seen = []

    def evaluate(model, mask, task_id, task, split, batch_size, device, pad_index):
        assert split == "dev"
        seen.append({k: v.clone() for k, v in model.state_dict().items()})
        return scores[len(seen) - 1]
    return evaluate, seen


def run_task(tiny_data, epochs: int, patience: int, state=None, checkpoint=None, log=lambda line: None):
    torch.manual_seed(0)
    model = tiny_model(tiny_data)
    return train_task(model, None, 1, tiny_data.tasks[1], epochs=epochs, batch_size=2, optim=OPTIM, device="cpu",
                      pad_index=tiny_data.words.padding_idx, generator=torch.Generator().manual_seed(0),
                      patience=patience, state=state, checkpoint=checkpoint, log=log)


def test_step1_round_stops_after_patience_epochs_without_improvement(tiny_data, monkeypatch) -> None:
    """Dev 10, 20, 15, 20 (a tie is no improvement), 30: with patience 2 the round ends after epoch 4 (two epochs
    since the best, epoch 2), keeping epoch 2's weights; epoch 5 is never trained."""
    evaluate, seen = scripted_dev([10, 20, 15, 20, 30])
    monkeypatch.setattr(utils.training.joint, "evaluate", evaluate)
    result = run_task(tiny_data, epochs=5, patience=2)
    assert (result.best_epoch, result.best_dev, result.epochs, result.stopped_early) == (2, 20, 4, True)
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    assert [h.get("stopped_early", False) for h in result.history] == [False, False, False, True]
    assert_same(result.best_state, seen[1])


@pytest.mark.parametrize("epochs, early", [(5, True), (4, False)])
def test_step1_epoch_lines_say_stopped_early_only_on_an_early_stop(tiny_data, monkeypatch, epochs, early) -> None:
    """Dev 10, 20, 15, 20: patience 2 is spent at epoch 4. Its line says the round stopped early when epochs were
    left (5), not when epoch 4 was the last anyway; no other line says it."""
    evaluate, _ = scripted_dev([10, 20, 15, 20])
    monkeypatch.setattr(utils.training.joint, "evaluate", evaluate)
    lines = []
    run_task(tiny_data, epochs=epochs, patience=2, log=lines.append)
    assert len(lines) == 4
    assert ["stopped early" in line for line in lines] == [False, False, False, early]


def test_patience_zero_and_a_stop_at_the_last_epoch_are_not_early(tiny_data, monkeypatch) -> None:
    evaluate, _ = scripted_dev([10, 9, 8, 7])
    monkeypatch.setattr(utils.training.joint, "evaluate", evaluate)
    result = run_task(tiny_data, epochs=4, patience=0)
    assert (result.epochs, result.stopped_early, result.best_epoch) == (4, False, 1)
    evaluate, _ = scripted_dev([10, 20, 9])
    monkeypatch.setattr(utils.training.joint, "evaluate", evaluate)
    result = run_task(tiny_data, epochs=3, patience=1)
    assert (result.epochs, result.stopped_early) == (3, False)
    assert "stopped_early" not in result.history[-1]


def test_a_saved_state_that_spent_its_patience_trains_no_further(tiny_data, monkeypatch) -> None:
    """Resuming from the state saved at the stopping epoch: no epoch is trained, the same result comes back."""
    evaluate, _ = scripted_dev([10, 5, 99])
    monkeypatch.setattr(utils.training.joint, "evaluate", evaluate)
    states = []
    first = run_task(tiny_data, epochs=3, patience=1, checkpoint=states.append)
    assert first.epochs == 2 and len(states) == 2
    again = run_task(tiny_data, epochs=3, patience=1, state=states[-1])
    assert (again.epochs, again.best_epoch, again.stopped_early) == (2, 1, True)
    assert_same(again.best_state, first.best_state)


def test_joint_training_stops_on_the_dev_average(tiny_data, monkeypatch) -> None:
    """Averages 10, 20, 15, 20, 30: patience 2 stops after epoch 4 with epoch 2 selected; on_best saw 1 and 2."""
    dev = [{"pos": 10, "ner": 10}, {"pos": 30, "ner": 10}, {"pos": 5, "ner": 25}, {"pos": 10, "ner": 30},
           {"pos": 50, "ner": 10}]
    monkeypatch.setattr(utils.training.joint, "evaluate", scripted_evaluate(dev, []))
    tasks = [JointTask(i, tiny_data.tasks[i], None) for i in range(2)]
    bests = []
    result = train_joint(tiny_model(tiny_data), tasks, epochs=5, batch_size=4, optim=OPTIM, scheduler="fix",
                         sampling="round-robin", device="cpu", pad_index=tiny_data.words.padding_idx,
                         generator=torch.Generator().manual_seed(0), on_best=bests.append, patience=2)
    assert bests == [1, 2] and result.best_epoch == 2 and result.stopped_early
    assert [h.epoch for h in result.history] == [1, 2, 3, 4]


@pytest.mark.parametrize("epochs, early", [(5, True), (4, False)])
def test_joint_epoch_lines_say_stopped_early_only_on_an_early_stop(tiny_data, monkeypatch, capsys, epochs,
                                                                    early) -> None:
    """Averages 10, 20, 15, 20: patience 2 is spent at epoch 4. The epoch-4 line says "stopped early" when epochs
    were left (5), not when epoch 4 was the last anyway; no other line says it."""
    dev = [{"pos": 10, "ner": 10}, {"pos": 30, "ner": 10}, {"pos": 5, "ner": 25}, {"pos": 10, "ner": 30}]
    monkeypatch.setattr(utils.training.joint, "evaluate", scripted_evaluate(dev, []))
    tasks = [JointTask(i, tiny_data.tasks[i], None) for i in range(2)]
    train_joint(tiny_model(tiny_data), tasks, epochs=epochs, batch_size=4, optim=OPTIM, scheduler="fix",
                sampling="round-robin", device="cpu", pad_index=tiny_data.words.padding_idx,
                generator=torch.Generator().manual_seed(0), on_best=lambda epoch: None, patience=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1", "epoch 2", "epoch 3", "epoch 4"]
    assert ["stopped early" in line for line in lines] == [False, False, False, early]


def step1_args(data, save_dir) -> list[str]:
    return ["--data_path", str(data), "--task_id", "1", "--epochs", "4", "--pruning_iter", "2", "--final_rate",
            "0.25", "--patience", "1", "--save_dir", str(save_dir), *BUDGET]


@pytest.fixture
def step1_reference(tiny_processed, tmp_path):
    train_single.main(step1_args(tiny_processed, tmp_path / "reference"))
    return files_of(tmp_path / "reference" / "cp" / "1")


def test_step1_reference_stops_early(step1_reference) -> None:
    """On the tiny data dev stays flat, so with patience 1 every round ends after 2 of its 4 epochs."""
    scores = step1_reference["scores.jsonl"]
    assert [(r["epochs"], r["history"][-1].get("stopped_early")) for r in scores] == [(2, True)] * 3


# 3 rounds × 2 epochs (stopped early) + 3 round ends = 9 saved states; k = 2 is the state saved at the epoch
# where round 0 stops: resumed, it must not train round 0's epoch 3.
@pytest.mark.parametrize("k", [1, 2, 3, 5, 9])
def test_step1_with_patience_resumes_to_the_uninterrupted_result(tiny_processed, tmp_path, monkeypatch,
                                                                 step1_reference, k) -> None:
    calls = stop_after(monkeypatch, train_single, k)
    with pytest.raises(Stop):
        train_single.main(step1_args(tiny_processed, tmp_path / "run"))
    assert len(calls) == k
    monkeypatch.undo()
    train_single.main(step1_args(tiny_processed, tmp_path / "run") + ["--resume"])
    assert_same(files_of(tmp_path / "run" / "cp" / "1"), step1_reference)


def mtl_args(data, save_dir) -> list[str]:
    return ["--data_path", str(data), "--save_dir", str(save_dir), "--exp_name", "r", "--epochs", "5",
            "--patience", "1", "--sampling", "proportional", *BUDGET]


@pytest.mark.parametrize("stop", ["first epoch", "epoch where it stops early"])
def test_step3_with_patience_resumes_to_the_uninterrupted_result(tiny_processed, tmp_path, monkeypatch,
                                                                 stop) -> None:
    """The joint run stops early (dev flat on the tiny data); stopped after the first epoch's state, or after the
    state of the epoch where it stops, and resumed, results.json (epochs run, stopped_early, history) and best.th
    are the uninterrupted run's: a resumed run must not train past its stop."""
    train_mtl.main(mtl_args(tiny_processed, tmp_path / "reference"))
    expected = files_of(tmp_path / "reference" / "r")
    epochs_run = expected["results.json"][0]["epochs_run"]
    assert expected["results.json"][0]["stopped_early"] and 2 <= epochs_run < 5
    stop_after(monkeypatch, train_mtl, 1 if stop == "first epoch" else epochs_run)
    with pytest.raises(Stop):
        train_mtl.main(mtl_args(tiny_processed, tmp_path / "run"))
    monkeypatch.undo()
    train_mtl.main(mtl_args(tiny_processed, tmp_path / "run") + ["--resume"])
    got = files_of(tmp_path / "run" / "r")
    for name in ("best.th", "results.json"):
        assert_same(got[name], expected[name], name)
    config = json.loads((tmp_path / "run" / "r" / "config.json").read_text())
    assert config["optimiser"]["patience"] == 1


def test_negative_patience_is_a_one_line_error(capsys) -> None:
    for module in (train_single, train_mtl):
        with pytest.raises(SystemExit):
            module.parse_args(["--patience", "-1"])
        assert "--patience must be ≥ 0" in capsys.readouterr().err

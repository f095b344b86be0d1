"""TensorBoard event files (utils.training.tensorboard): what the monitor writes, worked out by hand; budget runs of
train_mtl.py and train_single.py on real CoNLL-2003 slices read back with tensorboard's event processing (tags and
step counts); --no_tensorboard writes none and trains bit for bit the same; a run killed with SIGKILL and resumed
has every step exactly once, with the values of an uninterrupted run."""
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.killing import kill_when
from utils.runs import layout
from utils.training.joint import EpochReport
from utils.training.tensorboard import LOSS_EVERY, StepMonitor, open_writer

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
BUDGET = ["--train_limit", "60", "--eval_limit", "20", "--hidden_size", "8", "--batch_size", "5", "--device", "cpu"]
TASKS = ("pos", "chunk", "ner")
STEPS_PER_EPOCH = 3 * 12   # three tasks of 60 sentences in batches of 5: 12 batches each (proportional sampling)


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of the event files in `folder` (not its subfolders): its (step, value) pairs."""
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def steps(events: dict, tag: str) -> list[int]:
    return [step for step, _ in events[tag]]


def python(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


class Recorder:
    """A stand-in SummaryWriter that keeps what it is given."""

    def __init__(self):
        self.scalars: list[tuple[str, float, int]] = []
        self.flushes = 0

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def flush(self) -> None:
        self.flushes += 1


def report(epoch: int, dev: dict[str, float]) -> EpochReport:
    return EpochReport(epoch, dev, sum(dev.values()) / len(dev), loss=0.5, seconds=2.0, improved=True)


# --- the monitor, by hand ---

def test_loss_is_the_mean_of_the_last_n_steps_and_restarts_every_epoch():
    writer = Recorder()
    monitor = StepMonitor(writer, every=4)
    for step in range(1, 7):                    # epoch 1: steps 1..6, losses 1..6
        monitor.step(step, float(step), lr=0.1 * step)
    monitor.epoch(6, report(1, {"pos": 90.0}))
    for step in range(7, 13):                   # epoch 2: steps 7..12, losses 7..12
        monitor.step(step, float(step), lr=0.01)
    loss = [(value, step) for tag, value, step in writer.scalars if tag == "train/loss"]
    # step 4: (1+2+3+4)/4; step 8: the window restarted after epoch 1, so (7+8)/2; step 12: (9+10+11+12)/4
    assert loss == [(2.5, 4), (7.5, 8), (10.5, 12)]
    assert [(value, step) for tag, value, step in writer.scalars if tag == "train/lr"] == [(pytest.approx(0.4), 4),
                                                                                          (0.01, 8), (0.01, 12)]
    assert ("dev/pos", 90.0, 6) in writer.scalars and ("train/seconds", 2.0, 6) in writer.scalars
    assert not any(tag == "dev/average" for tag, _, _ in writer.scalars)   # one task: no average
    assert writer.flushes == 1


def test_offset_and_extra_scalars():
    writer = Recorder()
    monitor = StepMonitor(writer, offset=30, every=10, extra=lambda epoch: {"test/pos": 80.0 + epoch})
    for step in range(1, 11):
        monitor.step(step, 1.0, lr=0.1)
    monitor.epoch(10, report(2, {"pos": 90.0, "ner": 70.0}))
    assert ("train/loss", 1.0, 40) in writer.scalars
    assert {("dev/average", 80.0, 40), ("test/pos", 82.0, 40), ("dev/ner", 70.0, 40)} <= set(writer.scalars)


def test_purge_step_hides_what_a_stopped_writer_wrote(tmp_path):
    first = open_writer(str(tmp_path), 0)
    for step in range(1, 26):                   # trained to step 25, saved its state at step 20, then stopped
        first.add_scalar("train/loss", 1.0, step)
    first.close()
    time.sleep(1.1)                             # event files are named by the second they were opened
    second = open_writer(str(tmp_path), 21)
    for step in range(21, 31):
        second.add_scalar("train/loss", 2.0, step)
    second.close()
    assert scalars(tmp_path)["train/loss"] == [(s, 1.0) for s in range(1, 21)] + [(s, 2.0) for s in range(21, 31)]


# --- budget runs of the scripts ---

@pytest.fixture(scope="module")
def step1_run(processed_conll03_small, tmp_path_factory) -> Path:
    """Step 1 of POS: two epochs per round, one pruning round (kept 100% and 50%)."""
    out = tmp_path_factory.mktemp("tb_step1")
    python("train_single.py", "--data_path", str(processed_conll03_small), "--task_id", "0", "--epochs", "2",
           "--pruning_iter", "1", "--final_rate", "0.5", "--save_dir", str(out), *BUDGET)
    return out / layout.STEP1_TASKS / "0"


def test_step1_events(step1_run):
    per_epoch = 12                              # 60 POS sentences in batches of 5
    events = scalars(step1_run / layout.TENSORBOARD)
    assert steps(events, "dev/pos") == [per_epoch * e for e in (1, 2, 3, 4)]   # two rounds of two epochs
    assert steps(events, "train/loss") == list(range(LOSS_EVERY, 4 * per_epoch + 1, LOSS_EVERY))
    assert steps(events, "train/seconds") == steps(events, "dev/pos")
    rounds = scalars(step1_run / layout.TENSORBOARD / layout.TENSORBOARD_ROUNDS)
    assert [value for _, value in rounds["step1/kept"]] == [100.0, 50.0]
    assert steps(rounds, "step1/dev") == steps(rounds, "step1/test") == [0, 1]
    scores = [line for line in (step1_run / layout.SCORES).read_text().splitlines()]
    assert len(scores) == 2
    mask = torch.load(next(step1_run.glob("1_*.th")), weights_only=True)["mask"]
    for name, tensor in mask.items():
        assert rounds[f"mask/{name}"][1] == (1, pytest.approx(tensor.float().mean().item()))
        assert rounds[f"mask/{name}"][0] == (0, 1.0)


def test_joint_events_and_no_tensorboard_trains_the_same(processed_conll03_small, tmp_path):
    common = ["train_mtl.py", "--data_path", str(processed_conll03_small), "--epochs", "2", "--save_dir",
              str(tmp_path), *BUDGET]
    python(*common, "--exp_name", "on")
    python(*common, "--exp_name", "off", "--no_tensorboard")
    assert not (tmp_path / "off" / layout.TENSORBOARD).exists()
    on, off = (torch.load(tmp_path / name / layout.BEST, weights_only=True) for name in ("on", "off"))
    assert on.keys() == off.keys() and all(torch.equal(on[k], off[k]) for k in on)
    events = scalars(tmp_path / "on" / layout.TENSORBOARD)
    epochs = [STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH]
    for task in TASKS:
        assert steps(events, f"dev/{task}") == steps(events, f"kept/{task}") == epochs
        assert f"test/{task}" not in events
        assert [value for _, value in events[f"kept/{task}"]] == [100.0, 100.0]
    assert steps(events, "dev/average") == steps(events, "train/seconds") == epochs
    assert steps(events, "train/loss") == steps(events, "train/lr") == list(range(LOSS_EVERY, 2 * STEPS_PER_EPOCH + 1,
                                                                                    LOSS_EVERY))
    assert not any(tag.startswith("mask/") for tag in events)   # hard sharing has no masks


def test_sparse_sharing_records_mask_densities_at_step_0(step1_run, processed_conll03_small, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    shutil.copy(next(step1_run.glob("1_*.th")), masks / layout.task_mask(0))
    shutil.copy(step1_run / layout.INIT, masks / layout.INIT)
    python("train_mtl.py", "--data_path", str(processed_conll03_small), "--tasks", "0", "--masks_path", str(masks),
           "--epochs", "1", "--save_dir", str(tmp_path), "--exp_name", "sparse", *BUDGET)
    events = scalars(tmp_path / "sparse" / layout.TENSORBOARD)
    mask = torch.load(masks / layout.task_mask(0), weights_only=True)["mask"]
    assert {tag for tag in events if tag.startswith("mask/")} == {f"mask/pos/{name}" for name in mask}
    for name, tensor in mask.items():
        assert events[f"mask/pos/{name}"] == [(0, pytest.approx(tensor.float().mean().item()))]
    assert events["kept/pos"] == [(12, 50.0)]


# --- kill -9 and resume: every step once, the values of the uninterrupted run ---

def kill_after_first_state(args: list[str], state: Path, rng: random.Random) -> None:
    """Start a training script, SIGKILL it (its whole process group) a random moment after its first saved state."""
    kill_when([sys.executable, *args], ENV, state.exists, rng)
    time.sleep(1.1)   # the resumed run's event file must be named by a later second


def assert_same_events(resumed: dict, reference: dict) -> None:
    assert resumed.keys() == reference.keys()
    for tag, events in reference.items():
        got = resumed[tag]
        assert len({step for step, _ in got}) == len(got), f"{tag}: a step twice"
        assert [step for step, _ in got] == [step for step, _ in events], tag
        if tag != "train/seconds":
            assert [value for _, value in got] == [value for _, value in events], tag


def test_joint_run_killed_and_resumed_has_every_step_once(processed_conll03_small, tmp_path):
    common = ["train_mtl.py", "--data_path", str(processed_conll03_small), "--epochs", "6", "--save_dir",
              str(tmp_path), "--train_limit", "300", "--eval_limit", "20", "--hidden_size", "8", "--device", "cpu"]
    python(*common, "--exp_name", "reference")
    kill_after_first_state([*common, "--exp_name", "killed"], tmp_path / "killed" / layout.STATE,
                           random.Random(os.getpid()))
    assert not (tmp_path / "killed" / layout.RESULTS).exists()
    assert "resuming after epoch" in python(*common, "--exp_name", "killed", "--resume").stderr
    assert len(list((tmp_path / "killed" / layout.TENSORBOARD).iterdir())) == 2   # the killed run's file, then ours
    assert_same_events(scalars(tmp_path / "killed" / layout.TENSORBOARD),
                       scalars(tmp_path / "reference" / layout.TENSORBOARD))


def test_step1_run_killed_and_resumed_has_every_step_once(processed_conll03_small, tmp_path):
    common = ["train_single.py", "--data_path", str(processed_conll03_small), "--task_id", "2", "--epochs", "3",
              "--pruning_iter", "2", "--final_rate", "0.5", "--train_limit", "300", "--eval_limit", "20",
              "--hidden_size", "8", "--device", "cpu"]
    python(*common, "--save_dir", str(tmp_path / "reference"))
    task_dir = tmp_path / "killed" / layout.STEP1_TASKS / "2"
    kill_after_first_state([*common, "--save_dir", str(tmp_path / "killed")], task_dir / layout.STATE,
                           random.Random(os.getpid() + 1))
    assert not (task_dir / layout.COMPLETE).exists()
    assert "resuming ner at round" in python(*common, "--save_dir", str(tmp_path / "killed"), "--resume").stderr
    reference = tmp_path / "reference" / layout.STEP1_TASKS / "2"
    for sub in (Path(layout.TENSORBOARD), Path(layout.TENSORBOARD, layout.TENSORBOARD_ROUNDS)):
        assert_same_events(scalars(task_dir / sub), scalars(reference / sub))

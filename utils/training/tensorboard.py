"""TensorBoard event files of a training run (`torch.utils.tensorboard`), in <run folder>/tb (layout.TENSORBOARD),
written by rank 0 only; on unless --no_tensorboard. All scalars of one writer share one step axis, the global
training step (Step 1: counted over its rounds), so that a resumed run opens its writer with `purge_step` = the
first step it trains again: TensorBoard then hides whatever the stopped process wrote at or after that step, and
every step appears once. Everything is flushed before the training state is saved. Writing consumes no random
numbers: a run is bit for bit the same with or without event files.

Tags: train/loss and train/lr (the mean loss of the last LOSS_EVERY steps, and the learning rate, every
LOSS_EVERY global steps); per epoch dev/<task> (dev/average with several tasks), train/epoch_loss, train/seconds;
Step 3 per epoch also kept/<task> (its subnet's kept %; no test score per epoch: it would cost a pass over every
test set per epoch and invite choosing on test; results.json has the selected epoch's), and mask/<task>/<tensor>
(density) at step 0; Step 1 per round, in tb/rounds with the round as step: step1/kept, step1/dev, step1/test and
mask/<tensor>."""
import os
from collections.abc import Callable, Sequence
from typing import Protocol

import torch

from utils.runs.layout import TENSORBOARD, TENSORBOARD_ROUNDS
from utils.subnets.masks import Mask, kept_fraction


class EpochScores(Protocol):
    """What an epoch's report (utils.training.joint.EpochReport) tells the monitor."""

    epoch: int
    dev: dict[str, float]
    average: float
    loss: float
    seconds: float


LOSS_EVERY = 10   # train/loss and train/lr every N global steps


def open_writer(folder: str, purge_step: int):
    """A SummaryWriter into `folder` that hides the events of earlier writers at steps >= `purge_step`."""
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(log_dir=folder, purge_step=purge_step)


def mask_densities(mask: Mask, prefix: str = "mask/") -> dict[str, float]:
    """The kept fraction of every prunable tensor of a mask (True = kept), by tag."""
    return {f"{prefix}{name}": m.float().mean().item() for name, m in mask.items()}


class Monitor:
    """The training loop's hooks (train_joint's `monitor`): `step` after every gradient step (its 1-based step
    within the run, its loss and learning rate), `epoch` after every epoch's dev evaluation, before the training
    state is saved. This one writes nothing (SILENT: --no_tensorboard, ranks other than 0)."""

    def step(self, step: int, loss: float, lr: float) -> None:
        """Nothing to record."""

    def epoch(self, step: int, report: EpochScores) -> None:
        """Nothing to record."""


SILENT = Monitor()


class StepMonitor(Monitor):
    """Hooks that write into a SummaryWriter. `offset` shifts the loop's steps onto the writer's axis (Step 1's
    earlier rounds); `extra(epoch)` adds scalars per epoch. The loss window restarts every epoch, so a run resumed
    after an epoch logs what an uninterrupted one does."""

    def __init__(self, writer, offset: int = 0, every: int = LOSS_EVERY,
                 extra: Callable[[int], dict[str, float]] | None = None):
        self.writer, self.offset, self.every, self.extra = writer, offset, every, extra
        self.window: list[float] = []

    def step(self, step: int, loss: float, lr: float) -> None:
        self.window.append(loss)
        at = self.offset + step
        if at % self.every == 0:
            self.writer.add_scalar("train/loss", sum(self.window) / len(self.window), at)
            self.writer.add_scalar("train/lr", lr, at)
            self.window.clear()

    def epoch(self, step: int, report: EpochScores) -> None:
        at = self.offset + step
        scalars = {f"dev/{task}": score for task, score in report.dev.items()}
        if len(report.dev) > 1:
            scalars["dev/average"] = report.average
        scalars.update({"train/epoch_loss": report.loss, "train/seconds": report.seconds})
        scalars.update(self.extra(report.epoch) if self.extra is not None else {})
        for tag, value in scalars.items():
            self.writer.add_scalar(tag, value, at)
        self.window.clear()
        self.writer.flush()


class Step1Board:
    """Step 1's event files of one task: tb/ on the global step over rounds (a round's epoch e ends at step
    steps_per_epoch · (epochs of the earlier rounds + e)), tb/rounds/ on the round."""

    def __init__(self, task_dir: str, steps_per_epoch: int, records: Sequence[dict], round_: int,
                 pending_epoch: int):
        """`records`, `round_` and `pending_epoch`: the finished rounds, the round to train and the epochs of it
        already trained (a resumed run's state; a new run: [], its first round, 0)."""
        self.per_epoch = steps_per_epoch
        trained = self.epochs_before(records) + pending_epoch
        self.steps = open_writer(os.path.join(task_dir, TENSORBOARD), self.per_epoch * trained + 1)
        self.rounds = open_writer(os.path.join(task_dir, TENSORBOARD, TENSORBOARD_ROUNDS), round_)

    @staticmethod
    def epochs_before(records: Sequence[dict]) -> int:
        return sum(r["epochs"] for r in records)

    def monitor(self, records: Sequence[dict]) -> StepMonitor:
        """The hooks of the round that follows the finished `records`."""
        return StepMonitor(self.steps, offset=self.per_epoch * self.epochs_before(records))

    def round(self, round_: int, mask: Mask, dev: float, test: float) -> None:
        """A trained round: its kept %, the dev and test scores of its best weights, its mask's densities."""
        scalars = {"step1/kept": 100.0 * kept_fraction(mask), "step1/dev": dev, "step1/test": test,
                   **mask_densities(mask)}
        for tag, value in scalars.items():
            self.rounds.add_scalar(tag, value, round_)
        self.rounds.flush()

    def close(self) -> None:
        self.steps.close()
        self.rounds.close()


class JointBoard:
    """A joint run's event files (Step 3, the warmup, the baselines), tb/ on the global step."""

    def __init__(self, run_dir: str, resumed_step: int | None):
        """`resumed_step`: the global step of the saved training state a resumed run continues from; None
        starts afresh (hiding anything a stopped process wrote) and records the masks' densities at step 0."""
        self.writer = open_writer(os.path.join(run_dir, TENSORBOARD), 0 if resumed_step is None else resumed_step + 1)
        self.fresh = resumed_step is None

    def monitor(self, tasks: Sequence, kept: Sequence[float | None]) -> StepMonitor:
        """The hooks of the run; every epoch also each task's kept % (None: dense, 100). `tasks`: the run's
        JointTasks (data, mask, task_id); on a fresh start the masks' densities are recorded now."""
        if self.fresh:
            for task in tasks:
                if task.mask is not None:
                    for tag, value in mask_densities(task.mask, f"mask/{task.data.name}/").items():
                        self.writer.add_scalar(tag, value, 0)
            self.writer.flush()

        def extra(epoch: int) -> dict[str, float]:
            return {f"kept/{t.data.name}": 100.0 if k is None else k for t, k in zip(tasks, kept)}

        return StepMonitor(self.writer, extra=extra)

    def close(self) -> None:
        self.writer.close()

"""Step 3 of the paper: train all subnets jointly, each batch of task t through its mask M_t."""
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from utils.batching import bucket_batches, collate
from utils.dataset import TaskData
from utils.masks import Mask
from utils.sampling import epoch_schedule
from utils.training import evaluate, make_optimizer, train_step

SCHEDULERS = ("fix", "decay", "inverse_sqrt")


def lr_factor(name: str, step: int, steps_per_epoch: int, warmup_steps: int = 1000) -> float:
    """LR multiplier at global step `step` (0-based): `fix` 1 (the original's MTL default); `decay`
    1/(1 + 0.05·epoch) (Step 1's); `inverse_sqrt` linear warm-up over `warmup_steps`, then sqrt(warmup/step)."""
    if name == "fix":
        return 1.0
    if name == "decay":
        return 1.0 / (1.0 + 0.05 * (step // max(steps_per_epoch, 1)))
    if name == "inverse_sqrt":
        return min((step + 1) / warmup_steps, math.sqrt(warmup_steps / max(step + 1, warmup_steps)))
    raise ValueError(f"--scheduler {name!r}: expected one of {', '.join(SCHEDULERS)}")


@dataclass
class JointTask:
    """A task in joint training: its id in the model, its data and its subnet mask (None = dense)."""

    task_id: int
    data: TaskData
    mask: Mask | None


@dataclass
class EpochReport:
    epoch: int
    dev: dict[str, float]
    average: float
    loss: float
    seconds: float
    improved: bool


@dataclass
class JointResult:
    best_epoch: int
    best_dev: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)
    history: list[EpochReport] = field(default_factory=list)


def train_joint(model: nn.Module, tasks: list[JointTask], *, epochs: int, batch_size: int, optim: str,
                scheduler: str, sampling: str, device: torch.device | str, pad_index: int,
                generator: torch.Generator, on_best: Callable[[int], None],
                on_epoch: Callable[[int], None] = lambda epoch: None, clip_value: float = 5.0,
                print_every: int = 0, warmup_steps: int = 1000) -> JointResult:
    """Joint training. Every step picks a task by `sampling`, takes its next length-bucketed batch and makes a
    gradient step through the task's mask with the task's own optimiser, so neither the gradient nor the
    momentum of task t touches weights outside M_t. After each epoch the dev average selects the best
    weights, handed to `on_best(epoch)` to be saved; `on_epoch(epoch)` follows every epoch."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizers = [make_optimizer(optim, params) for _ in tasks]
    trains = [t.data.splits["train"] for t in tasks]
    sizes = [len(s) for s in trains]
    steps_per_epoch = sum(math.ceil(n / batch_size) for n in sizes)
    base_lrs = [[g["lr"] for g in o.param_groups] for o in optimizers]
    queues: list[list[list[int]]] = [[] for _ in tasks]
    counts: Counter = Counter()
    result = JointResult(0, {})
    best_average, global_step = -math.inf, 0
    for epoch in range(1, epochs + 1):
        start, losses = time.time(), []
        batches = [math.ceil(n / batch_size) for n in sizes]
        schedule = epoch_schedule(sampling, sizes, batches, generator)
        for step, k in enumerate(tqdm(schedule, desc=f"epoch {epoch}/{epochs}", leave=False, dynamic_ncols=True), 1):
            if not queues[k]:
                queues[k] = bucket_batches(trains[k].lengths, batch_size, generator)
            batch = collate(trains[k], queues[k].pop(), pad_index, device)
            factor = lr_factor(scheduler, global_step, steps_per_epoch, warmup_steps)
            for group, base in zip(optimizers[k].param_groups, base_lrs[k]):
                group["lr"] = base * factor
            losses.append(train_step(model, tasks[k].mask, tasks[k].task_id, batch, optimizers[k], clip_value=clip_value))
            global_step += 1
            counts[tasks[k].data.name] += 1
            if print_every and step % print_every == 0:
                tqdm.write(f"epoch {epoch} step {step}: loss {sum(losses[-print_every:]) / print_every:.4f}")
        dev = {t.data.name: evaluate(model, t.mask, t.task_id, t.data, "dev", batch_size, device, pad_index)
               for t in tasks}
        average = sum(dev.values()) / len(dev)
        improved = average > best_average
        if improved:
            best_average, result.best_epoch, result.best_dev = average, epoch, dev
            on_best(epoch)
        on_epoch(epoch)
        result.history.append(EpochReport(epoch, dev, average, sum(losses) / max(len(losses), 1),
                                          time.time() - start, improved))
        scores = "  ".join(f"{name} {score:.2f}" for name, score in dev.items())
        print(f"epoch {epoch}: dev {scores}  average {average:.2f}{'  *best' if improved else ''}  "
              f"loss {result.history[-1].loss:.4f}  {result.history[-1].seconds:.0f}s", flush=True)
    result.counts = dict(counts)
    return result

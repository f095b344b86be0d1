"""Step 3 of the paper: train all subnets jointly, each batch of task t through its mask M_t."""
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from utils.data.batching import collate, epoch_batches
from utils.data.dataset import TaskData
from utils.training.distributed import SINGLE, Context, StepTrace, broadcast, broadcast_parameters, gather, gradient_averager, \
    seed_dropout, shard, steps_per_epoch
from utils.subnets.masks import Mask
from utils.runs.resume import rng_state, set_rng_state
from utils.training.sampling import epoch_schedule
from utils.settings.groups import JOINT, OPTIMIZER_SCOPES, SCHEDULERS
from utils.training.task import NonFiniteLoss, evaluate, make_optimizer, patience_spent, train_step


def lr_factor(name: str, step: int, epoch: int, warmup_steps: int = JOINT.warmup_steps,
              decay: float = JOINT.lr_decay) -> float:
    """LR multiplier at global step `step` of epoch `epoch` (both 0-based): `fix` 1 (the original's MTL default);
    `decay` 1/(1 + decay·epoch) (Step 1's); `inverse_sqrt` linear warm-up over `warmup_steps`, then
    sqrt(warmup/step)."""
    if name == "fix":
        return 1.0
    if name == "decay":
        return 1.0 / (1.0 + decay * epoch)
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
    stopped_early: bool = False


def refill_batching(batching: str, sampling: str, first: bool) -> str:
    """How a task's next batches are composed. With `original` batching, as the original's loaders: random
    batches the first time (its loaders start with a RandomSampler), then bucketed, except that `resample`
    re-creates them random; the other modes are what they say."""
    if batching == "original" and (first or sampling == "resample"):
        return "random"
    return batching


def train_joint(model: nn.Module, tasks: list[JointTask], *, epochs: int, batch_size: int, optim: str,
                scheduler: str, sampling: str, device: torch.device | str, pad_index: int,
                generator: torch.Generator, on_best: Callable[[int], None],
                on_epoch: Callable[[int], None] = lambda epoch: None, clip_value: float | None = JOINT.clip_value,
                clip_norm: float | None = None, print_every: int = 0, warmup_steps: int = JOINT.warmup_steps,
                lr_decay: float = JOINT.lr_decay, batching: str = JOINT.batching, state: dict | None = None,
                checkpoint: Callable[[dict], None] | None = None, context: Context = SINGLE,
                patience: int = JOINT.patience, optimizer_scope: str = JOINT.optimizer_scope) -> JointResult:
    """Joint training. Every turn picks a task by `sampling` and makes a gradient step on the task's next batch
    through its mask with the task's own optimiser (`optimizer_scope` "task"), so neither the gradient nor the
    momentum of task t touches weights outside M_t; "shared" steps every task with one optimiser, as the original,
    whose momentum from the other tasks' steps moves weights outside M_t. A task whose batches have run out gets
    new ones; under `resample` that turn is skipped, as in the original. After each epoch the dev average selects
    the best weights, handed to `on_best(epoch)` to be saved; `on_epoch(epoch)` follows every epoch, then
    `checkpoint` receives the whole training state, from which `state` continues as if training had not stopped.
    With `patience` > 0, training stops once the dev average has not improved for that many epochs.
    Data-parallel (`context` of N ranks): every rank draws the same schedule and batch lists from `generator`
    and takes its shard of each list; an epoch has the steps of one pass over the data, each step one batch per
    rank with gradients averaged over the ranks. Callbacks run, and the epoch line prints, on rank 0 only;
    `checkpoint` gets every rank's batch queues and RNG states under "shards" (a resume needs the same N)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer_scope not in OPTIMIZER_SCOPES:
        raise ValueError(f"--optimizer_scope {optimizer_scope!r}: expected one of {', '.join(OPTIMIZER_SCOPES)}")
    optimizers = [make_optimizer(optim, params) for _ in (tasks if optimizer_scope == "task" else tasks[:1])]
    trains = [t.data.splits["train"] for t in tasks]
    sizes = [len(s) for s in trains]
    base_lrs = [[g["lr"] for g in o.param_groups] for o in optimizers]

    def refill(k: int, first: bool = False) -> list[list[int]]:
        batches = epoch_batches(refill_batching(batching, sampling, first), trains[k].lengths, batch_size, generator)
        return shard(batches, context)

    queues = [refill(k, first=True) for k in range(len(tasks))]
    counts: Counter = Counter()
    result = JointResult(0, {})
    best_average, global_step, first_epoch = -math.inf, 0, 1
    broadcast_parameters(model, context)
    seed_dropout(context)
    if state is not None:
        saved_world = state.get("world_size", 1)
        if saved_world != context.world_size:
            raise ValueError(f"--resume: the run was trained by {saved_world} process(es), this is {context.world_size}; "
                             f"resume it with the same number of processes (torchrun --nproc_per_node x --nnodes)")
        own = state["shards"][context.rank] if "shards" in state else state
        model.load_state_dict(state["model"])
        for optimizer, saved in zip(optimizers, state["optimizers"]):
            optimizer.load_state_dict(saved)
        queues, counts, global_step = own["queues"], Counter(state["counts"]), state["global_step"]
        best_average, first_epoch = state["best_average"], state["epoch"] + 1
        result = JointResult(state["best_epoch"], state["best_dev"],
                             history=[EpochReport(**report) for report in state["history"]])
        set_rng_state(own["rng"], generator)
    reduce, trace = gradient_averager(context), StepTrace(context)
    for epoch in range(first_epoch, epochs + 1):
        if patience_spent(epoch - 1, result.best_epoch, patience):
            result.stopped_early = True
            break
        start, losses = time.time(), []
        batches = [steps_per_epoch(math.ceil(n / batch_size), context) for n in sizes]
        schedule = epoch_schedule(sampling, sizes, batches, generator)
        for k in tqdm(schedule, desc=f"epoch {epoch}/{epochs}", leave=False, dynamic_ncols=True,
                      disable=not context.is_main):
            if not queues[k]:
                queues[k] = refill(k)
                if sampling == "resample":
                    continue
            indices = queues[k].pop(0)
            batch = collate(trains[k], indices, pad_index, device)
            slot = k if optimizer_scope == "task" else 0
            factor = lr_factor(scheduler, global_step, epoch - 1, warmup_steps, lr_decay)
            for group, base in zip(optimizers[slot].param_groups, base_lrs[slot]):
                group["lr"] = base * factor
            trace.start(model, tasks[k].mask)
            losses.append(train_step(model, tasks[k].mask, tasks[k].task_id, batch, optimizers[slot],
                                     clip_norm=clip_norm, clip_value=clip_value, reduce=reduce))
            trace.record(model, tasks[k].mask, epoch, global_step + 1, k, indices)
            if not math.isfinite(losses[-1]):
                raise NonFiniteLoss(f"task {tasks[k].data.name}: the loss is {losses[-1]} at epoch {epoch}, step "
                                    f"{global_step + 1}; lower the learning rate (--optim) or check the data")
            global_step += 1
            counts[tasks[k].data.name] += 1
            if print_every and global_step % print_every == 0:
                tqdm.write(f"epoch {epoch} step {global_step}: loss {sum(losses[-print_every:]) / print_every:.4f}")
        dev = broadcast({t.data.name: evaluate(model, t.mask, t.task_id, t.data, "dev", batch_size, device, pad_index)
                         for t in tasks} if context.is_main else None, context)
        average = sum(dev.values()) / len(dev)
        improved = average > best_average
        if improved:
            best_average, result.best_epoch, result.best_dev = average, epoch, dev
            if context.is_main:
                on_best(epoch)
        if context.is_main:
            on_epoch(epoch)
        result.history.append(EpochReport(epoch, dev, average, sum(losses) / max(len(losses), 1),
                                          time.time() - start, improved))
        scores = "  ".join(f"{name} {score:.2f}" for name, score in dev.items())
        stop = epoch < epochs and patience_spent(epoch, result.best_epoch, patience)
        if context.is_main:
            print(f"epoch {epoch}: dev {scores}  average {average:.2f}{'  *best' if improved else ''}  "
                  f"loss {result.history[-1].loss:.4f}  {result.history[-1].seconds:.0f}s"
                  + (f"  (dev average not better for {patience} epoch(s): stopped early)" if stop else ""), flush=True)
        if checkpoint is not None:
            shards = gather({"queues": queues, "rng": rng_state(generator)}, context)
            if context.is_main:
                checkpoint({"epoch": epoch, "model": model.state_dict(),
                            "optimizers": [o.state_dict() for o in optimizers], "queues": queues,
                            "counts": dict(counts), "global_step": global_step, "best_average": best_average,
                            "best_epoch": result.best_epoch, "best_dev": result.best_dev,
                            "history": [vars(report) for report in result.history], "rng": rng_state(generator),
                            **({"world_size": context.world_size, "shards": shards} if context.active else {})})
    result.counts = dict(counts)
    return result

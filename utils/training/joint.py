"""The training loop: Step 3 of the paper, all subnets trained jointly, each batch of task t through its mask M_t;
and Step 1's training of one task's subnet, which is a joint run of that one task taking one pass over freshly
drawn batches per epoch (`PASSES`) with Step 1's LR decay and clipping, keeping its best-dev weights in memory."""
import copy
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
from utils.training.metricslog import step1_history
from utils.training.sampling import epoch_schedule, refill_batching
from utils.settings.groups import JOINT, OPTIMIZER_SCOPES, SCHEDULERS, STEP1, Joint
from utils.training.tensorboard import SILENT, Monitor
from utils.training.task import NonFiniteLoss, evaluate, make_optimizer, patience_spent, train_step

PASSES = "passes"  # one task, one pass over batches drawn afresh each epoch (Step 1): no task draw, no "random first"


def lr_factor(name: str, step: int, epoch: int, warmup_steps: int = JOINT.warmup_steps,
              decay: float = JOINT.lr_decay, total_steps: int = 1, warmup_ratio: float = JOINT.warmup_ratio) -> float:
    """LR multiplier at global step `step` of epoch `epoch` (both 0-based): `fix` 1 (the original's MTL default);
    `decay` 1/(1 + decay·epoch) (Step 1's); `inverse_sqrt` linear warm-up over `warmup_steps`, then
    sqrt(warmup/step); `linear` warm-up over warmup_ratio·total_steps (at least one step), then linear decay to 0
    at step `total_steps` (Hugging Face's linear schedule, counted from step 1 so that no step has LR 0)."""
    if name == "fix":
        return 1.0
    if name == "decay":
        return 1.0 / (1.0 + decay * epoch)
    if name == "inverse_sqrt":
        return min((step + 1) / warmup_steps, math.sqrt(warmup_steps / max(step + 1, warmup_steps)))
    if name == "linear":
        warm = max(1, round(warmup_ratio * total_steps))
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))
    raise ValueError(f"--scheduler {name!r}: expected one of {', '.join(SCHEDULERS)}")


def parameter_groups(model: nn.Module) -> list:
    """The trainable parameters, in two groups when the encoder leaves some out of weight decay
    (models.encoder.Encoder.no_weight_decay: a transformer's biases and LayerNorm); else one plain list."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    rule = getattr(model, "no_weight_decay", None)
    exempt = [p for n, p in named if rule is not None and rule(n)]
    if not exempt:
        return [p for _, p in named]
    return [{"params": [p for n, p in named if not rule(n)]}, {"params": exempt, "weight_decay": 0.0}]


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


def train_joint(model: nn.Module, tasks: list[JointTask], *, epochs: int, batch_size: int, optim: str,
                scheduler: str, sampling: str, device: torch.device | str, pad_index: int,
                generator: torch.Generator, on_best: Callable[[int], None],
                on_epoch: Callable[[int], None] = lambda epoch: None, clip_value: float | None = JOINT.clip_value,
                clip_norm: float | None = None, print_every: int = 0, warmup_steps: int = JOINT.warmup_steps,
                lr_decay: float = JOINT.lr_decay, warmup_ratio: float = JOINT.warmup_ratio, amp: str = JOINT.amp,
                batching: str = JOINT.batching, state: dict | None = None,
                checkpoint: Callable[[dict], None] | None = None, context: Context = SINGLE,
                patience: int = JOINT.patience, optimizer_scope: str = JOINT.optimizer_scope,
                describe: Callable[[EpochReport, bool], str] | None = None, label: str | None = None,
                log: Callable[[str], None] = lambda line: print(line, flush=True),
                converged: Callable[[int], bool] | None = None, temperature: float = Joint.temperature,
                monitor: Monitor = SILENT) -> JointResult:
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
    `checkpoint` gets every rank's batch queues and RNG states under "shards" (a resume needs the same N).
    `describe(report, stopping)` makes the epoch line (default: every task's dev score and their average); `label`
    names the run in a non-finite-loss error and the progress bar (default: the task); `log` receives the line.
    `converged(epoch)`, asked after every epoch (one process), ends training when it says True (a mask finder's
    rule, e.g. early-bird's); the answer is part of the checkpoint, so a resumed run stops where it stopped.
    `temperature` is --sampling temperature's T. `monitor` (rank 0's TensorBoard hooks; other ranks: SILENT) sees
    every step's loss and learning rate and every epoch's report before the checkpoint; it draws no random numbers."""
    if optimizer_scope not in OPTIMIZER_SCOPES:
        raise ValueError(f"--optimizer_scope {optimizer_scope!r}: expected one of {', '.join(OPTIMIZER_SCOPES)}")
    optimizers = [make_optimizer(optim, parameter_groups(model))
                  for _ in (tasks if optimizer_scope == "task" else tasks[:1])]
    trains = [t.data.splits["train"] for t in tasks]
    sizes = [len(s) for s in trains]
    base_lrs = [[g["lr"] for g in o.param_groups] for o in optimizers]

    def refill(k: int, first: bool = False) -> list[list[int]]:
        batches = epoch_batches(refill_batching(batching, sampling, first), trains[k].lengths, batch_size, generator)
        return shard(batches, context)

    passes = sampling == PASSES
    if passes and (len(tasks) != 1 or context.active):
        raise ValueError("one pass per epoch (Step 1) trains one task in one process")
    epoch_steps = [steps_per_epoch(math.ceil(n / batch_size), context) for n in sizes]
    total_steps = epochs * sum(epoch_steps) * (len(tasks) if sampling == "resample" else 1)
    queues = [[] if passes else refill(k, first=True) for k in range(len(tasks))]
    counts: Counter = Counter()
    result = JointResult(0, {})
    best_average, global_step, first_epoch, done = -math.inf, 0, 1, False
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
        best_average, first_epoch, done = state["best_average"], state["epoch"] + 1, state.get("converged", False)
        result = JointResult(state["best_epoch"], state["best_dev"],
                             history=[EpochReport(**report) for report in state["history"]])
        set_rng_state(own["rng"], generator)
    reduce, trace = gradient_averager(context), StepTrace(context)
    for epoch in range(first_epoch, epochs + 1):
        if done or patience_spent(epoch - 1, result.best_epoch, patience):
            result.stopped_early = True
            break
        start, losses = time.time(), []
        if passes:
            queues = [refill(0)]
            schedule = [0] * len(queues[0])
        else:
            schedule = epoch_schedule(sampling, sizes, epoch_steps, generator, temperature)
        for k in tqdm(schedule, desc=f"{label + ' ' if label else ''}epoch {epoch}/{epochs}", leave=False,
                      dynamic_ncols=True, disable=not context.is_main):
            if not queues[k]:
                queues[k] = refill(k)
                if sampling == "resample":
                    continue
            indices = queues[k].pop(0)
            batch = collate(trains[k], indices, pad_index, device)
            slot = k if optimizer_scope == "task" else 0
            factor = lr_factor(scheduler, global_step, epoch - 1, warmup_steps, lr_decay, total_steps, warmup_ratio)
            for group, base in zip(optimizers[slot].param_groups, base_lrs[slot]):
                group["lr"] = base * factor
            trace.start(model, tasks[k].mask)
            losses.append(train_step(model, tasks[k].mask, tasks[k].task_id, batch, optimizers[slot],
                                     clip_norm=clip_norm, clip_value=clip_value, reduce=reduce, amp=amp))
            trace.record(model, tasks[k].mask, epoch, global_step + 1, k, indices)
            if not math.isfinite(losses[-1]):
                raise NonFiniteLoss(f"{label or 'task ' + tasks[k].data.name}: the loss is {losses[-1]} at epoch "
                                    f"{epoch}, step {global_step + 1} (training sentences {indices}); lower the "
                                    "learning rate (--optim) or check the data")
            global_step += 1
            counts[tasks[k].data.name] += 1
            monitor.step(global_step, losses[-1], base_lrs[slot][0] * factor)
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
        done = converged is not None and epoch < epochs and converged(epoch)
        stop = epoch < epochs and (done or patience_spent(epoch, result.best_epoch, patience))
        monitor.epoch(global_step, result.history[-1])
        if context.is_main:
            log(describe(result.history[-1], stop) if describe else epoch_line(result.history[-1]) + (
                f"  (dev average not better for {patience} epoch(s): stopped early)" if stop else ""))
        if checkpoint is not None:
            shards = gather({"queues": queues, "rng": rng_state(generator)}, context)
            if context.is_main:
                checkpoint({"epoch": epoch, "model": model.state_dict(),
                            "optimizers": [o.state_dict() for o in optimizers], "queues": queues,
                            "counts": dict(counts), "global_step": global_step, "best_average": best_average,
                            "best_epoch": result.best_epoch, "best_dev": result.best_dev,
                            "history": [vars(report) for report in result.history], "rng": rng_state(generator),
                            "converged": done, **({"world_size": context.world_size, "shards": shards} if context.active else {})})
    result.counts = dict(counts)
    return result


def epoch_line(report: EpochReport) -> str:
    """A joint epoch: every task's dev score, their average, the mean loss and the seconds."""
    scores = "  ".join(f"{name} {score:.2f}" for name, score in report.dev.items())
    return (f"epoch {report.epoch}: dev {scores}  average {report.average:.2f}{'  *best' if report.improved else ''}"
            f"  loss {report.loss:.4f}  {report.seconds:.0f}s")


@dataclass
class TrainResult:
    """What one training run of a subnet produced: its best-dev weights, when they were reached, the epochs
    trained (fewer than asked when stopped early), and per epoch the dev score, mean training loss and seconds."""

    best_state: dict
    best_dev: float
    best_epoch: int
    epochs: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    stopped_early: bool = False
    steps: int = 0  # optimiser steps


def joint_state(state: dict, task: str) -> dict:
    """A Step 1 training state saved before Step 1 was a joint run of one task (its own optimiser, LR scheduler
    and history of scalar dev scores), as the joint loop saves it; a state of today's form as it is."""
    if "scheduler" not in state:
        return state
    history, best = [], -math.inf
    for h in state["history"]:
        history.append({"epoch": h["epoch"], "dev": {task: h["dev"]}, "average": h["dev"], "loss": h["loss"],
                        "seconds": h["seconds"], "improved": h["dev"] > best})
        best = max(best, h["dev"])
    return {"epoch": state["epoch"], "model": state["model"], "optimizers": [state["optimizer"]], "queues": [[]],
            "counts": {}, "global_step": 0, "best_average": state["best_dev"], "best_epoch": state["best_epoch"],
            "best_dev": {task: state["best_dev"]}, "history": history, "rng": state["rng"],
            "best_state": state["best_state"], "seconds": state["seconds"]}


def train_task(model: nn.Module, mask: Mask | None, task_id: int, task: TaskData, *, epochs: int, batch_size: int,
               optim: str, device: torch.device | str, pad_index: int, generator: torch.Generator,
               batching: str = STEP1.batching, clip_norm: float | None = STEP1.clip_norm,
               lr_decay: float = STEP1.lr_decay, scheduler: str = STEP1.scheduler,
               warmup_steps: int = STEP1.warmup_steps, warmup_ratio: float = STEP1.warmup_ratio,
               amp: str = STEP1.amp, desc: str = "",
               log: Callable[[str], None] = lambda line: None, state: dict | None = None,
               checkpoint: Callable[[dict], None] | None = None, patience: int = STEP1.patience,
               converged: Callable[[int], bool] | None = None, why: str = "mask converged",
               monitor: Monitor = SILENT) -> TrainResult:
    """Step 1's training of one task's subnet from the model's current weights, as a joint run of that task: a
    fresh optimiser, every epoch one pass over batches composed as `batching` says, the LR schedule `scheduler`
    (Step 1's: × 1/(1+decay·epoch)) over the round's steps, gradient-norm clipping, dev every epoch; keeps the best-dev weights. With `patience` > 0, stops once dev has
    not improved for that many epochs. After every epoch `checkpoint` receives the whole training state (the best
    weights included); given back as `state`, training continues after that epoch exactly as if it had not
    stopped. `converged(epoch)` may end the round early too (a mask finder's rule; `why` says it in the log).
    `monitor`: the round's TensorBoard hooks (train_joint's)."""
    best = {"state": copy.deepcopy(model.state_dict())}
    answers: dict[int, bool] = {}

    def ask(epoch: int) -> bool:
        answers[epoch] = bool(converged(epoch))
        return answers[epoch]
    state = joint_state(state, task.name) if state is not None else None
    if state is not None:
        best["state"] = state["best_state"]

    def on_best(epoch: int) -> None:
        best["state"] = copy.deepcopy(model.state_dict())

    def line(report: EpochReport, stopping: bool) -> str:
        text = (f"{desc} epoch {report.epoch}/{epochs}: dev {report.dev[task.name]:.2f}"
                f"{'  *best' if report.improved else ''}  loss {report.loss:.4f}  {report.seconds:.0f}s")
        if not stopping:
            return text
        reason = why if answers.get(report.epoch) else f"dev not better for {patience} epoch(s)"
        return text + f"  ({reason}: round stopped early)"

    def save(training: dict) -> None:
        seconds = sum(h["seconds"] for h in training["history"])
        checkpoint({**training, "best_state": best["state"], "seconds": seconds})

    result = train_joint(model, [JointTask(task_id, task, mask)], epochs=epochs, batch_size=batch_size, optim=optim,
                         scheduler=scheduler, sampling=PASSES, device=device, pad_index=pad_index,
                         generator=generator, on_best=on_best, clip_value=None, clip_norm=clip_norm,
                         lr_decay=lr_decay, warmup_steps=warmup_steps, warmup_ratio=warmup_ratio, amp=amp,
                         batching=batching,
                         state=state, patience=patience, checkpoint=save if checkpoint is not None else None,
                         describe=line, label=desc, log=log, converged=ask if converged is not None else None,
                         monitor=monitor)
    history = step1_history([vars(r) for r in result.history], task.name)
    if result.stopped_early and history:
        history[-1]["stopped_early"] = True
    trained = history[-1]["epoch"] if history else 0
    return TrainResult(best["state"], result.best_dev.get(task.name, -math.inf), result.best_epoch, trained,
                       sum(r.seconds for r in result.history), history, trained < epochs,
                       sum(result.counts.values()))

"""Training and evaluation of one task's subnet: optimiser spec, LR schedule, masked steps, dev/test scoring."""
import ast
import copy
import math
import re
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from tqdm import tqdm

from utils.data.batching import Batch, collate, epoch_batches, sorted_batches
from utils.data.dataset import TaskData
from utils.subnets.masks import Mask, forward_with, masked_forward, masked_weights
from utils.training.metrics import make_lenient_metric, make_metric
from utils.runs.resume import rng_state, set_rng_state
from utils.settings.groups import STEP1

class NonFiniteLoss(ArithmeticError):
    """Training produced a NaN or infinite loss: continuing would only spread it through the weights."""


OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def make_optimizer(spec: str, params) -> torch.optim.Optimizer:
    """Build an optimiser from the original's string form, e.g. "sgd(lr=0.1, momentum=0.9)"."""
    match = re.fullmatch(r"\s*(\w+)\s*\((.*)\)\s*", spec)
    if not match or match.group(1).lower() not in OPTIMIZERS:
        raise ValueError(f"--optim {spec!r}: expected NAME(key=value, ...) with NAME in {', '.join(OPTIMIZERS)}")
    try:
        call = ast.parse(f"f({match.group(2)})", mode="eval").body
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except (SyntaxError, ValueError):
        raise ValueError(f"--optim {spec!r}: arguments must be key=literal pairs") from None
    return OPTIMIZERS[match.group(1).lower()](params, **kwargs)


def inverse_time_decay(optimizer: torch.optim.Optimizer,
                       decay: float = STEP1.lr_decay) -> torch.optim.lr_scheduler.LambdaLR:
    """LR × 1/(1 + decay·epoch), stepped once per epoch (the original's Step 1 schedule)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0 / (1.0 + decay * epoch))


def train_step(model: nn.Module, mask: Mask | None, task: int, batch: Batch, optimizer: torch.optim.Optimizer,
               clip_norm: float | None = None, clip_value: float | None = None,
               reduce: Callable[[list[nn.Parameter], torch.Tensor], torch.Tensor] | None = None) -> float:
    """One gradient step of `task`'s subnet on one batch; returns the loss. `reduce`, called between backward
    and clipping, may average the gradients (in place) and the loss over data-parallel ranks."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    logits = masked_forward(model, mask, task, batch.words, batch.seq_len)
    loss = model.heads.loss(task, logits, batch.tags, batch.seq_len)
    loss.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    if reduce is not None:
        loss = reduce(params, loss)
    if clip_norm is not None:
        nn.utils.clip_grad_norm_(params, clip_norm)
    if clip_value is not None:
        nn.utils.clip_grad_value_(params, clip_value)
    optimizer.step()
    return loss.item()


@torch.inference_mode()
def _score(model: nn.Module, mask: Mask | None, task_id: int, task: TaskData, split: str, batch_size: int,
           device: torch.device | str, pad_index: int, metric) -> float:
    """Feed the subnet's predictions on one split to `metric` and return its score (the masked weights are
    computed once for the whole split)."""
    model.eval()
    data = task.splits[split]
    weights = None if mask is None else masked_weights(model, mask)
    for indices in sorted_batches(data.lengths, max(batch_size, 32)):
        batch = collate(data, indices, pad_index, device)
        logits = forward_with(model, weights, task_id, batch.words, batch.seq_len)
        metric.update(model.heads.decode(task_id, logits, batch.seq_len), batch.tags, batch.seq_len)
    return metric.score()


def evaluate(model: nn.Module, mask: Mask | None, task_id: int, task: TaskData, split: str, batch_size: int,
             device: torch.device | str, pad_index: int) -> float:
    """The task's metric (percent) of its subnet on one split."""
    return _score(model, mask, task_id, task, split, batch_size, device, pad_index, make_metric(task.metric, task.tags))


def evaluate_lenient(model: nn.Module, mask: Mask | None, task_id: int, task: TaskData, split: str, batch_size: int,
                     device: torch.device | str, pad_index: int) -> float | None:
    """The span F1 the original code's Step 1 reported (its lenient decoders), for span tasks; else None."""
    metric = make_lenient_metric(task.metric, task.tags)
    return None if metric is None else _score(model, mask, task_id, task, split, batch_size, device, pad_index, metric)


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


def patience_spent(last_epoch: int, best_epoch: int, patience: int) -> bool:
    """Early stopping: dev has not improved for `patience` epochs after epoch `last_epoch` (0 = never stop).
    Derived from the best epoch alone, so a resumed run stops exactly where an uninterrupted one would."""
    return patience > 0 and last_epoch - best_epoch >= patience


def train_task(model: nn.Module, mask: Mask | None, task_id: int, task: TaskData, *, epochs: int, batch_size: int,
               optim: str, device: torch.device | str, pad_index: int, generator: torch.Generator,
               batching: str = STEP1.batching, clip_norm: float | None = STEP1.clip_norm,
               lr_decay: float = STEP1.lr_decay, desc: str = "",
               log: Callable[[str], None] = lambda line: None, state: dict | None = None,
               checkpoint: Callable[[dict], None] | None = None, patience: int = STEP1.patience) -> TrainResult:
    """Train one task's subnet from the model's current weights with a fresh optimiser: batches composed as
    `batching` says, LR × 1/(1+decay·epoch), gradient-norm clipping, dev every epoch; keeps the best-dev weights.
    With `patience` > 0, stops once dev has not improved for that many epochs. After every epoch `checkpoint`
    receives the whole training state; given back as `state`, training continues after that epoch exactly as if
    it had not stopped."""
    optimizer = make_optimizer(optim, [p for p in model.parameters() if p.requires_grad])
    scheduler = inverse_time_decay(optimizer, lr_decay)
    train = task.splits["train"]
    best_state, best_dev, best_epoch = copy.deepcopy(model.state_dict()), float("-inf"), 0
    history, first_epoch, elapsed = [], 1, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        best_state, best_dev, best_epoch = state["best_state"], state["best_dev"], state["best_epoch"]
        history, first_epoch, elapsed = state["history"], state["epoch"] + 1, state["seconds"]
        set_rng_state(state["rng"], generator)
    for epoch in range(first_epoch, epochs + 1):
        if patience_spent(epoch - 1, best_epoch, patience):
            break
        epoch_start, losses = time.time(), []
        batches = epoch_batches(batching, train.lengths, batch_size, generator)
        bar = tqdm(batches, desc=f"{desc} epoch {epoch}/{epochs}", leave=False, dynamic_ncols=True)
        for step, indices in enumerate(bar, 1):
            batch = collate(train, indices, pad_index, device)
            losses.append(train_step(model, mask, task_id, batch, optimizer, clip_norm))
            if not math.isfinite(losses[-1]):
                raise NonFiniteLoss(f"{desc}: the loss is {losses[-1]} at epoch {epoch}, step {step} (training "
                                    f"sentences {indices}); lower the learning rate (--optim) or check the data")
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
        scheduler.step()
        dev = evaluate(model, mask, task_id, task, "dev", batch_size, device, pad_index)
        improved = dev > best_dev
        if improved:
            best_state, best_dev, best_epoch = copy.deepcopy(model.state_dict()), dev, epoch
        record = {"epoch": epoch, "dev": dev, "loss": sum(losses) / max(len(losses), 1),
                  "seconds": round(time.time() - epoch_start, 2)}
        stop = epoch < epochs and patience_spent(epoch, best_epoch, patience)
        if stop:
            record["stopped_early"] = True
        history.append(record)
        elapsed += time.time() - epoch_start
        log(f"{desc} epoch {epoch}/{epochs}: dev {dev:.2f}{'  *best' if improved else ''}  loss {record['loss']:.4f}  "
            f"{record['seconds']:.0f}s" + (f"  (dev not better for {patience} epoch(s): round stopped early)" if stop else ""))
        if checkpoint is not None:
            checkpoint({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "best_state": best_state, "best_dev": best_dev,
                        "best_epoch": best_epoch, "history": history, "seconds": elapsed,
                        "rng": rng_state(generator)})
    trained = history[-1]["epoch"] if history else 0
    return TrainResult(best_state, best_dev, best_epoch, trained, elapsed, history, trained < epochs)

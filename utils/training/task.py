"""One task's subnet: the optimiser spec, a masked gradient step, dev/test scores, the early-stopping rule (the
training loop, Step 1's and Step 3's, is utils.training.joint's)."""
import ast
import re
from typing import Callable

import torch
from torch import nn

from utils.data.batching import Batch, collate, sorted_batches
from utils.data.dataset import TaskData
from utils.subnets.masks import Mask, forward_with, mask_factor, masked_forward, masked_weights
from utils.training.metrics import make_lenient_metric, make_metric

class NonFiniteLoss(ArithmeticError):
    """Training produced a NaN or infinite loss: continuing would only spread it through the weights."""


OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
AMP = {"off": None, "bf16": torch.bfloat16}  # --amp: the forward and backward under autocast to this type


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


def decay_subnet_(optimizer: torch.optim.Optimizer, model: nn.Module, mask: Mask) -> list[float]:
    """Weight decay of one step for the subnet only: each group's decay applied here, to a masked weight inside its
    mask only (decoupled, p − lr·wd·p, for AdamW; added to the gradient, as L2, for the others), so task t's step
    never shrinks the weights outside M_t that the other tasks' subnets hold; the groups' own decay is set to 0 for
    this step and its values returned, to be put back (restore_decay_)."""
    factors = {id(model.get_parameter(n)): m for n, m in mask.items()}
    decoupled = isinstance(optimizer, torch.optim.AdamW)
    saved = []
    for group in optimizer.param_groups:
        decay = group.get("weight_decay", 0.0)
        saved.append(decay)
        if not decay:
            continue
        group["weight_decay"] = 0.0
        for param in group["params"]:
            if param.grad is None:
                continue
            m = factors.get(id(param))
            with torch.no_grad():
                if decoupled and m is None:
                    param.mul_(1.0 - group["lr"] * decay)
                elif decoupled:
                    param.addcmul_(param, mask_factor(m, param.dtype), value=-group["lr"] * decay)
                else:
                    param.grad.add_(param if m is None else param * mask_factor(m, param.dtype), alpha=decay)
    return saved


def restore_decay_(optimizer: torch.optim.Optimizer, saved: list[float]) -> None:
    for group, decay in zip(optimizer.param_groups, saved):
        group["weight_decay"] = decay


def train_step(model: nn.Module, mask: Mask | None, task: int, batch: Batch, optimizer: torch.optim.Optimizer,
               clip_norm: float | None = None, clip_value: float | None = None,
               reduce: Callable[[list[nn.Parameter], torch.Tensor], torch.Tensor] | None = None,
               amp: str = "off") -> float:
    """One gradient step of `task`'s subnet on one batch; returns the loss. `reduce`, called between backward
    and clipping, may average the gradients (in place) and the loss over data-parallel ranks. With `amp` "bf16"
    the forward runs under autocast to bfloat16 (the weights, gradients and optimiser state stay float32). Through
    a mask, weight decay reaches the subnet's weights only (decay_subnet_)."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(batch.words.device.type, dtype=AMP[amp] or torch.float32, enabled=AMP[amp] is not None):
        logits = masked_forward(model, mask, task, batch.words, batch.seq_len)
        loss = model.heads.loss(task, logits.float(), batch.tags, batch.seq_len)
    loss.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    if reduce is not None:
        loss = reduce(params, loss)
    if clip_norm is not None:
        nn.utils.clip_grad_norm_(params, clip_norm)
    if clip_value is not None:
        nn.utils.clip_grad_value_(params, clip_value)
    if mask is None:
        optimizer.step()
        return loss.item()
    saved = decay_subnet_(optimizer, model, mask)
    optimizer.step()
    restore_decay_(optimizer, saved)
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


def patience_spent(last_epoch: int, best_epoch: int, patience: int) -> bool:
    """Early stopping: dev has not improved for `patience` epochs after epoch `last_epoch` (0 = never stop).
    Derived from the best epoch alone, so a resumed run stops exactly where an uninterrupted one would."""
    return patience > 0 and last_epoch - best_epoch >= patience

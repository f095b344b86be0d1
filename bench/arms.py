"""The timed arms of bench/bench.py, each a callable that runs once over all `--steps` batches: (a) dense step,
(b) masked single-task step (Step 1), (c) masked joint step, tasks alternating, each with its own optimiser and
mask (Step 3), (d) the original code's technique (deep copy of the model state per batch, masked_fill, restore,
masked gradients), (e) one pruning round, (f) evaluation of the dev slice, (g) data preparation (an epoch's
batches, collated), (h) the floor (the bare BiLSTM and a linear head), (i) the BiLSTM alone on the joint step's
batches and (j) dense matrix products of the BiLSTM's shapes (bench/rates.py)."""
import argparse
import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from bench.rates import bilstm_alone, dense_products
from bench.workload import KEPT, NEXT_KEPT, OPTIM, Workload
from models.bilstm import BiLSTM
from utils.data.batching import Batch, collate, epoch_batches
from utils.subnets.masks import Mask, zero_pruned_
from utils.subnets.pruning import prune_global
from utils.training.task import evaluate, make_optimizer, train_step

ARMS = {"dense": "(a) dense step", "masked": "(b) masked step, one task", "joint": "(c) masked joint step",
        "copy": "(d) original: state copy per batch", "prune": "(e) pruning round", "eval": "(f) evaluation",
        "data": "(g) data preparation (an epoch's batches, collated)", "floor": "(h) floor: bare BiLSTM + linear",
        "lstm": "(i) BiLSTM alone, joint step's batches", "gemm": "(j) dense products of the BiLSTM's shapes"}
PER_STEP = ("dense", "masked", "joint", "copy", "floor", "lstm", "gemm")  # arms timed per training batch


def original_step(model: nn.Module, mask: Mask, task: int, batch: Batch, optimizer: torch.optim.Optimizer) -> float:
    """The original train_mtl.py per batch: copy the whole state, zero the pruned weights in place, forward and
    backward the plain model, load the copy back, zero the pruned gradients, clip values, step."""
    model.train()
    saved = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        for name, m in mask.items():
            model.get_parameter(name).masked_fill_(~m, 0.0)
    optimizer.zero_grad(set_to_none=True)
    loss = model.heads.loss(task, model(task, batch.words, batch.seq_len), batch.tags, batch.seq_len)
    loss.backward()
    model.load_state_dict(saved)
    for name, m in mask.items():
        model.get_parameter(name).grad.masked_fill_(~m, 0.0)
    nn.utils.clip_grad_value_([p for p in model.parameters() if p.grad is not None], 5.0)
    optimizer.step()
    return loss.item()


class Floor(nn.Module):
    """The least a step can cost: the model's BiLSTM and a linear head on fixed token features, cross-entropy
    over the real tokens; no embeddings, char CNN, masks or optimiser."""

    def __init__(self, input_dim: int, hidden_size: int, n_tags: int) -> None:
        super().__init__()
        self.lstm = BiLSTM(input_dim, hidden_size)
        self.out = nn.Linear(2 * hidden_size, n_tags)

    def step(self, features: torch.Tensor, batch: Batch) -> None:
        self.zero_grad(set_to_none=True)
        hidden, _ = self.lstm(features, batch.seq_len)
        keep = torch.arange(features.size(1), device=features.device)[None, :] < batch.seq_len[:, None]
        F.cross_entropy(self.out(hidden)[keep], batch.tags[keep]).backward()


def arms(args: argparse.Namespace, work: Workload) -> dict[str, Callable[[], None]]:
    """One callable per arm; each runs the arm once over all `--steps` batches (evaluation: once over the dev
    slice; pruning: one round)."""
    device, pad, task_id = args.device, work.pad, args.task_id
    models, masks, batches = work.models, work.masks, work.batches
    n_tasks = len(masks)
    optim = {name: make_optimizer(OPTIM, models[name].parameters()) for name in ("dense", "masked")}
    joint_optims = {name: [make_optimizer(OPTIM, models[name].parameters()) for _ in range(n_tasks)]
                    for name in ("joint", "copy")}
    for name in ("joint", "copy"):
        zero_pruned_(models[name], masks[0])
    rewind = copy.deepcopy(work.base.state_dict())
    input_dim = models["dense"].input_dim
    features = [torch.randn(b.words.shape + (input_dim,), device=device) for b in batches[task_id]]
    floor = Floor(input_dim, args.hidden_size, len(work.data.tasks[task_id].tags)).to(device)
    joint_batches = [batch for _, batch in work.joint]

    def single(name: str, mask: Mask | None) -> Callable[[], None]:
        def run() -> None:
            for batch in batches[task_id]:
                train_step(models[name], mask, task_id, batch, optim[name], clip_norm=5.0)
        return run

    def joint() -> None:
        for t, batch in work.joint:
            train_step(models["joint"], masks[t], t, batch, joint_optims["joint"][t], clip_value=5.0)

    def original() -> None:
        for t, batch in work.joint:
            original_step(models["copy"], masks[t], t, batch, joint_optims["copy"][t])

    def prune() -> None:
        weights = {n: work.base.get_parameter(n).detach() for n in masks[task_id]}
        mask = prune_global(weights, masks[task_id], KEPT * NEXT_KEPT)
        work.base.load_state_dict(rewind)
        zero_pruned_(work.base, mask)

    def evaluation() -> None:
        evaluate(models["masked"], masks[task_id], task_id, work.eval_task, "dev", args.batch_size, device, pad)

    def data_prep() -> None:
        for idx in epoch_batches("original", work.train.lengths, args.batch_size, torch.Generator().manual_seed(0)):
            collate(work.train, idx, pad, device)

    def bare() -> None:
        for x, batch in zip(features, batches[task_id]):
            floor.step(x, batch)

    return {"dense": single("dense", None), "masked": single("masked", masks[task_id]), "joint": joint,
            "copy": original, "prune": prune, "eval": evaluation, "data": data_prep, "floor": bare,
            "lstm": bilstm_alone(models["parts"], joint_batches),
            "gemm": dense_products(joint_batches, input_dim, args.hidden_size, args.n_layer, device)}

"""The profile of the masked joint step (arm (c)) taken apart: word embeddings, char CNN, BiLSTM, heads and
loss, masks (weight ⊙ mask), optimiser and batching, each part forward + backward alone on the joint step's
batches, timed interleaved like the arms; "other" is the step's time the parts timed alone do not account for
(functional_call, the autograd graph that joins the parts, Python glue)."""
import argparse
from typing import Callable

import torch
from torch import nn

from bench.rates import bilstm_alone
from bench.workload import OPTIM, Workload
from utils.data.batching import collate
from utils.subnets.masks import masked_forward, masked_weights
from utils.training.task import make_optimizer

PARTS = {"embeddings": "word embeddings", "char": "char CNN", "lstm": "BiLSTM", "heads": "heads and loss",
         "masks": "masks (weight ⊙ mask, forward + backward)", "optimiser": "optimiser (zero_grad, clip, step)",
         "batching": "batching (collate)"}
OTHER = "other (the remainder: functional_call, Python and autograd glue)"


def real_step_grads(model: nn.Module, work: Workload) -> list[dict[str, torch.Tensor]]:
    """Each task's gradients of one real masked step on its first joint batch: the optimiser part steps with
    these, whatever part ran before it (the other parts leave partial gradients)."""
    grads = []
    for task in range(len(work.masks)):
        batch = work.batches[task][0]
        model.zero_grad(set_to_none=True)
        model.heads.loss(task, masked_forward(model, work.masks[task], task, batch.words, batch.seq_len),
                         batch.tags, batch.seq_len).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    return grads


def profile_parts(args: argparse.Namespace, work: Workload) -> dict[str, Callable[[], None]]:
    """One callable per part of the masked joint step, each over all the joint step's batches."""
    model, masks, device = work.models["parts"], work.masks, args.device
    model.train()
    optimizers = [make_optimizer(OPTIM, model.parameters()) for _ in masks]
    batches = [batch for _, batch in work.joint]
    with torch.no_grad():
        hidden = [model.lstm(model.embed(b.words), b.seq_len)[0] for b in batches]

    def embeddings() -> None:
        for b in batches:
            model.zero_grad(set_to_none=True)
            model.embedding(b.words).sum().backward()

    def char() -> None:
        for b in batches:
            model.zero_grad(set_to_none=True)
            model.char(b.words).sum().backward()

    def heads() -> None:
        for (t, b), h in zip(work.joint, hidden):
            model.zero_grad(set_to_none=True)
            h = h.detach().requires_grad_()
            model.heads.loss(t, model.heads(t, model.dropout(h)), b.tags, b.seq_len).backward()

    def masks_part() -> None:
        for t, _ in work.joint:
            weights = masked_weights(model, masks[t])
            torch.autograd.backward(list(weights.values()), [torch.ones_like(w) for w in weights.values()])

    task_grads = real_step_grads(model, work)

    def optimiser() -> None:
        for t, _ in work.joint:
            optimizers[t].zero_grad(set_to_none=True)
            for n, p in model.named_parameters():
                p.grad = task_grads[t].get(n)  # clipping them in place again changes nothing
            nn.utils.clip_grad_value_([p for p in model.parameters() if p.grad is not None], 5.0)
            optimizers[t].step()

    def batching() -> None:
        for idx in work.indices:
            collate(work.train, idx, work.pad, device)

    return {"embeddings": embeddings, "char": char, "lstm": bilstm_alone(model, batches), "heads": heads,
            "masks": masks_part, "optimiser": optimiser, "batching": batching}

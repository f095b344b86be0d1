"""SNIP (Lee et al., ICLR 2019, "Single-shot Network Pruning based on Connection Sensitivity"): the sensitivity
|g ⊙ w| of every prunable weight at the rewind point, g the gradient of the task's loss summed over --snip_batches
training batches (the paper: one mini-batch), ranks all weights once; each kept fraction keeps its top share under
one global threshold (nested masks), and each subnet is trained from the rewind point as an IMP round is. The
batches are drawn from their own generator seeded with --seed and the scores are computed without dropout, so they
consume no randomness of the run and a restart recomputes them exactly."""
from typing import Callable

import torch
from torch import nn

from utils.data.batching import collate, epoch_batches
from utils.data.dataset import TaskData
from utils.subnets.finders.base import Finder
from utils.subnets.masks import Mask, masked_forward
from utils.subnets.pruning import prune_global


def sensitivity(model: nn.Module, mask: Mask, task_id: int, task: TaskData, batches: int, batch_size: int,
                seed: int, pad_index: int, device: torch.device | str) -> dict[str, torch.Tensor]:
    """|g ⊙ w| per prunable weight, g summed over `batches` random training batches, the model in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    train = task.splits["train"]
    chosen = epoch_batches("random", train.lengths, batch_size, generator)[:batches]
    model.eval()
    model.zero_grad(set_to_none=True)
    for indices in chosen:
        batch = collate(train, indices, pad_index, device)
        logits = masked_forward(model, mask, task_id, batch.words, batch.seq_len)
        model.heads.loss(task_id, logits, batch.tags, batch.seq_len).backward()
    scores = {n: (model.get_parameter(n).grad * model.get_parameter(n)).detach().abs() for n in mask}
    model.zero_grad(set_to_none=True)
    return scores


class Snip(Finder):
    name = "snip"

    def __init__(self, schedule: list[float], scores) -> None:
        super().__init__(schedule)
        self.score = scores        # (model, mask) -> the sensitivity at the rewind point
        self.scores: dict[str, torch.Tensor] | None = None

    def prepare(self, model: nn.Module, mask: Mask, save: Callable[[], None]) -> None:
        self.scores = self.score(model, mask)

    def next_mask(self, round_: int, mask: Mask, trained: dict[str, torch.Tensor]) -> Mask:
        return prune_global(self.scores, mask, self.schedule[round_ + 1])

"""The paper's finder (Algorithm 1; Frankle & Carbin 2019): iterative magnitude pruning, each round's best-dev
weights pruned by one global magnitude threshold down to the next kept fraction (masks nest)."""
import torch

from utils.subnets.finders.base import Finder
from utils.subnets.masks import Mask
from utils.subnets.pruning import prune_global


class IterativeMagnitude(Finder):
    name = "imp"

    def next_mask(self, round_: int, mask: Mask, trained: dict[str, torch.Tensor]) -> Mask:
        return prune_global(trained, mask, self.schedule[round_ + 1])

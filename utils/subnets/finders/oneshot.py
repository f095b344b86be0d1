"""One-shot magnitude pruning (the lottery-ticket papers' one-shot baseline, Frankle & Carbin 2019): the dense
round's best-dev weights ranked once by one global threshold per kept fraction (nested masks), each subnet then
trained from the rewind point as an IMP round is. Round 0's weights are read back from its best_0_100.00.th, so a
restart needs nothing more."""
import torch

from utils.subnets.finders.base import Finder
from utils.subnets.masks import Mask
from utils.subnets.pruning import prune_global


class OneShot(Finder):
    name = "oneshot"

    def __init__(self, schedule: list[float], dense_weights) -> None:
        super().__init__(schedule)
        self.dense_weights = dense_weights  # () -> round 0's best-dev weights by name

    def next_mask(self, round_: int, mask: Mask, trained: dict[str, torch.Tensor]) -> Mask:
        ranked = trained if round_ == 0 else self.dense_weights()
        return prune_global({n: ranked[n] for n in mask}, mask, self.schedule[round_ + 1])

"""Early-bird tickets (You et al., ICLR 2020, "Drawing Early-Bird Tickets"): during each round, after every epoch
the mask the round would draw next (its weights pruned by one global magnitude threshold to the next kept
fraction) is compared with the previous epoch's; once their normalised Hamming distance falls below ε (the
paper's 0.1; --earlybird_epsilon) the ticket has emerged, the round ends, and that ticket is the next round's
mask. The paper keeps a queue of the last 5 epochs' masks; the issue's rule, used here, compares consecutive
epochs. A round that never converges ends after its epochs and prunes its best-dev weights, as IMP does."""
from typing import Callable

import torch
from torch import nn

from utils.subnets.finders.base import Finder, next_target
from utils.subnets.masks import Mask, count_total
from utils.subnets.pruning import prune_global


def hamming(a: Mask, b: Mask) -> float:
    """The share of prunable weights on which two masks differ."""
    return sum(int((a[n] != b[n]).sum()) for n in a) / count_total(a)


def converged_at(masks: list[Mask], epsilon: float) -> int | None:
    """The first epoch (1-based index into `masks`, one per epoch) whose mask is within `epsilon` of the previous
    epoch's, None when none is."""
    for epoch in range(1, len(masks)):
        if hamming(masks[epoch - 1], masks[epoch]) < epsilon:
            return epoch + 1
    return None


class EarlyBird(Finder):
    name = "earlybird"

    def __init__(self, schedule: list[float], epsilon: float) -> None:
        super().__init__(schedule)
        self.epsilon = epsilon
        self.ticket: Mask | None = None      # the last epoch's mask at the next kept fraction
        self.distances: list[float] = []     # this round's distances, for the log and scores.jsonl

    def draw(self, round_: int, mask: Mask, model: nn.Module) -> Mask:
        weights = {n: model.get_parameter(n).detach() for n in mask}
        return prune_global(weights, mask, next_target(self.schedule, round_))

    def converged(self, round_: int, mask: Mask, model: nn.Module) -> Callable[[int], bool]:
        def rule(epoch: int) -> bool:
            ticket = self.draw(round_, mask, model)
            previous, self.ticket = self.ticket, ticket
            if epoch == 1 or previous is None:
                self.distances = []
                return False
            self.distances.append(hamming(previous, ticket))
            return self.distances[-1] < self.epsilon
        return rule

    def round_record(self) -> dict:
        """The normalised Hamming distances between consecutive epochs' tickets (the last one below ε when the
        round converged)."""
        return {"mask_distances": [round(d, 6) for d in self.distances]}

    def next_mask(self, round_: int, mask: Mask, trained: dict[str, torch.Tensor]) -> Mask:
        emerged = bool(self.distances) and self.distances[-1] < self.epsilon
        ticket = self.ticket if emerged else prune_global(trained, mask, self.schedule[round_ + 1])
        self.ticket, self.distances = None, []
        return ticket

    def state(self) -> dict:
        return {"ticket": None if self.ticket is None else {n: m.cpu() for n, m in self.ticket.items()},
                "distances": list(self.distances)}

    def load_state(self, state: dict) -> None:
        self.ticket, self.distances = state.get("ticket"), list(state.get("distances", []))

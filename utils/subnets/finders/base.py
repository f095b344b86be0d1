"""The mask-finder interface: after each round of Step 1 a finder gives the next kept fraction's mask, and it may
end a round early; what it must remember across a restart is its `state` (saved with the run's resume state)."""
from typing import Callable, ClassVar

import torch
from torch import nn

from utils.subnets.masks import Mask


def next_target(schedule: list[float], round_: int) -> float:
    """The kept fraction round `round_` prunes towards: the next round's, and for the last round one more step
    of the same ratio (the mask it would draw next)."""
    if round_ + 1 < len(schedule):
        return schedule[round_ + 1]
    step = schedule[1] / schedule[0] if len(schedule) > 1 else 1.0
    return schedule[-1] * step


class Finder:
    """A way to find each kept fraction's mask. `schedule` holds the kept fractions of rounds 0..R."""

    name: ClassVar[str]

    def __init__(self, schedule: list[float]) -> None:
        self.schedule = schedule

    def prepare(self, model: nn.Module, mask: Mask, save: Callable[[], None]) -> None:
        """Called before the rounds, after `load_state` (so on every start, resumed or not), with the model at its
        rewind point; `save()` writes the finder's `state()` to the run's resume state at once."""

    def next_mask(self, round_: int, mask: Mask, trained: dict[str, torch.Tensor]) -> Mask:
        """The mask of round `round_` + 1, given round `round_`'s mask and its best-dev weights."""
        raise NotImplementedError

    def converged(self, round_: int, mask: Mask, model: nn.Module) -> Callable[[int], bool] | None:
        """A rule asked after every epoch of round `round_` that ends the round when it says True (None: the round
        trains its epochs, or until --patience)."""
        return None

    def round_record(self) -> dict:
        """What scores.jsonl records of the round just trained beyond its scores and cost (default: nothing)."""
        return {}

    def state(self) -> dict:
        """What the finder must remember across a restart (tensors and plain values)."""
        return {}

    def load_state(self, state: dict) -> None:
        """Restore `state()` after a restart."""

"""Building the mask finder a Step 1 run asks for (--finder) from its settings."""
import os
from typing import TYPE_CHECKING, Callable

import torch

from utils.runs.checkpoint import load_tensors
from utils.runs.layout import in_folder, round_masks, weights_file
from utils.subnets.finders import FINDERS
from utils.subnets.finders.base import Finder
from utils.subnets.finders.earlybird import EarlyBird
from utils.subnets.finders.imp import IterativeMagnitude
from utils.subnets.finders.movement import Movement, learn_scores
from utils.subnets.finders.oneshot import OneShot
from utils.subnets.finders.snip import Snip, sensitivity

if TYPE_CHECKING:
    from utils.settings.groups import Pruning, Step1Optimiser


def make_finder(schedule: list[float], *, out_dir: str, pruning: "Pruning", optimiser: "Step1Optimiser", task_id: int,
                task, seed: int, pad_index: int, device, log: Callable[[str], None] = print) -> Finder:
    """The finder `pruning.finder` of a Step 1 task folder `out_dir` with the run's settings."""
    name = pruning.finder
    if name == "imp":
        return IterativeMagnitude(schedule)
    if name == "oneshot":
        def dense_weights() -> dict[str, torch.Tensor]:
            mask_name = os.path.basename(round_masks(out_dir)[0])
            return {n: t.to(device) for n, t in load_tensors(in_folder(out_dir, weights_file(mask_name))).items()}
        return OneShot(schedule, dense_weights)
    if name == "earlybird":
        return EarlyBird(schedule, pruning.earlybird_epsilon)
    if name == "snip":
        return Snip(schedule, lambda model, mask: sensitivity(model, mask, task_id, task, pruning.snip_batches,
                                                              optimiser.batch_size, seed, pad_index, device))
    if name == "movement":
        return Movement(schedule, lambda model, mask, state, save: learn_scores(
            model, mask, schedule[-1], task_id, task, optimiser, seed, pad_index, device, state, save,
            lambda line: log(f"[{task.name}] {line}")))
    raise ValueError(f"--finder {name!r}: expected one of {', '.join(FINDERS)}")

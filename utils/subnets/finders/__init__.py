"""Mask finders of Step 1 (--finder): how the mask of each kept fraction of the schedule is found. Every finder
trains each kept fraction's subnet from the rewind point as an IMP round is (the paper's Algorithm 1), so its
dev/test scores, Step 2, Step 3, predict.py and report.py work unchanged on its output; they differ in where the
next round's mask comes from and when a round may end:
- imp (the paper's): the round's best-dev weights, pruned by one global magnitude threshold;
- oneshot: the dense round's best-dev weights, cut to every kept fraction (nested masks);
- earlybird (You et al. 2020): the round's weights once their mask at the next kept fraction stops changing,
  which also ends the round;
- snip (Lee et al. 2019): connection sensitivity |g ⊙ w| at the rewind point, no training to find the masks.
One module per finder, each a `Finder` (utils.subnets.finders.base)."""
import os

import torch

from utils.runs.checkpoint import load_tensors
from utils.runs.layout import in_folder, round_masks, weights_file
from utils.subnets.finders.base import Finder
from utils.subnets.finders.earlybird import EarlyBird
from utils.subnets.finders.imp import IterativeMagnitude
from utils.subnets.finders.oneshot import OneShot
from utils.subnets.finders.snip import Snip, sensitivity

FINDER_CLASSES: dict[str, type[Finder]] = {"imp": IterativeMagnitude, "oneshot": OneShot, "earlybird": EarlyBird,
                                           "snip": Snip}
FINDERS = tuple(FINDER_CLASSES)


def make_finder(name: str, schedule: list[float], *, out_dir: str, epsilon: float, snip_batches: int,
                task_id: int, task, batch_size: int, seed: int, pad_index: int, device) -> Finder:
    """The finder `name` of a Step 1 task folder `out_dir` with the run's settings."""
    if name == "imp":
        return IterativeMagnitude(schedule)
    if name == "oneshot":
        def dense_weights() -> dict[str, torch.Tensor]:
            mask_name = os.path.basename(round_masks(out_dir)[0])
            return {n: t.to(device) for n, t in load_tensors(in_folder(out_dir, weights_file(mask_name))).items()}
        return OneShot(schedule, dense_weights)
    if name == "earlybird":
        return EarlyBird(schedule, epsilon)
    if name == "snip":
        return Snip(schedule, lambda model, mask: sensitivity(model, mask, task_id, task, snip_batches, batch_size,
                                                              seed, pad_index, device))
    raise ValueError(f"--finder {name!r}: expected one of {', '.join(FINDERS)}")

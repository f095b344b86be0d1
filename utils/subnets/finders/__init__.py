"""Mask finders of Step 1 (--finder): how the mask of each kept fraction of the schedule is found. Every finder
trains each kept fraction's subnet from the rewind point as an IMP round is (the paper's Algorithm 1), so its
dev/test scores, Step 2, Step 3, predict.py and report.py work unchanged on its output; they differ in where the
next round's mask comes from and when a round may end:
- imp (the paper's): the round's best-dev weights, pruned by one global magnitude threshold;
- oneshot: the dense round's best-dev weights, cut to every kept fraction (nested masks);
- earlybird (You et al. 2020): the round's weights once their mask at the next kept fraction stops changing,
  which also ends the round;
- snip (Lee et al. 2019): connection sensitivity |g ⊙ w| at the rewind point, no training to find the masks;
- movement (Sanh et al. 2020): scores learned with the weights in one pass from the rewind point whose kept share
  falls on a cubic schedule, then cut to every kept fraction.
One module per finder, each a `Finder` (utils.subnets.finders.base); make_finder (make) builds the one a run asks
for. This package's own namespace stays light: the settings import FINDERS from it."""
from utils.subnets.finders.base import Finder
from utils.subnets.finders.imp import IterativeMagnitude

FINDERS = ("imp", "oneshot", "earlybird", "snip", "movement")
__all__ = ["FINDERS", "Finder", "IterativeMagnitude"]

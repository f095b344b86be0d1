"""Step 1 of the paper for one task: the rounds of Algorithm 1 (rewind, train, record, find the next mask),
recording every round's mask, best-dev weights, scores and cost under one folder. Where the next mask comes from
is the mask finder's (utils.subnets.finders; the paper's iterative magnitude pruning by default)."""
import os
from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from utils.runs.checkpoint import save_state, write_jsonl
from utils.subnets.finders import Finder, IterativeMagnitude
from utils.subnets.masks import Mask, kept_fraction, save_mask, zero_pruned_
from utils.runs.layout import SCORES, mask_file, weights_file


@dataclass
class RoundOutcome:
    """A trained round: the best-dev weights (as a state dict), their dev and test scores (and, for span tasks,
    the original's lenient F1 of the same weights), and the per-epoch history."""

    best_state: dict
    dev: float
    test: float
    best_epoch: int
    epochs: int
    seconds: float
    dev_lenient: float | None = None
    test_lenient: float | None = None
    history: list[dict] = field(default_factory=list)
    steps: int = 0  # optimiser steps the round took


def write_scores(out_dir: str, records: list[dict]) -> None:
    """scores.jsonl, one line per finished round, rewritten whole through a temporary file."""
    write_jsonl(os.path.join(out_dir, SCORES), records)


def run_imp(model: nn.Module, rewind_point: dict, mask: Mask, schedule: list[float], first_round: int,
            train_round: Callable[[int, Mask], RoundOutcome], out_dir: str, task: str,
            log: Callable[[str], None] = print, records: list[dict] | None = None,
            checkpoint: Callable[[int, Mask | None, list[dict]], None] = lambda round_, mask, records: None,
            finder: Finder | None = None) -> list[dict]:
    """Rounds first_round..len(schedule)-1: rewind all weights to the rewind point with the pruned ones zeroed,
    train, save `<r>_<kept>.th` (the mask) and `best_<r>_<kept>.th`, record the round in scores.jsonl (with its
    cost: epochs, optimiser steps, seconds, and the finder), then take the next round's mask from `finder`
    (default: the paper's, the best weights pruned globally down to the next round's kept fraction). `records` are
    the rounds already finished; `checkpoint(next_round, next_mask, records)` is called once a round's files are
    written."""
    finder = finder or IterativeMagnitude(schedule)
    records = list(records or [])
    if records:
        write_scores(out_dir, records)
    for round_ in range(first_round, len(schedule)):
        model.load_state_dict(rewind_point)
        zero_pruned_(model, mask)
        outcome = train_round(round_, mask)
        model.load_state_dict(outcome.best_state)
        zero_pruned_(model, mask)
        name = mask_file(round_, 100.0 * kept_fraction(mask))
        save_mask(os.path.join(out_dir, name), mask, round_, task)
        save_state(model.state_dict(), os.path.join(out_dir, weights_file(name)))
        record = {"round": round_, "kept": round(100.0 * kept_fraction(mask), 4), "dev": outcome.dev,
                  "test": outcome.test, "best_epoch": outcome.best_epoch, "epochs": outcome.epochs,
                  "steps": outcome.steps, "seconds": round(outcome.seconds, 2), "finder": finder.name}
        if outcome.dev_lenient is not None:
            record.update(dev_lenient=outcome.dev_lenient, test_lenient=outcome.test_lenient)
        record["history"] = outcome.history
        records.append(record)
        next_mask = None
        record.update(finder.round_record())
        if round_ + 1 < len(schedule):
            weights = {n: model.get_parameter(n).detach() for n in mask}
            next_mask = finder.next_mask(round_, mask, weights)
        checkpoint(round_ + 1, next_mask, records)
        write_scores(out_dir, records)
        log(f"[{task}] round {round_}: kept {record['kept']:.2f}%  dev {outcome.dev:.2f}  test {outcome.test:.2f}  "
            f"best epoch {outcome.best_epoch}/{outcome.epochs}  {outcome.seconds:.0f}s")
        mask = next_mask
    return records

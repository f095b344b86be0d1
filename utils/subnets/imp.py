"""Step 1 of the paper for one task: iterative magnitude pruning with rewinding (Algorithm 1), recording
every round's mask, best-dev weights and scores under one folder."""
import os
from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from utils.runs.checkpoint import save_state, write_jsonl
from utils.subnets.masks import Mask, kept_fraction, save_mask, zero_pruned_
from utils.subnets.pruning import prune_global
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


def write_scores(out_dir: str, records: list[dict]) -> None:
    """scores.jsonl, one line per finished round, rewritten whole through a temporary file."""
    write_jsonl(os.path.join(out_dir, SCORES), records)


def run_imp(model: nn.Module, rewind_point: dict, mask: Mask, schedule: list[float], first_round: int,
            train_round: Callable[[int, Mask], RoundOutcome], out_dir: str, task: str,
            log: Callable[[str], None] = print, records: list[dict] | None = None,
            checkpoint: Callable[[int, Mask | None, list[dict]], None] = lambda round_, mask, records: None) -> list[dict]:
    """Rounds first_round..len(schedule)-1: rewind all weights to the rewind point with the pruned ones zeroed,
    train, save `<r>_<kept>.th` (the mask) and `best_<r>_<kept>.th`, record the round in scores.jsonl, then prune
    the best weights globally down to the next round's kept fraction. `records` are the rounds already finished;
    `checkpoint(next_round, next_mask, records)` is called once a round's files are written."""
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
                  "seconds": round(outcome.seconds, 2)}
        if outcome.dev_lenient is not None:
            record.update(dev_lenient=outcome.dev_lenient, test_lenient=outcome.test_lenient)
        record["history"] = outcome.history
        records.append(record)
        next_mask = None
        if round_ + 1 < len(schedule):
            weights = {n: model.get_parameter(n).detach() for n in mask}
            next_mask = prune_global(weights, mask, schedule[round_ + 1])
        checkpoint(round_ + 1, next_mask, records)
        write_scores(out_dir, records)
        log(f"[{task}] round {round_}: kept {record['kept']:.2f}%  dev {outcome.dev:.2f}  test {outcome.test:.2f}  "
            f"best epoch {outcome.best_epoch}/{outcome.epochs}  {outcome.seconds:.0f}s")
        mask = next_mask
    return records

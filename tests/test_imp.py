"""utils.subnets.imp.run_imp (Algorithm 1) driven by a fake trainer: rewinding, global magnitude pruning of the best weights,
nested masks, and the files of every round."""
import json
import os

import pytest
import torch

from models import get_model
from utils.runs.checkpoint import load_tensors
from utils.subnets.imp import RoundOutcome, run_imp
from utils.subnets.masks import full_mask, load_mask, prunable_names
from utils.subnets.pruning import kept_schedule

SCHEDULE = kept_schedule(0.125, 3)        # 1, 1/2, 1/4, 1/8
TOTAL = 2700 + 2 * (32 * 40 + 32 * 8)     # prunable weights of the tiny model: conv + 2 x (W_ih + W_hh) = 5772
KEPT_COUNTS = [TOTAL, 2886, 1443, 722]    # round(s * 5772): 5772, 2886, 1443, round(721.5) = 722


class FakeTrainer:
    """Records the model's weights and the mask at the start of each round, returns perturbed weights as 'best'."""

    def __init__(self, model):
        self.model = model
        self.generator = torch.Generator().manual_seed(123)
        self.starts, self.masks, self.bests = [], [], []

    @staticmethod
    def scale(key):
        return 3.0 if key.startswith("char.convs") else 1.0

    def __call__(self, round_, mask):
        state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.starts.append(state)
        self.masks.append({n: m.clone() for n, m in mask.items()})
        # conv weights move three times as far as the LSTM's: a global threshold prunes them less
        best = {k: v + self.scale(k) * torch.randn(v.shape, generator=self.generator) if v.is_floating_point()
                else v.clone() for k, v in state.items()}
        self.bests.append(best)
        return RoundOutcome(best_state=best, dev=50.0 + round_, test=40.0 + round_, best_epoch=round_ + 1,
                            epochs=10, seconds=1.5)


@pytest.fixture
def imp_run(tiny_data, tmp_path):
    torch.manual_seed(0)
    model = get_model("cnn-lstm", tiny_data, hidden_size=8, n_layer=1)
    rewind = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with torch.no_grad():  # move the model away from the rewind point: run_imp must load it itself
        for p in model.parameters():
            p.add_(1.0)
    names = prunable_names(model)
    trainer = FakeTrainer(model)
    records = run_imp(model, rewind, full_mask(model, names), SCHEDULE, 0, trainer, str(tmp_path), "ner",
                      log=lambda line: None)
    return model, rewind, names, trainer, records, tmp_path


def tag(round_):
    return f"{round_}_{100.0 * KEPT_COUNTS[round_] / TOTAL:.2f}"


def test_schedule_counts():
    assert [round(s * TOTAL) for s in SCHEDULE] == KEPT_COUNTS
    assert [tag(r) for r in range(4)] == ["0_100.00", "1_50.00", "2_25.00", "3_12.51"]


def test_files_for_every_round(imp_run):
    model, _, names, trainer, records, out = imp_run
    assert len(trainer.masks) == 4
    for r in range(4):
        assert os.path.isfile(out / f"{tag(r)}.th"), sorted(os.listdir(out))
        assert os.path.isfile(out / f"best_{tag(r)}.th")
        record = load_mask(str(out / f"{tag(r)}.th"), model)
        assert record["round"] == r and record["task"] == "ner"
        assert record["kept"] == pytest.approx(100.0 * KEPT_COUNTS[r] / TOTAL)
        assert set(record["mask"]) == set(names)
        for n in names:  # the saved mask is the one the round trained with
            assert torch.equal(record["mask"][n], trainer.masks[r][n])
    lines = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert lines == records
    assert [x["round"] for x in lines] == [0, 1, 2, 3]
    assert [x["kept"] for x in lines] == pytest.approx([100.0 * k / TOTAL for k in KEPT_COUNTS], abs=1e-4)
    assert [(x["dev"], x["test"], x["best_epoch"], x["epochs"]) for x in lines] == \
        [(50.0 + r, 40.0 + r, r + 1, 10) for r in range(4)]


def test_masks_are_nested_with_the_scheduled_kept_counts(imp_run):
    _, _, names, trainer, _, _ = imp_run
    assert all(bool(m.all()) for m in trainer.masks[0].values())
    for r in range(4):
        assert sum(int(trainer.masks[r][n].sum()) for n in names) == KEPT_COUNTS[r]
    for prev, cur in zip(trainer.masks, trainer.masks[1:]):
        for n in names:
            assert not (cur[n] & ~prev[n]).any(), f"{n}: a pruned weight came back"


def test_each_mask_keeps_the_largest_best_weights_of_the_previous_round(imp_run):
    _, _, names, trainer, _, _ = imp_run
    for r in range(1, 4):
        best, prev, cur = trainer.bests[r - 1], trainer.masks[r - 1], trainer.masks[r]
        magnitude = torch.cat([best[n].abs().flatten() for n in names])
        kept = torch.cat([cur[n].flatten() for n in names])
        dropped = torch.cat([(prev[n] & ~cur[n]).flatten() for n in names])
        assert kept.any() and dropped.any()
        assert magnitude[kept].min() >= magnitude[dropped].max(), f"round {r}: not one global threshold"
        # one global threshold, not a per-tensor one: the widely spread conv weights survive far more often
        rates = {n: cur[n].sum().item() / prev[n].sum().item() for n in names}
        assert all(rates["char.convs.0.weight"] > rate + 0.2 for n, rate in rates.items() if "lstm" in n), rates


def test_every_round_starts_from_the_rewind_point_with_pruned_weights_zeroed(imp_run):
    _, rewind, names, trainer, _, _ = imp_run
    for r, (start, mask) in enumerate(zip(trainer.starts, trainer.masks)):
        assert set(start) == set(rewind)
        for key, value in start.items():
            if key in mask:
                m = mask[key]
                assert torch.equal(value[m], rewind[key][m]), (r, key)
                assert torch.count_nonzero(value[~m]) == 0, (r, key)
            else:
                assert torch.equal(value, rewind[key]), (r, key)


def test_best_files_hold_the_best_weights_with_pruned_entries_zeroed(imp_run):
    _, _, names, trainer, _, out = imp_run
    for r in range(4):
        saved = load_tensors(str(out / f"best_{tag(r)}.th"))
        best, mask = trainer.bests[r], trainer.masks[r]
        assert set(saved) == set(best)
        for key, value in saved.items():
            if key in mask:
                assert torch.equal(value[mask[key]], best[key][mask[key]]), (r, key)
                assert torch.count_nonzero(value[~mask[key]]) == 0, (r, key)
            else:
                assert torch.equal(value, best[key]), (r, key)

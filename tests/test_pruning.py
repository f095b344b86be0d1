"""utils.subnets.pruning: the per-round pruning rate, the kept-fraction schedule, and global magnitude pruning."""
import math

import pytest
import torch

from utils.subnets.masks import count_kept
from utils.subnets.pruning import kept_schedule, prune_global, pruning_rate

# REFERENCE §2: kept % per round for --pruning_iter 20 --final_rate 0.1.
REFERENCE_KEPT = [100, 89.13, 79.43, 70.79, 63.10, 56.23, 50.12, 44.67, 39.81, 35.48, 31.62, 28.18, 25.12,
                  22.39, 19.95, 17.78, 15.85, 14.13, 12.59, 11.22, 10.00]


def test_pruning_rate_reference_value():
    assert pruning_rate(0.1, 20) == pytest.approx(0.1087, abs=5e-5)
    assert pruning_rate(0.125, 3) == pytest.approx(0.5)
    assert pruning_rate(0.1, 1) == pytest.approx(0.9)  # one round removes everything but the final rate
    assert pruning_rate(0.1, 0) == 0.0


def test_kept_schedule_matches_reference_list():
    schedule = kept_schedule(0.1, 20)
    assert [round(100 * s, 2) for s in schedule] == REFERENCE_KEPT


def test_kept_schedule_consistent_with_pruning_rate():
    alpha = pruning_rate(0.1, 20)
    for r, kept in enumerate(kept_schedule(0.1, 20)):
        assert kept == pytest.approx((1 - alpha) ** r, rel=1e-12)


@pytest.mark.parametrize("final_rate, pruning_iter", [(0.1, 20), (0.125, 3), (0.5, 1), (0.3, 7), (1.0, 4)])
def test_kept_schedule_formula(final_rate, pruning_iter):
    schedule = kept_schedule(final_rate, pruning_iter)
    assert len(schedule) == pruning_iter + 1
    assert schedule[0] == 1.0 and schedule[-1] == pytest.approx(final_rate)
    for r, kept in enumerate(schedule):
        assert kept == pytest.approx(math.exp(r / pruning_iter * math.log(final_rate)), rel=1e-12)


def test_kept_schedule_halving():
    assert kept_schedule(0.125, 3) == pytest.approx([1.0, 0.5, 0.25, 0.125], rel=1e-12)


@pytest.mark.parametrize("final_rate", [0.1, 0.5, 1.0])
def test_kept_schedule_no_pruning(final_rate):
    assert kept_schedule(final_rate, 0) == [1.0]


@pytest.mark.parametrize("final_rate, pruning_iter", [(0.0, 5), (-0.1, 5), (1.5, 5), (0.1, -1)])
def test_kept_schedule_rejects_bad_inputs(final_rate, pruning_iter):
    with pytest.raises(ValueError):
        kept_schedule(final_rate, pruning_iter)


def hand_weights() -> dict[str, torch.Tensor]:
    # 10 weights, all magnitudes distinct: 4.0 3.0 2.0 1.5 1.0 | 0.7 0.5 0.2 0.1 0.05
    return {"a": torch.tensor([[0.5, -3.0], [0.1, 2.0]]),
            "b": torch.tensor([1.0, -0.2, 4.0]),
            "c": torch.tensor([[-0.05, 0.7, -1.5]])}


def full(weights):
    return {n: torch.ones_like(w, dtype=torch.bool) for n, w in weights.items()}


def assert_masks_equal(actual, expected):
    assert set(actual) == set(expected)
    for name in expected:
        assert actual[name].dtype == torch.bool
        assert torch.equal(actual[name], expected[name]), name


def test_prune_global_uses_one_threshold_over_all_tensors():
    # Keep 5 of 10: the five largest magnitudes overall are 4.0 (b), 3.0 (a), 2.0 (a), 1.5 (c), 1.0 (b), i.e.
    # threshold 1.0. Per-tensor halving would instead keep c's 0.7 and drop one of b's.
    mask = prune_global(hand_weights(), full(hand_weights()), 0.5)
    assert_masks_equal(mask, {"a": torch.tensor([[False, True], [False, True]]),
                              "b": torch.tensor([True, False, True]),
                              "c": torch.tensor([[False, False, True]])})


def test_prune_global_keeps_pruned_entries_pruned():
    # b's 4.0 (the largest weight) was pruned earlier: it must stay pruned; the 4 kept are 3.0 2.0 1.5 1.0.
    previous = full(hand_weights())
    previous["b"] = torch.tensor([True, True, False])
    mask = prune_global(hand_weights(), previous, 0.4)
    assert_masks_equal(mask, {"a": torch.tensor([[False, True], [False, True]]),
                              "b": torch.tensor([True, False, False]),
                              "c": torch.tensor([[False, False, True]])})


def test_prune_global_never_revives_when_target_exceeds_kept():
    # The previous mask keeps 3 weights (two of them exactly zero); asking for 60% keeps those 3, nothing more.
    weights = {"w": torch.tensor([0.0, 9.0, 0.0, 9.0, 5.0])}
    previous = {"w": torch.tensor([True, False, True, False, True])}
    assert_masks_equal(prune_global(weights, previous, 0.6), previous)


def test_prune_global_kept_count_is_rounded_against_total():
    weights = hand_weights()
    for target, expected in [(1.0, 10), (0.74, 7), (0.76, 8), (0.31, 3), (0.0, 0)]:
        assert count_kept(prune_global(weights, full(weights), target)) == expected == round(target * 10)


def test_prune_global_over_a_schedule_with_random_weights():
    generator = torch.Generator().manual_seed(0)
    shapes = {"lstm.w_ih": (7, 13), "lstm.w_hh": (5,), "conv.w": (3, 4, 5)}
    total = 7 * 13 + 5 + 3 * 4 * 5
    mask = {n: torch.ones(s, dtype=torch.bool) for n, s in shapes.items()}
    schedule = kept_schedule(0.1, 20)
    for target in schedule[1:]:
        # fresh "trained" weights each round, pruned entries included (they may well be large)
        weights = {n: torch.randn(s, generator=generator) for n, s in shapes.items()}
        new = prune_global(weights, mask, target)
        assert count_kept(new) == round(target * total)
        flat_w = torch.cat([weights[n].abs().flatten() for n in shapes])
        flat_old = torch.cat([mask[n].flatten() for n in shapes])
        flat_new = torch.cat([new[n].flatten() for n in shapes])
        assert not (flat_new & ~flat_old).any(), "a pruned weight came back"
        dropped = flat_old & ~flat_new
        if dropped.any():
            assert flat_w[flat_new].min() >= flat_w[dropped].max(), "not one global magnitude threshold"
        mask = new
    assert count_kept(mask) == round(0.1 * total)

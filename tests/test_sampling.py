"""Task schedules of joint training (utils.training.sampling) and the LR multipliers of utils.training.joint.lr_factor."""
import math
from collections import Counter

import pytest
import torch

from utils.training.joint import lr_factor
from utils.training.sampling import SAMPLINGS, epoch_schedule, proportional, resample, round_robin


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- proportional sampling (the paper's Step 3) ---

@pytest.mark.parametrize("sizes", [[100, 300, 600], [14041, 14041, 14041], [39832, 8042, 14041], [5, 1]])
def test_proportional_counts_match_sizes(sizes):
    steps = 20000
    schedule = proportional(sizes, steps, gen(2019))
    assert len(schedule) == steps
    assert set(schedule) <= set(range(len(sizes)))
    counts = Counter(schedule)
    total = sum(sizes)
    chi2 = 0.0
    for task, size in enumerate(sizes):
        p = size / total
        mean, sd = steps * p, math.sqrt(steps * p * (1 - p))
        assert abs(counts[task] - mean) <= 4 * sd, (task, counts[task], mean, sd)
        chi2 += (counts[task] - mean) ** 2 / mean
    # chi-square upper 1e-4 quantiles for 1, 2 degrees of freedom: 15.14, 18.42
    assert chi2 < {1: 15.14, 2: 18.42}[len(sizes) - 1]


def test_proportional_never_draws_an_empty_task():
    assert set(proportional([10, 0, 30], 5000, gen(1))) == {0, 2}


def test_proportional_reproducible_and_seed_dependent():
    sizes = [100, 300, 600]
    assert proportional(sizes, 500, gen(7)) == proportional(sizes, 500, gen(7))
    assert proportional(sizes, 500, gen(7)) != proportional(sizes, 500, gen(8))


def test_epoch_schedule_proportional_has_sum_of_batches_steps():
    sizes, batches = [100, 300, 600], [10, 30, 60]
    schedule = epoch_schedule("proportional", sizes, batches, gen(3))
    assert len(schedule) == sum(batches)
    assert schedule == epoch_schedule("proportional", sizes, batches, gen(3))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_epoch_schedule_draws_from_its_generator_only(sampling):
    """Every mode draws from the run's generator (checkpointed for resume), never from torch's global RNG."""
    sizes, batches = [100, 300, 600], [10, 30, 60]
    torch.manual_seed(0)
    first = epoch_schedule(sampling, sizes, batches, gen(3), temperature=2.0)
    torch.manual_seed(1)
    assert epoch_schedule(sampling, sizes, batches, gen(3), temperature=2.0) == first


# --- round-robin (the original's --trainer seq-label) ---

@pytest.mark.parametrize("batches", [[3, 5, 2], [4, 4, 4], [1, 7], [6], [2, 9, 4, 3]])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_round_robin_counts_and_interleaving(batches, seed):
    schedule = round_robin(batches, gen(seed))
    T = len(batches)
    assert len(schedule) == sum(batches)
    assert Counter(schedule) == Counter({t: n for t, n in enumerate(batches) if n})
    # before any task runs out, every window of T consecutive steps holds each task exactly once
    full = min(batches) * T
    for start in range(0, full - T + 1):
        assert sorted(schedule[start:start + T]) == list(range(T)), (start, schedule)
    # afterwards the survivors keep the same relative order, each once per cycle, and no task reappears
    order = schedule[:T]
    rest = schedule[full:]
    left = [n - min(batches) for n in batches]
    expected = []
    while any(left):
        for t in order:
            if left[t]:
                expected.append(t)
                left[t] -= 1
    assert rest == expected


def test_round_robin_order_is_random_per_seed_but_reproducible():
    batches = [3, 3, 3]
    assert round_robin(batches, gen(5)) == round_robin(batches, gen(5))
    orders = {tuple(round_robin(batches, gen(seed))[:3]) for seed in range(40)}
    assert len(orders) > 1  # the task order is drawn, not fixed


def test_round_robin_order_redrawn_each_epoch():
    g = gen(11)
    orders = {tuple(epoch_schedule("round-robin", [30, 30, 30], [3, 3, 3], g)[:3]) for _ in range(40)}
    assert len(orders) > 1


def test_round_robin_with_an_empty_task():
    schedule = round_robin([2, 0, 3], gen(0))
    assert Counter(schedule) == Counter({0: 2, 2: 3})


# --- resample (the original's --trainer re-seq-label) ---

@pytest.mark.parametrize("batches", [[3, 5, 2], [1, 10], [4, 4, 4], [7]])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resample_offers_every_task_a_turn_in_each_of_sum_batches_rounds(batches, seed):
    """The original's re-seq-label: Σ_t batches_t rounds of one turn per task, in one task order per epoch."""
    schedule = resample(batches, gen(seed))
    T, total = len(batches), sum(batches)
    assert len(schedule) == T * total
    assert sorted(schedule[:T]) == list(range(T))
    assert all(schedule[i] == schedule[i % T] for i in range(T * total))
    assert Counter(schedule) == Counter({t: total for t in range(T)})
    assert resample(batches, gen(seed)) == schedule


def test_resample_via_epoch_schedule():
    schedule = epoch_schedule("resample", [10, 100], [1, 10], gen(0))
    assert len(schedule) == 22 and Counter(schedule) == Counter({0: 11, 1: 11})


def test_resample_task_order_drawn_per_epoch():
    g = gen(0)
    orders = {tuple(epoch_schedule("resample", [30, 30, 30], [3, 3, 3], g)[:3]) for _ in range(40)}
    assert len(orders) > 1


# --- dispatch ---

def test_known_samplings():
    assert set(SAMPLINGS) == {"proportional", "round-robin", "resample", "temperature"}
    for name in SAMPLINGS:
        assert len(epoch_schedule(name, [20, 40], [2, 4], gen(0), temperature=2.0)) == (12 if name == "resample" else 6)


@pytest.mark.parametrize("name", ["uniform", "", "Proportional", "seq-label"])
def test_unknown_sampling_raises(name):
    with pytest.raises(ValueError, match="sampling"):
        epoch_schedule(name, [20, 40], [2, 4], gen(0))


# --- LR schedules of joint training ---

@pytest.mark.parametrize("step", [0, 1, 9, 10, 999, 10 ** 6])
def test_lr_fix(step):
    assert lr_factor("fix", step, step // 10) == 1.0


@pytest.mark.parametrize("epoch,expected", [(0, 1.0), (1, 1 / 1.05), (2, 1 / 1.1), (20, 1 / 2.0)])
def test_lr_decay_follows_the_epoch_not_the_step(epoch, expected):
    for step in (0, 7, 10 ** 5):
        assert lr_factor("decay", step, epoch) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("step,expected", [
    (0, 0.25), (1, 0.5), (2, 0.75), (3, 1.0),  # linear warm-up over 4 steps: (step+1)/4
    (4, math.sqrt(4 / 5)), (15, 0.5), (99, 0.2),  # then sqrt(4 / (step+1))
])
def test_lr_inverse_sqrt(step, expected):
    assert lr_factor("inverse_sqrt", step, 0, warmup_steps=4) == pytest.approx(expected, rel=1e-12)


def test_lr_inverse_sqrt_default_warmup():
    assert lr_factor("inverse_sqrt", 0, 0) == pytest.approx(1 / 1000)
    assert lr_factor("inverse_sqrt", 999, 3) == pytest.approx(1.0)
    assert lr_factor("inverse_sqrt", 3999, 5) == pytest.approx(0.5)


def test_lr_unknown_scheduler():
    with pytest.raises(ValueError, match="scheduler"):
        lr_factor("cosine", 0, 0)

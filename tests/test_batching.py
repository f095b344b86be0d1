"""How training batches are composed (`--batching`): the original code's bucket sampler re-cut into groups,
clean length buckets, random batches; and in joint training the original's random first epoch and its
re-seq-label turns."""
import statistics

import pytest
import torch

import utils.data.batching
import utils.training.joint
from models import get_model
from utils.data.batching import (BATCHINGS, batches_per_epoch, bucket_batches, epoch_batches, original_batches,
                                 random_batches, sorted_batches)
from utils.data.dataset import Split
from utils.training.joint import JointTask, train_joint
from utils.training.sampling import refill_batching

OPTIM = "sgd(lr=0.1, momentum=0.9)"


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def spread(batches: list[list[int]], lengths: list[int]) -> float:
    """Mean within-batch length range."""
    return statistics.mean(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)


@pytest.mark.parametrize("batching", BATCHINGS)
@pytest.mark.parametrize("n", [1, 9, 10, 23, 101])
def test_every_sentence_once_per_epoch(batching, n):
    """All modes: an epoch shows every training sentence exactly once, in batches of at most batch_size."""
    lengths = [(7 * i) % 13 + 1 for i in range(n)]
    batches = epoch_batches(batching, lengths, 10, gen(n))
    assert sorted(i for b in batches for i in b) == list(range(n))
    assert all(0 < len(b) <= 10 for b in batches)


@pytest.mark.parametrize("batching", BATCHINGS)
@pytest.mark.parametrize("n", [1, 9, 10, 23, 101])
def test_batches_per_epoch_is_every_epochs_count(batching, n):
    """The count Step 1's step axis and movement's schedule use: that of every epoch, whatever its generator."""
    lengths = [(5 * i) % 11 + 1 for i in range(n)]
    split = Split([torch.ones(k, dtype=torch.long) for k in lengths], [torch.zeros(k, dtype=torch.long) for k in lengths])
    counts = {len(epoch_batches(batching, lengths, 4, gen(seed))) for seed in range(8)}
    assert counts == {batches_per_epoch(split, 4, batching)}


@pytest.mark.parametrize("seed", range(20))
def test_original_cuts_the_flat_list_into_groups_of_batch_size(seed):
    """original: ⌈N/B⌉ groups, all full but the last, since the sampler's flat list is re-cut by the iterator."""
    lengths = [(5 * i) % 17 + 1 for i in range(23)]
    batches = original_batches(lengths, 10, gen(seed))
    assert [len(b) for b in batches] == [10, 10, 3]


@pytest.mark.parametrize("seed", range(30))
def test_original_carries_bucket_remainders_and_straddles_after_the_short_batch(seed):
    """N = 21, B = 10, 10 buckets of ⌊21/10⌋ = 2 (the last 3): the remainders carry over, so the sampler makes one
    batch of the 10 shortest sentences, one of 10 of the 11 longest, and a short batch of the last one; shuffled,
    flattened and re-cut into groups of 10, each of the three sampler batches is a contiguous run of the flat list."""
    lengths = list(range(21, 0, -1))                  # sentence i has length 21 - i: index 20 is the shortest
    shortest = set(range(11, 21))
    flat = [i for b in original_batches(lengths, 10, gen(seed)) for i in b]
    start = min(flat.index(i) for i in shortest)
    assert set(flat[start:start + 10]) == shortest
    rest = flat[:start] + flat[start + 10:]
    assert len(rest) == 11 and set(rest) == set(range(11))
    assert len(flat[:start]) in (0, 1, 10, 11)       # a sampler batch boundary: the short one (1) or a full one (10)


def test_original_short_batch_position_is_random():
    """The short sampler batch lands anywhere among the shuffled batches: when first, the first group mixes it
    with 9 sentences of another sampler batch; otherwise the first group is one whole sampler batch."""
    lengths = list(range(21, 0, -1))
    first_groups = [set(original_batches(lengths, 10, gen(seed))[0]) for seed in range(40)]
    straddling = [g for g in first_groups if not (g <= set(range(11, 21)) or g <= set(range(11)))]
    assert all(len(g) == 10 for g in first_groups) and 0 < len(straddling) < 40


def test_bucket_batches_stay_inside_one_bucket():
    """bucket: sorted into 10 buckets of ⌈N/10⌉ sentences, each cut into its own batches (a short one per bucket)."""
    lengths = list(range(100, 0, -1)) + [5] * 3       # 103 sentences: buckets of 11
    batches = bucket_batches(lengths, 4, gen(0))
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    bucket_of = {i: pos // 11 for pos, i in enumerate(order)}
    assert all(len({bucket_of[i] for i in b}) == 1 for b in batches)
    assert len(batches) == 9 * 3 + 1                  # nine buckets of 11 -> 4+4+3, the last of 4 -> 1 batch


def test_random_batches_ignore_length():
    """random: a random permutation cut into batches, so batches mix lengths; the spread ranks
    random > original > bucket on a long-tailed length distribution."""
    lengths = [(37 * i) % 61 + 1 for i in range(2001)]
    spreads = {m: statistics.mean(spread(epoch_batches(m, lengths, 10, gen(s)), lengths) for s in range(5))
               for m in BATCHINGS}
    assert spreads["random"] > 3 * spreads["original"] and spreads["original"] > 1.2 * spreads["bucket"]
    assert random_batches(lengths, 10, gen(1)) != random_batches(lengths, 10, gen(2))


def test_unknown_batching():
    with pytest.raises(ValueError, match="--batching"):
        epoch_batches("sorted", [1, 2], 1, gen(0))


def test_evaluation_batches_are_consecutive_in_length_order():
    """Evaluation batches cut the sentences sorted by length (ties in corpus order), so a batch holds similar
    lengths and little padding."""
    lengths = [5, 1, 9, 3, 7, 3, 8]
    assert sorted_batches(lengths, 3) == [[1, 3, 5], [0, 4, 6], [2]]


@pytest.mark.parametrize("batching", BATCHINGS)
def test_batches_draw_from_their_generator_only(batching):
    """Every mode draws from the run's generator (checkpointed for resume), never from torch's global RNG."""
    lengths = [(37 * i) % 61 + 1 for i in range(203)]
    torch.manual_seed(0)
    first = epoch_batches(batching, lengths, 10, gen(4))
    torch.manual_seed(1)
    assert epoch_batches(batching, lengths, 10, gen(4)) == first
    assert epoch_batches(batching, lengths, 10, gen(5)) != first


# --- joint training ---

@pytest.mark.parametrize("batching,sampling,first,expected", [
    ("original", "round-robin", True, "random"), ("original", "round-robin", False, "original"),
    ("original", "proportional", True, "random"), ("original", "proportional", False, "original"),
    ("original", "resample", True, "random"), ("original", "resample", False, "random"),
    ("bucket", "round-robin", True, "bucket"), ("random", "resample", False, "random"),
])
def test_refill_batching(batching, sampling, first, expected):
    """The original's joint loaders: random at first, bucketed when re-created (seq-label), random again
    under re-seq-label; the other modes apply throughout."""
    assert refill_batching(batching, sampling, first) == expected


def joint_run(data, sampling: str, batching: str, epochs: int, monkeypatch) -> tuple[list[str], dict]:
    """Train the tiny model jointly (batch size 2, one epoch's evaluation stubbed); the batch modes requested."""
    requested = []
    real = utils.data.batching.epoch_batches

    def recording(mode, lengths, batch_size, generator):
        requested.append(mode)
        return real(mode, lengths, batch_size, generator)

    monkeypatch.setattr(utils.training.joint, "epoch_batches", recording)
    monkeypatch.setattr(utils.training.joint, "evaluate", lambda *args: 50.0)
    torch.manual_seed(0)
    model = get_model("cnn-lstm", data, hidden_size=8)
    tasks = [JointTask(i, t, None) for i, t in enumerate(data.tasks)]
    result = train_joint(model, tasks, epochs=epochs, batch_size=2, optim=OPTIM, scheduler="fix", sampling=sampling,
                         device="cpu", pad_index=data.words.padding_idx, generator=gen(0), on_best=lambda e: None,
                         batching=batching)
    return requested, result.counts


def test_joint_original_first_epoch_random_then_bucketed(tiny_data, monkeypatch):
    """seq-label: each task starts with random batches; from epoch 2 its re-created loader is bucketed."""
    requested, counts = joint_run(tiny_data, "round-robin", "original", 3, monkeypatch)
    assert requested == ["random", "random"] + ["original"] * 4
    assert counts == {"pos": 2 * 3, "ner": 2 * 3}      # 4 and 3 sentences in batches of 2: 2 batches each per epoch


def test_joint_resample_turns_as_the_original(tiny_data, monkeypatch):
    """re-seq-label: Σ_t ⌈|D_t|/B⌉ = 4 rounds per epoch, a turn for every task in each; a task whose batches ran
    out gets new random ones and skips that turn. Each task (2 batches) trains on turns 1, 2, 4 of epoch 1 and
    1, 3, 4 of epoch 2: 3 steps per task per epoch, where Σ steps in all would be 2."""
    requested, counts = joint_run(tiny_data, "resample", "original", 2, monkeypatch)
    assert counts == {"pos": 6, "ner": 6}
    assert set(requested) == {"random"} and len(requested) == 2 + 2 * 2


def test_joint_bucket_mode_is_bucketed_from_the_start(tiny_data, monkeypatch):
    requested, counts = joint_run(tiny_data, "proportional", "bucket", 2, monkeypatch)
    assert set(requested) == {"bucket"} and sum(counts.values()) == 2 * 4

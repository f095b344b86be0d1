"""Mini-batches of sentences. Three ways to compose training batches (`--batching`): the original code's
(fastNLP's BucketSampler read through its DataSetIter), clean length buckets, or random; sorted batches for
evaluation."""
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pad_sequence

from utils.data.dataset import Split

BATCHINGS = ("original", "bucket", "random")
NUM_BUCKETS = 10


@dataclass
class Batch:
    """Padded word ids and tag ids [batch, length] with the true lengths [batch]."""

    words: torch.Tensor
    tags: torch.Tensor
    seq_len: torch.Tensor


def _shuffled(items: list, generator: torch.Generator) -> list:
    return [items[i] for i in torch.randperm(len(items), generator=generator).tolist()]


def _groups(indices: list[int], batch_size: int) -> list[list[int]]:
    return [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]


def original_batches(lengths: list[int], batch_size: int, generator: torch.Generator,
                     num_buckets: int = NUM_BUCKETS) -> list[list[int]]:
    """The original's batches: sort by length (stable), cut into `num_buckets` buckets of ⌊N/num_buckets⌋
    sentences (the last takes the rest); per bucket, add it to the carried remainder, shuffle, cut full batches
    and carry what is left; the final remainder is one short batch. The batches are shuffled and flattened, and the
    flat list is cut again into groups of `batch_size`, so every group after the short batch straddles two batches."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    per_bucket = len(order) // num_buckets
    batches, carried = [], []
    for b in range(num_buckets):
        end = per_bucket * (b + 1) if b < num_buckets - 1 else len(order)
        carried = _shuffled(carried + order[per_bucket * b:end], generator)
        full = len(carried) // batch_size * batch_size
        batches += _groups(carried[:full], batch_size)
        carried = carried[full:]
    if carried:
        batches.append(carried)
    flat = [i for batch in _shuffled(batches, generator) for i in batch]
    return _groups(flat, batch_size)


def bucket_batches(lengths: list[int], batch_size: int, generator: torch.Generator,
                   num_buckets: int = NUM_BUCKETS) -> list[list[int]]:
    """Clean length buckets: sort by length (random tie order), cut into `num_buckets` buckets, shuffle inside
    each, chunk each bucket into batches (a short batch per bucket), then shuffle the batches."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    order.sort(key=lambda i: lengths[i])
    size = -(-len(order) // num_buckets) if order else 1
    batches = []
    for start in range(0, len(order), size):
        batches += _groups(_shuffled(order[start:start + size], generator), batch_size)
    return _shuffled(batches, generator)


def random_batches(lengths: list[int], batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """Batches of a random permutation (fastNLP's RandomSampler): fastest learning per epoch, most padding."""
    return _groups(torch.randperm(len(lengths), generator=generator).tolist(), batch_size)


def epoch_batches(batching: str, lengths: list[int], batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """One epoch's training batches (each sentence exactly once) composed as `batching` says."""
    if batching == "original":
        return original_batches(lengths, batch_size, generator)
    if batching == "bucket":
        return bucket_batches(lengths, batch_size, generator)
    if batching == "random":
        return random_batches(lengths, batch_size, generator)
    raise ValueError(f"--batching {batching!r}: expected one of {', '.join(BATCHINGS)}")


def batches_per_epoch(split: Split, batch_size: int, batching: str) -> int:
    """The number of training batches of one epoch over `split`, which depends on its size and the batching only
    (counted on a generator of its own: the caller's draws nothing)."""
    return len(epoch_batches(batching, split.lengths, batch_size, torch.Generator().manual_seed(0)))


def sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Deterministic batches of similar length for evaluation (less padding, same result)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return _groups(order, batch_size)


def collate(split: Split, indices: list[int], pad_index: int, device: torch.device | str) -> Batch:
    """Pad the chosen sentences of a split into one Batch on `device`."""
    words = pad_sequence([split.words[i] for i in indices], batch_first=True, padding_value=pad_index)
    tags = pad_sequence([split.tags[i] for i in indices], batch_first=True, padding_value=0)
    seq_len = torch.tensor([len(split.words[i]) for i in indices])
    return Batch(words.to(device), tags.to(device), seq_len.to(device))

"""Mini-batches of sentences: length buckets for training (as fastNLP's BucketSampler), sorted for evaluation."""
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pad_sequence

from utils.dataset import Split


@dataclass
class Batch:
    """Padded word ids and tag ids [batch, length] with the true lengths [batch]."""

    words: torch.Tensor
    tags: torch.Tensor
    seq_len: torch.Tensor


def bucket_batches(lengths: list[int], batch_size: int, generator: torch.Generator,
                   num_buckets: int = 10) -> list[list[int]]:
    """Shuffled batches of sentences of similar length: sort by length (random tie order), cut into
    `num_buckets` buckets, shuffle inside each, chunk into batches, then shuffle the batches."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    order.sort(key=lambda i: lengths[i])
    size = -(-len(order) // num_buckets) if order else 1
    batches = []
    for start in range(0, len(order), size):
        bucket = order[start:start + size]
        bucket = [bucket[i] for i in torch.randperm(len(bucket), generator=generator).tolist()]
        batches += [bucket[i:i + batch_size] for i in range(0, len(bucket), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Deterministic batches of similar length for evaluation (less padding, same result)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def collate(split: Split, indices: list[int], pad_index: int, device: torch.device | str) -> Batch:
    """Pad the chosen sentences of a split into one Batch on `device`."""
    words = pad_sequence([split.words[i] for i in indices], batch_first=True, padding_value=pad_index)
    tags = pad_sequence([split.tags[i] for i in indices], batch_first=True, padding_value=0)
    seq_len = torch.tensor([len(split.words[i]) for i in indices])
    return Batch(words.to(device), tags.to(device), seq_len.to(device))

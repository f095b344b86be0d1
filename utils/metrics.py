"""Task metrics: POS token accuracy and conlleval-style span F1 (exact spans, micro-averaged), in percent."""
from typing import Protocol

import torch
from fastNLP import SpanFPreRecMetric, Vocabulary
from fastNLP.core.utils import seq_len_to_mask


class Metric(Protocol):
    """Accumulates predictions batch by batch; `score()` is the task's figure in percent."""

    def update(self, pred: torch.Tensor, target: torch.Tensor, seq_len: torch.Tensor) -> None: ...

    def score(self) -> float: ...


class TokenAccuracy:
    """Share of non-padding tokens whose tag is right (the paper's POS metric)."""

    def __init__(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor, seq_len: torch.Tensor) -> None:
        mask = seq_len_to_mask(seq_len, pred.size(1))
        self.correct += int((pred.eq(target) & mask).sum())
        self.total += int(mask.sum())

    def score(self) -> float:
        return 100.0 * self.correct / self.total if self.total else 0.0


class SpanF1:
    """Micro F1 over exact-match spans decoded from BIO or BIOES tags, as conlleval counts them."""

    def __init__(self, tags: Vocabulary, scheme: str) -> None:
        self._metric = SpanFPreRecMetric(tag_vocab=tags, encoding_type=scheme)

    def update(self, pred: torch.Tensor, target: torch.Tensor, seq_len: torch.Tensor) -> None:
        self._metric.evaluate(pred.cpu(), target.cpu(), seq_len.cpu())

    def score(self) -> float:
        return 100.0 * self._metric.get_metric(reset=False)["f"]


def make_metric(kind: str, tags: Vocabulary) -> Metric:
    """A fresh metric for a task: kind "acc" (token accuracy), "bio" or "bioes" (span F1)."""
    if kind == "acc":
        return TokenAccuracy()
    if kind in ("bio", "bioes"):
        return SpanF1(tags, kind)
    raise ValueError(f"unknown metric kind {kind!r}: expected acc, bio or bioes")

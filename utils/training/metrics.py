"""Task metrics: POS token accuracy and conlleval-style span F1 (exact spans, micro-averaged), in percent; and, for
comparison with the original code's Step 1 logs, the span F1 of its lenient decoders."""
from collections import Counter
from typing import Protocol

import torch
from fastNLP import Vocabulary
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


def span_figures(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 in percent from span counts, computed and rounded as fastNLP's SpanFPreRecMetric
    (its 1e-13 guards, each ratio rounded to 6 decimals), so that 0 spans found or expected give 0."""
    pre = tp / (fp + tp + 1e-13)
    rec = tp / (fn + tp + 1e-13)
    f1 = 2 * pre * rec / (pre + rec + 1e-13)
    return 100.0 * round(pre, 6), 100.0 * round(rec, 6), 100.0 * round(f1, 6)


class SpanF1:
    """Micro F1 over exact-match spans decoded from BIO or BIOES tags, as conlleval counts them: the same spans,
    counts and rounding as fastNLP's SpanFPreRecMetric, decoded from tag ids (no per-token strings). Counts are
    also kept per span type (`counts`: label -> [tp, fp, fn], labels lowercased as fastNLP compares them)."""

    def __init__(self, tags: Vocabulary, scheme: str) -> None:
        lowered = [tags.to_word(i).lower() for i in range(len(tags))]
        self._prefix = [tag[:1] for tag in lowered]
        self._label = [tag[2:] for tag in lowered]
        self._continues = ("i", "e") if scheme == "bioes" else ("i",)
        self._opens = ("b", "s") if scheme == "bioes" else ("b",)
        self._names = {tags.to_word(i)[2:].lower(): tags.to_word(i)[2:] for i in range(len(tags))}
        self.tp = self.fp = self.fn = 0
        self.counts: dict[str, list[int]] = {}

    def _spans(self, ids: list[int]) -> list[tuple[str, int, int]]:
        """fastNLP's _bio(es)_tag_to_spans on ids: B (and S) open a span, I (and E) continue one of the same
        label right after B or I, O is skipped, anything else opens a span of its own."""
        spans, prev = [], None
        for i, tag in enumerate(ids):
            prefix, label = self._prefix[tag], self._label[tag]
            if prefix in self._opens:
                spans.append([label, i, i])
            elif prefix in self._continues and prev in ("b", "i") and label == spans[-1][0]:
                spans[-1][2] = i
            elif prefix != "o":
                spans.append([label, i, i])
            prev = prefix
        return [(label, start, end + 1) for label, start, end in spans]

    def _count(self, spans: Counter, slot: int) -> None:
        for (label, _, _), n in spans.items():
            self.counts.setdefault(label, [0, 0, 0])[slot] += n

    def update(self, pred: torch.Tensor, target: torch.Tensor, seq_len: torch.Tensor) -> None:
        for p, g, n in zip(pred.tolist(), target.tolist(), seq_len.tolist()):
            gold = Counter(self._spans(g[:n]))
            guessed = gold if p[:n] == g[:n] else Counter(self._spans(p[:n]))
            hit = guessed & gold
            self._count(hit, 0)
            self._count(guessed - hit, 1)
            self._count(gold - hit, 2)
            self.tp += sum(hit.values())
            self.fp += sum(guessed.values()) - sum(hit.values())
            self.fn += sum(gold.values()) - sum(hit.values())

    def score(self) -> float:
        return span_figures(self.tp, self.fp, self.fn)[2]

    def per_type(self) -> dict[str, dict]:
        """conlleval's per-type lines, by label (in the tag set's spelling, sorted as fastNLP's lowercased
        labels): precision, recall and F1 in percent, and the spans found, expected (gold) and correct. Spans
        without a label (from a tag without a type) count overall only, as in fastNLP."""
        types = {}
        for label in sorted(filter(None, self.counts)):
            tp, fp, fn = self.counts[label]
            precision, recall, f1 = span_figures(tp, fp, fn)
            types[self._names.get(label, label)] = {"precision": precision, "recall": recall, "f1": f1,
                                                    "found": tp + fp, "gold": tp + fn, "correct": tp}
        return types


Span = tuple[str, int, int]


def lenient_bioes_spans(tags: list[str]) -> list[Span]:
    """Spans as the original's Step 1 decoder reads BIOES (src/metric.py): `B-X` opens a span (closing an open
    one before it), `S-X` is a one-token span, an `E-` of any type closes the open span, `I-` and `O` are ignored.
    A span still open at the end counts as its first token only, as the original's string parsing does."""
    spans, open_at, label = [], None, ""
    for i, tag in enumerate(t.upper() for t in tags):
        if "B-" in tag or "S-" in tag:
            if open_at is not None:
                spans.append((label, open_at, i))
            open_at, label = i, tag.split("-", 1)[1]
            if "S-" in tag:
                spans.append((label, i, i + 1))
                open_at = None
        elif "E-" in tag and open_at is not None:
            spans.append((label, open_at, i + 1))
            open_at = None
    if open_at is not None:
        spans.append((label, open_at, open_at + 1))
    return spans


def lenient_bio_spans(tags: list[str]) -> list[Span]:
    """Spans as the original's Step 1 decoder reads BIO: `B-X` opens a span, `I-X` of the open type continues it,
    anything else closes it; an `I-` without an open span of its type opens none. A span still open at the end
    counts as its first token only, as in the original."""
    spans, open_at, label = [], None, ""
    for i, tag in enumerate(t.upper() for t in tags):
        if "B-" in tag:
            if open_at is not None:
                spans.append((label, open_at, i))
            open_at, label = i, tag.split("-", 1)[1]
        elif "I-" in tag and open_at is not None and tag.split("-", 1)[1] == label:
            continue
        elif open_at is not None:
            spans.append((label, open_at, i))
            open_at = None
    if open_at is not None:
        spans.append((label, open_at, open_at + 1))
    return spans


LENIENT_DECODERS = {"bio": lenient_bio_spans, "bioes": lenient_bioes_spans}


class LenientSpanF1:
    """Micro span F1 with the original code's Step 1 decoders (more forgiving than conlleval, +1 to +3 F1 on
    NER): only for comparison with the original's logs; selection and tables use SpanF1."""

    def __init__(self, tags: Vocabulary, scheme: str) -> None:
        self.tags = tags
        self.decode = LENIENT_DECODERS[scheme]
        self.tp = self.fp = self.fn = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor, seq_len: torch.Tensor) -> None:
        for p, g, n in zip(pred.tolist(), target.tolist(), seq_len.tolist()):
            guessed = Counter(self.decode([self.tags.to_word(i) for i in p[:n]]))
            gold = Counter(self.decode([self.tags.to_word(i) for i in g[:n]]))
            hit = sum((guessed & gold).values())
            self.tp += hit
            self.fp += sum(guessed.values()) - hit
            self.fn += sum(gold.values()) - hit

    def score(self) -> float:
        found, expected = self.tp + self.fp, self.tp + self.fn
        return 200.0 * self.tp / (found + expected) if found + expected else 0.0


def make_metric(kind: str, tags: Vocabulary) -> Metric:
    """A fresh metric for a task: kind "acc" (token accuracy), "bio" or "bioes" (span F1)."""
    if kind == "acc":
        return TokenAccuracy()
    if kind in ("bio", "bioes"):
        return SpanF1(tags, kind)
    raise ValueError(f"unknown metric kind {kind!r}: expected acc, bio or bioes")


def make_lenient_metric(kind: str, tags: Vocabulary) -> Metric | None:
    """The original's Step 1 span metric for span tasks; None for token-accuracy tasks (scored alike)."""
    return LenientSpanF1(tags, kind) if kind in LENIENT_DECODERS else None

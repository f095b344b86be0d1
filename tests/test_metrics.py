"""utils.training.metrics: span F1 agrees with seqeval (conlleval mode) on random, often ill-formed tag sequences; token
accuracy ignores padding; hand-counted examples."""
import random

import pytest
import torch
from fastNLP import Vocabulary
from seqeval.metrics import f1_score

from utils.training.metrics import SpanF1, TokenAccuracy, make_metric

LABELS = ("PER", "LOC", "ORG", "MISC")


def tag_vocab(scheme: str) -> Vocabulary:
    vocab = Vocabulary(padding=None, unknown=None)
    vocab.add_word_lst(["O"] + [f"{p}-{label}" for p in scheme.upper() if p != "O" for label in LABELS])
    return vocab.build_vocab()


def batched_span_f1(vocab: Vocabulary, scheme: str, gold: list[list[str]], pred: list[list[str]],
                    batch_size: int, rng: random.Random) -> float:
    """SpanF1 fed in padded batches; padding positions hold random tag ids, which must be ignored."""
    metric = SpanF1(vocab, scheme)
    for start in range(0, len(gold), batch_size):
        g, p = gold[start:start + batch_size], pred[start:start + batch_size]
        width = max(len(s) for s in g)
        target = torch.tensor([[rng.randrange(len(vocab)) for _ in range(width)] for _ in g])
        guess = torch.tensor([[rng.randrange(len(vocab)) for _ in range(width)] for _ in g])
        for row, (gs, ps) in enumerate(zip(g, p)):
            target[row, :len(gs)] = torch.tensor([vocab.to_index(t) for t in gs])
            guess[row, :len(ps)] = torch.tensor([vocab.to_index(t) for t in ps])
        metric.update(guess, target, torch.tensor([len(s) for s in g]))
    return metric.score()


def random_sequences(scheme: str, n: int, rng: random.Random) -> tuple[list[list[str]], list[list[str]]]:
    """Uniformly random tags (so invalid transitions abound), predictions = gold with ~30% of tags resampled."""
    tags = ["O"] + [f"{p}-{label}" for p in scheme.upper() if p != "O" for label in LABELS[:3]]
    gold, pred = [], []
    for _ in range(n):
        length = rng.randint(1, 20)
        g = [rng.choice(tags) for _ in range(length)]
        p = [t if rng.random() > 0.3 else rng.choice(tags) for t in g]
        gold.append(g)
        pred.append(p)
    return gold, pred


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_span_f1_matches_seqeval_on_random_sequences(scheme, seed):
    rng = random.Random(seed)
    gold, pred = random_sequences(scheme, 300, rng)
    ours = batched_span_f1(tag_vocab(scheme), scheme, gold, pred, batch_size=17, rng=rng)
    expected = 100.0 * f1_score(gold, pred)
    assert 0.0 < expected < 100.0
    assert ours == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_span_f1_matches_seqeval_per_sentence(scheme):
    """Sentence by sentence too (small counts make any disagreement on span boundaries visible)."""
    rng = random.Random(7)
    gold, pred = random_sequences(scheme, 200, rng)
    vocab = tag_vocab(scheme)
    for g, p in zip(gold, pred):
        expected = 100.0 * f1_score([g], [p]) if any(t != "O" for t in g + p) else 0.0
        assert batched_span_f1(vocab, scheme, [g], [p], 1, rng) == pytest.approx(expected, abs=1e-4), (g, p)


def test_span_f1_hand_counted_bio():
    # gold spans: PER[0,2) LOC[3,4) ORG[5,6); predicted: PER[0,2) LOC[3,4) PER[5,6) -> 2 of 3 right both ways.
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-PER"]]
    assert batched_span_f1(tag_vocab("bio"), "bio", gold, pred, 1, random.Random(0)) == pytest.approx(
        100 * 2 / 3, abs=1e-4)


def test_span_f1_hand_counted_precision_differs_from_recall():
    # gold: PER[0,2) LOC[2,3) ORG[4,5); pred: PER[0,1) (wrong boundary), LOC[2,3) -> P = 1/2, R = 1/3, F = 0.4.
    gold = [["B-PER", "I-PER", "B-LOC", "O", "B-ORG"]]
    pred = [["B-PER", "O", "B-LOC", "O", "O"]]
    assert batched_span_f1(tag_vocab("bio"), "bio", gold, pred, 1, random.Random(0)) == pytest.approx(40.0, abs=1e-4)


def test_span_f1_hand_counted_bioes_across_batches():
    # batch 1: gold PER[0,2) LOC[3,4); pred PER[0,2) LOC[3,4)         -> tp 2
    # batch 2: gold ORG[0,3);          pred ORG[0,2) (B-,I- with no E-) + MISC[2,3) -> fp 2, fn 1
    # totals tp 2, fp 2, fn 1: P = 1/2, R = 2/3, F = 2PR/(P+R) = 4/7.
    vocab = tag_vocab("bioes")
    metric = SpanF1(vocab, "bioes")
    ids = lambda seq: torch.tensor([[vocab.to_index(t) for t in seq]])
    metric.update(ids(["B-PER", "E-PER", "O", "S-LOC"]), ids(["B-PER", "E-PER", "O", "S-LOC"]), torch.tensor([4]))
    metric.update(ids(["B-ORG", "I-ORG", "S-MISC"]), ids(["B-ORG", "I-ORG", "E-ORG"]), torch.tensor([3]))
    assert metric.score() == pytest.approx(100 * 4 / 7, abs=1e-4)


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_span_f1_per_type_matches_seqeval(scheme):
    """Per type as conlleval prints it: seqeval's per-label precision, recall, F1 and support (gold spans)."""
    from seqeval.metrics import classification_report

    rng = random.Random(11)
    gold, pred = random_sequences(scheme, 300, rng)
    vocab = tag_vocab(scheme)
    metric = SpanF1(vocab, scheme)
    for g, p in zip(gold, pred):
        metric.update(torch.tensor([[vocab.to_index(t) for t in p]]), torch.tensor([[vocab.to_index(t) for t in g]]),
                      torch.tensor([len(g)]))
    expected = classification_report(gold, pred, output_dict=True, zero_division=0)
    types = metric.per_type()
    assert list(types) == ["LOC", "ORG", "PER"]
    for label, figures in types.items():
        assert figures["precision"] == pytest.approx(100 * expected[label]["precision"], abs=1e-4), label
        assert figures["recall"] == pytest.approx(100 * expected[label]["recall"], abs=1e-4), label
        assert figures["f1"] == pytest.approx(100 * expected[label]["f1-score"], abs=1e-4), label
        assert figures["gold"] == expected[label]["support"], label
    assert sum(t["correct"] for t in types.values()) == metric.tp
    assert sum(t["found"] for t in types.values()) == metric.tp + metric.fp
    assert sum(t["gold"] for t in types.values()) == metric.tp + metric.fn


def test_span_f1_per_type_hand_counted():
    # gold PER[0,2) LOC[2,3) ORG[4,5); pred PER[0,1) LOC[2,3) ORG[4,5) PER[5,6):
    # PER found 2, correct 0, gold 1; LOC 1/1/1; ORG 1/1/1; a type never found nor expected is absent.
    vocab = tag_vocab("bio")
    metric = SpanF1(vocab, "bio")
    ids = lambda seq: torch.tensor([[vocab.to_index(t) for t in seq]])
    metric.update(ids(["B-PER", "O", "B-LOC", "O", "B-ORG", "B-PER"]),
                  ids(["B-PER", "I-PER", "B-LOC", "O", "B-ORG", "O"]), torch.tensor([6]))
    types = metric.per_type()
    assert {label: (t["found"], t["correct"], t["gold"]) for label, t in types.items()} == {
        "LOC": (1, 1, 1), "ORG": (1, 1, 1), "PER": (2, 0, 1)}
    assert types["PER"]["precision"] == types["PER"]["recall"] == types["PER"]["f1"] == 0.0
    assert types["LOC"]["f1"] == pytest.approx(100.0)
    # overall: tp 2, fp 2, fn 1 -> P 1/2, R 2/3, F 4/7
    assert metric.score() == pytest.approx(100 * 4 / 7, abs=1e-4)


def test_span_f1_per_type_agrees_with_fastnlp_figures():
    """The figures predict used to take from fastNLP's SpanFPreRecMetric, now from SpanF1: the same numbers."""
    from fastNLP import SpanFPreRecMetric

    rng = random.Random(5)
    gold, pred = random_sequences("bioes", 200, rng)
    vocab = tag_vocab("bioes")
    as_ids = lambda seqs: torch.nn.utils.rnn.pad_sequence([torch.tensor([vocab.to_index(t) for t in s])
                                                           for s in seqs], batch_first=True)
    seq_len = torch.tensor([len(g) for g in gold])
    metric = SpanF1(vocab, "bioes")
    metric.update(as_ids(pred), as_ids(gold), seq_len)
    reference = SpanFPreRecMetric(tag_vocab=vocab, encoding_type="bioes", only_gross=False)
    reference.evaluate(as_ids(pred), as_ids(gold), seq_len)
    figures = reference.get_metric()
    assert metric.score() == 100.0 * figures["f"]
    for label, t in metric.per_type().items():
        assert (t["precision"], t["recall"], t["f1"]) == tuple(100.0 * figures[f"{k}-{label.lower()}"]
                                                              for k in ("pre", "rec", "f")), label


def test_token_accuracy_ignores_padding():
    pred = torch.tensor([[1, 2, 3, 5],
                         [1, 1, 0, 0]])
    target = torch.tensor([[1, 2, 0, 5],   # length 3: 2 right; the padded position agrees but must not count
                           [1, 2, 4, 4]])  # length 2: 1 right; padded positions disagree and must not count
    metric = TokenAccuracy()
    metric.update(pred, target, torch.tensor([3, 2]))
    assert metric.score() == pytest.approx(100 * 3 / 5)
    metric.update(torch.tensor([[7, 0]]), torch.tensor([[7, 9]]), torch.tensor([1]))  # accumulates: 4 of 6
    assert metric.score() == pytest.approx(100 * 4 / 6)


def test_token_accuracy_empty_is_zero():
    assert TokenAccuracy().score() == 0.0


def test_make_metric_kinds():
    vocab = tag_vocab("bio")
    assert isinstance(make_metric("acc", vocab), TokenAccuracy)
    assert isinstance(make_metric("bio", vocab), SpanF1)
    assert isinstance(make_metric("bioes", tag_vocab("bioes")), SpanF1)
    with pytest.raises(ValueError, match="f1"):
        make_metric("f1", vocab)


# --- the original's lenient Step 1 span decoders (reported beside the conlleval F1) ---

from utils.training.metrics import LenientSpanF1, lenient_bio_spans, lenient_bioes_spans  # noqa: E402


def test_lenient_bioes_spans_by_hand():
    """B- opens (closing an open span), an E- of any type closes, I- and O are ignored, S- is one token, and a
    span left open at the end counts as its first token."""
    tags = ["B-PER", "I-PER", "E-LOC", "O", "S-ORG", "B-LOC", "O", "I-MISC", "E-PER", "B-ORG", "B-MISC", "I-MISC"]
    assert lenient_bioes_spans(tags) == [("PER", 0, 3), ("ORG", 4, 5), ("LOC", 5, 9), ("ORG", 9, 10),
                                         ("MISC", 10, 11)]


def test_lenient_bio_spans_by_hand():
    """B-X opens, I-X continues only its own type, anything else closes; a stray I- opens nothing."""
    tags = ["I-NP", "B-NP", "I-NP", "O", "B-VP", "I-NP", "B-PP", "B-NP", "I-NP"]
    assert lenient_bio_spans(tags) == [("NP", 1, 3), ("VP", 4, 5), ("PP", 6, 7), ("NP", 7, 8)]


def test_lenient_f1_counts_by_hand():
    """Gold PER(0,2) LOC(3,4); predicted B-PER E-LOC (lenient: PER(0,2), a hit) and B-LOC I-LOC (open at the
    end: LOC(3,4), a hit) plus S-ORG (a false positive): P = 2/3, R = 1, F1 = 80. conlleval finds 0 hits."""
    vocab = tag_vocab("bioes")
    gold = ["B-PER", "E-PER", "O", "S-LOC", "O"]
    pred = ["B-PER", "E-LOC", "S-ORG", "B-LOC", "I-LOC"]
    metric = LenientSpanF1(vocab, "bioes")
    metric.update(torch.tensor([[vocab.to_index(t) for t in pred]]), torch.tensor([[vocab.to_index(t) for t in gold]]),
                  torch.tensor([5]))
    assert metric.score() == pytest.approx(80.0)
    strict = SpanF1(vocab, "bioes")
    strict.update(torch.tensor([[vocab.to_index(t) for t in pred]]), torch.tensor([[vocab.to_index(t) for t in gold]]),
                  torch.tensor([5]))
    assert strict.score() == 0.0


def test_lenient_f1_without_any_span_is_zero():
    """No gold and no predicted span: nothing was found, so F1 is 0 (as conlleval's), not 100."""
    vocab = tag_vocab("bioes")
    metric = LenientSpanF1(vocab, "bioes")
    outside = torch.full((1, 4), vocab.to_index("O"))
    metric.update(outside, outside, torch.tensor([4]))
    assert metric.score() == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_lenient_equals_conlleval_on_well_formed_bioes(seed):
    """On well-formed BIOES (every span B I* E or S) both decoders find the same spans."""
    rng = random.Random(seed)
    sequences = []
    for _ in range(200):
        tags = []
        while len(tags) < 12:
            label, width = rng.choice(LABELS), rng.randint(0, 3)
            tags += ["O"] if width == 0 else [f"S-{label}"] if width == 1 else \
                [f"B-{label}"] + [f"I-{label}"] * (width - 2) + [f"E-{label}"]
        sequences.append(tags)
    gold, pred = sequences[:100], sequences[100:]
    vocab = tag_vocab("bioes")
    lenient = LenientSpanF1(vocab, "bioes")
    strict = SpanF1(vocab, "bioes")
    for g, p in zip(gold, pred):
        n = min(len(g), len(p))
        args = (torch.tensor([[vocab.to_index(t) for t in p[:n]]]), torch.tensor([[vocab.to_index(t) for t in g[:n]]]),
                torch.tensor([n]))
        lenient.update(*args)
        strict.update(*args)
    assert 0 < strict.score() < 100 and lenient.score() == pytest.approx(strict.score(), abs=0.5)

"""Property-based tests (hypothesis) of the CoNLL readers and the IOB1 -> BIO -> BIOES converters: random well-formed
files round-trip with the same spans as a reference span extractor; malformed ones raise ValueError naming file:line."""
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from utils.data.readers import TagError, read_conll03, read_conll03_pp, to_bio, to_bioes

Span = tuple[int, int, str]  # [start, end) and type
TYPES = ("PER", "LOC", "ORG", "MISC")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILE_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Words: no whitespace (Unicode Z*) and no control, format or surrogate characters (C*), never -DOCSTART-.
words = st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=6).filter(
    lambda w: not w.startswith("-DOCSTART-"))


@st.composite
def iob1_sentence(draw: st.DrawFn, length: int) -> tuple[list[str], list[Span]]:
    """Tags of a sentence in IOB1 or BIO (B- where IOB1 needs it, where BIO needs it, or at random) and its spans."""
    tags: list[str] = []
    spans: list[Span] = []
    while len(tags) < length:
        if draw(st.booleans()):
            tags.append("O")
            continue
        kind = draw(st.sampled_from(TYPES))
        size = draw(st.integers(1, length - len(tags)))
        touching = bool(spans) and spans[-1][1] == len(tags) and spans[-1][2] == kind
        first = "B" if touching or draw(st.booleans()) else "I"
        spans.append((len(tags), len(tags) + size, kind))
        tags += [f"{first}-{kind}"] + [f"I-{kind}"] * (size - 1)
    return tags, spans


def bio_spans(tags: list[str]) -> list[Span]:
    """Spans of a strict BIO sequence; fails the test on an I-X that does not continue a B-X or I-X."""
    spans: list[Span] = []
    for index, tag in enumerate(tags):
        if tag.startswith("B-"):
            spans.append((index, index + 1, tag[2:]))
        elif tag.startswith("I-"):
            assert spans and spans[-1][1] == index and spans[-1][2] == tag[2:], f"I- without B- at {index}: {tags}"
            spans[-1] = (spans[-1][0], index + 1, tag[2:])
        else:
            assert tag == "O", tag
    return spans


def bioes_spans(tags: list[str]) -> list[Span]:
    """Spans of a strict BIOES sequence; fails the test on a span not opened by B/S or not closed by E/S."""
    spans: list[Span] = []
    open_span: tuple[int, str] | None = None
    for index, tag in enumerate(tags):
        prefix, kind = tag[:2], tag[2:]
        if prefix in ("B-", "S-"):
            assert open_span is None, f"unclosed span before {index}: {tags}"
            open_span = (index, kind)
        elif prefix in ("I-", "E-"):
            assert open_span is not None and open_span[1] == kind, f"{tag} outside its span at {index}: {tags}"
        else:
            assert tag == "O" and open_span is None, f"O inside a span at {index}: {tags}"
        if prefix in ("S-", "E-"):
            spans.append((open_span[0], index + 1, kind))
            open_span = None
    assert open_span is None, f"span left open: {tags}"
    return spans


@SETTINGS
@given(st.integers(1, 12).flatmap(iob1_sentence))
def test_converters_keep_the_spans(sentence: tuple[list[str], list[Span]]) -> None:
    tags, spans = sentence
    assert bio_spans(to_bio(tags)) == spans
    assert bioes_spans(to_bioes(tags)) == spans


bad_tags = st.one_of(st.sampled_from(["B-", "I-", "B", "o", "b-PER", "S-PER", "E-LOC", "U-ORG", "L-PER", "B-PER-X",
                                      "PER", "X-MISC", "I--"]), words.filter(lambda w: w != "O" and w[:2] not in ("B-", "I-")))


@SETTINGS
@given(st.integers(1, 8).flatmap(iob1_sentence), bad_tags, st.data())
def test_converters_name_the_first_bad_tag(sentence: tuple[list[str], list[Span]], bad: str, data: st.DataObject) -> None:
    tags = sentence[0]
    index = data.draw(st.integers(0, len(tags) - 1))
    tags[index] = bad
    for converter in (to_bio, to_bioes):
        with pytest.raises(TagError) as error:
            converter(tags)
        assert error.value.index == index
        assert str(error.value).startswith(f"invalid IOB tag {bad!r}")


Row = tuple[str, str, str, str]


@st.composite
def conll_sentence(draw: st.DrawFn) -> tuple[list[Row], list[Span], list[Span]]:
    """A CoNLL-2003 sentence (word, POS, chunk, NER rows, tags in IOB1/BIO) with its chunk and NER spans."""
    length = draw(st.integers(1, 7))
    chunks, chunk_spans = draw(iob1_sentence(length))
    ner, ner_spans = draw(iob1_sentence(length))
    tokens = draw(st.lists(words, min_size=length, max_size=length))
    pos = draw(st.lists(st.sampled_from(["NNP", "VBZ", "DT", ".", "-X-", "O", "B-NP"]), min_size=length, max_size=length))
    return list(zip(tokens, pos, chunks, ner)), chunk_spans, ner_spans


@st.composite
def conll_file(draw: st.DrawFn) -> tuple[str, list[tuple[list[Row], list[Span], list[Span]]], dict[int, int]]:
    """File text of random sentences with -DOCSTART- lines, 1-3 blank lines between sentences, optional final
    newline; the sentences, and the line number of every row (keyed by its position among all rows)."""
    sentences = draw(st.lists(conll_sentence(), min_size=1, max_size=5))
    lines: list[str] = []
    row_lines: dict[int, int] = {}
    for sentence in sentences:
        if draw(st.booleans()):
            lines += ["-DOCSTART- -X- -X- O", ""]
        for row in sentence[0]:
            row_lines[len(row_lines)] = len(lines) + 1
            lines.append(" ".join(row))
        lines += [""] * draw(st.integers(1, 3))
    text = "\n".join(lines)
    return (text if draw(st.booleans()) else text.rstrip("\n")), sentences, row_lines


def write_folder(folder: Path, train: str, other: str = "EU NNP I-NP I-ORG\n") -> None:
    """A CoNLL-2003 folder: train.txt as given, dev.txt and test.txt one sentence each."""
    (folder / "train.txt").write_text(train, encoding="utf-8")
    for split in ("dev", "test"):
        (folder / f"{split}.txt").write_text(other, encoding="utf-8")


@FILE_SETTINGS
@given(conll_file())
def test_well_formed_files_round_trip(generated: tuple[str, list, dict]) -> None:
    text, sentences, _ = generated
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(Path(tmp), text)
        corpus = read_conll03(tmp)
        pp = read_conll03_pp(tmp, max_position=3)
    train = {task: corpus[task]["train"] for task in ("pos", "chunk", "ner")}
    assert [len(train[task]) for task in train] == [len(sentences)] * 3
    for index, (rows, chunk_spans, ner_spans) in enumerate(sentences):
        tokens, pos = [row[0] for row in rows], [row[1] for row in rows]
        assert train["pos"][index] == (tokens, pos)
        assert train["chunk"][index][0] == tokens and bio_spans(train["chunk"][index][1]) == chunk_spans
        assert train["ner"][index][0] == tokens and bioes_spans(train["ner"][index][1]) == ner_spans
        assert pp["ner"]["train"][index] == train["ner"][index]
        assert pp["pp"]["train"][index] == (tokens, ["0", "1", "2", "3+", "3+", "3+", "3+"][: len(tokens)])


@st.composite
def malformed_file(draw: st.DrawFn) -> tuple[str, int, str]:
    """A well-formed file with one fault in one row: a missing column, an extra column (not on the first row, which
    sets the width) or a bad NER tag; the text, the faulty line and the expected message after `file:line: `."""
    text, _, row_lines = draw(conll_file())
    lines = text.split("\n")
    fault = draw(st.sampled_from(["missing", "extra", "tag"] if len(row_lines) > 1 else ["missing", "tag"]))
    row = draw(st.integers(1 if fault == "extra" else 0, len(row_lines) - 1))
    number = row_lines[row]
    fields = lines[number - 1].split(" ")
    if fault == "missing":
        del fields[draw(st.integers(0, 3))]
        expected = "expected at least 4 columns, found 3"
    elif fault == "extra":
        fields.insert(draw(st.integers(1, 4)), draw(st.sampled_from(["x", "O", "I-NP"])))
        expected = f"expected 4 columns (as on line {row_lines[0]}), found 5"
    else:
        fields[3] = draw(bad_tags)
        expected = f"invalid IOB tag {fields[3]!r}"
    lines[number - 1] = " ".join(fields)
    return "\n".join(lines), number, expected


@FILE_SETTINGS
@given(malformed_file())
def test_malformed_files_name_file_and_line(generated: tuple[str, int, str]) -> None:
    text, number, expected = generated
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(Path(tmp), text)
        with pytest.raises(ValueError) as error:
            read_conll03(tmp)
    assert str(error.value).startswith(f"{Path(tmp) / 'train.txt'}:{number}: {expected}")


fields = st.one_of(words, bad_tags, st.sampled_from(["O", "B-PER", "I-PER", "I-NP", "-DOCSTART-", "NNP"]))
rows = st.one_of(st.just(""), st.lists(fields, min_size=0, max_size=6).map(" ".join))


@FILE_SETTINGS
@given(st.one_of(st.lists(rows, max_size=12).map("\n".join).map(str.encode), st.binary(max_size=60)))
def test_arbitrary_input_is_read_or_refused_with_value_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(Path(tmp), "")
        (Path(tmp) / "train.txt").write_bytes(content)
        try:
            corpus = read_conll03(tmp)
        except ValueError as error:
            assert str(error).startswith(f"{Path(tmp) / 'train.txt'}:"), error
            assert "\n" not in str(error)
        else:
            assert all(len(words) == len(tags) > 0 for words, tags in corpus["ner"]["train"])

"""Tests for utils.data.readers against the real shared corpora and hand-made files."""

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from utils.data.readers import (
    SETTINGS,
    SPLITS,
    TASKS,
    Corpus,
    ne_bio,
    parse_chunks,
    read_column_tasks,
    read_columns,
    read_conll03,
    read_conll03_pp,
    read_ontonotes,
    read_ptb,
    to_bio,
    to_bioes,
)

NER_TYPES = ("PER", "LOC", "ORG", "MISC")
WSJ_TRAIN_SENTENCES = 1000  # slice of dev.pos standing in for the unavailable (LDC) train.pos


def tokens(sentences: list[tuple[list[str], list[str]]]) -> int:
    """Count the words of a list of sentences."""
    return sum(len(words) for words, _ in sentences)


def tag_set(sentences: list[tuple[list[str], list[str]]]) -> set[str]:
    """Collect every tag used in a list of sentences."""
    return {tag for _, tags in sentences for tag in tags}


def write(path: Path, text: str) -> Path:
    """Write a small test file (creating its folder) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def conll03(shared_data: Path) -> Corpus:
    """The real CoNLL-2003 corpus, read once for the module."""
    return read_conll03(str(shared_data / "conll03"))


@pytest.fixture(scope="module")
def ptb(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The "ptb" setting with a WSJ folder whose train.pos is the first sentences of dev.pos."""
    wsj = tmp_path_factory.mktemp("wsj")
    for split in ("dev", "test"):
        shutil.copy(shared_data / "wsj_ptb" / f"{split}.pos", wsj / f"{split}.pos")
    blocks = (wsj / "dev.pos").read_text(encoding="utf-8").split("\n\n")
    (wsj / "train.pos").write_text("\n\n".join(blocks[: WSJ_TRAIN_SENTENCES + 1]) + "\n", encoding="utf-8")
    return read_ptb(str(wsj), str(shared_data / "conll2000"), str(shared_data / "conll03"))


def test_to_bio_converts_iob1_without_touching_input() -> None:
    tags = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-ORG"]
    assert to_bio(tags) == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-ORG"]
    assert tags[0] == "I-PER"


def test_to_bioes_converts_iob1() -> None:
    tags = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-ORG", "I-ORG", "I-ORG"]
    assert to_bioes(tags) == ["B-PER", "E-PER", "O", "S-LOC", "B-LOC", "E-LOC", "B-ORG", "I-ORG", "E-ORG"]


def test_bio_input_is_left_as_is() -> None:
    tags = ["B-NP", "I-NP", "B-NP", "O", "B-VP"]
    assert to_bio(tags) == tags


@pytest.mark.parametrize("tags", [["X-PER"], ["O", "PER"], ["B-PER-X"]])
def test_invalid_tags_raise_value_error(tags: list[str]) -> None:
    with pytest.raises(ValueError, match="invalid IOB"):
        to_bioes(tags)


def test_read_columns_drops_docstart_and_splits_sentences(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "-DOCSTART- -X- -X- O\n\nEU NNP I-NP I-ORG\nsays VBZ I-VP O\n\n\nHi UH O O")
    assert read_columns(str(path), (0, 3)) == [[["EU", "says"], ["I-ORG", "O"]], [["Hi"], ["O"]]]


def test_read_columns_names_file_and_line_of_short_row(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "EU NNP I-NP I-ORG\n\nHi UH\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}:3: expected at least 4 columns, found 2$"):
        read_columns(str(path), (0, 3))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothere.txt"):
        read_columns(str(tmp_path / "nothere.txt"), (0, 1))


def write_conll03(directory: Path, train: str) -> None:
    """Write a tiny CoNLL-2003 folder whose dev and test hold one sentence."""
    write(directory / "train.txt", train)
    for split in ("dev", "test"):
        write(directory / f"{split}.txt", "Hi UH O O\n")


def test_read_conll03_converts_iob1(tmp_path: Path) -> None:
    write_conll03(tmp_path, "-DOCSTART- -X- O O\n\nNew NNP I-NP I-LOC\nYork NNP I-NP I-LOC\nrains VBZ I-VP O\n")
    corpus = read_conll03(str(tmp_path))
    words = ["New", "York", "rains"]
    assert corpus["pos"]["train"] == [(words, ["NNP", "NNP", "VBZ"])]
    assert corpus["chunk"]["train"] == [(words, ["B-NP", "I-NP", "B-VP"])]
    assert corpus["ner"]["train"] == [(words, ["B-LOC", "E-LOC", "O"])]


def test_invalid_tags_name_file_and_line(tmp_path: Path) -> None:
    write_conll03(tmp_path, "EU NNP B-NP B-ORG\n\nPeter NNP B-NP B-PER\nBlack NNP I-NP Q-PER\n")
    path = re.escape(str(tmp_path / "train.txt"))
    with pytest.raises(ValueError, match=rf"^{path}:4: invalid IOB tag 'Q-PER'"):
        read_conll03(str(tmp_path))


def test_conll03_sizes(conll03: Corpus) -> None:
    assert list(conll03) == list(TASKS)
    for task in TASKS:
        assert list(conll03[task]) == list(SPLITS)
        assert [len(conll03[task][split]) for split in SPLITS] == [14041, 3250, 3453]
        assert [tokens(conll03[task][split]) for split in SPLITS] == [203621, 51362, 46435]


def test_conll03_tasks_share_sentences(conll03: Corpus) -> None:
    for split in SPLITS:
        words = [sentence[0] for sentence in conll03["pos"][split]]
        assert [sentence[0] for sentence in conll03["chunk"][split]] == words
        assert [sentence[0] for sentence in conll03["ner"][split]] == words


def test_conll03_tag_sets(conll03: Corpus) -> None:
    ner = {f"{prefix}-{kind}" for prefix in "BIES" for kind in NER_TYPES} | {"O"}
    assert tag_set(conll03["ner"]["train"]) == ner
    assert len(tag_set(conll03["pos"]["train"])) == 45
    chunk = tag_set(conll03["chunk"]["train"])
    assert all(tag == "O" or tag[:2] in ("B-", "I-") for tag in chunk)
    assert len(chunk) == 20


def test_conll03_first_sentence(conll03: Corpus) -> None:
    words = "EU rejects German call to boycott British lamb .".split()
    assert conll03["chunk"]["train"][0] == (words, "B-NP B-VP B-NP I-NP B-VP I-VP B-NP I-NP O".split())
    assert conll03["ner"]["train"][0] == (words, "S-ORG O S-MISC O O O S-MISC O O".split())
    assert conll03["ner"]["train"][1] == (["Peter", "Blackburn"], ["B-PER", "E-PER"])


def test_ptb_sizes(ptb: Corpus) -> None:
    assert list(ptb) == list(TASKS)
    assert all(list(ptb[task]) == list(SPLITS) for task in TASKS)
    assert [len(ptb["pos"][split]) for split in SPLITS] == [WSJ_TRAIN_SENTENCES, 5527, 5462]
    assert [tokens(ptb["pos"][split]) for split in ("dev", "test")] == [131768, 129654]
    assert [len(ptb["chunk"][split]) for split in SPLITS] == [8042, 894, 2012]
    assert tokens(ptb["chunk"]["train"]) + tokens(ptb["chunk"]["dev"]) == 211727
    assert tokens(ptb["chunk"]["test"]) == 47377
    assert [len(ptb["ner"][split]) for split in SPLITS] == [14041, 3250, 3453]
    assert len(tag_set(ptb["ner"]["train"])) == 17
    assert len(tag_set(ptb["chunk"]["train"] + ptb["chunk"]["dev"])) == 22


def as_counter(sentences: list[tuple[list[str], list[str]]]) -> Counter:
    """A multiset of sentences, for comparing partitions."""
    return Counter((tuple(words), tuple(tags)) for words, tags in sentences)


def is_subsequence(part: list, whole: list) -> bool:
    """Whether `part` appears in `whole` in the same order (not necessarily contiguously)."""
    remaining = iter(whole)
    return all(item in remaining for item in part)


def test_ptb_chunk_dev_is_a_tenth_of_train_in_file_order(ptb: Corpus, shared_data: Path) -> None:
    original = [(words, tags) for words, tags in read_columns(str(shared_data / "conll2000" / "train.txt"), (0, 2))]
    train, dev = ptb["chunk"]["train"], ptb["chunk"]["dev"]
    assert len(original) == 8936
    assert len(dev) == round(0.1 * len(original))
    assert as_counter(train) + as_counter(dev) == as_counter(original)  # a partition (train has duplicates)
    assert is_subsequence(train, original) and is_subsequence(dev, original)


def test_ptb_hold_out_depends_on_seed_and_fraction(shared_data: Path, tmp_path: Path) -> None:
    wsj = tmp_path / "wsj"
    for split in SPLITS:
        write(wsj / f"{split}.pos", "-DOCSTART- O\n\nHi UH\n")
    write_conll03(tmp_path / "conll03", "Hi UH O O\n")
    arguments = (str(wsj), str(shared_data / "conll2000"), str(tmp_path / "conll03"))
    first = read_ptb(*arguments, seed=7)["chunk"]["dev"]
    assert read_ptb(*arguments, seed=7)["chunk"]["dev"] == first
    assert read_ptb(*arguments, seed=8)["chunk"]["dev"] != first
    assert len(read_ptb(*arguments, dev_fraction=0.25)["chunk"]["dev"]) == 2234
    with pytest.raises(ValueError, match="dev_fraction"):
        read_ptb(*arguments, dev_fraction=1.0)


ONTONOTES_FIRST = (
    "Mali government officials say the woman 's confession was forced .".split(),
    "NNP NN NNS VBP DT NN POS NN VBD JJ .".split(),
    "B-NML I-NML O O B-NP I-NP I-NP O O B-ADJP O".split(),
    "S-GPE O O O O O O O O O O".split(),
)
ONTONOTES_SECOND_CHUNKS = "B-NP I-NP O B-NP I-NP B-NP I-NP O B-NP I-NP O B-NP O".split()
ONTONOTES_SECOND_NER = "O O O O O B-DATE E-DATE O B-DATE E-DATE O O O".split()


def copy_ontonotes(shared_data: Path, directory: Path, dev_name: str) -> None:
    """Lay out the two CoNLL-2012 samples as train, dev and test (test nested deeper, as in OntoNotes)."""
    sample = shared_data / "conll2012-sample"
    for folder in (directory / "train", directory / dev_name, directory / "test" / "data" / "english"):
        folder.mkdir(parents=True)
        for name in ("example.gold_conll", "example2.gold_conll"):
            shutil.copy(sample / name, folder / name)


@pytest.mark.parametrize("dev_name", ["development", "dev"])
def test_ontonotes_hand_checked_tags(shared_data: Path, tmp_path: Path, dev_name: str) -> None:
    copy_ontonotes(shared_data, tmp_path, dev_name)
    corpus = read_ontonotes(str(tmp_path))
    assert list(corpus) == list(TASKS)
    for split in SPLITS:
        assert [len(corpus[task][split]) for task in TASKS] == [5, 5, 5]
    words, pos, chunks, ner = ONTONOTES_FIRST
    assert corpus["pos"]["dev"][0] == (words, pos)
    assert corpus["chunk"]["dev"][0] == (words, chunks)
    assert corpus["ner"]["dev"][0] == (words, ner)
    assert corpus["chunk"]["train"][1][1] == ONTONOTES_SECOND_CHUNKS
    assert corpus["ner"]["train"][1][1] == ONTONOTES_SECOND_NER
    assert corpus["ner"]["test"][2] == (["Denise", "Dillon", "Headline", "News", "."],
                                        ["B-PERSON", "E-PERSON", "B-WORK_OF_ART", "E-WORK_OF_ART", "O"])


def test_ontonotes_skips_pt_documents(shared_data: Path, tmp_path: Path) -> None:
    copy_ontonotes(shared_data, tmp_path, "development")
    bible = (shared_data / "conll2012-sample" / "example2.gold_conll").read_text(encoding="utf-8")
    write(tmp_path / "train" / "pt.gold_conll", bible.replace("test/test/04/test_004", "pt/nt/40/nt_4010"))
    assert len(read_ontonotes(str(tmp_path))["pos"]["train"]) == 5


def test_ontonotes_bad_entity_names_file_and_line(shared_data: Path, tmp_path: Path) -> None:
    copy_ontonotes(shared_data, tmp_path, "development")
    bad = write(tmp_path / "train" / "bad.gold_conll", "#begin document (x); part 000\n"
                "x/y 0 0 Hi UH (TOP(INTJ*) - - - - (PERSON* -\n"
                "x/y 0 1 ! . *) - - - - * -\n\n#end document\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(bad))}:2: .*PERSON is never closed"):
        read_ontonotes(str(tmp_path))


def test_ontonotes_missing_split_folder(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    with pytest.raises(FileNotFoundError, match="gold_conll"):
        read_ontonotes(str(tmp_path))


def test_parse_chunks_rule() -> None:
    assert parse_chunks(["(TOP(S(NP*", "*)", "(VP*", "(NP(NP*)", "(PP*", "(NP*))))", "*))"]) == [
        "B-NP", "I-NP", "O", "B-NP", "O", "B-NP", "O"
    ]
    assert parse_chunks(["(TOP(INTJ*", "*))"]) == ["B-INTJ", "I-INTJ"]
    assert parse_chunks(["(TOP*", "*)"]) == ["O", "O"]


@pytest.mark.parametrize("bits", [["(TOP(NP*", "*)"], ["(TOP*", "*))"], ["(TOP**)"], ["(TOP(NP*x))"]])
def test_parse_chunks_rejects_bad_trees(bits: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_chunks(bits)


def test_ne_bio() -> None:
    assert ne_bio(["(GPE)", "*", "(PERSON*", "*", "*)", "(DATE*)", "*"]) == [
        "B-GPE", "O", "B-PERSON", "I-PERSON", "I-PERSON", "B-DATE", "O"
    ]


@pytest.mark.parametrize("bits", [["*)"], ["(GPE*", "(ORG*)", "*)"], ["-"]])
def test_ne_bio_rejects_bad_brackets(bits: list[str]) -> None:
    with pytest.raises(ValueError):
        ne_bio(bits)


def test_settings_names_the_readers() -> None:
    assert SETTINGS == {"conll03": read_conll03, "ptb": read_ptb, "ontonotes": read_ontonotes,
                        "conll03-pp": read_conll03_pp, "columns": read_column_tasks}


def test_ontonotes_width_is_fixed_within_a_sentence(shared_data: Path, tmp_path: Path) -> None:
    copy_ontonotes(shared_data, tmp_path, "development")
    bad = write(tmp_path / "train" / "bad.gold_conll", "#begin document (x); part 000\n"
                "x/y 0 0 Hi UH (TOP(INTJ*) - - - - * -\n"
                "x/y 0 1 ! . *) - - - - * - -\n\n#end document\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(bad))}:3: expected 12 columns \(as on line 2\), found 13$"):
        read_ontonotes(str(tmp_path))


def test_empty_split_is_named(tmp_path: Path) -> None:
    write_conll03(tmp_path, "-DOCSTART- -X- O O\n\n")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path / 'train.txt'))}: no sentences"):
        read_conll03(str(tmp_path))

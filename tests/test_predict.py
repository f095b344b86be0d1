"""predict.py end to end: tiny budget runs on real CoNLL-2003 (joint hard sharing and a Step 1 NER task with two
rounds), the processed data deleted, then raw text and the scored dev sentences tagged from the run folders."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import predict
from tests.conftest import conll_sentences
from utils.data.readers import to_bioes
from utils.runs.layout import RESULTS

ROOT = Path(__file__).resolve().parents[1]
BUDGET = ["--eval_limit", "100", "--hidden_size", "16", "--optim", "adam(lr=0.01)", "--device", "cpu"]
RAW = "EU rejects German call to boycott Zqxvbrtl lamb .\n\n  Ωμέγα  wörld   x\nPeter Blackburn\n"


@pytest.fixture(scope="module")
def runs(processed_conll03, shared_data, tmp_path_factory) -> Path:
    """A joint run (hard sharing, 2 epochs) and a Step 1 NER folder (rounds at 100% and 50% kept), trained at once
    on a copy of the processed data that is deleted afterwards; plus the inputs."""
    root = tmp_path_factory.mktemp("predict")
    data = root / "processed"
    shutil.copytree(processed_conll03, data)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    commands = [
        [sys.executable, "train_mtl.py", "--data_path", str(data), "--train_limit", "200", "--epochs", "2",
         "--save_dir", str(root / "mtl"), "--exp_name", "hard", *BUDGET],
        [sys.executable, "train_single.py", "--data_path", str(data), "--task_id", "2", "--pruning_iter", "1",
         "--final_rate", "0.5", "--train_limit", "300", "--epochs", "2", "--save_dir", str(root / "single"), *BUDGET]]
    jobs = [subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for c in commands]
    for job in jobs:
        output = job.communicate(timeout=300)[0]
        assert job.returncode == 0, output[-2000:]
    shutil.rmtree(data)
    rows = conll_sentences(shared_data / "conll03" / "dev.txt", 100)
    (root / "dev100.txt").write_text("\n\n".join("\n".join(block) for block in rows) + "\n", encoding="utf-8")
    (root / "raw.txt").write_text(RAW, encoding="utf-8")
    return root


def read_output(path: Path) -> list[list[list[str]]]:
    """Sentences of rows of columns; asserts one blank line after every sentence and none elsewhere."""
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n\n") and "\n\n\n" not in text
    return [[line.split(" ") for line in block.split("\n")] for block in text.strip("\n").split("\n\n")]


def test_the_run_folder_is_self_contained(runs):
    assert not (runs / "processed").exists()
    for folder in (runs / "mtl" / "hard", runs / "single" / "cp" / "2"):
        assert sorted(os.listdir(folder / "data")) == ["meta.json", "snapshot.pt", "tags.chunk.vocab",
                                                       "tags.ner.vocab", "tags.pos.vocab", "words.vocab"]


def test_conll_input_is_scored_as_in_training(runs, shared_data):
    run, out, scores = runs / "mtl" / "hard", runs / "out.txt", runs / "scores.json"
    result = subprocess.run([sys.executable, "predict.py", "--run", str(run), "--input", str(runs / "dev100.txt"),
                             "--format", "conll", "--output", str(out), "--scores", str(scores), "--device", "cpu"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    gold_rows = conll_sentences(shared_data / "conll03" / "dev.txt", 100)
    tagged = read_output(out)
    assert len(tagged) == 100 and [len(s) for s in tagged] == [len(b) for b in gold_rows]
    assert all(len(row) == 4 for sentence in tagged for row in sentence)
    assert [[row[0] for row in s] for s in tagged] == [[line.split()[0] for line in b] for b in gold_rows]
    expected = json.loads((run / "results.json").read_text())["tasks"]
    got = json.loads(scores.read_text())["tasks"]
    assert list(got) == ["pos", "chunk", "ner"]
    for task in got:
        assert got[task]["score"] == pytest.approx(expected[task]["dev"], abs=1e-6), task
    # Independent counts: 1,350 tokens; NER phrases = B-/S- tags of the gold converted to BIOES.
    tokens = sum(len(b) for b in gold_rows)
    ner_phrases = sum(t[:2] in ("B-", "S-") for b in gold_rows for t in to_bioes([line.split()[3] for line in b]))
    assert got["pos"]["tokens"] == got["ner"]["tokens"] == tokens
    assert got["ner"]["gold"] == ner_phrases == sum(t["gold"] for t in got["ner"]["types"].values())
    labels = {t[2:] for s in tagged for t in (row[3] for row in s) if t != "O"}
    labels |= {line.split()[3][2:] for b in gold_rows for line in b if line.split()[3] != "O"}
    assert set(got["ner"]["types"]) == labels
    pos_correct = sum(row[1] == line.split()[1] for s, b in zip(tagged, gold_rows) for row, line in zip(s, b))
    assert got["pos"]["accuracy"] == pytest.approx(100.0 * pos_correct / tokens, abs=1e-9)
    assert "FB1" in result.stdout and "accuracy" in result.stdout


def test_raw_text_with_unseen_words_and_characters(runs, capsys):
    run, out = runs / "mtl" / "hard", runs / "raw.out"
    predict.main(["--run", str(run), "--input", str(runs / "raw.txt"), "--output", str(out), "--device", "cpu"])
    tagged = read_output(out)
    words = [line.split() for line in RAW.splitlines() if line.split()]
    assert [[row[0] for row in s] for s in tagged] == words
    tag_sets = {t: set((run / "data" / f"tags.{t}.vocab").read_text().split()) for t in ("pos", "chunk", "ner")}
    for sentence in tagged:
        for row in sentence:
            assert len(row) == 4 and all(tag in tag_sets[t] for tag, t in zip(row[1:], ("pos", "chunk", "ner")))
    predict.main(["--run", str(run), "--input", str(runs / "raw.txt"), "--output_format", "jsonl",
                  "--output", str(runs / "raw.jsonl"), "--device", "cpu"])
    lines = [json.loads(line) for line in (runs / "raw.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["words"] for line in lines] == words
    assert [[line[t] for t in ("pos", "chunk", "ner")] for line in lines] == \
        [[[row[i] for row in s] for i in (1, 2, 3)] for s in tagged]


def test_text_and_conll_input_tag_a_sentence_alike(runs):
    run = runs / "mtl" / "hard"
    first = [line.split()[0] for line in (runs / "dev100.txt").read_text().split("\n\n")[0].splitlines()]
    (runs / "first.txt").write_text(" ".join(first) + "\n")
    predict.main(["--run", str(run), "--input", str(runs / "first.txt"), "--output", str(runs / "first.out")])
    predict.main(["--run", str(run), "--input", str(runs / "dev100.txt"), "--format", "conll",
                  "--output", str(runs / "dev.out")])
    assert read_output(runs / "first.out")[0] == read_output(runs / "dev.out")[0]


def test_step1_rounds(runs):
    folder = runs / "single" / "cp" / "2"
    records = [json.loads(line) for line in (folder / "scores.jsonl").read_text().splitlines()]
    assert [r["round"] for r in records] == [0, 1]
    best = max(records, key=lambda r: (r["dev"], -r["kept"]))
    for extra, record in (([], best), (["--round", "1"], records[1])):
        scores = runs / "step1.json"
        predict.main(["--run", str(folder), "--input", str(runs / "dev100.txt"), "--format", "conll",
                      "--output", str(runs / "step1.out"), "--scores", str(scores), *extra])
        got = json.loads(scores.read_text())["tasks"]
        assert list(got) == ["ner"] and got["ner"]["score"] == pytest.approx(record["dev"], abs=1e-6)
        assert all(len(row) == 2 for s in read_output(runs / "step1.out") for row in s)


def fails(argv: list[str], capsys, output: Path | None = None) -> str:
    """predict.main exits 1 with one error line and leaves no output file."""
    with pytest.raises(SystemExit) as exit_info:
        predict.main(argv)
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and sum(line.startswith("error:") for line in err) == 1
    if output is not None:
        assert not output.exists()
    return err[-1]


def test_errors_are_one_line(runs, tmp_path, capsys):
    out = tmp_path / "out.txt"
    common = ["--output", str(out)]
    assert "no such run folder" in fails(["--run", str(tmp_path / "nope"), "--input", str(runs / "raw.txt"), *common],
                                         capsys, out)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(runs / "mtl" / "hard" / "config.json", unfinished)
    shutil.copy(runs / "mtl" / "hard" / "best.th", unfinished)
    assert "has not finished (no results.json)" in fails(["--run", str(unfinished), "--input", str(runs / "raw.txt"),
                                                          *common], capsys, out)
    bad = tmp_path / "bad.txt"
    bad.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP\n")
    message = fails(["--run", str(runs / "mtl" / "hard"), "--input", str(bad), "--format", "conll", *common],
                    capsys, out)
    assert f"{bad}:2: expected 4 columns" in message
    narrow = tmp_path / "narrow.txt"
    narrow.write_text("EU NNP\nrejects VBZ\n")
    message = fails(["--run", str(runs / "mtl" / "hard"), "--input", str(narrow), "--format", "conll", *common],
                    capsys, out)
    assert f"{narrow}:1: expected at least 4 columns" in message
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("EU NNP B-NP B-ORG\nrejects XYZ B-VP O\n")
    message = fails(["--run", str(runs / "mtl" / "hard"), "--input", str(unknown), "--format", "conll", *common],
                    capsys, out)
    assert f"{unknown}:2: gold tag 'XYZ' of task pos" in message


def test_a_word_column_of_token_ids_is_refused(runs, tmp_path, capsys):
    """A CoNLL-U-like file (ID first) read with --format conll from column 0 is refused, naming the file, the column
    and the fix; read from its word column with --word_column 1 it scores as the CoNLL-2003 file."""
    run = runs / "mtl" / "hard"
    blocks = [block.splitlines() for block in (runs / "dev100.txt").read_text().strip("\n").split("\n\n")]
    ids = tmp_path / "ids.txt"
    ids.write_text("\n\n".join("\n".join(f"{i} {line.split()[0]} _ _ {line.split()[1]} _ 0 _ _ _"
                                         for i, line in enumerate(block, 1)) for block in blocks) + "\n")
    out = tmp_path / "out.txt"
    assert fails(["--run", str(run), "--input", str(ids), "--format", "conll", "--output", str(out)], capsys, out) == (
        f"error: {ids}: column 0, read as the words, holds token ids (1, 2, 3, ... in every sentence), but the run's "
        "vocabulary does not: give the words' column with --word_column N or --format conllu (words in FORM, column 1)")
    scores = tmp_path / "scores.json"
    predict.main(["--run", str(run), "--input", str(ids), "--format", "conll", "--word_column", "1",
                  "--columns", "pos=4", "--output", str(tmp_path / "tagged.txt"), "--scores", str(scores)])
    got = json.loads(scores.read_text())["tasks"]
    expected = json.loads((run / RESULTS).read_text())["tasks"]
    assert list(got) == ["pos"] and got["pos"]["score"] == pytest.approx(expected["pos"]["dev"], abs=1e-6)
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("1996 CD\n12 CD\nrose VBD\n\n7 CD\n")
    assert fails(["--run", str(run), "--input", str(numbers), "--format", "conll", "--columns", "pos=1",
                  "--output", str(out)], capsys, out).endswith(
        "column 0, read as the words, holds 75% numbers, but the run's vocabulary does not: give the words' column "
        "with --word_column N or --format conllu (words in FORM, column 1)")
    message = fails(["--run", str(run), "--input", str(ids), "--format", "conll", "--word_column", "1",
                     "--columns", "pos=1", "--output", str(out)], capsys, out)
    assert "task pos reads column 1, the word column" in message


def test_conllu_input_to_a_conll03_run(runs, tmp_path, capsys):
    """CoNLL-U (comments, tabs, a multiword range) tagged by a CoNLL-2003 run: words from FORM, no default gold
    columns (CoNLL-U's are not CoNLL-2003's), --columns pos=4 (XPOS) scores POS as on the CoNLL-2003 file."""
    run = runs / "mtl" / "hard"
    blocks = [block.splitlines() for block in (runs / "dev100.txt").read_text().strip("\n").split("\n\n")]
    lines = []
    for number, block in enumerate(blocks, 1):
        lines += [f"# sent_id = {number}", "1-2\tx\t_\t_\t_\t_\t_\t_\t_\t_"]
        lines += ["\t".join([str(i), line.split()[0], "_", "_", line.split()[1], "_", "0", "_", "_", "_"])
                  for i, line in enumerate(block, 1)] + [""]
    conllu = tmp_path / "dev.conllu"
    conllu.write_text("\n".join(lines) + "\n")
    scores = tmp_path / "scores.json"
    predict.main(["--run", str(run), "--input", str(conllu), "--format", "conllu", "--columns", "pos=4",
                  "--output", str(tmp_path / "tagged.txt"), "--scores", str(scores)])
    got = json.loads(scores.read_text())["tasks"]
    expected = json.loads((run / RESULTS).read_text())["tasks"]
    assert list(got) == ["pos"] and got["pos"]["score"] == pytest.approx(expected["pos"]["dev"], abs=1e-6)
    assert [[row[0] for row in s] for s in read_output(tmp_path / "tagged.txt")] == \
        [[line.split()[0] for line in block] for block in blocks]
    out = tmp_path / "out.txt"
    assert fails(["--run", str(run), "--input", str(conllu), "--format", "conllu", "--scores", str(scores),
                  "--output", str(out)], capsys) == f"error: --scores: {conllu} has no gold columns to score against"
    assert fails(["--run", str(run), "--input", str(conllu), "--format", "conll", "--output", str(out)], capsys,
                 out) == (f"error: {conllu}:2: expected 4 columns (as on line 1), found 10 (the file looks like "
                          "CoNLL-U: --format conllu)")


def test_numbers_are_words_for_a_run_trained_on_numbers(tmp_path):
    from fastNLP import Vocabulary

    from utils.predict.inputs import check_word_column

    numeric, words = Vocabulary(), Vocabulary()
    numeric.add_word_lst(["1", "2", "3", "x"])
    words.add_word_lst(["1", "a", "b", "c"])
    ids = [["1", "2", "3"], ["1", "2"]]
    check_word_column("f.txt", "conll", 0, ids, numeric.build_vocab())
    check_word_column("f.txt", "conll", 0, [["1", "a", "b"]], words.build_vocab())  # a third numbers: words
    with pytest.raises(ValueError, match=r"^f.txt: column 0, read as the words, holds token ids .* --word_column N$"):
        check_word_column("f.txt", "conllu", 0, ids, words)


@pytest.mark.parametrize("argv, message", [
    (["--word_column", "1"], "--word_column applies to --format conll or conllu only"),
    (["--columns", "pos=1"], "--columns applies to --format conll or conllu only"),
    (["--format", "conll", "--word_column", "-1"], "--word_column must be a 0-based column number, got -1"),
])
def test_flags_of_column_input(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        predict.parse_args(["--run", "r", "--input", "i", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err

"""docs/extending.md's worked example of an encoder, run as written: its one ```python block (under 60 lines) is
executed in a fresh module, which registers --encoder wordcnn; the model it builds has the convolution weights
as its prunable scope and padding without effect; Step 1 (one round to 50% kept) for each task, Step 2 and Step 3
run on real CoNLL-2003 slices with it, taking its defaults; the finished run tags a sentence with unseen words."""
import json
import re
import types
from pathlib import Path

import pytest
import torch

import models
import train_mtl
import train_single
from models import encoder_defaults, get_model
from utils.data.dataset import Dataset
from utils.predict.inputs import Sentence
from utils.predict.tagger import load_run, tag
from utils.runs import layout
from utils.subnets import selection
from utils.subnets.masks import count_kept, load_mask, masked_forward, prunable_names

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "extending.md"
SECTION = "**An encoder**"
MAX_LINES = 60
NAME = "wordcnn"
HIDDEN, LAYERS = 16, 2
CONV_WEIGHTS = ["convs.0.weight", "convs.1.weight"]
TOTAL = HIDDEN * 50 * 3 + HIDDEN * HIDDEN * 3  # the conv weights over 50-d word vectors: 2400 + 768 = 3168
BUDGET = ["--train_limit", "20", "--eval_limit", "10", "--epochs", "1", "--hidden_size", str(HIDDEN),
          "--n_layer", str(LAYERS), "--device", "cpu"]
TASKS = ("pos", "chunk", "ner")


def example_source() -> str:
    """The single ```python block of the guide's "An encoder" section; fails when it is missing or too long."""
    text = GUIDE.read_text(encoding="utf-8")
    assert SECTION in text, f"{GUIDE}: no {SECTION} section"
    blocks = re.findall(r"^```python\n(.*?)^```$", text[text.index(SECTION):], flags=re.S | re.M)
    assert len(blocks) == 1, f"{GUIDE}: expected one ```python block in {SECTION}, found {len(blocks)}"
    lines = blocks[0].splitlines()
    assert len(lines) < MAX_LINES, f"{GUIDE}: the worked example has {len(lines)} lines, expected under {MAX_LINES}"
    return blocks[0]


@pytest.fixture(scope="module")
def wordcnn():
    """The example's encoder class, registered as --encoder wordcnn for this module's tests only."""
    before = dict(models.ENCODERS)
    assert NAME not in before
    module = types.ModuleType("extending_example")
    exec(compile(example_source(), f"{GUIDE} ({SECTION})", "exec"), module.__dict__)
    yield models.ENCODERS[NAME]
    models.ENCODERS.pop(NAME)
    assert models.ENCODERS == before


@pytest.fixture(scope="module")
def data(processed_conll03_small) -> Dataset:
    return Dataset.load(str(processed_conll03_small))


def test_the_example_is_registered_with_its_defaults(wordcnn):
    assert wordcnn.__name__ == "WordCNN" and models.ENCODERS[NAME] is wordcnn
    assert encoder_defaults(NAME) == {"need_cut": "conv", "optim": "adam(lr=1e-3)"}


def test_its_prunable_scope_is_exactly_the_convolution_weights(wordcnn, data):
    torch.manual_seed(0)
    model = get_model("cnn-lstm", data, HIDDEN, LAYERS, encoder=NAME)
    assert isinstance(model, wordcnn) and data.embedding.shape[1] == 50
    assert prunable_names(model) == prunable_names(model, "lstm,conv") == CONV_WEIGHTS  # the flag's default too
    assert [tuple(model.get_parameter(n).shape) for n in CONV_WEIGHTS] == [(HIDDEN, 50, 3), (HIDDEN, HIDDEN, 3)]


def test_one_vector_per_word_padding_and_pruned_weights_without_effect(wordcnn, data):
    torch.manual_seed(0)
    model = get_model("cnn-lstm", data, HIDDEN, LAYERS, encoder=NAME).eval()
    split = data.tasks[0].splits["dev"]
    short, long = sorted(split.words[:4], key=len)[0], sorted(split.words[:4], key=len)[-1]
    assert len(short) < len(long)
    padded = torch.full((2, len(long)), data.words.padding_idx, dtype=torch.long)
    padded[0, :len(short)], padded[1] = short, long
    with torch.no_grad():
        alone = model.encode(0, short[None], torch.tensor([len(short)]))
        batch = model.encode(0, padded, torch.tensor([len(short), len(long)]))
        assert alone.shape == (1, len(short), HIDDEN)
        torch.testing.assert_close(batch[0, :len(short)], alone[0], rtol=0, atol=1e-6)
        assert not batch[0, len(short):].any()
        mask = {n: torch.rand_like(model.get_parameter(n)) > 0.5 for n in CONV_WEIGHTS}
        masked = masked_forward(model, mask, 0, short[None], torch.tensor([len(short)]))
        for name, m in mask.items():
            model.get_parameter(name).mul_(m)
        torch.testing.assert_close(masked, model(0, short[None], torch.tensor([len(short)])), rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def pipeline(wordcnn, processed_conll03_small, tmp_path_factory) -> Path:
    """Step 1 (one round to 50% kept) for each task, Step 2's automatic choice and Step 3, in process; the root."""
    root = tmp_path_factory.mktemp("extending")
    common = ["--data_path", str(processed_conll03_small), "--encoder", NAME, *BUDGET]
    for task_id in range(len(TASKS)):
        train_single.main([*common, "--task_id", str(task_id), "--pruning_iter", "1", "--final_rate", "0.5",
                           "--save_dir", str(root / "step1")])
    selection.main(["--single_dir", str(root / "step1" / layout.STEP1_TASKS), "--out_dir", str(root / "masks")])
    train_mtl.main([*common, "--masks_path", str(root / "masks"), "--save_dir", str(root), "--exp_name", "step3"])
    return root


def test_step1_prunes_only_the_convolution_weights_to_the_kept_fraction(pipeline):
    for task_id, task in enumerate(TASKS):
        folder = pipeline / "step1" / layout.STEP1_TASKS / str(task_id)
        rounds = layout.round_masks(str(folder))
        assert sorted(rounds) == [0, 1]
        dense, pruned = load_mask(rounds[0]), load_mask(rounds[1])
        assert sorted(pruned["mask"]) == CONV_WEIGHTS and pruned["task"] == task
        assert count_kept(dense["mask"]) == TOTAL and count_kept(pruned["mask"]) == TOTAL // 2 == 1584
        config = json.loads((folder / layout.CONFIG).read_text())
        assert (config["model"]["encoder"], config["optimiser"]["optim"]) == (NAME, "adam(lr=1e-3)")


def test_step3_trains_the_chosen_subnets_with_the_encoders_defaults(pipeline):
    run = pipeline / "step3"
    config = json.loads((run / layout.CONFIG).read_text())
    assert config["model"]["encoder"] == NAME and config["optimiser"]["optim"] == "adam(lr=1e-3)"
    results = json.loads((run / layout.RESULTS).read_text())
    assert results["system"] == "sparse sharing" and list(results["tasks"]) == list(TASKS)
    assert all({"dev", "test"} <= set(results["tasks"][t]) for t in TASKS)
    chosen = json.loads((pipeline / "masks" / layout.SELECTION).read_text())["chosen"]
    masks = [load_mask(str(run / layout.OWN_MASKS / layout.task_mask(i)))["mask"] for i in range(len(TASKS))]
    for row, mask in zip(chosen, masks):
        assert sorted(mask) == CONV_WEIGHTS
        assert count_kept(mask) == {0: TOTAL, 1: TOTAL // 2}[row["round"]]
    union = sum(int(torch.stack([m[n] for m in masks]).any(0).sum()) for n in CONV_WEIGHTS)
    assert results["params"] == union + 2 * HIDDEN  # # Params: the kept conv weights of any task, and the biases


def test_the_finished_run_tags_a_sentence_with_unseen_words(pipeline):
    run = load_run(str(pipeline / "step3"))
    vocabulary = run.data.words.word2idx
    known = next(w for w in vocabulary if w.isalpha() and w.upper() not in vocabulary)
    words = ["Zyxwvut", "visited", known.upper(), "."]
    assert "Zyxwvut" not in vocabulary
    predicted = tag(run, [Sentence(words, list(range(len(words))))])
    assert sorted(predicted) == sorted(TASKS)
    for task in run.subnets:
        [tags] = predicted[task.task.name]
        assert len(tags) == len(words) and all(0 <= t < len(task.task.tags) for t in tags)
    rows = run.model.embedding.word_rows
    assert int(rows[run.extra_words["Zyxwvut"]]) == int(rows[run.data.words.unknown_idx])
    assert int(rows[run.extra_words[known.upper()]]) == int(rows[vocabulary[known]])  # its lowercased vector

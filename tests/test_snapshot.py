"""Data snapshots of run folders, loading runs for tagging (masks, unseen words), file modes and mask size."""
import json
import os
import stat

import pytest
import torch

from models import get_model
from tests.conftest import build_tiny_dataset
from utils.runs.checkpoint import atomic_save, save_state
from utils.subnets.masks import full_mask, masked_forward, prunable_names, save_mask
from utils.predict.inputs import Sentence
from utils.predict.tagger import index_words, load_run, tag
from utils.runs.layout import BEST, CONFIG, OWN_MASKS, RESULTS, task_mask
from utils.data.snapshot import load_data_snapshot, save_data_snapshot


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def test_snapshot_round_trip_rebuilds_the_same_model(tiny_data, tmp_path):
    save_data_snapshot(tiny_data, str(tmp_path))
    loaded = load_data_snapshot(str(tmp_path))
    assert sorted(os.listdir(tmp_path / "data")) == ["meta.json", "snapshot.pt", "tags.ner.vocab", "tags.pos.vocab",
                                                     "words.vocab"]
    assert list(loaded.words) == list(tiny_data.words)
    assert [t.name for t in loaded.tasks] == ["pos", "ner"] and [t.metric for t in loaded.tasks] == ["acc", "bioes"]
    assert all(list(a.tags) == list(b.tags) for a, b in zip(loaded.tasks, tiny_data.tasks))
    assert torch.equal(loaded.word_rows, tiny_data.word_rows)
    assert loaded.embedding.shape == tiny_data.embedding.shape and not loaded.embedding.any()
    assert all(not t.splits for t in loaded.tasks)
    torch.manual_seed(0)
    original = get_model("cnn-lstm", tiny_data, 8).eval()
    rebuilt = get_model("cnn-lstm", loaded, 8).eval()
    rebuilt.load_state_dict(original.state_dict())
    assert torch.equal(rebuilt.char.words_to_chars_embedding, original.char.words_to_chars_embedding)
    words = torch.tensor([[2, 3, 4, 5]])
    assert torch.equal(rebuilt(1, words, torch.tensor([4])), original(1, words, torch.tensor([4])))


def test_snapshot_replaces_an_older_one_and_names_damaged_files(tiny_data, tmp_path):
    save_data_snapshot(tiny_data, str(tmp_path))
    tiny_data.setting = "second"
    save_data_snapshot(tiny_data, str(tmp_path))
    assert load_data_snapshot(str(tmp_path)).setting == "second"
    assert sorted(os.listdir(tmp_path)) == ["data"]
    os.remove(tmp_path / "data" / "tags.ner.vocab")
    with pytest.raises(FileNotFoundError, match="tags.ner.vocab"):
        load_data_snapshot(str(tmp_path))
    (tmp_path / "data" / "snapshot.pt").write_bytes(b"not a tensor file")
    with pytest.raises(ValueError, match="snapshot.pt"):
        load_data_snapshot(str(tmp_path))


def test_files_follow_the_umask(tiny_data, tmp_path, umask_027):
    atomic_save({"x": torch.zeros(2)}, str(tmp_path / "a.th"))
    assert mode(tmp_path / "a.th") == 0o640
    save_data_snapshot(tiny_data, str(tmp_path))
    assert mode(tmp_path / "data") == 0o750
    assert {mode(p) for p in (tmp_path / "data").iterdir()} == {0o640}


def test_conll03_mask_file_is_under_one_megabyte(tmp_path):
    # The paper's CoNLL-2003 model: 100-d word vectors + 30 char features -> 1-layer BiLSTM of 200 per direction,
    # char CNN 30 filters of width 3 over 30-d characters. Prunable: 2 directions x (4·200·130 + 4·200·200)
    # LSTM weights + 30·30·3 convolution weights = 530,700.
    model = get_model("cnn-lstm", build_tiny_dataset(dim=100), 200, 1)
    mask = full_mask(model, prunable_names(model))
    assert sum(m.numel() for m in mask.values()) == 2 * (4 * 200 * 130 + 4 * 200 * 200) + 30 * 30 * 3
    save_mask(str(tmp_path / "0.th"), mask, 0, "pos")
    assert os.path.getsize(tmp_path / "0.th") <= 1_000_000


def write_sparse_run(data, run_dir, masks_path, masks):
    """A finished joint run folder as train_mtl.py leaves it (weights, config, results, data snapshot)."""
    torch.manual_seed(1)
    model = get_model("cnn-lstm", data, 8).eval()
    os.makedirs(run_dir)
    save_state(model.state_dict(), os.path.join(run_dir, BEST))
    config = {"arch": "cnn-lstm", "hidden_size": 8, "n_layer": 1, "dropout": 0.5, "crf": False,
              "masks_path": masks_path, "tasks": None, "data_path": os.path.join(run_dir, "gone")}
    for name, value in ((CONFIG, config), (RESULTS, {"system": "sparse sharing"})):
        with open(os.path.join(run_dir, name), "w") as f:
            json.dump(value, f)
    os.makedirs(masks_path, exist_ok=True)
    for i, task in enumerate(data.tasks):
        save_mask(os.path.join(masks_path, task_mask(i)), masks[i], 1, task.name)
    save_data_snapshot(data, run_dir)
    return model


def random_mask(model, seed):
    generator = torch.Generator().manual_seed(seed)
    return {n: torch.rand(model.get_parameter(n).shape, generator=generator) < 0.5 for n in prunable_names(model)}


def test_sparse_run_tags_each_task_through_its_own_mask(tiny_data, tmp_path):
    reference = get_model("cnn-lstm", tiny_data, 8)
    masks = [random_mask(reference, 1), random_mask(reference, 2)]
    run_dir, masks_path = str(tmp_path / "run"), str(tmp_path / "masks")
    reference = write_sparse_run(tiny_data, run_dir, masks_path, masks)
    # The run folder's own copy of a mask wins over --masks_path (which Step 2 may rewrite later).
    os.makedirs(os.path.join(run_dir, OWN_MASKS))
    save_mask(os.path.join(run_dir, OWN_MASKS, task_mask(1)), masks[0], 1, "ner")
    used = [masks[0], masks[0]]
    run = load_run(run_dir)
    assert [s.task.name for s in run.subnets] == ["pos", "ner"]
    sentences = [Sentence(["The", "dog", "sat"], [1] * 3), Sentence(["Mary", "met", "IBM", "in", "Paris"], [2] * 5)]
    predicted = tag(run, sentences, batch_size=1)
    for task_id, (name, mask) in enumerate(zip(["pos", "ner"], used)):
        for sentence, got in zip(sentences, predicted[name]):
            words = torch.tensor([[tiny_data.words.to_index(w) for w in sentence.words]])
            seq_len = torch.tensor([len(sentence.words)])
            logits = masked_forward(reference, mask, task_id, words, seq_len)
            assert got == reference.heads.decode(task_id, logits, seq_len)[0].tolist()


def test_unseen_words_get_their_lowercased_vector_and_unknown_characters(tiny_data, tmp_path):
    reference = get_model("cnn-lstm", tiny_data, 8)
    run_dir = str(tmp_path / "run")
    write_sparse_run(tiny_data, run_dir, str(tmp_path / "masks"), [random_mask(reference, 1)] * 2)
    run = load_run(run_dir)
    vocabulary, size = tiny_data.words, len(tiny_data.words)
    ids = index_words(run, [Sentence(["PARIS", "Qao", "Paris", "PARIS"], [1] * 4)])[0].tolist()
    assert ids == [size, size + 1, vocabulary.to_index("Paris"), size]
    assert index_words(run, [Sentence(["Qao"], [1])])[0].tolist() == [size + 1]  # stable across calls
    rows = run.model.embedding.word_rows
    assert int(rows[size]) == int(tiny_data.word_rows[vocabulary.to_index("Paris")])  # case variant: same vector
    assert int(rows[size + 1]) == int(tiny_data.word_rows[vocabulary.unknown_idx])  # unknown vector
    char = run.model.char
    unknown_char = char.char_vocab.unknown_idx
    assert char.char_vocab.to_index("Q") == unknown_char and "Q" not in char.char_vocab
    assert "a" in char.char_vocab and "o" in char.char_vocab
    expected = [unknown_char, char.char_vocab.to_index("a"), char.char_vocab.to_index("o")]
    assert char.words_to_chars_embedding[size + 1, :3].tolist() == expected
    assert int(char.word_lengths[size + 1]) == 3
    predicted = tag(run, [Sentence(["PARIS", "Qao", "Paris", "PARIS"], [1] * 4)])
    assert [len(sentences[0]) for sentences in predicted.values()] == [4, 4]

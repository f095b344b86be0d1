"""The three architectures (hard, hierarchical, soft sharing): the paper's "# Params" counts (REFERENCE §4), the
hierarchical model's task-to-layer wiring, learned cross-stitch units, CRF heads and masked subnets."""
import pytest
import torch

from models import ARCHITECTURES, get_model
from models.hier_lstm import HierarchicalBiLSTM
from models.soft import CrossStitchBiLSTM
from utils.data.batching import collate
from utils.data.dataset import Dataset, build_vocabularies, embedding_table, index_corpus
from utils.subnets.masks import masked_forward, prunable_names
from utils.subnets.params import encoder_params

POS, CHUNK, NER = 0, 1, 2

SENTENCES = [
    (["John", "Smith", "lives", "in", "Paris", "."],
     ["NNP", "NNP", "VBZ", "IN", "NNP", "."], ["B-NP", "I-NP", "B-VP", "B-PP", "B-NP", "O"],
     ["B-PER", "E-PER", "O", "O", "S-LOC", "O"]),
    (["The", "old", "man", "met", "IBM"],
     ["DT", "JJ", "NN", "VBD", "NNP"], ["B-NP", "I-NP", "I-NP", "B-VP", "B-NP"], ["O", "O", "O", "O", "S-ORG"]),
    (["New", "York", "is", "big"],
     ["NNP", "NNP", "VBZ", "JJ"], ["B-NP", "I-NP", "B-VP", "B-ADJP"], ["B-LOC", "E-LOC", "O", "O"]),
]


def corpus(tasks: tuple[str, ...] = ("pos", "chunk", "ner")) -> dict:
    """CoNLL-2003-like: every task tags the same sentences (column 1 POS, 2 chunk, 3 NER)."""
    column = {"pos": 1, "chunk": 2, "ner": 3}
    return {t: {split: [(s[0], s[column[t]]) for s in SENTENCES] for split in ("train", "dev", "test")} for t in tasks}


def dataset(tasks: tuple[str, ...] = ("pos", "chunk", "ner"), dim: int = 100) -> Dataset:
    raw = corpus(tasks)
    words, tags = build_vocabularies(raw)
    table, rows, _ = embedding_table(words, {}, dim, torch.Generator().manual_seed(0))
    return Dataset("tiny3", words, index_corpus(raw, words, tags), table, rows)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return dataset()


def build(arch: str, data: Dataset, **kwargs):
    torch.manual_seed(0)
    options = {"hidden_size": 8, "n_layer": 1, "dropout": 0.0, "word_dropout": 0.0} | kwargs
    return get_model(arch, data, **options)


def batch(data: Dataset, task: int):
    split = data.tasks[task].splits["train"]
    return collate(split, list(range(len(split))), data.words.padding_idx, "cpu")


def task_loss(model, data: Dataset, task: int, mask=None) -> torch.Tensor:
    b = batch(data, task)
    logits = masked_forward(model, mask, task, b.words, b.seq_len)
    return model.heads.loss(task, logits, b.tags, b.seq_len)


def test_registered_architectures():
    assert ARCHITECTURES == ("cnn-lstm", "hier-lstm", "soft", "random-lstm")


# --- random-lstm: the original code's weaker model of the negative-transfer experiment (src/models.py RandomLSTM). ---

def test_random_lstm_is_random_50d_words_into_a_bilstm_without_characters(data):
    """Random 50-d word vectors (uniform ±sqrt(3/50), whatever the data's vectors), no character CNN, no word
    dropout; its encoder is the BiLSTM alone: 2 directions × (4·200·(50 + 200) weights + 2·4·200 biases) = 403,200,
    and the prunable weights are the BiLSTM's four weight matrices."""
    model = get_model("random-lstm", data, hidden_size=200)
    table = model.embedding.embedding.weight
    assert table.shape == (data.embedding.shape[0], 50) and not torch.equal(table[2:, :50], data.embedding[2:, :50])
    assert table[1:].abs().max() <= (3 / 50) ** 0.5 and table[1:].abs().max() > 0.9 * (3 / 50) ** 0.5
    assert not any("char" in name for name, _ in model.named_parameters())
    assert model.embedding.word_dropout == 0.0
    assert encoder_params(model) == 2 * (4 * 200 * (50 + 200) + 2 * 4 * 200) == 403_200
    assert sorted(prunable_names(model)) == sorted(f"lstm.lstm.weight_{kind}_l0{d}" for kind in ("ih", "hh")
                                                   for d in ("", "_reverse"))


def test_random_lstm_trains_through_a_mask(data):
    model = build("random-lstm", data)
    mask = {name: torch.rand_like(model.get_parameter(name)) > 0.5 for name in prunable_names(model)}
    task_loss(model, data, NER, mask).backward()
    for name, m in mask.items():
        grad = model.get_parameter(name).grad
        assert not grad[~m].any() and grad[m].any()


# --- "# Params": encoder parameters with GloVe-100d inputs, hidden 200, one BiLSTM layer (REFERENCE §4). ---

def test_hard_sharing_and_single_task_counts(data):
    assert encoder_params(build("cnn-lstm", data, hidden_size=200)) == 533_930
    singles = [encoder_params(build("cnn-lstm", dataset((name,)), hidden_size=200)) for name in ("pos", "chunk", "ner")]
    assert sum(singles) == 1_601_790


def test_hierarchical_count_is_two_layers(data):
    model = build("hier-lstm", data, hidden_size=200)
    assert len(model.lstm) == 2 and model.task_layers == [1, 2, 2]
    assert encoder_params(model) == 531_200 + 963_200 + 2_730 == 1_497_130


def test_soft_sharing_count_is_three_lstms_one_char_cnn_and_the_stitch(data):
    model = build("soft", data, hidden_size=200)
    stitch = sum(p.numel() for p in model.stitch)
    assert stitch == 3 * 3
    assert encoder_params(model) == 3 * 531_200 + 2_730 + stitch == 1_596_330 + 9


# --- Hierarchical sharing. ---

def test_pos_head_does_not_depend_on_layer_two(data):
    model = build("hier-lstm", data).eval()
    b = batch(data, POS)
    with torch.no_grad():
        pos, ner = model(POS, b.words, b.seq_len), model(NER, b.words, b.seq_len)
        for param in model.lstm[1].parameters():
            param.add_(torch.randn_like(param))
        assert torch.equal(model(POS, b.words, b.seq_len), pos)
        assert not torch.allclose(model(NER, b.words, b.seq_len), ner)


def test_layer_two_gets_gradient_from_ner_not_from_pos(data):
    model = build("hier-lstm", data)
    task_loss(model, data, POS).backward()
    assert all(p.grad is None or torch.count_nonzero(p.grad) == 0 for p in model.lstm[1].parameters())
    assert all(torch.count_nonzero(p.grad) > 0 for p in model.lstm[0].parameters())
    model.zero_grad(set_to_none=True)
    task_loss(model, data, NER).backward()
    assert all(torch.count_nonzero(p.grad) > 0 for p in model.lstm[1].parameters())


def test_explicit_task_layers(data):
    model = build("hier-lstm", data, n_layer=3, task_layers=[1, 2, 3])
    assert isinstance(model, HierarchicalBiLSTM) and len(model.lstm) == 3
    with pytest.raises(ValueError, match="deepest"):
        build("hier-lstm", data, n_layer=3, task_layers=[1, 2, 2])
    with pytest.raises(ValueError, match="3 tasks"):
        build("hier-lstm", data, n_layer=2, task_layers=[1, 2])
    with pytest.raises(ValueError, match="hier-lstm only"):
        build("soft", data, task_layers=[1, 2, 2])


# --- Soft sharing. ---

def test_cross_stitch_starts_near_identity(data):
    model = build("soft", data, n_layer=2)
    assert isinstance(model, CrossStitchBiLSTM) and len(model.stitch) == 2
    for alpha in model.stitch:
        assert torch.allclose(alpha.diagonal(), torch.full((3,), 0.9))
        assert torch.allclose(alpha[~torch.eye(3, dtype=torch.bool)], torch.full((6,), 0.05))
        assert torch.allclose(alpha.sum(dim=1), torch.ones(3))


def test_cross_stitch_is_learned(data):
    model = build("soft", data, n_layer=2)
    task_loss(model, data, CHUNK).backward()
    lower, top = model.stitch[0].grad, model.stitch[1].grad
    assert torch.count_nonzero(lower) == lower.numel()  # every stream feeds the chunk head through layer 2
    assert torch.count_nonzero(top[CHUNK]) == 3  # the top unit's row of the task
    assert torch.count_nonzero(top[[POS, NER]]) == 0  # other tasks' top mixes are not used by the chunk head
    before = model.stitch[0].detach().clone()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(model.stitch[0].detach(), before)


def test_every_task_lstm_feeds_every_head(data):
    model = build("soft", data)
    task_loss(model, data, POS).backward()
    for per_task in model.lstm[0]:
        assert all(torch.count_nonzero(p.grad) > 0 for p in per_task.parameters())


# --- Every architecture: CRF heads and masked subnets. ---

@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_crf_loss_and_decode(data, arch):
    model = build(arch, data, crf=True)
    assert model.heads.crf is not None
    for task in (POS, CHUNK, NER):
        b = batch(data, task)
        logits = model(task, b.words, b.seq_len)
        n_tags = len(data.tasks[task].tags)
        assert logits.shape == (*b.words.shape, n_tags)
        assert torch.isfinite(model.heads.loss(task, logits, b.tags, b.seq_len))
        decoded = model.heads.decode(task, logits.detach(), b.seq_len)
        assert decoded.shape == b.words.shape
        assert 0 <= int(decoded.min()) and int(decoded.max()) < n_tags


@pytest.mark.parametrize("arch", ["hier-lstm", "soft"])
def test_masked_forward_zeroes_gradient_of_pruned_weights(data, arch):
    model = build(arch, data)
    names = prunable_names(model)
    assert names and not any("stitch" in n or "bias" in n for n in names)
    generator = torch.Generator().manual_seed(1)
    mask = {n: torch.rand(model.get_parameter(n).shape, generator=generator) < 0.5 for n in names}
    task_loss(model, data, NER, mask).backward()
    for name, m in mask.items():
        grad = model.get_parameter(name).grad
        assert grad is not None, name
        assert torch.count_nonzero(grad[~m]) == 0, name
        assert torch.count_nonzero(grad[m]) > 0, name


@pytest.mark.parametrize("arch,kwargs", [("soft", {"task_layers": [1, 2, 2]}), ("hier-lstm", {"task_layers": [1, 2]}),
                                         ("hier-lstm", {"task_layers": [0, 1, 1]}),
                                         ("hier-lstm", {"n_layer": 3, "task_layers": [1, 2, 2]}), ("lstm", {})])
def test_model_errors_name_only_flags_the_scripts_have(data, arch, kwargs):
    """get_model's refusals name a flag only where train_single.py or train_mtl.py has it (task_layers is an
    argument of get_model, no flag)."""
    import re

    from utils.settings.flags import build_parser
    from utils.settings import JointSettings, Step1Settings

    flags = {option for kind in (Step1Settings, JointSettings) for action in build_parser(kind, "")._actions
             for option in action.option_strings}
    with pytest.raises(ValueError) as info:
        build(arch, data, **kwargs)
    named = set(re.findall(r"--[a-z_]+", str(info.value)))
    assert named <= flags, named - flags


def test_every_architecture_names_its_row_of_the_paper_table():
    """A joint run without masks is labelled by its architecture in results.json ("hard sharing" for random-lstm
    too, as in the negative-transfer table), so no --arch fails when it writes its results."""
    import train_mtl

    assert set(train_mtl.SYSTEMS) == set(ARCHITECTURES)
    assert train_mtl.SYSTEMS["random-lstm"] == train_mtl.SYSTEMS["cnn-lstm"] == "hard sharing"

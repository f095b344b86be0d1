"""The transformer encoder on the real pretrained MiniLM (../shared/data/minilm-l6-v2), offline: its word vectors
are those of a plain AutoModel forward, its prunable scope is exactly the attention and feed-forward Linear
weights, masks and pruning act on exactly that scope, its rewind point is the pretrained weights, and its
training defaults are the fine-tuning recipe."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models import get_model
from models.transformer import TransformerTagger, window_plan
from utils.data.batching import collate
from utils.data.dataset import Dataset
from utils.subnets.masks import full_mask, masked_forward, prunable_names
from utils.subnets.params import encoder_params
from utils.subnets.pruning import prune_global
from utils.training.joint import lr_factor, parameter_groups
from utils.training.task import make_optimizer

REPO = Path(__file__).resolve().parents[1]
MINILM_LINEARS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                  "intermediate.dense", "output.dense")


@pytest.fixture(scope="module")
def data(processed_conll03_small) -> Dataset:
    return Dataset.load(str(processed_conll03_small))


@pytest.fixture(scope="module")
def model(minilm, data) -> TransformerTagger:
    torch.manual_seed(0)
    return get_model("cnn-lstm", data, encoder="transformer", pretrained=str(minilm), dropout=0.1).eval()


@pytest.fixture(scope="module")
def reference(minilm):
    from transformers import AutoModel, AutoTokenizer
    return AutoModel.from_pretrained(str(minilm)).eval(), AutoTokenizer.from_pretrained(str(minilm))


def batch_of(data: Dataset, n: int = 6):
    split = data.tasks[2].splits["dev"]
    return collate(split, list(range(n)), data.words.padding_idx, "cpu")


def plain_vectors(reference, words: list[str], pooling: str) -> torch.Tensor:
    """Per word: its first subword's (or its subwords' mean) vector from a plain AutoModel forward."""
    auto, tokenizer = reference
    encoded = tokenizer([words], is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        hidden = auto(**encoded).last_hidden_state[0]
    word_ids = encoded.word_ids(0)
    rows = []
    for j in range(len(words)):
        positions = [p for p, w in enumerate(word_ids) if w == j]
        rows.append(hidden[positions[0]] if pooling == "first" else hidden[positions].mean(0))
    return torch.stack(rows)


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_word_vectors_equal_a_plain_automodel_forward(model, reference, data, pooling):
    batch = batch_of(data)
    model.pooling = pooling
    try:
        with torch.no_grad():
            out = model.encode(0, batch.words, batch.seq_len)
    finally:
        model.pooling = "first"
    for i, length in enumerate(batch.seq_len.tolist()):
        words = [data.words.to_word(w) for w in batch.words[i, :length].tolist()]
        torch.testing.assert_close(out[i, :length], plain_vectors(reference, words, pooling), atol=2e-5, rtol=1e-4)
        assert torch.all(out[i, length:] == 0)


def test_window_plan_by_hand():
    assert window_plan([1, 2, 3], 10) == ([(0, 3)], [0, 0, 0])
    # limit 4: windows of whole words; the next starts where the previous reaches half its subwords
    windows, owner = window_plan([1, 1, 1, 1, 1, 1], 4)
    assert windows == [(0, 4), (2, 6)]
    assert owner == [0, 0, 0, 1, 1, 1]   # word 2: 2 from window 0's edge, 0 from window 1's start → window 0
    # a word longer than the limit stands alone; nothing is dropped
    windows, owner = window_plan([1, 5, 1], 3)
    assert windows == [(0, 1), (1, 2), (2, 3)] and owner == [0, 1, 2]


def test_a_long_sentence_is_read_in_windows_never_cut(model, data):
    batch = batch_of(data)
    longest = int(batch.seq_len.max())
    with torch.no_grad():
        whole = model.encode(0, batch.words, batch.seq_len)
        saved = model.window
        model.window = 8
        try:
            windowed = model.encode(0, batch.words, batch.seq_len)
        finally:
            model.window = saved
    assert windowed.shape == whole.shape
    real = torch.arange(longest)[None, :] < batch.seq_len[:, None]
    assert torch.all(windowed[real].abs().sum(-1) > 0)          # every word has a vector
    short = [i for i, n in enumerate(batch.seq_len.tolist()) if sum(
        len(model.pieces[w]) for w in batch.words[i, :n].tolist()) <= 8]
    for i in short:                                               # a sentence that fits is read as one window
        torch.testing.assert_close(windowed[i], whole[i], atol=2e-5, rtol=1e-4)


def test_the_prunable_scope_is_the_attention_and_feed_forward_linears(model):
    names = prunable_names(model)
    expected = [f"transformer.encoder.layer.{k}.{linear}.weight" for k in range(6) for linear in MINILM_LINEARS]
    assert names == expected
    assert sum(model.get_parameter(n).numel() for n in names) == 6 * (4 * 384 * 384 + 2 * 384 * 1536)
    assert encoder_params(model, prunable=names) == 10_616_832


def test_masks_zero_exactly_the_declared_scope(model, data):
    names = prunable_names(model)
    generator = torch.Generator().manual_seed(1)
    mask = {n: torch.rand(model.get_parameter(n).shape, generator=generator) < 0.5 for n in names}
    batch = batch_of(data, 3)
    model.train()
    logits = masked_forward(model, mask, 2, batch.words, batch.seq_len)
    model.heads.loss(2, logits, batch.tags, batch.seq_len).backward()
    model.eval()
    for name, param in model.named_parameters():
        if name in mask:
            assert torch.all(param.grad[~mask[name]] == 0), name
            assert torch.any(param.grad[mask[name]] != 0), name
        elif param.grad is not None:
            assert name not in names
    model.zero_grad(set_to_none=True)
    zeroed = {n: model.get_parameter(n).detach() * mask[n] for n in names}
    with torch.no_grad():
        via_mask = masked_forward(model, mask, 0, batch.words, batch.seq_len)
        from torch.func import functional_call
        via_weights = functional_call(model, zeroed, (0, batch.words, batch.seq_len))
    torch.testing.assert_close(via_mask, via_weights, atol=0, rtol=0)


def test_a_pruning_round_keeps_the_exact_count_under_one_threshold(model):
    names = prunable_names(model)
    weights = {n: model.get_parameter(n).detach() for n in names}
    mask = prune_global(weights, full_mask(model, names), 0.3)
    total = sum(w.numel() for w in weights.values())
    assert sum(int(m.sum()) for m in mask.values()) == round(0.3 * total)
    kept = torch.cat([weights[n][mask[n]].abs() for n in names])
    pruned = torch.cat([weights[n][~mask[n]].abs() for n in names])
    assert kept.min() >= pruned.max()


def test_weight_decay_spares_biases_and_layernorm(model):
    groups = parameter_groups(model)
    optimizer = make_optimizer("adamw(lr=5e-5, weight_decay=0.01)", groups)
    decayed, spared = optimizer.param_groups
    assert decayed["weight_decay"] == 0.01 and spared["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    spared_names = {names[id(p)] for p in spared["params"]}
    assert "transformer.embeddings.LayerNorm.weight" in spared_names
    assert "transformer.encoder.layer.0.attention.self.query.bias" in spared_names
    assert all(n.endswith("bias") or "LayerNorm" in n for n in spared_names)
    assert not any(n.endswith("bias") or "LayerNorm" in n for n in (names[id(p)] for p in decayed["params"]))
    assert len(decayed["params"]) + len(spared["params"]) == len(list(model.parameters()))


def test_the_linear_schedule_by_hand():
    # 100 steps, 10% warm-up: 1/10 ... 10/10, then (100 - step)/90 down to 1/90 at the last step
    factors = [lr_factor("linear", step, 0, total_steps=100, warmup_ratio=0.1) for step in range(100)]
    assert factors[:10] == pytest.approx([k / 10 for k in range(1, 11)])
    assert factors[10] == pytest.approx(1.0) and factors[55] == pytest.approx(45 / 90)
    assert factors[99] == pytest.approx(1 / 90) and min(factors) > 0
    assert lr_factor("linear", 150, 0, total_steps=100, warmup_ratio=0.1) == 0.0


def test_the_bilstm_path_does_not_import_transformers(processed_conll03_small):
    code = ("import sys, torch; from models import get_model; from utils.data.dataset import Dataset; "
            "import train_single, train_mtl, predict; "
            f"m = get_model('cnn-lstm', Dataset.load({str(processed_conll03_small)!r}), hidden_size=8); "
            "print('transformers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


def test_flags_take_the_encoders_defaults_unless_given():
    from train_mtl import parse_args as joint
    from train_single import parse_args as step1
    settings, _ = step1(["--encoder", "transformer", "--pretrained", "p"])
    assert (settings.optimiser.optim, settings.optimiser.batch_size, settings.optimiser.scheduler,
            settings.optimiser.clip_norm, settings.model.dropout, settings.optimiser.epochs,
            settings.pruning.need_cut) == ("adamw(lr=5e-5, weight_decay=0.01)", 16, "linear", 1.0, 0.1, 3, "layer")
    settings, _ = joint(["--encoder", "transformer", "--pretrained", "p", "--batch_size", "8", "--clip_value", "2"])
    assert (settings.optimiser.batch_size, settings.optimiser.clip_value, settings.optimiser.scheduler) == (8, 2.0,
                                                                                                          "linear")
    settings, _ = joint([])
    assert (settings.optimiser.optim, settings.optimiser.batch_size) == ("sgd(lr=0.1, momentum=0.9)", 10)


@pytest.mark.parametrize("argv, message", [
    (["--encoder", "transformer"], "--encoder transformer needs --pretrained"),
    (["--pretrained", "p"], "--pretrained applies to --encoder transformer only"),
])
def test_encoder_flags_that_do_not_fit_are_refused(argv, message, capsys):
    from train_mtl import parse_args
    with pytest.raises(SystemExit) as info:
        parse_args(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_bilstm_only_architectures_and_bad_folders_are_one_line_errors(data, tmp_path):
    with pytest.raises(ValueError, match="--arch soft: defined for --encoder bilstm only"):
        get_model("soft", data, encoder="transformer", pretrained=str(tmp_path))
    with pytest.raises(ValueError, match=f"--pretrained {tmp_path}"):
        get_model("cnn-lstm", data, encoder="transformer", pretrained=str(tmp_path))


def test_rewinding_restores_the_pretrained_weights(minilm, data, reference):
    """The rewind point a Step 1 run saves is the model as built: the pretrained weights, untouched."""
    torch.manual_seed(3)
    built = get_model("cnn-lstm", data, encoder="transformer", pretrained=str(minilm))
    pretrained = reference[0].state_dict()
    for name, tensor in built.transformer.state_dict().items():
        assert torch.equal(tensor, pretrained[name]), name

"""models: the CRF variant learns and decodes valid tags, the softmax variant decodes by argmax, and the encoder's
parameter counts match the paper's "# Params" arithmetic (REFERENCE §4)."""
import pytest
import torch

from models import get_model
from tests.conftest import build_tiny_dataset
from utils.data.batching import collate
from utils.training.task import train_step

NER = 1


def full_train_batch(data, task):
    split = data.tasks[task].splits["train"]
    return collate(split, list(range(len(split))), data.words.padding_idx, "cpu")


@pytest.mark.parametrize("task", [0, 1])
def test_crf_model_memorises_a_tiny_training_set(tiny_data, task):
    torch.manual_seed(0)
    model = get_model("cnn-lstm", tiny_data, hidden_size=16, n_layer=1, dropout=0.0, word_dropout=0.0, crf=True)
    assert model.heads.crf is not None
    batch = full_train_batch(tiny_data, task)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = [train_step(model, None, task, batch, optimizer, clip_norm=5.0) for _ in range(30)]
    assert losses[0] > 0 and all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.2 * losses[0], losses

    model.eval()
    with torch.no_grad():
        logits = model(task, batch.words, batch.seq_len)
        decoded = model.heads.decode(task, logits, batch.seq_len)
    n_tags = len(tiny_data.tasks[task].tags)
    assert logits.shape == (*batch.words.shape, n_tags)
    assert decoded.shape == batch.words.shape
    assert decoded.dtype == torch.long
    assert int(decoded.min()) >= 0 and int(decoded.max()) < n_tags
    for row, length in enumerate(batch.seq_len.tolist()):
        assert torch.equal(decoded[row, :length], batch.tags[row, :length])  # memorised


def test_crf_decode_is_viterbi_not_argmax():
    """With a transition score that forbids O -> E-X, Viterbi avoids it even where the per-token argmax picks it."""
    torch.manual_seed(0)
    data = build_tiny_dataset()
    model = get_model("cnn-lstm", data, hidden_size=8, crf=True)
    tags = data.tasks[NER].tags
    o, e_loc = tags.to_index("O"), tags.to_index("E-LOC")
    crf = model.heads.crf[NER]
    with torch.no_grad():
        crf.trans_m.zero_()
        crf.trans_m[o, e_loc] = -1e4
    logits = torch.full((1, 2, len(tags)), -5.0)
    logits[0, 0, o] = 5.0
    logits[0, 1, e_loc] = 5.0
    logits[0, 1, o] = 4.0
    seq_len = torch.tensor([2])
    assert logits.argmax(-1).tolist() == [[o, e_loc]]
    assert model.heads.decode(NER, logits, seq_len).tolist() == [[o, o]]


def test_crf_decode_of_sentences_longer_than_the_tag_set():
    """Viterbi over a batch whose sentences are longer than the tag set: each sentence decodes as it does alone,
    its padding ignored."""
    torch.manual_seed(0)
    data = build_tiny_dataset()
    model = get_model("cnn-lstm", data, hidden_size=8, crf=True)
    n_tags = len(data.tasks[NER].tags)
    logits = torch.randn(2, 3 * n_tags, n_tags)
    lengths = [3 * n_tags, 2 * n_tags]
    decoded = model.heads.decode(NER, logits, torch.tensor(lengths))
    assert decoded.shape == (2, 3 * n_tags)
    for row, length in enumerate(lengths):
        alone = model.heads.decode(NER, logits[row:row + 1, :length].clone(), torch.tensor([length]))
        assert torch.equal(decoded[row, :length], alone[0])


def test_softmax_decode_is_argmax(tiny_data):
    torch.manual_seed(0)
    model = get_model("cnn-lstm", tiny_data, hidden_size=8)
    assert model.heads.crf is None
    logits = torch.randn(3, 6, len(tiny_data.tasks[NER].tags))
    assert torch.equal(model.heads.decode(NER, logits, torch.tensor([6, 4, 1])), logits.argmax(dim=-1))


def test_softmax_loss_is_token_averaged_cross_entropy_over_real_tokens(tiny_data):
    torch.manual_seed(0)
    model = get_model("cnn-lstm", tiny_data, hidden_size=8)
    logits = torch.randn(2, 3, 4)
    tags = torch.tensor([[1, 2, 3], [0, 3, 3]])
    loss = model.heads.loss(0, logits, tags, torch.tensor([3, 1]))
    log_p = torch.log_softmax(logits, dim=-1)
    expected = -(log_p[0, 0, 1] + log_p[0, 1, 2] + log_p[0, 2, 3] + log_p[1, 0, 0]) / 4
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def count(model, prefix):
    return sum(p.numel() for n, p in model.named_parameters() if n.startswith(prefix))


def test_parameter_counts_match_the_paper():
    data = build_tiny_dataset(dim=100)
    torch.manual_seed(0)
    model = get_model("cnn-lstm", data, hidden_size=200, n_layer=1)
    assert model.embedding.embedding_dim == 100 and model.char.embedding_dim == 30
    # BiLSTM 130 -> 200: 2 directions x (4*200*(130+200) weights + 2*4*200 biases)
    assert count(model, "lstm.") == 531_200
    # char CNN: 30 filters x 30 channels x width 3 + 30 biases
    assert count(model, "char.convs.") == 2_730
    torch.manual_seed(0)
    deep = get_model("cnn-lstm", data, hidden_size=200, n_layer=2)
    assert count(deep, "lstm.") == 531_200 + 963_200
    # the heads: one linear layer 400 -> n_tags per task
    assert count(model, "heads.") == sum(400 * len(t.tags) + len(t.tags) for t in data.tasks)


def test_unknown_architecture_is_rejected(tiny_data):
    with pytest.raises(ValueError, match="cnn-lstm"):
        get_model("transformer", tiny_data)

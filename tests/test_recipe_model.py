"""Recipe contract, the model (REFERENCE §2 "Model", §4, README "Model and training"): sizes, initialisation,
dropout and word dropout, padding, the prunable scope, parameter counts, tag schemes and metrics. Each test quotes
the rule it pins and fails when that behaviour changes."""
import pytest
import torch

from models import get_model
from tests.conftest import build_tiny_dataset
from tests.recipe_helpers import make_dataset
from utils.data.batching import collate
from utils.data.dataset import TASK_METRICS, embedding_table
from utils.subnets.masks import masked_forward, prunable_names
from utils.training.metrics import make_metric
from utils.subnets.params import encoder_params
from utils.data.readers import read_conll03

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data100():
    """The tiny corpus with 100-d word vectors, as GloVe 6B 100d."""
    return build_tiny_dataset(dim=100)


@pytest.fixture(scope="module")
def paper_model(data100):
    """The paper's model at its defaults: hidden 200, one layer, dropout 0.5, word dropout 0.01."""
    torch.manual_seed(0)
    return get_model("cnn-lstm", data100)


def test_char_cnn_30_filters_of_width_3_max_pooled(paper_model):
    """"characters: 30-d char embeddings, one CNN of 30 filters, width 3, max-pooled over the word → 30-d"."""
    char = paper_model.char
    assert char.char_embedding.embedding_dim == 30
    assert len(char.convs) == 1
    conv = char.convs[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (30, 30, (3,))
    assert char.pool_method == "max" and char.embedding_dim == 30


def test_bilstm_200_per_direction_one_layer_on_words_and_chars(paper_model):
    """"concatenation (130-d) → BiLSTM, hidden 200 per direction"; one layer by default (REFERENCE §4)."""
    lstm = paper_model.lstm.lstm
    assert lstm.bidirectional and lstm.hidden_size == 200 and lstm.num_layers == 1
    assert lstm.input_size == 100 + 30


def test_words_are_looked_up_lowercased():
    """"words: GloVe ... looked up lowercased": "The" and "the" share one row of the word table."""
    corpus = {"pos": {"train": [(["The", "the", "THE", "cat"], ["DT", "DT", "DT", "NN"])],
                      "dev": [(["the"], ["DT"])], "test": [(["the"], ["DT"])]}}
    data = make_dataset(corpus)
    rows = {w: int(data.word_rows[data.words.to_index(w)]) for w in ("The", "the", "THE", "cat")}
    assert rows["The"] == rows["the"] == rows["THE"] != rows["cat"]
    vector = torch.arange(4.0)
    table, word_rows, _ = embedding_table(data.words, {"the": vector}, 4, torch.Generator().manual_seed(0))
    assert torch.equal(table[word_rows[data.words.to_index("THE")]], vector)


def test_head_is_xavier_uniform_with_zero_bias(paper_model):
    """"a linear head per task (Xavier-uniform weight, zero bias)": |w| ≤ sqrt(6/(fan_in+fan_out)) and reaches
    near that bound (PyTorch's default bound 1/sqrt(fan_in) is less than half of it); every bias is 0."""
    for layer in paper_model.heads.out:
        fan_out, fan_in = layer.weight.shape
        bound = (6.0 / (fan_in + fan_out)) ** 0.5
        w = layer.weight.detach()
        assert w.abs().max() <= bound + 1e-6
        assert w.abs().max() > 0.95 * bound > 2 * fan_in ** -0.5
        assert w.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.1)
        assert torch.count_nonzero(layer.bias) == 0


def test_lstm_init_is_xavier_with_forget_bias_one(paper_model):
    """The BiLSTM is fastNLP's LSTM, as in the original: Xavier-uniform weights, biases 0 except the forget
    gate's (second quarter), which is 1."""
    for name, p in paper_model.lstm.lstm.named_parameters():
        p = p.detach()
        if "bias" in name:
            n = p.numel() // 4
            assert torch.equal(p[n:2 * n], torch.ones(n)) and torch.count_nonzero(p[:n]) == 0
            assert torch.count_nonzero(p[2 * n:]) == 0
        else:
            bound = (6.0 / sum(p.shape)) ** 0.5
            assert bound * 0.95 < p.abs().max() <= bound + 1e-6, name


def test_same_seed_same_initial_weights(data100):
    """"seed 2019 ... same seed, same initial weights θ(0)": θ(0) is a function of the seed alone."""
    states = []
    for seed in (2019, 2019, 7):
        torch.manual_seed(seed)
        states.append(get_model("cnn-lstm", data100, hidden_size=8).state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not torch.equal(states[0]["lstm.lstm.weight_ih_l0"], states[2]["lstm.lstm.weight_ih_l0"])


def sentence_batch(data, length: int = 40, copies: int = 8):
    """`copies` unpadded sentences of `length` known words: every position of every row is a real token."""
    ids = torch.tensor([data.words.to_index(w) for w in ["The", "cat", "sat", "down"] * (length // 4)])
    return ids.repeat(copies, 1), torch.full((copies,), length)


def zero_share(t: torch.Tensor) -> float:
    return (t == 0).float().mean().item()


def test_dropout_half_on_embeddings_and_lstm_output(paper_model, data100):
    """"word dropout 0.01, dropout 0.5 ... BiLSTM → dropout 0.5 → a linear head": in training half of the word
    vector entries, half of the character features and half of the BiLSTM outputs are zeroed; none in eval."""
    words, seq_len = sentence_batch(data100)
    seen = {}
    hooks = [paper_model.lstm.register_forward_pre_hook(lambda m, a: seen.__setitem__("lstm_in", a[0])),
             paper_model.heads.register_forward_pre_hook(lambda m, a: seen.__setitem__("head_in", a[1]))]
    try:
        torch.manual_seed(1)
        paper_model.train()
        paper_model(0, words, seq_len)
        train = dict(seen)
        paper_model.eval()
        paper_model(0, words, seq_len)
    finally:
        for h in hooks:
            h.remove()
        paper_model.train()
    word_part, char_part = train["lstm_in"][..., :100], train["lstm_in"][..., 100:]
    for part in (word_part, char_part, train["head_in"]):
        assert zero_share(part) == pytest.approx(0.5, abs=0.05)
    assert zero_share(seen["lstm_in"]) < 0.01 and zero_share(seen["head_in"]) < 0.01


def test_word_dropout_replaces_one_percent_of_words_by_unk(paper_model, data100):
    """"word dropout 0.01": in training each real word is replaced by <unk> with probability 0.01; padding
    never; no word in evaluation."""
    emb = paper_model.embedding
    pad, unk_row = data100.words.padding_idx, int(data100.word_rows[data100.words.unknown_idx])
    words = torch.full((200, 500), data100.words.to_index("cat"))
    words[:, 400:] = pad
    seen = []
    hook = emb.embedding.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    try:
        torch.manual_seed(3)
        emb.train()
        emb(words)
        emb.eval()
        emb(words)
    finally:
        hook.remove()
        emb.train()
    real, padded = seen[0][:, :400], seen[0][:, 400:]
    assert (real == unk_row).float().mean().item() == pytest.approx(0.01, abs=0.002)  # 80k draws: σ = 0.00035
    assert torch.all(padded == 0)
    assert not torch.any(seen[1] == unk_row)


def test_word_vectors_are_fine_tuned_unk_row_included_padding_row_stays_zero(data100):
    """The original's StaticEmbedding is trainable: a step moves the rows of the batch's words, <unk> (a dev-only
    word) included, and no other row; the padding row stays zero."""
    torch.manual_seed(0)
    model = get_model("cnn-lstm", data100, hidden_size=8, dropout=0.0, word_dropout=0.0)
    ner = data100.tasks[1]
    pad = data100.words.padding_idx
    words = [ner.splits["train"].words[0], ner.splits["dev"].words[0]]      # "Mary went to Paris": went, to -> <unk>
    batch = torch.nn.utils.rnn.pad_sequence(words, batch_first=True, padding_value=pad)
    seq_len = torch.tensor([len(w) for w in words])
    table = model.embedding.embedding.weight
    before = table.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    logits = model(1, batch, seq_len)
    model.heads.loss(1, logits, torch.zeros_like(batch), seq_len).backward()
    optimizer.step()
    used = set(data100.word_rows[batch[batch != pad]].tolist())
    unk_row = int(data100.word_rows[data100.words.unknown_idx])
    assert unk_row in used and 0 not in used
    moved = {r for r in range(len(table)) if not torch.equal(table[r].detach(), before[r])}
    assert moved == used
    assert torch.count_nonzero(table[0]) == 0


def test_char_cnn_reads_exactly_the_characters_of_each_word(paper_model, data100):
    """The character CNN sees a word's characters and nothing else (no start/end markers); its word-to-character
    tables are rebuilt from the vocabulary, so they stay out of checkpoints."""
    char = paper_model.char
    for word in ("Paris", "A", "IBM"):
        index = data100.words.to_index(word)
        assert int(char.word_lengths[index]) == len(word)
        chars = char.words_to_chars_embedding[index, :len(word)].tolist()
        assert chars == [char.char_vocab.to_index(c) for c in word]
    saved = paper_model.state_dict()
    assert not any("words_to_chars_embedding" in k or "word_lengths" in k for k in saved)
    assert "char.char_embedding.weight" in saved and "char.convs.0.weight" in saved


def test_padding_changes_neither_outputs_nor_loss(tiny_data):
    """Padding is not data: a sentence's scores are the same alone or padded beside a longer one (the BiLSTM
    reads only seq_len tokens), and the loss counts real tokens only. (Both sentences' longest word has 6
    letters: the character CNN, fastNLP's as in the original, cuts every word to the batch's longest word,
    the "<pad>" token's 5 letters included, with a trainable pad character, so a longer word in the batch
    would change a word's features.)"""
    torch.manual_seed(0)
    model = get_model("cnn-lstm", tiny_data, hidden_size=8).eval()
    split = tiny_data.tasks[0].splits["train"]
    pad = tiny_data.words.padding_idx
    alone = collate(split, [3], pad, "cpu")                   # The old man smiled
    padded = collate(split, [3, 2], pad, "cpu")               # beside "Dogs bark loudly today ."
    assert padded.words.shape[1] == 5 and padded.words[0, 4] == pad
    with torch.no_grad():
        a = model(0, alone.words, alone.seq_len)[0]
        b = model(0, padded.words, padded.seq_len)[0, :4]
        assert torch.allclose(a, b, atol=1e-6)
        tags = padded.tags.clone()
        logits = model(0, padded.words, padded.seq_len)
        loss = model.heads.loss(0, logits, tags, padded.seq_len)
        tags[0, 4:] = 5                                       # change the tag under the padding
        assert model.heads.loss(0, logits, tags, padded.seq_len).item() == pytest.approx(loss.item())


def test_prunable_scope_is_lstm_and_char_conv_weights(tiny_data):
    """"Prunable parameters: the weights (not biases) of the LSTM and of the char CNN. Embeddings, heads, CRFs:
    never." (also with --crf)."""
    torch.manual_seed(0)
    model = get_model("cnn-lstm", tiny_data, hidden_size=8, crf=True)
    assert sorted(prunable_names(model)) == sorted([
        "char.convs.0.weight", "lstm.lstm.weight_ih_l0", "lstm.lstm.weight_hh_l0",
        "lstm.lstm.weight_ih_l0_reverse", "lstm.lstm.weight_hh_l0_reverse"])


def test_masked_weights_have_no_effect_on_the_output(tiny_data):
    """E(x; M_t ⊙ θ_E): a pruned weight's value does not matter, only the kept ones do."""
    torch.manual_seed(0)
    model = get_model("cnn-lstm", tiny_data, hidden_size=8).eval()
    mask = {n: torch.rand(model.get_parameter(n).shape) < 0.5 for n in prunable_names(model)}
    batch = collate(tiny_data.tasks[0].splits["train"], [0, 1], tiny_data.words.padding_idx, "cpu")
    with torch.no_grad():
        before = masked_forward(model, mask, 0, batch.words, batch.seq_len)
        for n, m in mask.items():
            model.get_parameter(n)[~m] += 3.0
        assert torch.allclose(before, masked_forward(model, mask, 0, batch.words, batch.seq_len))
        model.get_parameter("lstm.lstm.weight_ih_l0")[mask["lstm.lstm.weight_ih_l0"]] += 3.0
        assert not torch.allclose(before, masked_forward(model, mask, 0, batch.words, batch.seq_len))


def test_encoder_parameter_counts_are_the_papers(data100):
    """REFERENCE §4: # Params counts the encoder (LSTM + char CNN, weights and biases): one layer 531,200 +
    2,730 = 533,930 (534k); two layers 1,497,130 (1497k)."""
    torch.manual_seed(0)
    assert encoder_params(get_model("cnn-lstm", data100)) == 533_930
    torch.manual_seed(0)
    assert encoder_params(get_model("cnn-lstm", data100, n_layer=2)) == 1_497_130


def test_sparse_parameter_count_is_the_union_of_masks_plus_biases(tiny_data):
    """"Sparse sharing's count is the union of the task masks (‖∪ M_t‖₀ plus unpruned biases)"."""
    torch.manual_seed(0)
    model = get_model("cnn-lstm", tiny_data, hidden_size=8)
    names = prunable_names(model)
    a = {n: torch.zeros_like(model.get_parameter(n), dtype=torch.bool) for n in names}
    b = {n: m.clone() for n, m in a.items()}
    a["char.convs.0.weight"].view(-1)[:100] = True          # 100 kept
    b["char.convs.0.weight"].view(-1)[50:170] = True        # 120 kept, 50 shared -> union 170
    b["lstm.lstm.weight_hh_l0"].view(-1)[:7] = True         # + 7
    biases = 30 + 4 * 32                                    # conv bias + the LSTM's four bias vectors
    assert encoder_params(model, [a, b]) == 170 + 7 + biases


def write_iob1(path) -> None:
    """Two CoNLL-2003 sentences in IOB1 (an I- tag opens a chunk/entity unless it continues one), -DOCSTART-."""
    path.write_text("-DOCSTART- -X- -X- O\n\n"
                    "EU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\ncall NN I-NP O\n\n"
                    "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\nin IN I-PP O\nNew NNP I-NP I-LOC\n"
                    "York NNP I-NP I-LOC\n\n")


def test_tag_schemes_chunk_bio_ner_bioes_docstart_dropped(tmp_path):
    """"Tags: chunk IOB1 → BIO (IOB2); NER IOB1 → BIOES. -DOCSTART- lines are dropped."""
    for split in ("train", "dev", "test"):
        write_iob1(tmp_path / f"{split}.txt")
    corpus = read_conll03(str(tmp_path))
    assert [len(s) for s in (corpus["pos"]["train"])] == [2, 2]
    assert corpus["chunk"]["train"][0][1] == ["B-NP", "B-VP", "B-NP", "I-NP"]
    assert corpus["chunk"]["train"][1][1] == ["B-NP", "I-NP", "B-PP", "B-NP", "I-NP"]
    assert corpus["ner"]["train"][0][1] == ["S-ORG", "O", "S-MISC", "O"]
    assert corpus["ner"]["train"][1][1] == ["B-PER", "E-PER", "O", "B-LOC", "E-LOC"]
    assert corpus["pos"]["train"][1][1] == ["NNP", "NNP", "IN", "NNP", "NNP"]


def test_task_metrics_pos_accuracy_chunk_bio_f1_ner_bioes_f1():
    """"Metrics: POS token accuracy; chunking F1 over BIO spans; NER F1 over BIOES spans (exact-match spans,
    micro-averaged, as conlleval)"."""
    assert (TASK_METRICS["pos"], TASK_METRICS["chunk"], TASK_METRICS["ner"]) == ("acc", "bio", "bioes")


def score(kind: str, gold: list[list[str]], pred: list[list[str]]) -> float:
    corpus = {"t": {"train": [(["x"] * len(g), g) for g in gold + pred], "dev": [], "test": []}}
    data = make_dataset(corpus)
    tags = data.tasks[0].tags
    metric = make_metric(kind, tags)
    length = max(len(s) for s in gold)
    as_ids = lambda rows: torch.tensor([[tags.to_index(t) for t in r] + [0] * (length - len(r)) for r in rows])
    metric.update(as_ids(pred), as_ids(gold), torch.tensor([len(g) for g in gold]))
    return metric.score()


def test_metrics_hand_counted():
    """Token accuracy counts real tokens; span F1 counts exact (type and boundaries) span matches over all
    sentences: BIO and BIOES decode the same well-formed spans."""
    assert score("acc", [["A", "B", "C"], ["A"]], [["A", "C", "C"], ["B"]]) == pytest.approx(50.0)
    # gold spans NP[0,2) VP[2,3) NP[0,1); predicted NP[0,2) NP[2,3) NP[0,1): 2 of 3 right, P = R = F1 = 2/3
    gold = [["B-NP", "I-NP", "B-VP"], ["B-NP"]]
    pred = [["B-NP", "I-NP", "B-NP"], ["B-NP"]]
    assert score("bio", gold, pred) == pytest.approx(200 / 3)
    # gold PER[0,2) LOC[3,4); predicted PER[0,1) LOC[3,4): P = 1/2, R = 1/2; boundaries must match exactly
    gold = [["B-PER", "E-PER", "O", "S-LOC"]]
    pred = [["S-PER", "O", "O", "S-LOC"]]
    assert score("bioes", gold, pred) == pytest.approx(50.0)
    # 3 predicted spans, 2 gold, 2 right: P = 2/3, R = 1, F1 = 0.8
    pred = [["B-PER", "E-PER", "S-ORG", "S-LOC"]]
    assert score("bioes", gold, pred) == pytest.approx(80.0)

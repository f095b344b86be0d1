"""The packed character CNN gives what fastNLP's CNNCharEmbedding (the original's) gives on every real token,
outputs and gradients, including its edge after a word's last character; padding tokens get zero features."""
import pytest
import torch
from fastNLP import Vocabulary
from fastNLP.embeddings import CNNCharEmbedding

from models.embedding import char_cnn

# "Mississippi" is the longest word of the first batch, so it sees the convolution's zero padding after its last
# character, the other words the pad character's embedding.
WORDS = ["Highlights", "of", "Mississippi", "a", "of", "U.S.", "----", "x"]


@pytest.fixture
def char() -> CNNCharEmbedding:
    vocab = Vocabulary()
    vocab.add_word_lst(WORDS)
    torch.manual_seed(0)
    return char_cnn(vocab, dropout=0.5)


def ids(char: CNNCharEmbedding, rows: list[list[str]]) -> torch.Tensor:
    vocab = char._word_vocab
    width = max(map(len, rows))
    return torch.tensor([[vocab.to_index(w) for w in row] + [vocab.padding_idx] * (width - len(row)) for row in rows])


BATCHES = [
    [["Highlights", "of", "Mississippi"], ["a", "of"], ["U.S.", "----", "x", "a"]],
    [["of", "a"], ["x"]],  # every word shorter than "<pad>", the batch's longest "word"
    [["Highlights", "Highlights", "----"]],  # no padding: "Highlights" is the longest
]


@pytest.mark.parametrize("rows", BATCHES)
def test_evaluation_equals_fastnlp_on_real_tokens_and_padding_is_zero(char, rows) -> None:
    words = ids(char, rows)
    real = words.ne(char._word_pad_index)
    with torch.inference_mode():
        ours, reference = char.eval()(words), CNNCharEmbedding.forward(char, words)
    assert ours.shape == reference.shape == words.shape + (30,)
    assert torch.allclose(ours[real], reference[real], atol=1e-6)
    assert torch.count_nonzero(ours[~real]) == 0


def ours_and_fastnlp(char: CNNCharEmbedding, words: torch.Tensor, upstream: torch.Tensor) -> list[tuple]:
    """(features of the real tokens, parameter gradients) of our forward, then of fastNLP's, for the same loss."""
    real = words.ne(char._word_pad_index)
    results = []
    for forward in (char.forward, lambda w: CNNCharEmbedding.forward(char, w)):
        char.zero_grad()
        out = forward(words)
        (out[real] * upstream[real]).sum().backward()
        results.append((out[real].detach(), {name: p.grad.clone() for name, p in char.named_parameters()}))
    return results


@pytest.mark.parametrize("rows", BATCHES)
def test_gradients_equal_fastnlp_without_dropout(char, rows) -> None:
    char.train()
    char.dropout_layer.p = 0.0
    words = ids(char, rows)
    (_, ours), (_, reference) = ours_and_fastnlp(char, words, torch.randn(words.shape + (30,)))
    for name in reference:
        assert torch.allclose(ours[name], reference[name], atol=1e-5), name


def test_training_draws_dropout_per_occurrence(char) -> None:
    """Evaluation computes each distinct word once; training must not: two occurrences of a word get
    different dropout masks, so different features."""
    char.train()
    words = ids(char, [["of", "of", "of"]])
    features = char(words)
    assert not torch.allclose(features[0, 0], features[0, 1])
    with torch.inference_mode():
        evaluated = char.eval()(words)
    assert torch.equal(evaluated[0, 0], evaluated[0, 2])


def test_a_batch_of_padding_only_gives_zeros(char) -> None:
    words = torch.full((2, 3), char._word_pad_index)
    for mode in (True, False):
        assert torch.count_nonzero(char.train(mode)(words)) == 0


class Elementwise(torch.nn.Module):
    """A deterministic stand-in for dropout that changes every value it sees (f(0) ≠ 0 included), so that which
    tensors go through dropout, and in which order of slots, shows in the output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.5 * x + 0.3 * x * x + 0.1


def random_batches(char: CNNCharEmbedding, n: int, generator: torch.Generator) -> list[torch.Tensor]:
    vocab_size = len(char._word_vocab)
    batches = []
    for _ in range(n):
        lengths = torch.randint(1, 6, (int(torch.randint(1, 5, (1,), generator=generator)),), generator=generator)
        words = torch.randint(2, vocab_size, (len(lengths), int(lengths.max())), generator=generator)
        batches.append(words.masked_fill(torch.arange(words.size(1))[None, :] >= lengths[:, None],
                                         char._word_pad_index))
    return batches


def test_training_equals_fastnlp_on_random_batches_with_every_dropout_applied() -> None:
    """Words of 1–14 characters in random batches: outputs and gradients in training mode, dropout replaced by a
    deterministic function so that both sides apply it to the same values."""
    generator = torch.Generator().manual_seed(3)
    vocab = Vocabulary()
    vocab.add_word_lst(["".join(chr(97 + int(c)) for c in torch.randint(0, 6, (n,), generator=generator))
                        for n in torch.randint(1, 15, (40,), generator=generator).tolist()])
    torch.manual_seed(1)
    char = char_cnn(vocab, dropout=0.5).train()
    char.dropout_layer = Elementwise()
    for words in random_batches(char, 30, generator):
        upstream = torch.randn(words.shape + (30,), generator=generator)
        (ours, our_grads), (reference, reference_grads) = ours_and_fastnlp(char, words, upstream)
        assert torch.allclose(ours, reference, atol=1e-5)
        for name in reference_grads:
            assert torch.allclose(our_grads[name], reference_grads[name], atol=1e-4, rtol=1e-5), name

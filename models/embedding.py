"""Token representations of the CNN-BiLSTM: case-shared word vectors and a character CNN (Ma & Hovy 2016)."""
import logging

import torch
import torch.nn.functional as F
from fastNLP import Vocabulary, logger
from fastNLP.embeddings import CNNCharEmbedding
from torch import nn

from models.dropout import Dropout
from models.encoder import Encoder

CHAR_DIM = 30


class WordEmbedding(nn.Module):
    """Word vectors looked up lowercased (a row per lowercased type), with word dropout to <unk> and dropout,
    as fastNLP's StaticEmbedding(lower=True, word_dropout=0.01, dropout=0.5) in the original code."""

    def __init__(self, table: torch.Tensor, word_rows: torch.Tensor, pad_index: int,
                 word_dropout: float = 0.01, dropout: float = 0.5) -> None:
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(table.clone(), freeze=False, padding_idx=0)
        self.register_buffer("word_rows", word_rows.clone(), persistent=False)
        self.pad_index = pad_index
        self.word_dropout = word_dropout
        self.dropout = Dropout(dropout)

    @property
    def embedding_dim(self) -> int:
        return self.embedding.embedding_dim

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        rows = self.word_rows[words]
        if self.training and self.word_dropout > 0:
            drop = torch.rand(words.shape, device=words.device) < self.word_dropout
            rows = rows.masked_fill(drop & words.ne(self.pad_index), 1)
        return self.dropout(self.embedding(rows))


class CharCNN(CNNCharEmbedding):
    """fastNLP's CNNCharEmbedding with one convolution of width 3 and no word dropout, computed over the characters
    of the real tokens only, packed end to end, instead of over the [batch, length, longest word] grid (3.6–4.6× the
    characters on CoNLL-2003 at batch 10). The same numbers up to rounding, fastNLP's edge included: after its last
    character a word sees the pad character's embedding, or the convolution's zero padding when it is as long as
    the longest word id of the batch, padding included. Padding tokens (and a literal "<pad>" word, which is the
    padding id) get zero features, which nothing reads; in evaluation each distinct word of a batch is computed once."""

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        """Features [batch, length, embed_size] of padded word ids."""
        real = words.ne(self._word_pad_index)
        longest = int(self.word_lengths[words].max())
        if self.training:
            features = self._word_features(words[real], longest)
        else:
            distinct, occurrence = torch.unique(words[real], return_inverse=True)
            features = self._word_features(distinct, longest)[occurrence]
        return features.new_zeros(words.shape + features.shape[-1:]).index_put((real,), features)

    def _word_features(self, tokens: torch.Tensor, longest: int) -> torch.Tensor:
        """[tokens, embed_size] features of a flat list of word ids, `longest` being the batch's longest word."""
        lengths = self.word_lengths[tokens][:, None]
        slots = torch.arange(longest + 1, device=tokens.device)[None, :]
        chars = F.pad(self.words_to_chars_embedding[tokens, :longest], (0, 1), value=self.char_pad_index)
        packed = slots <= lengths  # each word's characters, then one slot: the pad character or zero padding
        after, first = (slots == lengths)[packed], slots.eq(0).expand_as(packed)[packed]
        x = self.dropout(self.char_embedding(chars[packed]))
        x = x.masked_fill(slots.eq(longest).expand_as(packed)[packed][:, None], 0.0)
        # windows [previous, own, next character] of each character; the conv kernel as a matrix in that order
        windows = torch.cat([x.roll(1, 0).masked_fill(first[:, None], 0.0), x, x.roll(-1, 0)], dim=1)[~after]
        conv = self.convs[0]
        kernel = conv.weight.permute(2, 1, 0).reshape(-1, conv.out_channels)
        features = self.activation(torch.addmm(conv.bias, windows, kernel))
        grid = features.new_full((len(tokens), longest, features.size(1)), float("-inf"))
        pooled, _ = grid.index_put((slots[:, :-1] < lengths,), features).max(dim=1)
        return self.dropout(self.fc(pooled))


def char_cnn(words: Vocabulary, dropout: float) -> CNNCharEmbedding:
    """fastNLP's character CNN with the paper's sizes: 30-d characters, 30 filters of width 3, max-pooled.
    Its word->characters tables are derived from the vocabulary, so they are kept out of checkpoints."""
    logger.setLevel(logging.WARNING)  # fastNLP announces every character vocabulary it builds
    module = CharCNN(words, embed_size=CHAR_DIM, char_emb_size=CHAR_DIM, filter_nums=[CHAR_DIM],
                     kernel_sizes=[3], word_dropout=0, dropout=dropout, include_word_start_end=False)
    module.dropout_layer = Dropout(dropout)
    for name in ("words_to_chars_embedding", "word_lengths"):
        table = module._buffers.pop(name)
        module.register_buffer(name, table, persistent=False)
    return module


class TokenInput(Encoder):
    """What every BiLSTM architecture starts with: a token is its word vector concatenated with its character CNN
    features (Ma & Hovy 2016)."""

    def __init__(self, word_embedding: WordEmbedding, char: nn.Module) -> None:
        super().__init__()
        self.embedding = word_embedding
        self.char = char

    @property
    def input_dim(self) -> int:
        return self.embedding.embedding_dim + self.char.embedding_dim

    def embed(self, words: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.embedding(words), self.char(words)], dim=-1)

    def add_words(self, words: list[str], rows: list[int]) -> None:
        add_words(self, words, rows)


def add_words(model: nn.Module, words: list[str], rows: list[int]) -> None:
    """Give the model's word and character lookups entries for words beyond the vocabulary (ids follow it): each
    word's vector is table row `rows[i]`, its characters its own (unseen ones as the unknown character)."""
    for module in model.modules():
        if isinstance(module, WordEmbedding):
            extra = torch.tensor(rows, dtype=module.word_rows.dtype, device=module.word_rows.device)
            module.word_rows = torch.cat([module.word_rows, extra])
        elif isinstance(module, CNNCharEmbedding):
            chars = [[module.char_vocab.to_index(c) for c in word] for word in words]
            table = module.words_to_chars_embedding
            width = max(table.size(1), max(len(c) for c in chars))
            pad = module.char_pad_index
            table = torch.cat([table, table.new_full((table.size(0), width - table.size(1)), pad)], dim=1)
            extra = table.new_full((len(chars), width), pad)
            for row, ids in enumerate(chars):
                extra[row, :len(ids)] = torch.tensor(ids)
            module.words_to_chars_embedding = torch.cat([table, extra])
            lengths = torch.tensor([len(c) for c in chars], dtype=module.word_lengths.dtype,
                                   device=module.word_lengths.device)
            module.word_lengths = torch.cat([module.word_lengths, lengths])

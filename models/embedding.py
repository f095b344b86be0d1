"""Token representations of the CNN-BiLSTM: case-shared word vectors and a character CNN (Ma & Hovy 2016)."""
import logging

import torch
from fastNLP import Vocabulary, logger
from fastNLP.embeddings import CNNCharEmbedding
from torch import nn

from models.dropout import Dropout

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
    """fastNLP's CNNCharEmbedding with one convolution and no word dropout, computed without its copies for
    several convolutions (one concatenation per step): the same operations otherwise, so the same numbers."""

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        batch_size, max_len = words.size()
        chars = self.words_to_chars_embedding[words]
        max_word_len = self.word_lengths[words].max()
        chars = chars[:, :, :max_word_len]
        pads = chars.eq(self.char_pad_index)
        chars = self.dropout(self.char_embedding(chars))
        features = self.convs[0](chars.reshape(batch_size * max_len, max_word_len, -1).transpose(1, 2))
        features = self.activation(features.transpose(1, 2).reshape(batch_size, max_len, max_word_len, -1))
        pooled, _ = torch.max(features.masked_fill(pads.unsqueeze(-1), float("-inf")), dim=-2)
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


class TokenInput(nn.Module):
    """What every architecture starts with: a token is its word vector concatenated with its character CNN
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

"""The negative-transfer experiment's weaker model, the original code's `random-lstm` (its src/models.py RandomLSTM):
random 50-d word vectors looked up lowercased, no character CNN, a BiLSTM and a linear head per task. The paper's
single-task NER of 71.05 with it (against 89.36 for the CNN-BiLSTM) is what makes its negative-transfer table."""
import math

import torch

from models.bilstm import BiLSTM
from models.dropout import Dropout
from models.embedding import WordEmbedding, add_words
from models.encoder import Encoder
from models.heads import TaskHeads

WORD_DIM = 50   # StaticEmbedding(vocab, embedding_dim=50) in the original


def random_table(rows: int, dim: int = WORD_DIM) -> torch.Tensor:
    """fastNLP's random StaticEmbedding table: uniform ±sqrt(3/dim) from the global RNG (padding row zero here: it
    has no gradient and nothing reads it)."""
    bound = math.sqrt(3.0 / dim)
    table = torch.empty(rows, dim).uniform_(-bound, bound)
    table[0] = 0.0
    return table


class RandomBiLSTM(Encoder):
    """Random word vectors (no word dropout, dropout on them) -> BiLSTM -> dropout -> the task's head."""

    def __init__(self, word_rows: torch.Tensor, rows: int, pad_index: int, n_tags: list[int], hidden_size: int = 200,
                 n_layer: int = 1, dropout: float = 0.5, crf: bool = False) -> None:
        super().__init__()
        self.embedding = WordEmbedding(random_table(rows), word_rows, pad_index, word_dropout=0.0, dropout=dropout)
        self.lstm = BiLSTM(WORD_DIM, hidden_size, num_layers=n_layer)
        self.dropout = Dropout(dropout)
        self.heads = TaskHeads(2 * hidden_size, n_tags, crf)

    def encode(self, task: int, words: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """The BiLSTM's outputs [batch, length, 2·hidden], the same for every task."""
        return self.lstm(self.embedding(words), seq_len)[0]

    def add_words(self, words: list[str], rows: list[int]) -> None:
        add_words(self, words, rows)

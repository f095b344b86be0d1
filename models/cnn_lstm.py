"""The base network E of the paper: CNN-BiLSTM (Ma & Hovy 2016) shared by all tasks, one head per task."""
import torch
from torch import nn

from models.bilstm import BiLSTM
from models.dropout import Dropout
from models.embedding import TokenInput, WordEmbedding
from models.heads import TaskHeads


class CNNBiLSTM(TokenInput):
    """Word vectors + character CNN -> BiLSTM -> dropout -> the task's head. Hard sharing when trained jointly
    with no masks; sparse sharing when each task's batches go through its own mask (utils.subnets.masks)."""

    def __init__(self, word_embedding: WordEmbedding, char: nn.Module, n_tags: list[int], hidden_size: int = 200,
                 n_layer: int = 1, dropout: float = 0.5, crf: bool = False) -> None:
        super().__init__(word_embedding, char)
        self.lstm = BiLSTM(self.input_dim, hidden_size, num_layers=n_layer)
        self.dropout = Dropout(dropout)
        self.heads = TaskHeads(2 * hidden_size, n_tags, crf)

    def forward(self, task: int, words: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """Emission scores [batch, length, tags] of `task` for padded word ids."""
        hidden, _ = self.lstm(self.embed(words), seq_len)
        return self.heads(task, self.dropout(hidden))

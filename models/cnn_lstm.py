"""The base network E of the paper: CNN-BiLSTM (Ma & Hovy 2016) shared by all tasks, one head per task."""
import torch
from torch import nn

from models.bilstm import BiLSTM
from models.dropout import Dropout
from models.embedding import TokenInput, WordEmbedding, char_cnn
from models.encoder import SHARED, ModelSpec
from models.heads import TaskHeads
from models.hier_lstm import HierarchicalBiLSTM
from models.random_lstm import RandomBiLSTM
from models.soft import CrossStitchBiLSTM

BILSTM_ARCHITECTURES = (SHARED, "hier-lstm", "soft", "random-lstm")


class CNNBiLSTM(TokenInput):
    """Word vectors + character CNN -> BiLSTM -> dropout -> the task's head. Hard sharing when trained jointly
    with no masks; sparse sharing when each task's batches go through its own mask (utils.subnets.masks)."""

    def __init__(self, word_embedding: WordEmbedding, char: nn.Module, n_tags: list[int], hidden_size: int = 200,
                 n_layer: int = 1, dropout: float = 0.5, crf: bool = False) -> None:
        super().__init__(word_embedding, char)
        self.lstm = BiLSTM(self.input_dim, hidden_size, num_layers=n_layer)
        self.dropout = Dropout(dropout)
        self.heads = TaskHeads(2 * hidden_size, n_tags, crf)

    ARCHITECTURES = BILSTM_ARCHITECTURES

    @classmethod
    def build(cls, data, spec: ModelSpec) -> TokenInput | RandomBiLSTM:
        """--arch's model: this one (cnn-lstm), hierarchical or cross-stitch sharing, or the weaker random-lstm."""
        n_tags = [len(task.tags) for task in data.tasks]
        if spec.arch == "random-lstm":
            return RandomBiLSTM(data.word_rows, data.embedding.shape[0], data.words.padding_idx, n_tags,
                                spec.hidden_size, spec.n_layer, spec.dropout, spec.crf)
        words = WordEmbedding(data.embedding, data.word_rows, data.words.padding_idx, spec.word_dropout, spec.dropout)
        char = char_cnn(data.words, spec.dropout)
        if spec.arch == "hier-lstm":
            return HierarchicalBiLSTM(words, char, n_tags, spec.hidden_size, spec.n_layer, spec.dropout, spec.crf,
                                      spec.task_layers)
        if spec.arch == "soft":
            return CrossStitchBiLSTM(words, char, n_tags, spec.hidden_size, spec.n_layer, spec.dropout, spec.crf)
        return cls(words, char, n_tags, spec.hidden_size, spec.n_layer, spec.dropout, spec.crf)

    def encode(self, task: int, words: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """The BiLSTM's outputs [batch, length, 2·hidden], the same for every task."""
        return self.lstm(self.embed(words), seq_len)[0]

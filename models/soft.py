"""Soft sharing with cross-stitch units (Misra et al. 2016): a BiLSTM stream per task, mixed after every layer."""
import torch
from torch import nn

from models.bilstm import BiLSTM
from models.dropout import Dropout
from models.embedding import TokenInput, WordEmbedding
from models.heads import TaskHeads

STITCH_SELF = 0.9  # initial weight of a task's own stream; the rest, 0.1, is split evenly over the other tasks


def stitch_init(n_tasks: int) -> torch.Tensor:
    """A near-identity T×T mixing matrix whose rows sum to 1: STITCH_SELF on the diagonal, (1 - STITCH_SELF)/(T-1)
    off it (the identity for a single task), so training starts close to independent task networks."""
    if n_tasks == 1:
        return torch.ones(1, 1)
    alpha = torch.full((n_tasks, n_tasks), (1.0 - STITCH_SELF) / (n_tasks - 1))
    return alpha.fill_diagonal_(STITCH_SELF)


class CrossStitchBiLSTM(TokenInput):
    """Shared word vectors + character CNN -> per layer, one single-layer BiLSTM per task followed by a
    cross-stitch unit h̃_i = Σ_j α_ij h_j (one learned [T, T] α per layer) -> dropout -> the task's head.

    All T streams run on every batch since the mixing needs them; the top unit computes only the requesting
    task's mixed stream, the only one its head reads."""

    def __init__(self, word_embedding: WordEmbedding, char: nn.Module, n_tags: list[int], hidden_size: int = 200,
                 n_layer: int = 1, dropout: float = 0.5, crf: bool = False) -> None:
        super().__init__(word_embedding, char)
        sizes = [self.input_dim] + [2 * hidden_size] * (n_layer - 1)
        self.lstm = nn.ModuleList(
            nn.ModuleList(BiLSTM(size, hidden_size) for _ in n_tags)
            for size in sizes)
        self.stitch = nn.ParameterList(nn.Parameter(stitch_init(len(n_tags))) for _ in sizes)
        self.dropout = Dropout(dropout)
        self.heads = TaskHeads(2 * hidden_size, n_tags, crf)

    def run_layer(self, depth: int, streams: list[torch.Tensor], seq_len: torch.Tensor) -> torch.Tensor:
        """Each task's BiLSTM of layer `depth` on its own input stream, stacked to [T, batch, length, 2·hidden]."""
        return torch.stack([lstm(x, seq_len)[0] for lstm, x in zip(self.lstm[depth], streams)])

    def encode(self, task: int, words: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """`task`'s mixed top stream."""
        top = len(self.lstm) - 1
        streams = [self.embed(words)] * len(self.heads.out)
        for depth in range(top):
            streams = list(torch.einsum("ij,jbld->ibld", self.stitch[depth], self.run_layer(depth, streams, seq_len)))
        return torch.einsum("j,jbld->bld", self.stitch[top][task], self.run_layer(top, streams, seq_len))

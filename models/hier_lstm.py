"""Hierarchical sharing (Søgaard & Goldberg 2016): a stack of BiLSTM layers where each task reads its own layer."""
import torch
from torch import nn

from models.bilstm import BiLSTM
from models.dropout import Dropout
from models.embedding import TokenInput, WordEmbedding
from models.heads import TaskHeads


def default_task_layers(n_tasks: int, n_layer: int) -> list[int]:
    """The original assignment: the first task (POS) reads layer 1, every other task the top layer, which is at
    least layer 2 so that the lower task really sits below the others; a lone task reads the top layer."""
    if n_tasks == 1:
        return [n_layer]
    top = max(n_layer, 2)
    return [1] + [top] * (n_tasks - 1)


def check_task_layers(task_layers: list[int], n_tasks: int) -> int:
    """Validate a 1-based layer per task and return the stack depth it needs (the deepest layer read)."""
    if len(task_layers) != n_tasks:
        raise ValueError(f"get_model(task_layers=...): {len(task_layers)} layers given for {n_tasks} tasks")
    if min(task_layers) < 1:
        raise ValueError(f"get_model(task_layers={task_layers}): layers are numbered from 1")
    return max(task_layers)


class HierarchicalBiLSTM(TokenInput):
    """Word vectors + character CNN -> single-layer BiLSTMs stacked without dropout between them (as the
    stacked LSTM of CNNBiLSTM) -> dropout -> the task's head on the output of the task's layer.

    With `task_layers=None` the default of `default_task_layers` applies, so a 1-layer request becomes 2 layers;
    given `task_layers`, its deepest layer must be `n_layer` (a layer above it would be dead weight).
    Only the layers up to the task's own are computed."""

    def __init__(self, word_embedding: WordEmbedding, char: nn.Module, n_tags: list[int], hidden_size: int = 200,
                 n_layer: int = 1, dropout: float = 0.5, crf: bool = False,
                 task_layers: list[int] | None = None) -> None:
        super().__init__(word_embedding, char)
        if task_layers is None:
            task_layers = default_task_layers(len(n_tags), n_layer)
        elif check_task_layers(task_layers, len(n_tags)) != n_layer:
            raise ValueError(f"get_model(task_layers={task_layers}): the deepest layer read must equal --n_layer "
                             f"{n_layer}")
        self.task_layers = list(task_layers)
        sizes = [self.input_dim] + [2 * hidden_size] * (max(task_layers) - 1)
        self.lstm = nn.ModuleList(BiLSTM(size, hidden_size) for size in sizes)
        self.dropout = Dropout(dropout)
        self.heads = TaskHeads(2 * hidden_size, n_tags, crf)

    def encode(self, task: int, words: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """The output of `task`'s layer, computing only the layers up to it."""
        hidden = self.embed(words)
        for layer in self.lstm[:self.task_layers[task]]:
            hidden, _ = layer(hidden, seq_len)
        return hidden

"""Model factory: every architecture is built from the processed data set and the shared hyper-parameters."""
import utils  # noqa: F401  (silences fastNLP's pkg_resources warning before fastNLP is imported)
from torch import nn

from models.cnn_lstm import CNNBiLSTM
from models.embedding import WordEmbedding, char_cnn
from models.hier_lstm import HierarchicalBiLSTM
from models.random_lstm import RandomBiLSTM
from models.soft import CrossStitchBiLSTM

ARCHITECTURES = ("cnn-lstm", "hier-lstm", "soft", "random-lstm")


def get_model(arch: str, data, hidden_size: int = 200, n_layer: int = 1, dropout: float = 0.5,
              crf: bool = False, word_dropout: float = 0.01, task_layers: list[int] | None = None) -> nn.Module:
    """Build `arch` for the tasks of `data` (a utils.data.dataset.Dataset), initialised from the global RNG.
    `task_layers` (1-based, one per task) chooses the layer each task reads in "hier-lstm" only."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"--arch {arch!r}: expected one of {', '.join(ARCHITECTURES)}")
    if task_layers is not None and arch != "hier-lstm":
        raise ValueError(f"get_model(task_layers=...) applies to --arch hier-lstm only, not {arch!r}")
    n_tags = [len(task.tags) for task in data.tasks]
    if arch == "random-lstm":
        return RandomBiLSTM(data.word_rows, data.embedding.shape[0], data.words.padding_idx, n_tags, hidden_size,
                            n_layer, dropout, crf)
    words = WordEmbedding(data.embedding, data.word_rows, data.words.padding_idx, word_dropout, dropout)
    char = char_cnn(data.words, dropout)
    if arch == "hier-lstm":
        return HierarchicalBiLSTM(words, char, n_tags, hidden_size, n_layer, dropout, crf, task_layers)
    if arch == "soft":
        return CrossStitchBiLSTM(words, char, n_tags, hidden_size, n_layer, dropout, crf)
    return CNNBiLSTM(words, char, n_tags, hidden_size, n_layer, dropout, crf)

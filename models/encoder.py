"""The encoder interface: what sparse sharing needs of a shared encoder E(x; M_t ⊙ θ_E) and its task heads.

A model is an `Encoder`: `encode` maps a batch of sentences (padded word ids of the processed vocabulary and their
lengths) to one vector per word, and the model adds dropout and the task's head (models.heads.TaskHeads). Beyond
that an encoder declares
- its prunable scope: `prunable_candidates` (a rule over module types and names), narrowed by the --need_cut name
  patterns, whose default is `NEED_CUT`; masks, IMP, Step 2 and Step 3 see only the names this gives;
- its rewind point: the weights it is built with (θ⁽⁰⁾ drawn from the seed, or pretrained weights), which Step 1
  saves before any training and rewinds the kept weights to;
- its defaults: `DEFAULTS`, the training flags whose default differs from the paper's CNN-BiLSTM recipe (e.g. a
  transformer's optimiser), applied to every flag the user does not give and recorded in config.json;
- which parameters take no weight decay (`no_weight_decay`), and what a run folder must hold to rebuild it
  (`save_snapshot`), beside the vocabularies utils.data.snapshot keeps;
- how words beyond its vocabulary get inputs when tagging new text (`add_words`);
- how it is built (`build`) and which --arch values it has (`ARCHITECTURES`: cnn-lstm, one shared encoder, for
  all; the BiLSTM also has hierarchical and cross-stitch sharing and the negative-transfer model).
models/__init__.py builds an encoder by name (--encoder, `register_encoder`); docs/extending.md adds one."""
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

DEFAULT_NEED_CUT = "lstm,conv"  # the original's --need_cut: the BiLSTM and the character CNN
SHARED = "cnn-lstm"  # the --arch every encoder has: one encoder shared by all tasks (hard and sparse sharing)


@dataclass(frozen=True)
class ModelSpec:
    """What a model is built from besides the data: the Model settings (utils.settings.groups.Model) and, for
    tests, the CNN-BiLSTM's word dropout and the hierarchical model's layer per task."""

    arch: str = SHARED
    hidden_size: int = 200
    n_layer: int = 1
    dropout: float = 0.5
    crf: bool = False
    pretrained: str | None = None
    subword_pooling: str = "first"
    word_dropout: float = 0.01
    task_layers: list[int] | None = None


class Encoder(nn.Module):
    """Base of every model: `encode` (per task, for encoders whose tasks read different layers) → dropout → the
    task's head. Subclasses set `self.dropout` and `self.heads` and implement `encode`."""

    DEFAULTS: ClassVar[dict[str, object]] = {}
    NEED_CUT: ClassVar[str] = DEFAULT_NEED_CUT
    ARCHITECTURES: ClassVar[tuple[str, ...]] = (SHARED,)
    heads: nn.Module
    dropout: nn.Module

    @classmethod
    def build(cls, data, spec: ModelSpec) -> "Encoder":
        """The model for the tasks of `data` (a utils.data.dataset.Dataset), its weights drawn from the global RNG
        (or pretrained)."""
        raise NotImplementedError

    def encode(self, task: int, words: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """One vector per word: [batch, length, features] for padded word ids [batch, length]."""
        raise NotImplementedError

    def forward(self, task: int, words: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """Emission scores [batch, length, tags] of `task`."""
        return self.heads(task, self.dropout(self.encode(task, words, seq_len)))

    def prunable_candidates(self) -> list[str]:
        """The weights --need_cut chooses among: every trainable weight that is not a bias (the paper's encoders
        leave the choice to the name patterns)."""
        return [name for name, param in self.named_parameters() if param.requires_grad and "bias" not in name]

    def no_weight_decay(self, name: str) -> bool:
        """Whether parameter `name` is left out of the optimiser's weight decay (default: none is)."""
        return False

    def save_snapshot(self, folder: str) -> None:
        """Write what rebuilding this encoder needs beyond the vocabularies and the weights into `folder` (a run's
        data snapshot being written); the paper's encoders need nothing more."""

    def add_words(self, words: list[str], rows: list[int]) -> None:
        """Give words beyond the vocabulary (their ids follow it, in order) the inputs of their word-vector `rows`
        (the row of their lowercased form, or the unknown word's) and of their own characters."""
        raise NotImplementedError(f"{type(self).__name__} cannot tag words beyond its vocabulary")

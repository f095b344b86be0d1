"""Task-specific layers: a linear tagger per task, optionally followed by a CRF on its log-softmax."""
import torch
import torch.nn.functional as F
from fastNLP.core.utils import seq_len_to_mask
from fastNLP.modules import ConditionalRandomField
from torch import nn


class TaskHeads(nn.Module):
    """One Xavier-initialised linear layer (zero bias) per task, plus one CRF per task with `crf=True`."""

    def __init__(self, in_features: int, n_tags: list[int], crf: bool = False) -> None:
        super().__init__()
        self.out = nn.ModuleList(nn.Linear(in_features, n) for n in n_tags)
        for layer in self.out:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.crf = nn.ModuleList(ConditionalRandomField(n) for n in n_tags) if crf else None

    def forward(self, task: int, features: torch.Tensor) -> torch.Tensor:
        return self.out[task](features)

    def loss(self, task: int, logits: torch.Tensor, tags: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """Token-averaged cross-entropy, or the batch-averaged CRF negative log-likelihood."""
        mask = seq_len_to_mask(seq_len, logits.size(1))
        if self.crf is not None:
            return self.crf[task](F.log_softmax(logits, dim=-1), tags, mask).mean()
        return F.cross_entropy(logits[mask], tags[mask])

    def decode(self, task: int, logits: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """Best tag sequence: Viterbi with a CRF, else the per-token argmax."""
        if self.crf is not None:
            mask = seq_len_to_mask(seq_len, logits.size(1))
            return self.crf[task].viterbi_decode(F.log_softmax(logits, dim=-1), mask)[0]
        return logits.argmax(dim=-1)

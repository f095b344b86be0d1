"""Parameter counts as the paper's "# Params" column counts them (REFERENCE §4): encoder parameters only. For an
encoder beyond the paper's BiLSTMs (a transformer) the count is over its prunable scope."""
from collections.abc import Mapping

import torch
from torch import nn

from utils.subnets.masks import Mask

# Encoder = the BiLSTM(s), the character CNN and, for soft sharing, the cross-stitch units; weights and biases.
ENCODER_PATTERNS = ("lstm", "conv", "stitch")


def encoder_params(weights: nn.Module | Mapping[str, torch.Tensor], masks: list[Mask] | None = None,
                   prunable: list[str] | None = None) -> int:
    """Encoder parameters of a model or a saved state dict; with masks, a masked weight counts only where some
    mask keeps it (‖∪ M_t‖₀), every other encoder parameter (biases) in full. When no tensor is a BiLSTM
    encoder's (ENCODER_PATTERNS), the count is over the prunable scope: `prunable`, else the masks' tensors."""
    tensors = dict(weights.named_parameters()) if isinstance(weights, nn.Module) else weights
    counted = [name for name in tensors if any(p in name for p in ENCODER_PATTERNS)]
    if not counted:
        counted = list(prunable or (masks[0] if masks else []))
    total = 0
    for name in counted:
        tensor = tensors[name]
        if masks and name in masks[0]:
            union = masks[0][name].clone()
            for mask in masks[1:]:
                union |= mask[name]
            total += int(union.sum())
        else:
            total += tensor.numel()
    return total

"""Parameter counts as the paper's "# Params" column counts them (REFERENCE §4): encoder parameters only."""
from collections.abc import Mapping

import torch
from torch import nn

from utils.subnets.masks import Mask

# Encoder = the BiLSTM(s), the character CNN and, for soft sharing, the cross-stitch units; weights and biases.
ENCODER_PATTERNS = ("lstm", "conv", "stitch")


def encoder_params(weights: nn.Module | Mapping[str, torch.Tensor], masks: list[Mask] | None = None) -> int:
    """Encoder parameters of a model or a saved state dict; with masks, a masked weight counts only where some
    mask keeps it (‖∪ M_t‖₀), every other encoder parameter (biases) in full."""
    tensors = dict(weights.named_parameters()) if isinstance(weights, nn.Module) else weights
    total = 0
    for name, tensor in tensors.items():
        if not any(p in name for p in ENCODER_PATTERNS):
            continue
        if masks and name in masks[0]:
            union = masks[0][name].clone()
            for mask in masks[1:]:
                union |= mask[name]
            total += int(union.sum())
        else:
            total += tensor.numel()
    return total

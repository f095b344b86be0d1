"""Parameter counts as the paper's "# Params" column counts them (REFERENCE §4): encoder parameters only."""
from torch import nn

from utils.masks import Mask

# Encoder = the BiLSTM(s), the character CNN and, for soft sharing, the cross-stitch units; weights and biases.
ENCODER_PATTERNS = ("lstm", "conv", "stitch")


def encoder_names(model: nn.Module) -> list[str]:
    return [n for n, _ in model.named_parameters() if any(p in n for p in ENCODER_PATTERNS)]


def encoder_params(model: nn.Module, masks: list[Mask] | None = None) -> int:
    """Encoder parameters of a model; with masks, a masked weight counts only where some mask keeps it
    (‖∪ M_t‖₀), every other encoder parameter (biases) in full."""
    total = 0
    for name in encoder_names(model):
        param = model.get_parameter(name)
        if masks and name in masks[0]:
            union = masks[0][name].clone()
            for mask in masks[1:]:
                union |= mask[name]
            total += int(union.sum())
        else:
            total += param.numel()
    return total

"""Subnet masks: one boolean tensor (True = kept) per prunable weight of the encoder, applied inside the
forward computation so that a pruned weight has no effect and receives exactly zero gradient."""
import weakref

import torch
from torch import nn
from torch.func import functional_call

from models.encoder import DEFAULT_NEED_CUT, Encoder
from utils.runs.checkpoint import atomic_save, load_tensors

Mask = dict[str, torch.Tensor]


def prunable_names(model: nn.Module, need_cut: str | None = None) -> list[str]:
    """The encoder's prunable candidates (models.encoder: for the BiLSTMs every weight, never a bias; for a
    transformer the Linear weights of its blocks) whose name contains one of the comma-separated patterns, by
    default the encoder's own (the BiLSTMs': the LSTM and the character CNN, as the original's --need_cut
    lstm,conv). Embeddings, heads and CRFs stay dense."""
    patterns = [p.strip() for p in (need_cut or getattr(model, "NEED_CUT", DEFAULT_NEED_CUT)).split(",") if p.strip()]
    candidates = model.prunable_candidates() if isinstance(model, Encoder) else \
        [n for n, p in model.named_parameters() if p.requires_grad and "bias" not in n]
    names = [n for n in candidates if any(pat in n for pat in patterns)]
    if not names:
        raise ValueError(f"--need_cut {need_cut!r} selects no weight of the model")
    return names


def full_mask(model: nn.Module, names: list[str]) -> Mask:
    """The dense subnet: every prunable weight kept."""
    return {n: torch.ones_like(model.get_parameter(n), dtype=torch.bool) for n in names}


def count_kept(mask: Mask) -> int:
    return sum(int(m.sum()) for m in mask.values())


def count_total(mask: Mask) -> int:
    return sum(m.numel() for m in mask.values())


def kept_fraction(mask: Mask) -> float:
    """‖M‖₀ / |θ|: the share of prunable weights a subnet keeps (the paper's "sparsity")."""
    return count_kept(mask) / count_total(mask)


_FACTORS: dict[int, tuple[weakref.ref, int, torch.Tensor]] = {}


def mask_factor(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The mask as 0/1 numbers of `dtype`, converted once per mask tensor (again if it was changed in place):
    multiplying by it gives exactly weight ⊙ mask, twice as fast as multiplying by the booleans."""
    key = id(mask)
    cached = _FACTORS.get(key)
    if cached is not None and cached[0]() is mask and cached[1] == mask._version and cached[2].dtype == dtype:
        return cached[2]
    for stale in [k for k, (ref, _, _) in _FACTORS.items() if ref() is None]:
        del _FACTORS[stale]
    with torch.inference_mode(False):  # a factor first made while evaluating must still serve training
        factor = mask.to(dtype)
    _FACTORS[key] = (weakref.ref(mask), mask._version, factor)
    return factor


def masked_weights(model: nn.Module, mask: Mask) -> dict[str, torch.Tensor]:
    """weight ⊙ mask for every masked weight, differentiable with respect to the stored parameters."""
    weights = {}
    for name, m in mask.items():
        param = model.get_parameter(name)
        weights[name] = param * mask_factor(m, param.dtype)
    return weights


def masked_forward(model: nn.Module, mask: Mask | None, *args, **kwargs):
    """Run `model(*args)` with each masked weight replaced by weight ⊙ mask, without touching the stored
    parameters: no state copy, and the gradient of a pruned entry is zero by construction. No model here ties
    weights, so functional_call's search for tied ones (most of its own cost) is skipped."""
    if mask is None:
        return model(*args, **kwargs)
    return functional_call(model, masked_weights(model, mask), args, kwargs, tie_weights=False)


def forward_with(model: nn.Module, weights: dict[str, torch.Tensor] | None, *args, **kwargs):
    """Run `model(*args)` with some weights replaced (e.g. masked_weights computed once for a whole evaluation)."""
    if weights is None:
        return model(*args, **kwargs)
    return functional_call(model, weights, args, kwargs, tie_weights=False)


@torch.no_grad()
def zero_pruned_(model: nn.Module, mask: Mask) -> None:
    """Zero the pruned entries of the stored parameters, so the model's plain forward equals its subnet."""
    for name, m in mask.items():
        model.get_parameter(name).mul_(m)


def to_device(mask: Mask, device: torch.device | str) -> Mask:
    return {n: m.to(device) for n, m in mask.items()}


def save_mask(path: str, mask: Mask, round_: int, task: str) -> None:
    """Write a round's mask with its round number, kept percentage and task (atomic)."""
    atomic_save({"mask": {n: m.cpu() for n, m in mask.items()}, "round": round_,
                 "kept": 100.0 * kept_fraction(mask), "task": task}, path)


def load_mask(path: str, model: nn.Module | None = None) -> dict:
    """Read a mask file; with a model, check that every tensor names a weight of the right shape."""
    record = load_tensors(path)
    if not isinstance(record, dict) or not isinstance(record.get("mask"), dict):
        raise ValueError(f"{path}: not a mask file (expected a dict with a 'mask' entry)")
    for name, m in record["mask"].items():
        if m.dtype != torch.bool:
            raise ValueError(f"{path}: mask tensor {name} is {m.dtype}, expected torch.bool")
    if model is not None:
        check_fits(model, record["mask"], path)
    return record


def check_fits(model: nn.Module, mask: Mask, where: str) -> None:
    """Every tensor of `mask` names a parameter of `model` of the same shape; else one line naming `where`."""
    for name, m in mask.items():
        try:
            param = model.get_parameter(name)
        except AttributeError:
            raise ValueError(f"{where}: mask tensor {name} names no parameter of the model") from None
        if param.shape != m.shape:
            raise ValueError(f"{where}: mask tensor {name} has shape {tuple(m.shape)}, the parameter "
                             f"{tuple(param.shape)}")


def overlap_ratio(masks: list[Mask]) -> float:
    """OR(M_1..M_T) = ‖∩ M_t‖₀ / ‖∪ M_t‖₀ over the prunable weights."""
    inter = union = 0
    for name in masks[0]:
        stacked = torch.stack([m[name] for m in masks])
        inter += int(stacked.all(dim=0).sum())
        union += int(stacked.any(dim=0).sum())
    return inter / union if union else 0.0

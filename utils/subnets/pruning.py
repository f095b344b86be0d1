"""Iterative magnitude pruning (Algorithm 1 of the paper): the kept-fraction schedule and one global prune."""
import torch

from utils.subnets.masks import Mask, count_kept, count_total


def pruning_rate(final_rate: float, pruning_iter: int) -> float:
    """α = 1 − final_rate^(1/pruning_iter): the share of the remaining weights removed each round."""
    if pruning_iter <= 0:
        return 0.0
    return 1.0 - final_rate ** (1.0 / pruning_iter)


def kept_schedule(final_rate: float, pruning_iter: int) -> list[float]:
    """Kept fraction of every round 0..pruning_iter: (1 − α)^r = final_rate^(r / pruning_iter)."""
    if not 0.0 < final_rate <= 1.0:
        raise ValueError(f"--final_rate {final_rate}: expected a fraction in (0, 1]")
    if pruning_iter < 0:
        raise ValueError(f"--pruning_iter {pruning_iter}: expected ≥ 0")
    if pruning_iter == 0:
        return [1.0]
    return [final_rate ** (r / pruning_iter) for r in range(pruning_iter + 1)]


def prune_global(weights: dict[str, torch.Tensor], mask: Mask, kept_target: float) -> Mask:
    """A new mask keeping round(kept_target · |θ|) weights: the largest magnitudes among those `mask` keeps,
    ranked together over all tensors (one global threshold). Pruned weights stay pruned (nested masks).
    Rounding against the total, not per round, keeps the schedule exact however many rounds run."""
    return keep_top({n: weights[n].detach().abs() for n in mask}, mask, kept_target)


def keep_top(scores: dict[str, torch.Tensor], mask: Mask, kept_target: float) -> Mask:
    """A new mask keeping the round(kept_target · |θ|) highest `scores` among the weights `mask` keeps, ranked
    together over all tensors (one global threshold); pruned weights stay pruned."""
    total = count_total(mask)
    n_keep = min(round(kept_target * total), count_kept(mask))
    names = list(mask)
    ranked = torch.cat([torch.where(mask[n], scores[n].detach().float(), -torch.inf).flatten() for n in names])
    keep = torch.zeros(total, dtype=torch.bool, device=ranked.device)
    keep[torch.topk(ranked, n_keep, sorted=False).indices] = True
    return {n: part.view_as(mask[n]) for n, part in zip(names, keep.split([mask[n].numel() for n in names]))}

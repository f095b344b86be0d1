"""--optim specs: PyTorch's fused optimisers by default, the textbook update, and the spec's own choice respected."""
import pytest
import torch

from utils.training import make_optimizer


def test_sgd_momentum_is_fused_and_makes_the_textbook_update() -> None:
    """buf₁ = g₁, w₁ = w₀ − lr·buf₁; buf₂ = 0.9·buf₁ + g₂, w₂ = w₁ − lr·buf₂ (dampening 0, no Nesterov)."""
    w = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    optimizer = make_optimizer("sgd(lr=0.1, momentum=0.9)", [w])
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.param_groups[0]["fused"] is True
    g1, g2 = torch.tensor([0.5, 1.0, -1.0]), torch.tensor([1.0, 0.0, 2.0])
    w.grad = g1.clone()
    optimizer.step()
    w.grad = g2.clone()
    optimizer.step()
    expected = torch.tensor([1.0, -2.0, 0.5]) - 0.1 * g1 - 0.1 * (0.9 * g1 + g2)
    assert torch.allclose(w.detach(), expected, atol=1e-6)


@pytest.mark.parametrize("spec, fused, foreach", [
    ("sgd(lr=0.1, fused=False)", False, None),
    ("adam(lr=0.001, foreach=True)", None, True),
    ("adamw(lr=0.001)", True, None),
])
def test_the_spec_chooses_the_implementation_when_it_names_one(spec, fused, foreach) -> None:
    group = make_optimizer(spec, [torch.zeros(2, requires_grad=True)]).param_groups[0]
    assert group["fused"] is fused and group["foreach"] is foreach

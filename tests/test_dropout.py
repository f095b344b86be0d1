"""The project's dropout behaves as nn.Dropout: keep probability, scaling, gradient, identity in evaluation."""
import torch

from models import get_model
from models.dropout import Dropout


def test_keeps_each_element_with_probability_one_minus_p_scaled() -> None:
    torch.manual_seed(0)
    x = torch.ones(200_000, requires_grad=True)
    y = Dropout(0.3)(x)
    kept = y != 0
    assert torch.allclose(y[kept], torch.tensor(1 / 0.7))
    # binomial(200000, 0.7): sd = 205 elements, so 4 sd is 0.0041 of the fraction
    assert abs(kept.float().mean().item() - 0.7) < 0.0041
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())


def test_identity_in_evaluation_and_at_zero_and_all_dropped_at_one() -> None:
    x = torch.randn(5, 4)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    assert torch.equal(Dropout(0.0)(x), x)
    assert torch.count_nonzero(Dropout(1.0)(x)) == 0


def test_every_dropout_of_the_model_is_the_project_one(tiny_data) -> None:
    for arch in ("cnn-lstm", "hier-lstm", "soft"):
        model = get_model(arch, tiny_data, 8, 2 if arch != "cnn-lstm" else 1)
        kinds = {type(module) for module in model.modules() if isinstance(module, torch.nn.Dropout)}
        assert kinds == {Dropout}, arch
        assert [name for name, module in model.named_modules() if isinstance(module, Dropout)][:2] == [
            "embedding.dropout", "char.dropout_layer"]


def test_a_training_forward_draws_four_dropout_masks(tiny_data, monkeypatch) -> None:
    """Word vectors, characters, char-CNN features and BiLSTM output: each goes through the project's dropout."""
    calls = []
    original = Dropout.forward
    monkeypatch.setattr(Dropout, "forward", lambda self, x: calls.append(tuple(x.shape)) or original(self, x))
    model = get_model("cnn-lstm", tiny_data, 8, 1).train()
    words = torch.tensor([[2, 3, 4], [3, 2, 0]])
    model(0, words, torch.tensor([3, 2]))
    assert len(calls) == 4
    lengths = model.char.word_lengths[torch.tensor([2, 3, 4, 3, 2])]
    assert calls[1] == (int(lengths.sum()) + 5, 30)  # the characters of the 5 real tokens and a slot after each
    assert calls[2] == (5, 30)  # the char-CNN features of the real tokens

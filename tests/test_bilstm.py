"""The unpacked BiLSTM gives what fastNLP's packed LSTM (the original's) gives, outputs and gradients."""
import pytest
import torch
from fastNLP.modules import LSTM

from models.bilstm import BiLSTM, reversal_index


def test_reversal_index_reverses_each_sentence_within_its_length() -> None:
    index = reversal_index(torch.tensor([3, 1, 4, 0]), 4)
    assert index.tolist() == [[2, 1, 0, 3], [0, 1, 2, 3], [3, 2, 1, 0], [0, 1, 2, 3]]


def twins(num_layers: int) -> tuple[BiLSTM, LSTM]:
    """The unpacked BiLSTM and fastNLP's packed LSTM, built from the same seed."""
    torch.manual_seed(0)
    ours = BiLSTM(5, 4, num_layers=num_layers)
    torch.manual_seed(0)
    return ours, LSTM(5, 4, num_layers=num_layers, bidirectional=True, batch_first=True)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_outputs_and_gradients_equal_the_packed_lstm(num_layers: int) -> None:
    ours, packed = twins(num_layers)
    assert list(ours.state_dict()) == list(packed.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), packed.state_dict().values()))
    seq_len = torch.tensor([3, 6, 1, 5, 4])  # padded to 7: no sentence fills the batch
    x = torch.randn(5, 7, 5)
    x_ours, x_packed = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ours, out_packed = ours(x_ours, seq_len)[0], packed(x_packed, seq_len)[0]
    assert out_ours.shape == (5, 7, 8)
    assert torch.allclose(out_ours, out_packed, atol=1e-6)
    assert torch.count_nonzero(out_ours[0, 3:]) == 0 and torch.count_nonzero(out_ours[2, 1:]) == 0
    weights = torch.randn(5, 7, 8)
    (out_ours * weights).sum().backward()
    (out_packed * weights).sum().backward()
    assert torch.allclose(x_ours.grad, x_packed.grad, atol=1e-6)
    for (name, a), b in zip(ours.named_parameters(), packed.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-5), name


def test_evaluation_equals_the_packed_lstm() -> None:
    ours, packed = twins(1)
    seq_len, x = torch.tensor([2, 4, 3]), torch.randn(3, 4, 5)
    with torch.inference_mode():
        assert torch.allclose(ours.eval()(x, seq_len)[0], packed.eval()(x, seq_len)[0], atol=1e-6)


def test_a_sentence_does_not_see_its_padding_or_its_batch() -> None:
    torch.manual_seed(1)
    lstm = BiLSTM(3, 4)
    sentence = torch.randn(1, 2, 3)
    alone = lstm(sentence, torch.tensor([2]))[0]
    padded = torch.cat([sentence, torch.randn(1, 3, 3)], dim=1)
    in_batch = lstm(torch.cat([padded, torch.randn(1, 5, 3)]), torch.tensor([2, 5]))[0]
    assert torch.allclose(in_batch[0, :2], alone[0], atol=1e-6)

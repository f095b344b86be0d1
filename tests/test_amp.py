"""--amp bf16: the training forward and backward under bfloat16 autocast, the weights, gradients and optimiser state
float32, masks still exact; off (the default) is the float32 step. Run on CPU here (CUDA is what it is for)."""
import copy

import pytest
import torch

import train_mtl
from tests.test_joint import batch_of, random_masks, tiny_model
from utils.training.task import make_optimizer, train_step


def step(model, mask, batch, amp: str) -> float:
    optimizer = make_optimizer("sgd(lr=0.1)", model.parameters())
    return train_step(model, mask, 0, batch, optimizer, amp=amp)


def test_bf16_steps_in_bfloat16_and_keeps_float32_weights(tiny_data):
    model = tiny_model(tiny_data)
    mask = random_masks(model, 1)[0]
    batch = batch_of(tiny_data, 0)
    before = copy.deepcopy(model.state_dict())
    fp32_model, bf16_model = copy.deepcopy(model), copy.deepcopy(model)
    torch.manual_seed(0)
    fp32 = step(fp32_model, mask, batch, "off")
    torch.manual_seed(0)
    bf16 = step(bf16_model, mask, batch, "bf16")
    assert bf16 == pytest.approx(fp32, rel=0.05) and bf16 != fp32      # the same step, in lower precision
    for name, param in bf16_model.named_parameters():
        assert param.dtype == torch.float32 and (param.grad is None or param.grad.dtype == torch.float32), name
        if name in mask:                                                # pruned weights are still untouched
            assert torch.equal(param.detach()[~mask[name]], before[name][~mask[name]]), name


def test_amp_is_a_setting_with_its_choices(capsys):
    assert train_mtl.parse_args([])[0].optimiser.amp == "off"
    assert train_mtl.parse_args(["--amp", "bf16"])[0].optimiser.amp == "bf16"
    with pytest.raises(SystemExit):
        train_mtl.parse_args(["--amp", "fp8"])
    assert "--amp" in capsys.readouterr().err

"""utils.subnets.masks on the real CNN-BiLSTM: which weights are prunable, that a mask inside the forward pass makes pruned
weights inert (zero gradient, unchanged by SGD with momentum, no effect on the output), overlap ratio, mask files."""
import copy

import pytest
import torch

from models import get_model
from utils.data.batching import collate
from utils.subnets.masks import (count_kept, count_total, full_mask, kept_fraction, load_mask, masked_forward,
                         masked_weights, overlap_ratio, prunable_names, save_mask, zero_pruned_)
from utils.training.task import train_step

LSTM_1 = ["lstm.lstm.weight_ih_l0", "lstm.lstm.weight_hh_l0",
          "lstm.lstm.weight_ih_l0_reverse", "lstm.lstm.weight_hh_l0_reverse"]
CONV = "char.convs.0.weight"
NER = 1  # task index of "ner" in the tiny corpus (pos first)


@pytest.fixture
def model(tiny_data):
    torch.manual_seed(0)
    return get_model("cnn-lstm", tiny_data, hidden_size=8, n_layer=1)


def random_mask(model, p_keep=0.5, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return {n: torch.rand(model.get_parameter(n).shape, generator=generator) < p_keep for n in prunable_names(model)}


def ner_batch(data):
    return collate(data.tasks[NER].splits["train"], [0, 1, 2], data.words.padding_idx, "cpu")


def test_prunable_names_are_lstm_and_char_conv_weights(model, tiny_data):
    assert sorted(prunable_names(model)) == sorted(LSTM_1 + [CONV])
    torch.manual_seed(0)
    two = get_model("cnn-lstm", tiny_data, hidden_size=8, n_layer=2)
    assert sorted(prunable_names(two)) == sorted(LSTM_1 + [n.replace("l0", "l1") for n in LSTM_1] + [CONV])


def test_full_mask_keeps_everything(model):
    mask = full_mask(model, prunable_names(model))
    # conv 30x30x3, per direction W_ih 32x40 (4*8 gates x (10 word + 30 char)) and W_hh 32x8
    assert count_total(mask) == count_kept(mask) == 2700 + 2 * (32 * 40 + 32 * 8)
    assert kept_fraction(mask) == 1.0


def test_pruned_weights_get_exactly_zero_gradient(model, tiny_data):
    mask = random_mask(model)
    batch = ner_batch(tiny_data)
    logits = masked_forward(model, mask, NER, batch.words, batch.seq_len)
    model.heads.loss(NER, logits, batch.tags, batch.seq_len).backward()
    for name, m in mask.items():
        grad = model.get_parameter(name).grad
        assert grad is not None, name
        assert torch.count_nonzero(grad[~m]) == 0, name
        assert torch.count_nonzero(grad[m]) > 0, name  # the kept weights do learn


def test_sgd_with_momentum_leaves_pruned_weights_untouched(model, tiny_data):
    mask = random_mask(model)
    before = {n: model.get_parameter(n).detach().clone() for n in mask}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(6):
        train_step(model, mask, NER, ner_batch(tiny_data), optimizer, clip_norm=5.0)
    for name, m in mask.items():
        after = model.get_parameter(name).detach()
        assert torch.equal(after[~m], before[name][~m]), name
        assert not torch.equal(after[m], before[name][m]), name


def test_pruned_raw_values_do_not_affect_masked_output(model, tiny_data):
    model.eval()
    mask = random_mask(model)
    batch = ner_batch(tiny_data)
    with torch.no_grad():
        reference = masked_forward(model, mask, NER, batch.words, batch.seq_len)
        for name, m in mask.items():
            param = model.get_parameter(name)
            param[~m] = torch.randn(int((~m).sum())) * 100.0
        assert torch.equal(masked_forward(model, mask, NER, batch.words, batch.seq_len), reference)
        # ...whereas the unmasked output does depend on them (the check above is not vacuous)
        assert not torch.allclose(model(NER, batch.words, batch.seq_len), reference)


def test_masked_forward_equals_forward_of_zeroed_copy(model, tiny_data):
    model.eval()
    mask = random_mask(model, p_keep=0.3, seed=5)
    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        for name, m in mask.items():
            zeroed.get_parameter(name)[~m] = 0.0
        for task in (0, 1):
            batch = collate(tiny_data.tasks[task].splits["train"], [0, 1, 2], tiny_data.words.padding_idx, "cpu")
            masked = masked_forward(model, mask, task, batch.words, batch.seq_len)
            plain = zeroed(task, batch.words, batch.seq_len)
            assert torch.equal(masked, plain)
            assert masked_forward(model, None, task, batch.words, batch.seq_len).shape == plain.shape


def test_zero_pruned_zeroes_exactly_the_pruned_entries(model):
    mask = random_mask(model)
    before = {n: model.get_parameter(n).detach().clone() for n in mask}
    zero_pruned_(model, mask)
    for name, m in mask.items():
        after = model.get_parameter(name).detach()
        assert torch.count_nonzero(after[~m]) == 0
        assert torch.equal(after[m], before[name][m])


def test_masked_weights_follow_a_mask_changed_in_place(model):
    """The 0/1 factor cached per mask tensor is rebuilt when the mask is edited in place, and takes the weight's
    dtype: weight ⊙ mask is always the current mask's."""
    mask = random_mask(model)
    name = LSTM_1[0]
    param = model.get_parameter(name).detach()
    assert torch.equal(masked_weights(model, mask)[name], param * mask[name])
    mask[name].logical_not_()
    assert torch.equal(masked_weights(model, mask)[name], param * mask[name])
    narrow = copy.deepcopy(model).to(torch.bfloat16)  # a float32 factor would promote the product to float32
    assert masked_weights(narrow, mask)[name].dtype == torch.bfloat16
    assert masked_weights(model, mask)[name].dtype == torch.float32


def test_overlap_ratio_hand_computed():
    m1 = {"a": torch.tensor([True, True, False, False]), "b": torch.tensor([[True, False], [True, True]])}
    m2 = {"a": torch.tensor([True, False, True, False]), "b": torch.tensor([[True, True], [False, True]])}
    m3 = {"a": torch.tensor([True, True, True, True]), "b": torch.tensor([[False, False], [False, True]])}
    # m1 ∩ m2: a 1, b 2 -> 3;  m1 ∪ m2: a 3, b 4 -> 7
    assert overlap_ratio([m1, m2]) == pytest.approx(3 / 7)
    # m1 ∩ m2 ∩ m3: a [T,F,F,F] 1, b [[F,F],[F,T]] 1 -> 2;  union: a 4, b 4 -> 8
    assert overlap_ratio([m1, m2, m3]) == pytest.approx(2 / 8)
    assert overlap_ratio([m1, m1]) == 1.0
    disjoint = {n: ~m for n, m in m1.items()}
    assert overlap_ratio([m1, disjoint]) == 0.0


def test_save_and_load_mask_round_trip(model, tmp_path):
    names = prunable_names(model)
    mask = {n: torch.zeros_like(model.get_parameter(n), dtype=torch.bool) for n in names}
    mask[CONV][0, 0, :] = True      # 3 kept
    mask[LSTM_1[1]][5, :] = True    # 8 kept
    path = str(tmp_path / "3_0.19.th")
    save_mask(path, mask, 3, "ner")
    record = load_mask(path, model)
    assert record["round"] == 3 and record["task"] == "ner"
    assert record["kept"] == pytest.approx(100.0 * 11 / 5772)  # True = kept
    assert set(record["mask"]) == set(names)
    for name in names:
        assert record["mask"][name].dtype == torch.bool
        assert torch.equal(record["mask"][name], mask[name])
    assert load_mask(path)["round"] == 3  # without a model: no shape check, same record


def write_mask_file(path, mask):
    torch.save({"mask": mask, "round": 0, "kept": 100.0, "task": "pos"}, path)


def test_load_mask_rejects_wrong_dtype(model, tmp_path):
    mask = full_mask(model, prunable_names(model))
    mask[CONV] = mask[CONV].to(torch.uint8)
    path = str(tmp_path / "dtype.th")
    write_mask_file(path, mask)
    with pytest.raises(ValueError) as error:
        load_mask(path, model)
    assert path in str(error.value) and CONV in str(error.value)


def test_load_mask_rejects_wrong_shape(model, tmp_path):
    mask = full_mask(model, prunable_names(model))
    mask[LSTM_1[0]] = torch.ones(32, 41, dtype=torch.bool)
    path = str(tmp_path / "shape.th")
    write_mask_file(path, mask)
    with pytest.raises(ValueError) as error:
        load_mask(path, model)
    assert path in str(error.value) and LSTM_1[0] in str(error.value)


def test_load_mask_rejects_unknown_tensor_name(model, tmp_path):
    mask = full_mask(model, prunable_names(model))
    mask["lstm.lstm.weight_ih_l7"] = torch.ones(32, 40, dtype=torch.bool)
    path = str(tmp_path / "name.th")
    write_mask_file(path, mask)
    with pytest.raises(ValueError) as error:
        load_mask(path, model)
    assert path in str(error.value) and "lstm.lstm.weight_ih_l7" in str(error.value)


def test_load_mask_rejects_a_file_without_mask(tmp_path):
    path = str(tmp_path / "weights.th")
    torch.save({"lstm.lstm.weight_ih_l0": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a mask file"):
        load_mask(path)


@pytest.mark.parametrize("arch", ["cnn-lstm", "hier-lstm", "soft"])
def test_no_architecture_ties_weights(arch, tiny_data):
    """masked_forward skips functional_call's search for tied weights: a mask naming one alias of a tied weight
    would leave the other unmasked."""
    model = get_model(arch, tiny_data, 8, 2, crf=True)
    assert len(list(model.named_parameters(remove_duplicate=False))) == len(list(model.named_parameters()))


def test_a_mask_first_used_in_evaluation_still_trains(tiny_data):
    """A task that drew no training step before the first evaluation (a small epoch under proportional sampling):
    its mask's cached factor was made in inference mode and must still work in a training step."""
    from utils.training.task import evaluate, make_optimizer, train_step
    model = get_model("cnn-lstm", tiny_data, hidden_size=8)
    mask = {n: torch.rand(model.get_parameter(n).shape) < 0.5 for n in prunable_names(model)}
    evaluate(model, mask, NER, tiny_data.tasks[NER], "dev", 4, "cpu", tiny_data.words.padding_idx)
    loss = train_step(model, mask, NER, ner_batch(tiny_data), make_optimizer("sgd(lr=0.1)", model.parameters()))
    assert loss == loss

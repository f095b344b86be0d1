"""--optimizer_scope of joint training: `task` (default) gives every task its own optimiser, so the momentum of
task B's optimiser holds only B's gradients and never moves a weight outside M_B; `shared` is the original code's
single optimiser over all parameters, whose momentum from task A's step moves weights outside M_B in B's step."""
import json

import pytest
import torch

import train_mtl
import utils.training.joint
from tests.test_joint import OPTIM, random_masks, snapshot, tiny_model
from utils.training.joint import JointTask, train_joint
from utils.training.task import train_step


def recorded_steps(tiny_data, monkeypatch, scope: str) -> tuple[list, list]:
    """train_joint on the two tiny tasks (round-robin, so A and B alternate) with half masks; per step the task,
    the optimiser used and the parameters before and after it."""
    model = tiny_model(tiny_data)
    masks = random_masks(model, 2)
    steps = []

    def recording(model_, mask, task, batch, optimizer, **kwargs):
        before = snapshot(model_)
        loss = train_step(model_, mask, task, batch, optimizer, **kwargs)
        steps.append((task, id(optimizer), before, snapshot(model_)))
        return loss

    monkeypatch.setattr(utils.training.joint, "train_step", recording)
    tasks = [JointTask(i, tiny_data.tasks[i], masks[i]) for i in range(2)]
    train_joint(model, tasks, epochs=1, batch_size=2, optim=OPTIM, scheduler="fix", sampling="round-robin",
                device="cpu", pad_index=tiny_data.words.padding_idx, generator=torch.Generator().manual_seed(0),
                on_best=lambda epoch: None, optimizer_scope=scope)
    return steps, masks


def moved_outside(step, masks) -> int:
    """How many weights outside the stepping task's mask the step changed."""
    task, _, before, after = step
    return sum(int((before[n][~m] != after[n][~m]).sum()) for n, m in masks[task].items())


def test_task_scope_never_moves_weights_outside_the_mask(tiny_data, monkeypatch):
    steps, masks = recorded_steps(tiny_data, monkeypatch, "task")
    assert {s[0] for s in steps[:2]} == {0, 1} and len(steps) == 4
    assert all(moved_outside(step, masks) == 0 for step in steps)
    assert len({s[1] for s in steps}) == 2


def test_shared_scope_moves_weights_outside_the_mask_through_momentum(tiny_data, monkeypatch):
    """A's step fills the shared momentum over M_A; B's next step (gradient zero outside M_B) still moves the
    weights in M_A outside M_B, by exactly lr·momentum·buffer (SGD: buf ← 0.9·buf + 0, w ← w − 0.1·buf)."""
    steps, masks = recorded_steps(tiny_data, monkeypatch, "shared")
    assert len({s[1] for s in steps}) == 1
    first, second = steps[0], steps[1]
    a, b = first[0], second[0]
    assert a != b  # round-robin: the first round is one batch of each task
    assert moved_outside(first, masks) == 0  # the first step: momentum holds only A's own gradient
    assert moved_outside(second, masks) > 0
    for name, keep_b in masks[b].items():
        only_a = masks[a][name] & ~keep_b
        step_a = first[2][name] - first[3][name]  # = lr · buf after A's step (buf = grad of A)
        step_b = second[2][name] - second[3][name]
        assert only_a.any() and torch.allclose(step_b[only_a], 0.9 * step_a[only_a], rtol=1e-3, atol=1e-7)
        neither = ~(masks[a][name] | keep_b)
        assert torch.equal(step_b[neither], torch.zeros_like(step_b[neither]))


def test_unknown_scope_is_refused(tiny_data):
    model = tiny_model(tiny_data)
    tasks = [JointTask(0, tiny_data.tasks[0], None)]
    with pytest.raises(ValueError, match="--optimizer_scope 'global'"):
        train_joint(model, tasks, epochs=1, batch_size=2, optim=OPTIM, scheduler="fix", sampling="round-robin",
                    device="cpu", pad_index=tiny_data.words.padding_idx, generator=torch.Generator().manual_seed(0),
                    on_best=lambda epoch: None, optimizer_scope="global")


@pytest.fixture
def tiny_processed(tiny_data, tmp_path):
    directory = tmp_path / "tiny"
    tiny_data.save(str(directory))
    return directory


def test_the_flag_reaches_training_and_config(tiny_processed, tmp_path, monkeypatch, capsys):
    """train_mtl.py: default `task`; `--optimizer_scope shared` is passed to train_joint and recorded in
    config.json's optimiser group; a resume with the other scope is refused naming the flag; a bad value exits 2."""
    assert train_mtl.parse_args([])[0].optimiser.optimizer_scope == "task"
    seen = []
    real = train_mtl.train_joint
    monkeypatch.setattr(train_mtl, "train_joint", lambda *a, **k: (seen.append(k["optimizer_scope"]), real(*a, **k))[1])
    argv = ["--data_path", str(tiny_processed), "--save_dir", str(tmp_path / "mtl"), "--exp_name", "s", "--epochs",
            "1", "--hidden_size", "8", "--batch_size", "2", "--device", "cpu"]
    train_mtl.main(argv + ["--optimizer_scope", "shared"])
    assert seen == ["shared"]
    config = json.loads((tmp_path / "mtl" / "s" / "config.json").read_text())
    assert config["optimiser"]["optimizer_scope"] == "shared"
    capsys.readouterr()
    with pytest.raises(SystemExit):
        train_mtl.main(argv + ["--resume"])
    assert "--optimizer_scope 'task' differs from 'shared'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        train_mtl.parse_args(["--optimizer_scope", "global"])
    assert info.value.code == 2 and "--optimizer_scope" in capsys.readouterr().err

"""One training loop: Step 1's training of a task is a joint run of that one task (utils.training.joint), one pass
over freshly drawn batches per epoch; a Step 1 state saved before that (its own optimiser, LR scheduler and scalar
dev history) still resumes to the uninterrupted result; one pass per epoch is refused for several tasks."""
import copy

import pytest
import torch

from models import get_model
from utils.training.joint import PASSES, JointTask, train_joint, train_task

OPTIM = "sgd(lr=0.1, momentum=0.9)"


def run(tiny_data, epochs: int, state=None, checkpoint=None):
    torch.manual_seed(0)
    model = get_model("cnn-lstm", tiny_data, hidden_size=8)
    result = train_task(model, None, 1, tiny_data.tasks[1], epochs=epochs, batch_size=2, optim=OPTIM, device="cpu",
                        pad_index=tiny_data.words.padding_idx, generator=torch.Generator().manual_seed(0),
                        state=state, checkpoint=checkpoint)
    return model, result


def as_saved_before(training: dict, task: str) -> dict:
    """The state Step 1 saved before it was a joint run: one optimiser, its LambdaLR's state, scalar dev scores."""
    history = [{"epoch": h["epoch"], "dev": h["dev"][task], "loss": h["loss"], "seconds": h["seconds"]}
               for h in training["history"]]
    epoch = training["epoch"]
    return {"epoch": epoch, "model": training["model"], "optimizer": training["optimizers"][0],
            "scheduler": {"last_epoch": epoch, "base_lrs": [0.1]}, "best_state": training["best_state"],
            "best_dev": training["best_dev"][task], "best_epoch": training["best_epoch"], "history": history,
            "seconds": training["seconds"], "rng": training["rng"]}


def test_an_old_step1_state_resumes_to_the_uninterrupted_result(tiny_data):
    saved = []
    run(tiny_data, 3, checkpoint=lambda training: saved.append(copy.deepcopy(training)))  # as written to disk
    model, resumed = run(tiny_data, 3, state=as_saved_before(saved[0], tiny_data.tasks[1].name))
    reference, uninterrupted = run(tiny_data, 3)
    assert [h["dev"] for h in resumed.history] == [h["dev"] for h in uninterrupted.history]
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in uninterrupted.history]
    assert all(torch.equal(resumed.best_state[k], uninterrupted.best_state[k]) for k in uninterrupted.best_state)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))


def test_one_pass_per_epoch_is_for_one_task(tiny_data):
    model = get_model("cnn-lstm", tiny_data, hidden_size=8)
    tasks = [JointTask(i, task, None) for i, task in enumerate(tiny_data.tasks)]
    with pytest.raises(ValueError, match="one task"):
        train_joint(model, tasks, epochs=1, batch_size=2, optim=OPTIM, scheduler="fix", sampling=PASSES,
                    device="cpu", pad_index=tiny_data.words.padding_idx, generator=torch.Generator(),
                    on_best=lambda epoch: None)


def test_step1_batches_are_composed_as_asked_from_the_first_epoch(tiny_data, monkeypatch):
    """"batch 10 drawn by length buckets" in every round's every epoch: Step 1 as a joint run of one task never takes
    joint training's random first batches (the original's loaders), it draws `batching` afresh each epoch."""
    import utils.training.joint

    drawn = []
    real = utils.training.joint.epoch_batches

    def recording(batching, *args):
        drawn.append(batching)
        return real(batching, *args)

    monkeypatch.setattr(utils.training.joint, "epoch_batches", recording)
    run(tiny_data, 3)
    assert drawn == ["original"] * 3

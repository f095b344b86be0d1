"""Atomic writes and safe loads of tensors, state dicts and masks (never unpickling arbitrary objects)."""
import json
import os
import shutil
import tempfile

import torch

TEMP_PREFIX, TEMP_SUFFIX = ".tmp-", ".th"  # atomic_save's temporary files, renamed once written


def umask_mode(mode: int = 0o666) -> int:
    """`mode` as the user's umask leaves it for a new file (mkstemp's files are 0600 whatever the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def atomic_save(obj: object, path: str) -> None:
    """torch.save to a temporary file in the same folder, then rename: a reader never sees a partial file.
    The file gets the permissions an ordinary new file would get under the user's umask."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def link_or_copy(source: str, path: str) -> None:
    """Put `source`'s content at `path` (replaced atomically): a hard link where the file system allows, so a
    transformer's 90 MB rewind point is stored once however many run folders hold it, else a copy. Only for
    files this project replaces by rename and never rewrites in place (weights: atomic_save); a mask file, which
    a user may torch.save over, is copied (shutil.copyfile)."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    os.close(fd)
    os.remove(tmp)
    try:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):  # rename() does nothing when both names are links to one file already
            os.remove(tmp)


def save_state(state: dict[str, torch.Tensor], path: str) -> None:
    """Write a state dict (or any name -> tensor dict) as CPU tensors, atomically."""
    atomic_save({k: v.detach().cpu() for k, v in state.items()}, path)


def load_tensors(path: str) -> dict:
    """Load a file written by `atomic_save` with weights_only=True; a clear error if it is missing or foreign."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a tensor checkpoint this project can read safely ({type(error).__name__})") from None


def load_weights(model: torch.nn.Module, path: str) -> None:
    """Load a state dict saved by this project into `model`; a missing, extra or mis-shaped tensor is an error
    naming the file and the tensor."""
    state = load_tensors(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in state:
            raise ValueError(f"{path}: tensor {name} is missing (was it saved by another --arch/--crf/data set?)")
        if state[name].shape != tensor.shape:
            raise ValueError(f"{path}: tensor {name} has shape {tuple(state[name].shape)}, the model "
                             f"{tuple(tensor.shape)} (different data set or --hidden_size/--n_layer?)")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise ValueError(f"{path}: tensor {extra[0]} is not part of the model")
    model.load_state_dict(state)


def write_jsonl(path: str, records: list[dict]) -> None:
    """Replace a JSON-lines file with `records`, through a temporary file and a rename."""
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(record) + "\n" for record in records)
    os.replace(path + ".tmp", path)

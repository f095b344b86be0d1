"""Reading the report's inputs and writing its outputs. Every JSON file a run holds is read through `read_json`
(one error naming the file when it is not JSON), every field the report uses through `field` (one error naming the
file, the line of a JSON-lines file, and the field, when it is missing or of the wrong type), so that a damaged
run is one line and never a traceback. Every file the report writes is written whole or not at all (a temporary
file in the same folder, then a rename)."""
import json
import os
import tempfile
from collections.abc import Callable

from utils.runs.checkpoint import umask_mode
from utils.training.metricslog import numbered_records

NUMBER = (int, float)


def read_json(path: str) -> object:
    """A JSON file, or a one-line ValueError naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None


def read_object(path: str) -> dict:
    """A JSON file holding an object."""
    value = read_json(path)
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def read_lines(path: str) -> list[tuple[str, dict]]:
    """The records of a JSON-lines file, each with its "path:line" for error messages."""
    out = []
    for number, record in numbered_records(path):
        where = f"{path}:{number}"
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected a JSON object, found {type(record).__name__}")
        out.append((where, record))
    return out


def field(where: str, record: dict, key: str, kinds: type | tuple[type, ...], required: bool = True):
    """record[key], checked to be of `kinds` (a bool is no number); None when absent or null and not required."""
    allowed = kinds if isinstance(kinds, tuple) else (kinds,)
    value = record.get(key)
    if value is None and not required:
        return None
    if key not in record:
        raise ValueError(f"{where}: no {key!r} field")
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        raise ValueError(f"{where}: {key!r} is {json.dumps(value)[:40]}, expected {kind_names(allowed)}")
    return value


def kind_names(kinds: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", dict: "an object", list: "a list"}
    return "a number" if set(kinds) == set(NUMBER) else " or ".join(names.get(k, k.__name__) for k in kinds)


def write_atomic(path: str, write: Callable[[str], None]) -> None:
    """Call write(temporary path), then rename the file to `path`; nothing is left behind when write fails."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_text(path: str, text: str) -> None:
    """Replace `path` with `text` (UTF-8), atomically."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    write_atomic(path, write)

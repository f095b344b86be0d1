"""What the scripts share: the help formatter, data loading, seeding, JSON files, one-line errors."""
import argparse
import json
import os
import random
import sys
from typing import TYPE_CHECKING

import numpy as np
import torch

from utils.data.dataset import Dataset

if TYPE_CHECKING:  # utils.settings reads JSON with this module
    from models.encoder import Encoder
    from utils.settings.groups import Data, Model


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """-h with each flag's default, except where there is none to show (None, or off for a switch) or the help
    text names it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or "(default:" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def load_data(settings: "Data") -> Dataset:
    """The processed data set of --data_path cut to the budget flags; a clear error if it cannot be read."""
    try:
        data = Dataset.load(settings.data_path)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    data.limit(settings.train_limit, settings.eval_limit)
    return data


def build_model(spec: "Model | dict", data: Dataset) -> "Encoder":
    """The model of a run's Model settings (a dataclass, or a finished run's settings by name), its weights drawn
    from the global RNG (a transformer: its pretrained weights); a model that cannot be built exits with its
    one-line error."""
    from models import get_model
    get = spec.get if isinstance(spec, dict) else lambda key, default=None: getattr(spec, key, default)
    try:
        return get_model(get("arch"), data, get("hidden_size"), get("n_layer"), get("dropout"), get("crf"),
                         encoder=get("encoder", "bilstm"), pretrained=get("pretrained"),
                         subword_pooling=get("subword_pooling", "first"))
    except ValueError as error:
        fail(str(error))


def set_seed(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator for batch order."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def read_json(path: str) -> dict:
    """A JSON object from a file; a clear error naming the file when it is missing or not JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return obj


def write_json(path: str, obj: object) -> None:
    """Write JSON through a temporary file and a rename."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def fail(message: str) -> None:
    """Print one line to stderr and exit with status 1."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)

"""What the training scripts share: model and budget flags, seeding, device choice, logging."""
import argparse
import json
import os
import random
import sys

import numpy as np
import torch

from models import ARCHITECTURES
from utils.batching import BATCHINGS
from utils.dataset import Dataset


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """-h with each flag's default, except where there is none to show (None, or off for a switch) or the help
    text names it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or "(default:" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """Flags of the base network and of optimisation, with the paper's defaults. Sets the parser's help formatter
    to HelpFormatter, so that -h shows no '(default: None)'."""
    parser.formatter_class = HelpFormatter
    parser.add_argument("--data_path", default="data/processed/conll03", help="processed data folder from prepare-data.py (default: %(default)s)")
    parser.add_argument("--arch", default="cnn-lstm", choices=ARCHITECTURES, help="architecture (default: %(default)s)")
    parser.add_argument("--hidden_size", type=int, default=200, help="BiLSTM hidden size per direction (default: %(default)s)")
    parser.add_argument("--n_layer", type=int, default=1, help="BiLSTM layers; the paper's CoNLL-2003 counts imply 1 (default: %(default)s)")
    parser.add_argument("--dropout", type=float, default=0.5, help="dropout on embeddings and BiLSTM output (default: %(default)s)")
    parser.add_argument("--crf", action="store_true", help="a CRF on top of each task's linear layer")
    parser.add_argument("--epochs", type=int, default=100, help="training epochs (per round in Step 1) (default: %(default)s)")
    parser.add_argument("--batch_size", type=int, default=10, help="sentences per batch (default: %(default)s)")
    parser.add_argument("--batching", default="original", choices=BATCHINGS, help="batch composition: original (the original code's bucket sampler, re-cut into groups; random batches in joint training's first epoch), bucket (clean length buckets) or random (default: %(default)s)")
    parser.add_argument("--optim", default="sgd(lr=0.1, momentum=0.9)", help="optimiser as NAME(key=value,...), NAME in sgd, adam, adamw (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=2019, help="random seed: same seed, same initial weights θ(0) (default: %(default)s)")
    parser.add_argument("--init_weights", default=None, help="state dict to start from and rewind to (e.g. a multi-task warmup's best.th)")
    parser.add_argument("--save_dir", default="exp/conll03/single", help="output root (default: %(default)s)")
    parser.add_argument("--exp_name", default=None, help="name of this run's folder under the output root")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device (default: %(default)s)")
    parser.add_argument("--train_limit", type=int, default=None, help="budget: use only the first N training sentences of each task")
    parser.add_argument("--eval_limit", type=int, default=None, help="budget: use only the first N dev and test sentences of each task")


def load_data(args: argparse.Namespace) -> Dataset:
    """The processed data set of --data_path cut to the budget flags; a clear error if it cannot be read."""
    try:
        data = Dataset.load(args.data_path)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    data.limit(args.train_limit, args.eval_limit)
    return data


def set_seed(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator for batch order."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def check_optim(parser: argparse.ArgumentParser, spec: str) -> None:
    """Exit with a one-line error naming --optim when the optimiser spec cannot build an optimiser."""
    from utils.training import make_optimizer

    try:
        make_optimizer(spec, [torch.zeros(1, requires_grad=True)])
    except (ValueError, TypeError) as error:
        parser.error(str(error) if str(error).startswith("--optim") else f"--optim {spec!r}: {error}")


def check_device_and_dropout(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with a one-line error naming --device or --dropout when torch could not use them."""
    try:
        device = torch.device(args.device)
    except RuntimeError as error:
        parser.error(f"--device {args.device!r}: {error}")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: this torch has no CUDA device (use --device cpu)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        parser.error(f"--device {args.device}: only {torch.cuda.device_count()} CUDA device(s) here")
    if not 0.0 <= args.dropout < 1.0:
        parser.error(f"--dropout must be in [0, 1), got {args.dropout}")


def check_positive(parser: argparse.ArgumentParser, args: argparse.Namespace, *names: str) -> None:
    """Exit with a one-line error naming the flag when a count flag is not positive."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name} must be positive, got {value}")


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

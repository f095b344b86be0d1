"""The rules a setting obeys, each a one-line message naming its flag when broken (None when the value is fine)."""
import torch


def _optim(name: str, spec: object) -> str | None:
    from utils.training.task import make_optimizer  # utils.training.task takes its defaults from the settings

    try:
        make_optimizer(spec, [torch.zeros(1, requires_grad=True)])
    except (ValueError, TypeError) as error:
        return str(error) if str(error).startswith(f"--{name}") else f"--{name} {spec!r}: {error}"
    return None


def _device(name: str, spec: str) -> str | None:
    try:
        device = torch.device(spec)
    except RuntimeError as error:
        return f"--{name} {spec!r}: {error}"
    if device.type == "cuda" and not torch.cuda.is_available():
        return f"--{name} {spec}: this torch has no CUDA device (use --{name} cpu)"
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        return f"--{name} {spec}: only {torch.cuda.device_count()} CUDA device(s) here"
    return None


RULES = {
    "positive": lambda name, value: None if value is None or value > 0 else f"--{name} must be positive, got {value}",
    "non_negative": lambda name, value: None if value >= 0 else f"--{name} must be ≥ 0, got {value}",
    "off_or_positive": lambda name, value: None if value >= 0 else f"--{name} must be ≥ 0 (0: off), got {value}",
    "dropout": lambda name, value: None if 0.0 <= value < 1.0 else f"--{name} must be in [0, 1), got {value}",
    "fraction": lambda name, value: None if 0.0 <= value < 1.0 else f"--{name} must be in [0, 1), got {value}",
    "rate": lambda name, value: None if 0.0 < value <= 1.0 else f"--{name} must be in (0, 1], got {value}",
    "optim": _optim,
    "device": _device,
}


def broken_rule(name: str, value: object, rule: str | None) -> str | None:
    """The message of the rule `value` of flag `name` breaks, or None."""
    return None if rule is None else RULES[rule](name, value)

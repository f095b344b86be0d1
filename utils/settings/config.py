"""A run's settings as config.json holds them ({"data": {...}, "model": {...}, "optimiser": {...}, "pruning" or
"joint": {...}}), read back from that grouped form or from the flat one written before groups existed, and what
makes two runs "the same settings": every field of every group equal (per-invocation options never count)."""
import dataclasses
import os

from utils.runs.layout import CONFIG
from utils.runtime import read_json
from utils.settings.checks import broken_rule
from utils.settings.groups import JointSettings, Step1Settings

Settings = Step1Settings | JointSettings
KINDS = {"pruning": Step1Settings, "joint": JointSettings}  # the group that tells a run's kind


def to_config(settings: Settings) -> dict:
    """The grouped form written to config.json."""
    return {group.name: dataclasses.asdict(getattr(settings, group.name)) for group in dataclasses.fields(settings)}


def flat(settings: Settings) -> dict:
    """Every setting by its flag name (without the dashes)."""
    return {name: value for group in to_config(settings).values() for name, value in group.items()}


def field_type(spec: dataclasses.Field) -> type:
    return spec.metadata["type"] or type(spec.default)


def _value(path: str, where: str, spec: dataclasses.Field, value: object) -> object:
    """`value` as the field's type; ValueError naming the file and key when it is not one, or breaks its rule."""
    kind = field_type(spec)
    if value is None and spec.default is None:
        return None
    fits = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, fits = float(value), True
    if not fits:
        raise ValueError(f"{path}: {where} {value!r}: expected {kind.__name__}")
    message = broken_rule(spec.name, value, spec.metadata["check"]) if spec.metadata["check"] != "device" else None
    if message:
        raise ValueError(f"{path}: {message}")
    return value


def _group(path: str, cls: type, name: str, values: dict, strict: bool) -> object:
    if not isinstance(values, dict):
        raise ValueError(f"{path}: {name!r} must be a JSON object")
    specs = {spec.name: spec for spec in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(specs)) if strict else []
    if unknown:
        raise ValueError(f"{path}: {name}.{unknown[0]} is no setting of a {name} group")
    return cls(**{key: _value(path, f"{name}.{key}" if strict else key, spec, values[key])
                  for key, spec in specs.items() if key in values})


def settings_from_config(config: dict, path: str = CONFIG) -> Settings:
    """The settings of a run from its config.json, grouped or flat (missing keys: today's defaults, which are what
    those runs computed with); ValueError naming `path` and the key for anything that is not a setting's value."""
    grouped = [key for key in KINDS if isinstance(config.get(key), dict)]
    if grouped:
        cls = KINDS[grouped[0]]
        return cls(**{g.name: _group(path, g.type, g.name, config.get(g.name, {}), True)
                      for g in dataclasses.fields(cls)})
    cls = Step1Settings if "pruning_iter" in config else JointSettings
    return cls(**{g.name: _group(path, g.type, g.name, config, False) for g in dataclasses.fields(cls)})


def load_settings(run_dir: str) -> Settings:
    """The settings of the run in `run_dir` (its config.json)."""
    path = os.path.join(run_dir, CONFIG)
    return settings_from_config(read_json(path), path)


def first_difference(saved: Settings, current: Settings) -> tuple[str, object, object] | None:
    """(flag name, saved value, current value) of the first setting in which two runs differ, None when they have
    the same settings; a Step 1 run and a joint run differ in ("kind", "step1", "joint")."""
    if type(saved) is not type(current):
        return "kind", saved.KIND, current.KIND
    mine, theirs = flat(saved), flat(current)
    return next(((name, mine[name], theirs[name]) for name in mine if mine[name] != theirs[name]), None)


def same_settings(a: Settings, b: Settings) -> bool:
    """Whether two runs have the same settings (so one may resume, or stand in for, the other)."""
    return first_difference(a, b) is None


def check_same_settings(path: str, saved: Settings, current: Settings) -> None:
    """A run resumes only with the settings it started with: ValueError naming the first differing flag."""
    difference = first_difference(saved, current)
    if difference:
        name, was, now = difference
        raise ValueError(f"--{name} {now!r} differs from {was!r} in {path}: resume with the run's own settings, or "
                         f"start a new run elsewhere (run_*.sh: another EXP_DIR or NAME, or OVERWRITE=1)")

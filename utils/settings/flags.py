"""The training scripts' command lines, generated from the setting groups: one flag per field, with its default,
help and rule, the default being the encoder's own where it declares one (models.encoder.Encoder.DEFAULTS);
parsing gives the run's settings and the invocation's options apart."""
import argparse
import dataclasses
import time

from models import encoder_defaults
from utils.runtime import HelpFormatter
from utils.training.sampling import TRAINER_SAMPLING
from utils.settings.checks import broken_rule
from utils.settings.config import Settings, field_type
from utils.settings.groups import Joint, JointOptions, JointSettings, Options, Step1Options, Step1Settings

OPTIONS = {Step1Settings: Step1Options, JointSettings: JointOptions}
RUN_NAME_FORMAT = "run-%Y%m%d-%H%M%S"  # a joint run's folder when --exp_name is not given


def _add_fields(parser: argparse.ArgumentParser, title: str, cls: type) -> argparse._ArgumentGroup:
    group = parser.add_argument_group(title)
    for spec in dataclasses.fields(cls):
        meta = spec.metadata
        if field_type(spec) is bool:
            group.add_argument(f"--{spec.name}", action="store_true", help=meta["help"])
        else:
            group.add_argument(f"--{spec.name}", type=field_type(spec), default=spec.default,
                               choices=meta["choices"], help=meta["help"])
    return group


def build_parser(kind: type, description: str) -> argparse.ArgumentParser:
    """The parser of a training script whose run is a `kind` (Step1Settings or JointSettings)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    groups = {group.name: _add_fields(parser, group.name, group.type) for group in dataclasses.fields(kind)}
    _add_fields(parser, "this invocation (no part of the run's settings)", OPTIONS[kind])
    if kind is JointSettings:
        groups["joint"].add_argument("--trainer", default=None, choices=sorted(TRAINER_SAMPLING),
                                     help="the original's names: seq-label = --sampling round-robin, re-seq-label = "
                                          "resample")
        parser.set_defaults(sampling=None)
    return parser


def _resolve_joint(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--trainer as the --sampling it names; --evaluate names a run; a new run's folder defaults to a time stamp."""
    if args.sampling and args.trainer and args.sampling != TRAINER_SAMPLING[args.trainer]:
        parser.error(f"--trainer {args.trainer} means --sampling {TRAINER_SAMPLING[args.trainer]}, not {args.sampling}")
    args.sampling = args.sampling or TRAINER_SAMPLING.get(args.trainer, Joint.sampling)
    if args.evaluate and not args.exp_name:
        parser.error("--evaluate needs --exp_name (and --save_dir) of the run to evaluate")
    args.exp_name = args.exp_name or time.strftime(RUN_NAME_FORMAT)


def _build(cls: type, args: argparse.Namespace, parser: argparse.ArgumentParser) -> object:
    values = {}
    for spec in dataclasses.fields(cls):
        value = getattr(args, spec.name)
        message = broken_rule(spec.name, value, spec.metadata["check"])
        if message:
            parser.error(message)
        values[spec.name] = value
    return cls(**values)


def parse(kind: type, description: str, argv: list[str] | None = None) -> tuple[Settings, Options]:
    """The settings and options of a command line; a bad value exits with one line naming its flag (status 2)."""
    parser = build_parser(kind, description)
    args = parser.parse_args(argv)
    known = {action.dest for action in parser._actions}  # the encoder's own defaults for every flag not given
    parser.set_defaults(**{name: value for name, value in encoder_defaults(args.encoder).items() if name in known})
    args = parser.parse_args(argv)
    if kind is JointSettings:
        _resolve_joint(parser, args)
    if (args.encoder == "transformer") != bool(args.pretrained):
        parser.error("--encoder transformer needs --pretrained (a Hugging Face model folder or hub name)"
                     if args.pretrained is None else "--pretrained applies to --encoder transformer only")
    settings = kind(**{group.name: _build(group.type, args, parser) for group in dataclasses.fields(kind)})
    return settings, _build(OPTIONS[kind], args, parser)

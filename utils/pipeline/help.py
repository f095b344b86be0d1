"""`bash run_<setting>.sh help`: the modes, the setting's data variables, the budget profiles and every variable
with the value it has now (set, from the profile or the setting, or the training script's own default)."""
import textwrap

from utils.pipeline import variables
from utils.pipeline.settings import Setting

MODE_HELP = (
    ("prepare", "raw data and vectors (below) -> $PROCESSED; done once (OVERWRITE=1 prepares it again)"),
    ("single [INIT]", "Step 1 for every task (iterative magnitude pruning), rewinding to INIT if given (e.g. a "
                      "warmup's best.th) -> $EXP_DIR/$NAME/step1/cp/<task_id>/"),
    ("warmup", "multi-task warmup: hard sharing for $WARMUP_EPOCHS epochs -> $EXP_DIR/$NAME/warmup/"),
    ("masks [auto|R0 R1 ..]", "Step 2: one subnet per task, best dev and sparsest among equals (auto) or the given "
                              "rounds (10 10 10 or 10,10,10) -> $EXP_DIR/$NAME/masks/"),
    ("mtl [MASKS]", "Step 3: the subnets trained jointly -> $EXP_DIR/$NAME/step3/"),
    ("all", "warmup -> Step 1 from the warmup -> Step 2 -> Step 3 -> a table of each task's test score"),
    ("baselines", "every row of the paper's main table and the MTW ablation: all, Step 1 to 3 from θ(0) "
                  "(step1-nomtw: its round 0 is the single-task row), hard / soft / hierarchical sharing"),
    ("single-task", "the single-task row alone, cheaply: Step 1's dense round from θ(0) (a transformer: the "
                    "pretrained weights), no pruning -> $EXP_DIR/$NAME/step1-nomtw/cp/<task_id>/ (baselines later "
                    "needs OVERWRITE=1 there)"),
    ("hard", "the hard-sharing row alone -> $EXP_DIR/$NAME/hard/"),
    ("negative", "negative transfer, NER + position prediction ($PROCESSED_PP from prepare-data.py --type "
                 "conll03-pp): Step 1 from θ(0), Step 2, sparse and hard sharing -> $EXP_DIR/$NAME/negative/"),
)


def script_defaults() -> dict[str, str]:
    """Each training variable's default: the training script's own (train_single.py for Step 1 and the shared
    flags, train_mtl.py for the joint runs' flags)."""
    import dataclasses

    import train_mtl
    import train_single
    from utils.settings import flat

    def defaults(module) -> dict:
        settings, options = module.parse_args([])
        return {**flat(settings), **dataclasses.asdict(options)}

    step1, joint = defaults(train_single), defaults(train_mtl)
    out = {}
    for variable in variables.VARIABLES:
        source = joint if variable.jobs[0] != variables.STEP1 else step1
        value = source.get(variable.flag.lstrip("-"))
        if variable.name == "DEVICE":
            out[variable.name] = "auto"
        elif isinstance(value, bool):
            out[variable.name] = "1" if value else "off"
        else:
            out[variable.name] = ("all" if variable.name.endswith("_LIMIT") else "(none)") if value is None \
                else str(value)
    out["WARMUP_EPOCHS"] = variables.WARMUP_EPOCHS
    return out


def usage(setting: Setting, environ: dict[str, str]) -> str:
    """The help text, with the values in force under `environ`."""
    values = variables.read(environ, setting.presets, setting.variables)
    defaults = script_defaults()
    wrap = lambda text, indent: textwrap.fill(text, 116, initial_indent=indent, subsequent_indent=indent)  # noqa
    lines = [f"usage: bash run_{setting.name}.sh MODE [ARG]    ({setting.description})", "modes:"]
    for mode, text in MODE_HELP:
        if mode != "negative" or setting.negative:
            lines.append(wrap(text, " " * 24).replace(" " * 24, f"  {mode:<22}", 1))
    lines.append("data for prepare (defaults):")
    for name, (default, text) in setting.data.items():
        lines.append(wrap(f"{name}={setting.value(environ, name) or default or '(none)'}: {text}", "  "))
    lines.append(wrap(f"EMBEDDING={setting.value(environ, 'EMBEDDING') or '(empty)'}: GloVe text vectors (any "
                      "dimension, .gz too; the paper's glove.6B.100d.txt, in glove.6B.zip from "
                      "https://nlp.stanford.edu/projects/glove/); EMBEDDING= (empty) uses random vectors", "  "))
    lines.append(wrap("UNK_VECTOR=random|zero: the <unk> vector's start (zero: fastNLP's with pre-trained vectors, the "
                      "original code's; prepare-data.py --unk_vector)", "  "))
    lines.append(f"budget profile: PROFILE={values.get('PROFILE')} (paper|quick); a variable set in the environment "
                 "wins over its profile's value")
    for profile, preset in variables.PROFILES.items():
        shown = " ".join(f"{k}={v}" for k, v in preset.items()) or "the training scripts' defaults"
        lines.append(wrap(f"{profile}: {shown}", "  "))
    if setting.presets:
        lines.append(wrap("this setting: " + " ".join(f"{k}={v}" for k, v in setting.presets.items()), "  "))
    shown = {v.name: values.effective.get(v.name, defaults[v.name]) for v in variables.VARIABLES}
    shown.update(JOBS=values.get("JOBS"), SEEDS=values.get("SEEDS") or "(none)", NAME=values.get("NAME") or "(new)",
                 EXP_DIR=values.get("EXP_DIR") or f"exp/{setting.name}",
                 PROCESSED=values.get("PROCESSED") or f"data/processed/{setting.name}")
    lines.append("environment (defaults):")
    lines.append(wrap(" ".join(f"{k}={v!r}" if " " in v else f"{k}={v}" for k, v in shown.items()), "  "))
    lines.append("variables:")
    for variable in variables.VARIABLES:
        lines.append(wrap(f"{variable.name}: {variable.help}", "  "))
    for name, text in variables.PIPELINE.items():
        lines.append(wrap(f"{name}: {text}", "  "))
    lines.append(wrap("Re-running a mode with the same NAME and EXP_DIR resumes a stopped run from its last finished "
                      "epoch and skips finished jobs; a finished job with the same settings in another run of EXP_DIR "
                      "is reused (said on the terminal). Ctrl-C, SIGTERM or SIGHUP stop every job of the run and "
                      "print the command that resumes it.", ""))
    return "\n".join(lines)

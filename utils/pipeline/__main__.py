"""The run scripts' entry point: `python -m utils.pipeline SETTING MODE [ARG...]` (run_<setting>.sh calls it).
Reads the variables, checks every one before anything runs (the training flags through the training scripts' own
parsers), prepares the data or plans the mode's jobs and runs them."""
import contextlib
import io
import json
import os
import shlex
import sys
import time

from utils.pipeline import variables
from utils.pipeline.executor import Executor, JobFailed, Options, remove_outputs
from utils.pipeline.help import usage
from utils.pipeline.plan import MODES, Request, outputs, plan
from utils.pipeline.settings import SETTINGS, PrepareError, Setting
from utils.runs import layout

INPUTS = "inputs.json"   # beside a processed folder's meta.json: the prepare inputs it was made from


def fail(message: str, code: int = 1) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def task_ids(processed: str, setting: Setting, what: str = "PROCESSED") -> tuple[int, ...]:
    meta = os.path.join(processed, "meta.json")
    if not os.path.isfile(meta):
        reads = ", ".join(f"{name}={setting.value(os.environ, name) or '(empty)'}" for name in setting.variables)
        fail(f"no processed data in {what}={processed}: run 'bash run_{setting.name}.sh prepare' first (it reads "
             f"{reads}; bash run_{setting.name}.sh help)")
    with open(meta, encoding="utf-8") as handle:
        return tuple(range(len(json.load(handle)["tasks"])))


def resume_hint(setting: Setting, values: variables.Values, name: str, arguments: list[str]) -> str:
    """The command line that continues this run: every variable the user set, the run's NAME, the same mode."""
    order = [v.name for v in variables.VARIABLES] + list(variables.PIPELINE) + list(setting.variables)
    words = [f"{k}={shlex.quote(values.user[k])}" for k in order if k in values.user and k != "NAME"]
    return " ".join(words + [f"NAME={name}", f"bash run_{setting.name}.sh", *map(shlex.quote, arguments)])


def check_flags(stages, setting: Setting, values: variables.Values) -> None:
    """Parse one command of each training script with that script's parser: a bad value is one line naming its
    variable, before anything runs."""
    seen = set()
    for stage in stages:
        for job in stage.jobs:
            script = job.command[0]
            if script in seen or not script.endswith(".py") or script == "report.py":
                continue
            seen.add(script)
            module = __import__(script[:-3])
            stderr = io.StringIO()
            try:
                with contextlib.redirect_stderr(stderr):
                    module.parse_args(list(job.command[1:]))
            except SystemExit:
                message = stderr.getvalue().strip().splitlines()[-1].split("error: ", 1)[-1]
                named = [v.name for v in variables.VARIABLES if v.flag and v.flag in message.split()
                         or v.flag and f"{v.flag}:" in message or v.flag and f"{v.flag} " in message]
                culprit = next((n for n in named if n in values.effective), None)
                prefix = f"{culprit}={values.effective[culprit]}: " if culprit else ""
                fail(f"{prefix}{message} ({script})", 2)


def prepare(setting: Setting, values: variables.Values, processed: str, overwrite: bool) -> None:
    """prepare-data.py for the setting, unless the processed folder is complete and made from the same inputs."""
    get = lambda name: setting.value(os.environ, name)  # noqa: E731
    inputs = {name: get(name) for name in setting.variables}
    recorded = os.path.join(processed, INPUTS)
    if os.path.isfile(os.path.join(processed, "meta.json")) and not overwrite:
        if os.path.isfile(recorded):
            with open(recorded, encoding="utf-8") as handle:
                before = json.load(handle)
            changed = [f"{k}={inputs[k]!r} (was {before.get(k, '')!r})" for k in inputs
                       if before.get(k, "") != inputs[k]]
            if changed:
                fail(f"PROCESSED={processed} was prepared from other inputs: {', '.join(changed)}; OVERWRITE=1 "
                     "prepares it again from these, or set PROCESSED to another folder")
        print(f"{processed} is prepared already; nothing to do (OVERWRITE=1 prepares it again)")
        return
    try:
        flags = setting.prepare(get)
    except PrepareError as error:
        fail(str(error))
    import subprocess

    done = subprocess.run([sys.executable, "prepare-data.py", *flags, "--out", processed,
                           *(["--overwrite"] if os.path.isfile(os.path.join(processed, "meta.json")) else [])])
    if done.returncode:
        sys.exit(done.returncode)
    with open(recorded, "w", encoding="utf-8") as handle:
        json.dump(inputs, handle, indent=2)


def run_name(mode: str, values: variables.Values, exp_dir: str) -> str:
    """NAME, or for masks and mtl (which continue a run) the newest run of EXP_DIR, or a new name."""
    if values.get("NAME"):
        try:
            return layout.check_name(values.get("NAME"))
        except ValueError as error:
            fail(str(error), 2)
    if mode in ("masks", "mtl"):
        names = layout.named_runs(exp_dir)
        if not names:
            fail(f"{mode} continues a run, but EXP_DIR={exp_dir} has none: set NAME to the run whose Step 1 "
                 f"{'to choose from' if mode == 'masks' else 'and masks to train'}")
        print(f"NAME={names[-1]} (the newest run in {exp_dir})", file=sys.stderr)
        return names[-1]
    return time.strftime("run-%Y%m%d-%H%M%S")


def write_plan(run_root: str, setting: Setting, mode: str, values: variables.Values, name: str) -> None:
    os.makedirs(run_root, exist_ok=True)
    path = os.path.join(run_root, layout.PLAN)
    record = {"setting": setting.name, "name": name, "modes": []}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    record["modes"] = list(dict.fromkeys(record.get("modes", []) + [mode]))
    record.update(profile=values.get("PROFILE"), seeds=variables.seeds(values), variables=values.user)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
    os.replace(path + ".tmp", path)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in SETTINGS:
        fail(f"usage: python -m utils.pipeline SETTING MODE [ARG...], SETTING one of {', '.join(SETTINGS)}", 2)
    setting, mode, arguments = SETTINGS[argv[0]], (argv[1:2] or [""])[0], argv[2:]
    if mode in ("help", "-h", "--help"):
        print(usage(setting, os.environ))
        return
    if mode not in MODES or (mode == "negative" and not setting.negative):
        why = " (negative transfer is a CoNLL-2003 experiment: bash run_conll03.sh negative)" if mode == "negative" \
            else ""
        fail(f"unknown mode '{mode}'{why}: expected one of {', '.join(m for m in MODES if m != 'negative' or setting.negative)} "
             f"(bash run_{setting.name}.sh help)", 2)
    for message in variables.misspelled(dict(os.environ), setting.variables):
        fail(message, 2)
    try:
        values = variables.read(dict(os.environ), setting.presets, setting.variables)
        variables.check_pipeline(values)
    except ValueError as error:
        fail(str(error), 2)
    exp_dir = values.get("EXP_DIR") or layout.default_exp_dir(setting.name)
    processed = values.get("PROCESSED") or layout.default_processed(setting.name)
    overwrite = values.get("OVERWRITE") == "1"
    if mode == "prepare":
        prepare(setting, values, processed, overwrite)
        return
    own_folders = mode == "masks" and values.get("SINGLE_DIR") and values.get("MASK_DIR")
    name = values.get("NAME") or "masks" if own_folders else run_name(mode, values, exp_dir)
    processed_pp = values.get("PROCESSED_PP") or layout.default_processed("conll03-pp")
    request = Request(setting.name, mode, name, exp_dir, processed,
                      task_ids(processed, setting) if mode not in ("negative", "masks") else (),
                      {job: tuple(variables.training_flags(values, job)) for job in variables.TRAINING},
                      tuple(arguments), tuple(variables.seeds(values)), processed_pp,
                      task_ids(processed_pp, setting, "PROCESSED_PP") if mode == "negative" else (0, 1), overwrite,
                      values.get("SINGLE_DIR") or None, values.get("MASK_DIR") or None,
                      values.get("NEGATIVE_MODEL") or variables.NEGATIVE_MODELS[0], values.get("ENCODER") or "bilstm")
    try:
        stages = plan(request)
    except ValueError as error:
        fail(str(error), 2)
    check_flags(stages, setting, values)
    invocation = [mode, *arguments]
    options = Options(sys.executable, exp_dir, int(values.get("JOBS")),
                      [d for d in values.get("DEVICES").split(",") if d] if "DEVICE" not in values.effective else [],
                      values.get("REUSE") != "0", resume_hint(setting, values, name, invocation))
    try:
        if overwrite:
            remove_outputs(outputs(stages), exp_dir)
        if not own_folders:
            write_plan(layout.run(exp_dir, name).root, setting, mode, values, name)
        with Executor(options) as executor:
            executor.run(stages)
    except JobFailed as error:
        if error.message:
            print(f"error: {error.message}", file=sys.stderr)
        sys.exit(error.code)
    except ValueError as error:
        fail(str(error))
    if mode in ("baselines", "negative") or request.seeds:
        print(f"== done: python report.py {setting.name} --exp_dir {exp_dir} --name {name}")


if __name__ == "__main__":
    main(sys.argv[1:])

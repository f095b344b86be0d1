"""The environment variables of run_<setting>.sh: which training flag each one sets and for which jobs, the budget
profiles, and reading them from the environment. A variable the user did not set passes nothing on, so every
training default is the training script's own (one definition); a variable close to a known one but not known
(EPOCH for EPOCHS) is refused instead of silently ignored."""
import difflib
import os
import re
from dataclasses import dataclass

# The jobs a variable reaches: Step 1, the multi-task warmup, and the joint runs (Step 3 and the baselines).
STEP1, WARMUP, JOINT = "step1", "warmup", "joint"
TRAINING = (STEP1, WARMUP, JOINT)


@dataclass(frozen=True)
class Variable:
    """An environment variable; `flag` is the training flag it sets for the jobs in `jobs` ("--crf" a switch)."""

    name: str
    flag: str | None
    jobs: tuple[str, ...]
    help: str


VARIABLES = (
    Variable("SEED", "--seed", TRAINING, "random seed: same seed, same θ(0)"),
    Variable("ENCODER", "--encoder", TRAINING, "the shared encoder: bilstm (the paper's) or transformer (PRETRAINED; "
             "its fine-tuning defaults, docs/encoders.md; baselines: single task and hard sharing)"),
    Variable("PRETRAINED", "--pretrained", TRAINING, "ENCODER=transformer: a Hugging Face model folder or hub name"),
    Variable("SUBWORD_POOLING", "--subword_pooling", TRAINING, "ENCODER=transformer: first (default) or mean"),
    Variable("EPOCHS", "--epochs", (STEP1,), "epochs per Step 1 round (and per joint run unless MTL_EPOCHS)"),
    Variable("PATIENCE", "--patience", (STEP1,), "stop a Step 1 round once dev has not improved for N epochs (0: off)"),
    Variable("PRUNING_ITER", "--pruning_iter", (STEP1,), "pruning rounds after the dense one"),
    Variable("FINAL_RATE", "--final_rate", (STEP1,), "kept fraction after the last round"),
    Variable("FINDER", "--finder", (STEP1,), "Step 1's mask finder: imp (the paper's), oneshot, earlybird, snip, "
             "movement (docs/finders.md)"),
    Variable("MTL_EPOCHS", "--epochs", (JOINT,), "epochs of a joint run: Step 3, hard/soft/hierarchical sharing "
             "(default: EPOCHS)"),
    Variable("MTL_PATIENCE", "--patience", (JOINT,), "early stopping of joint runs on the dev average (default: "
             "PATIENCE)"),
    Variable("WARMUP_EPOCHS", "--epochs", (WARMUP,), "epochs of the multi-task warmup (always trained in full)"),
    Variable("BATCH_SIZE", "--batch_size", TRAINING, "sentences per batch"),
    Variable("BATCHING", "--batching", TRAINING, "training batches: original (the original code's), bucket or random"),
    Variable("HIDDEN_SIZE", "--hidden_size", TRAINING, "BiLSTM hidden size per direction"),
    Variable("N_LAYER", "--n_layer", TRAINING, "BiLSTM layers"),
    Variable("DROPOUT", "--dropout", TRAINING, "dropout on embeddings and BiLSTM output"),
    Variable("OPTIM", "--optim", TRAINING, "optimiser, e.g. 'sgd(lr=0.1, momentum=0.9)'"),
    Variable("SAMPLING", "--sampling", (WARMUP, JOINT), "task order of joint runs: proportional, round-robin, resample "
             "or temperature"),
    Variable("TEMPERATURE", "--temperature", (WARMUP, JOINT), "SAMPLING=temperature: task probability ∝ N_t^(1/T) "
             "(1: proportional; large: uniform)"),
    Variable("CLIP_NORM", "--clip_norm", (WARMUP, JOINT), "joint runs also clip the gradient norm at N (0: off)"),
    Variable("OPTIMIZER_SCOPE", "--optimizer_scope", (WARMUP, JOINT), "joint runs: task (one optimiser per task) or "
             "shared (one over all parameters, as the original code)"),
    Variable("CRF", "--crf", TRAINING, "1: a CRF on every task's head"),
    Variable("TRAIN_LIMIT", "--train_limit", TRAINING, "budget: the first N training sentences of each task"),
    Variable("EVAL_LIMIT", "--eval_limit", TRAINING, "budget: the first N dev and test sentences of each task"),
    Variable("AMP", "--amp", TRAINING, "bf16: train under bfloat16 autocast (for CUDA)"),
    Variable("DEVICE", "--device", TRAINING, "torch device of every job (default: cuda if available, else cpu)"),
)
BY_NAME = {v.name: v for v in VARIABLES}

# What the pipeline itself reads (not training flags); defaults in PipelineDefaults below or the setting's.
PIPELINE = {
    "PROFILE": "budget profile: paper (the paper's recipe) or quick (its shape on a budget)",
    "SEEDS": "e.g. 1,2,3: run MODE once per seed, with SEED=s, into <run>/seed<s>/",
    "NAME": "the run's name: its folder EXP_DIR/NAME (default: run-<date>-<time>; masks and mtl: the newest run)",
    "EXP_DIR": "the runs folder (default: exp/<setting>)",
    "PROCESSED": "processed data folder (default: data/processed/<setting>)",
    "PROCESSED_PP": "negative transfer's processed data (default: data/processed/conll03-pp)",
    "JOBS": "Step 1 tasks trained at once (per device with DEVICES)",
    "DEVICES": "e.g. cuda:0,cuda:1 (or cpu,cpu): Step 1's tasks round-robin on them; other jobs on the first",
    "OVERWRITE": "1: start afresh, deleting the run's folders (only inside EXP_DIR)",
    "REUSE": "0: train every job even when a finished job with the same settings exists in EXP_DIR",
    "PYTHON": "the project's Python (default: python, else python3)",
    "NEGATIVE_MODEL": "negative transfer's model: random-lstm (the paper's weaker model, random 50-d word vectors, no "
                      "character CNN; the default) or cnn-lstm (the CNN-BiLSTM of the other experiments)",
    "SINGLE_DIR": "masks: Step 1's task folders to choose from (default: the run's step1/cp)",
    "MASK_DIR": "masks: the folder to write the choice to (default: the run's masks/)",
}

# Budget profiles: values for variables the user did not set. paper is the training scripts' own defaults (the
# paper's recipe); quick keeps its shape (every stage; kept fractions 100, 56.2, 31.6, 17.8, 10%, exactly the paper's
# 20-round schedule at rounds 0, 5, 10, 15, 20) with 3 epochs per round and per joint run and early stopping.
PROFILES = {"paper": {}, "quick": {"EPOCHS": "3", "PATIENCE": "1", "PRUNING_ITER": "4", "FINAL_RATE": "0.1",
                                   "JOBS": "3"}}
NEGATIVE_MODELS = ("random-lstm", "cnn-lstm")
WARMUP_EPOCHS = "1"   # "briefly", the paper says: one epoch of hard sharing
JOBS = "1"


def known_names(setting_variables: tuple[str, ...]) -> set[str]:
    return set(BY_NAME) | set(PIPELINE) | set(setting_variables)


def misspelled(environ: dict[str, str], setting_variables: tuple[str, ...]) -> list[str]:
    """One message per environment variable that is not one of ours but close to one (EPOCH for EPOCHS)."""
    known = known_names(setting_variables)
    messages = []
    for name in sorted(environ):
        if name in known or not re.fullmatch(r"[A-Z][A-Z0-9_]{2,}", name):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.85)
        if close:
            messages.append(f"{name}={environ[name]} is not a variable of this script: did you mean {close[0]}? "
                            f"(unset {name}; 'help' lists the variables)")
    return messages


@dataclass
class Values:
    """The variables in force: what the user set, what the profile and the setting add, and the pipeline's own."""

    user: dict[str, str]
    effective: dict[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.effective.get(name, default)


def read(environ: dict[str, str], setting_presets: dict[str, str], setting_variables: tuple[str, ...]) -> Values:
    """The variables set in `environ` (empty counts as set for EMBEDDING-like data variables only), completed by the
    profile's values and the setting's presets (user first, then profile, then setting); MTL_EPOCHS and
    MTL_PATIENCE follow EPOCHS and PATIENCE. A bad PROFILE is a ValueError."""
    known = known_names(setting_variables)
    user = {k: v for k, v in environ.items() if k in known and (v != "" or k in setting_variables)}
    profile = user.get("PROFILE", "paper")
    if profile not in PROFILES:
        raise ValueError(f"PROFILE={profile}: expected paper (the paper's recipe; the default) or quick (its shape on "
                         "a 90-minute budget)")
    effective = {**setting_presets, **PROFILES[profile], **user, "PROFILE": profile}
    for joint, base in (("MTL_EPOCHS", "EPOCHS"), ("MTL_PATIENCE", "PATIENCE")):
        if joint not in effective and base in effective:
            effective[joint] = effective[base]
    effective.setdefault("WARMUP_EPOCHS", WARMUP_EPOCHS)
    effective.setdefault("JOBS", JOBS)
    return Values(user, effective)


def training_flags(values: Values, job: str) -> list[str]:
    """The flags the variables in force give one kind of job (STEP1, WARMUP or JOINT), in VARIABLES' order."""
    flags = []
    for variable in VARIABLES:
        value = values.effective.get(variable.name)
        if job not in variable.jobs or value is None:
            continue
        if variable.flag == "--crf":
            flags += ["--crf"] if value not in ("", "0") else []
        elif value != "":
            flags += [variable.flag, value]
    if "DEVICE" not in values.effective and values.effective.get("DEVICES"):
        flags += ["--device", values.effective["DEVICES"].split(",")[0]]
    return flags


def check_pipeline(values: Values) -> None:
    """The pipeline's own variables, each bad one a ValueError naming it."""
    get = values.effective.get
    if not re.fullmatch(r"[1-9][0-9]*", get("JOBS", "1")):
        raise ValueError(f"JOBS={get('JOBS')}: expected a positive integer (tasks trained at once in Step 1)")
    seeds = get("SEEDS", "")
    if seeds:
        if not re.fullmatch(r"[0-9]+(,[0-9]+)*", seeds):
            raise ValueError(f"SEEDS={seeds}: expected comma-separated non-negative integers, e.g. SEEDS=1,2,3")
        numbers = [int(s) for s in seeds.split(",")]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"SEEDS={seeds}: a seed is listed twice")
    for name in ("OVERWRITE", "REUSE"):
        if get(name, "") not in ("", "0", "1"):
            raise ValueError(f"{name}={get(name)}: expected 1 or 0")
    if get("NEGATIVE_MODEL", "random-lstm") not in NEGATIVE_MODELS:
        raise ValueError(f"NEGATIVE_MODEL={get('NEGATIVE_MODEL')}: expected {' or '.join(NEGATIVE_MODELS)}")
    devices = get("DEVICES", "")
    if devices and not all(devices.split(",")):
        raise ValueError(f"DEVICES={devices}: expected comma-separated devices, e.g. cuda:0,cuda:1")


def seeds(values: Values) -> list[int]:
    return [int(s) for s in values.get("SEEDS").split(",")] if values.get("SEEDS") else []


def environ() -> dict[str, str]:
    return dict(os.environ)

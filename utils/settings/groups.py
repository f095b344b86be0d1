"""The hyper-parameters of both training scripts, in groups (data, model, optimiser, pruning, joint training), with
the paper's values (REFERENCE §2) as defaults, and the per-invocation options that are no part of a run's identity.

Every field is a flag of the same name; its metadata holds the help text, the choices and the rule it must obey
(utils.settings.checks). A field whose default is None takes its type from metadata "type"."""
import os
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from models import ARCHITECTURES, ENCODERS, POOLINGS
from models.encoder import DEFAULT_NEED_CUT
from utils.data.batching import BATCHINGS
from utils.runs.layout import (BEST, CONFIG, DIRECT_STEP1, DIRECT_STEP3, INIT, RESULTS, default_exp_dir,
                               default_processed)
from utils.subnets.finders import FINDERS
from utils.training.sampling import SAMPLINGS
from utils.training.task import AMP

SCHEDULERS = ("fix", "decay", "inverse_sqrt", "linear")
OPTIMIZER_SCOPES = ("task", "shared")
PAPER_SETTING = "conll03"  # the setting the scripts' default folders belong to


def setting(default, help: str, *, type: type | None = None, choices: tuple | None = None,
            check: str | None = None):
    """A hyper-parameter: its default, -h text, argparse type (for a None default), choices and rule."""
    return field(default=default, metadata={"help": help, "type": type, "choices": choices, "check": check})


@dataclass(frozen=True)
class Data:
    """Which sentences a run trains and is scored on."""

    data_path: str = setting(default_processed(PAPER_SETTING), "processed data folder from prepare-data.py")
    train_limit: int | None = setting(None, "budget: use only the first N training sentences of each task",
                                      type=int, check="positive")
    eval_limit: int | None = setting(None, "budget: use only the first N dev and test sentences of each task",
                                     type=int, check="positive")


@dataclass(frozen=True)
class Step1Data(Data):
    """Step 1 trains one task of the data."""

    task_id: int = setting(0, "the task to prune for (index in the processed data: conll03 0=pos 1=chunk 2=ner)")


@dataclass(frozen=True)
class JointData(Data):
    """A joint run trains several tasks of the data."""

    tasks: str | None = setting(None, "comma-separated task ids to train jointly (default: all tasks of the data)",
                                type=str)


@dataclass(frozen=True)
class Model:
    """The base network and where its weights start (the seed's θ(0), pretrained weights, or a rewind point)."""

    encoder: str = setting("bilstm", "the shared encoder: bilstm (the paper's; --arch says which) or transformer "
                                     "(a pretrained Hugging Face model, --pretrained; it changes the defaults of "
                                     "--optim --batch_size --scheduler --clip_norm --clip_value --dropout --epochs "
                                     "--need_cut to its fine-tuning recipe, see docs/encoders.md)",
                           choices=ENCODERS)
    pretrained: str | None = setting(None, "--encoder transformer: a Hugging Face model folder (or hub name); its "
                                           "weights are the rewind point", type=str)
    subword_pooling: str = setting("first", "--encoder transformer: a word's vector is its first subword's, or "
                                            "the mean of its subwords'", choices=POOLINGS)
    arch: str = setting("cnn-lstm", "architecture (hier-lstm, soft and random-lstm: --encoder bilstm only)",
                        choices=ARCHITECTURES)
    hidden_size: int = setting(200, "BiLSTM hidden size per direction", check="positive")
    n_layer: int = setting(1, "BiLSTM layers; the paper's CoNLL-2003 counts imply 1", check="positive")
    dropout: float = setting(0.5, "dropout on embeddings and BiLSTM output", check="dropout")
    crf: bool = setting(False, "a CRF on top of each task's linear layer")
    seed: int = setting(2019, "random seed: same seed, same initial weights θ(0)")
    init_weights: str | None = setting(None, "state dict to start from and rewind to (e.g. a multi-task warmup's "
                                             f"{BEST})", type=str)


@dataclass(frozen=True)
class Optimiser:
    """How a subnet is trained: optimiser, LR schedule, clipping, budget, batches, early stopping."""

    epochs: int = setting(100, "training epochs (per round in Step 1)", check="positive")
    batch_size: int = setting(10, "sentences per batch", check="positive")
    batching: str = setting("original", "batch composition: original (the original code's bucket sampler, re-cut "
                                        "into groups; random batches in joint training's first epoch), bucket "
                                        "(clean length buckets) or random", choices=BATCHINGS)
    optim: str = setting("sgd(lr=0.1, momentum=0.9)", "optimiser as NAME(key=value,...), NAME in sgd, adam, adamw",
                         check="optim")
    lr_decay: float = setting(0.05, "LR × 1/(1 + lr_decay·epoch): Step 1's schedule and Step 3's --scheduler decay",
                              check="off_or_positive")
    patience: int = setting(0, "early stopping: end training (a Step 1 round, whose best-dev weights are still "
                               "tested and pruned; Step 3: on the dev average) once dev has not improved for N epochs "
                               "(default: 0, off: train all --epochs, the paper's)", check="off_or_positive")
    scheduler: str = setting("fix", "LR schedule: fix (the original's joint training), decay 1/(1+lr_decay·epoch), "
                                    "inverse_sqrt with --warmup_steps, linear (warm-up over --warmup_ratio of the "
                                    "steps, then linear decay to 0 at the last)", choices=SCHEDULERS)
    warmup_steps: int = setting(1000, "warm-up steps of --scheduler inverse_sqrt", check="positive")
    warmup_ratio: float = setting(0.1, "share of the training steps (of a Step 1 round) that --scheduler linear "
                                       "warms up over", check="fraction")
    amp: str = setting("off", "bf16: training forward and backward under autocast to bfloat16 (for CUDA; weights, "
                              "optimiser state and evaluation stay float32)", choices=tuple(AMP))


@dataclass(frozen=True)
class Step1Optimiser(Optimiser):
    """Step 1's training: the LR decays every epoch, the gradient norm is clipped."""

    clip_norm: float = setting(5.0, "gradient-norm clipping (the original's Step 1); 0: off", check="off_or_positive")
    scheduler: str = setting("decay", "LR schedule of each round: decay 1/(1+lr_decay·epoch) (the original's Step "
                                      "1), fix, inverse_sqrt with --warmup_steps, linear (warm-up over "
                                      "--warmup_ratio, then linear decay to 0)", choices=SCHEDULERS)


@dataclass(frozen=True)
class JointOptimiser(Optimiser):
    """Step 3's training: gradient values clipped, per-task or shared optimisers."""

    clip_value: float = setting(5.0, "gradient value clipping (the original's MTL setting); 0: off",
                                check="off_or_positive")
    clip_norm: float = setting(0.0, "gradient-norm clipping as in Step 1, e.g. 5 with --crf (CRF losses are summed "
                                    "over tokens; value clipping alone lets joint training diverge); 0: off, the "
                                    "original's", check="off_or_positive")
    optimizer_scope: str = setting("task", "task: one optimiser per task, so neither the gradient nor the momentum "
                                           "of task t moves weights outside M_t; shared: one optimiser over all "
                                           "parameters, as the original code (its momentum, from other tasks' "
                                           "steps, moves weights outside the stepping task's mask)",
                                   choices=OPTIMIZER_SCOPES)


@dataclass(frozen=True)
class Pruning:
    """Step 1's iterative magnitude pruning."""

    pruning_iter: int = setting(20, "pruning rounds after the dense one; 0 trains one dense round (the single-task "
                                    "baseline)", check="non_negative")
    final_rate: float = setting(0.1, "kept fraction after the last round; each round removes α = 1 − "
                                     "final_rate^(1/pruning_iter) of the rest", check="rate")
    need_cut: str = setting(DEFAULT_NEED_CUT, "comma-separated name patterns choosing the prunable weights among the "
                                              "encoder's candidates (biases never; a transformer: its Linear "
                                              "weights, default pattern layer)")
    init_masks: str | None = setting(None, "a mask file (<round>_<kept>.th) to resume pruning from", type=str)
    finder: str = setting("imp", "how each kept fraction's mask is found: imp (the paper's iterative magnitude "
                                 "pruning), oneshot (the dense round's weights cut to every kept fraction), earlybird "
                                 "(each round ends once its mask stops changing), snip (connection sensitivity at the "
                                 "rewind point, no training to find it), movement (scores learned in one pass from the "
                                 "rewind point, Sanh et al. 2020); docs/finders.md", choices=FINDERS)
    earlybird_epsilon: float = setting(0.1, "--finder earlybird: a round ends once the normalised Hamming distance "
                                            "between consecutive epochs' masks is below this (You et al. 2020: 0.1)",
                                       check="fraction")
    snip_batches: int = setting(1, "--finder snip: training batches the sensitivity |g ⊙ w| is summed over (Lee et al. "
                                   "2019: one)", check="positive")


@dataclass(frozen=True)
class Joint:
    """Step 3: which subnets are trained together and in what order."""

    masks_path: str | None = setting(None, f"folder from prepare-masks.sh (<task_id>.th masks, {INIT}); "
                                           "none = hard sharing", type=str)
    sampling: str = setting("proportional", "task order: proportional to training-set size (the paper's; default), "
                                            "round-robin, resample (the original's) or temperature (∝ N_t^(1/T), "
                                            "--temperature)", choices=SAMPLINGS)
    temperature: float = setting(1.0, "--sampling temperature: task probability ∝ N_t^(1/T); 1 is proportional, "
                                      "large T tends to uniform (jiant's sampler)", check="positive")
    system: str | None = setting(None, f"label recorded in {RESULTS} for report.py (default: sparse sharing with "
                                       "masks, else by --arch)", type=str)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class Options:
    """Per invocation, outside the run's identity: where it runs and writes, and whether it continues a run."""

    device: str = setting(default_device(), "torch device", check="device")
    exp_name: str | None = setting(None, "name of this run's folder under the output root", type=str)
    resume: bool = setting(False, "continue the stopped run in the output folder from its last finished epoch (a "
                                  "finished run: nothing to do)")
    no_tensorboard: bool = setting(False, "write no TensorBoard event files into the run folder")


@dataclass(frozen=True)
class Step1Options(Options):
    """train_single.py writes <save_dir>/cp/<exp_name or task_id>."""

    save_dir: str = setting(os.path.join(default_exp_dir(PAPER_SETTING), DIRECT_STEP1), "output root")


@dataclass(frozen=True)
class JointOptions(Options):
    """train_mtl.py writes <save_dir>/<exp_name>, may replace it, re-score it, and log and keep more."""

    save_dir: str = setting(os.path.join(default_exp_dir(PAPER_SETTING), DIRECT_STEP3), "output root")
    overwrite: bool = setting(False, "replace an existing run folder: start the run afresh")
    evaluate: bool = setting(False, f"evaluate the saved {BEST} of --save_dir/--exp_name on dev and test without "
                                    f"training; every setting comes from the run's {CONFIG}")
    print_every: int = setting(0, "print the mean loss every N steps (0: never)", check="non_negative")
    save_ep: int = setting(0, "also keep the weights of every N-th epoch (0: only the best)", check="non_negative")


@dataclass(frozen=True)
class Step1Settings:
    """What defines a Step 1 run of one task."""

    KIND: ClassVar[str] = "step1"
    data: Step1Data = field(default_factory=Step1Data)
    model: Model = field(default_factory=Model)
    optimiser: Step1Optimiser = field(default_factory=Step1Optimiser)
    pruning: Pruning = field(default_factory=Pruning)


@dataclass(frozen=True)
class JointSettings:
    """What defines a joint run (Step 3, the warmup, the mask-free baselines)."""

    KIND: ClassVar[str] = "joint"
    data: JointData = field(default_factory=JointData)
    model: Model = field(default_factory=Model)
    optimiser: JointOptimiser = field(default_factory=JointOptimiser)
    joint: Joint = field(default_factory=Joint)


STEP1 = Step1Optimiser()
JOINT = JointOptimiser()

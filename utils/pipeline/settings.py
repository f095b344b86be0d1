"""The data settings of the run scripts: where `prepare` reads each setting's raw files (its variables and their
defaults), the prepare-data.py command it runs, and the training presets a setting adds (ptb: CRFs)."""
import os
import tempfile
from dataclasses import dataclass, field
from typing import Callable

GLOVE = os.path.join("data", "glove.6B.100d.txt")   # the paper's vectors (glove.6B.zip)
GLOVE_HINT = ("download glove.6B.zip from https://nlp.stanford.edu/projects/glove/ and unzip glove.6B.100d.txt "
              "into data/, or set EMBEDDING=/path/to/vectors.txt (any GloVe text file), or EMBEDDING= for random "
              "vectors")


class PrepareError(ValueError):
    """The raw inputs of `prepare` are missing or malformed (one line naming the variable)."""


@dataclass(frozen=True)
class Setting:
    """A run script's setting: its data variables (name -> (default, help)), training presets, and a function
    giving prepare-data.py's flags from the variables in force (a get(name) function)."""

    name: str
    description: str
    data: dict[str, tuple[str, str]]
    prepare: Callable[[Callable[[str], str]], list[str]]
    presets: dict[str, str] = field(default_factory=dict)
    negative: bool = False

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(self.data) + ("EMBEDDING", "UNK_VECTOR")

    def value(self, environ: dict[str, str], name: str) -> str:
        """A data variable: the environment's value (empty included) or its default."""
        if name == "EMBEDDING":
            return environ.get("EMBEDDING", GLOVE)
        return environ.get(name) if environ.get(name) else self.data.get(name, ("",))[0]


def need_files(variable: str, folder: str, what: str, *names: str) -> None:
    for name in names:
        if not os.path.isfile(os.path.join(folder, name)):
            raise PrepareError(f"{variable}={folder} has no {name}: put {what} there, or set {variable}=/path/to/it "
                               "('help' lists the inputs; data/README.md says where to get them)")


def embedding_flags(get: Callable[[str], str]) -> list[str]:
    """--embedding EMBEDDING (none for EMBEDDING= : random vectors) and --unk_vector UNK_VECTOR when set."""
    path, unk = get("EMBEDDING"), (["--unk_vector", get("UNK_VECTOR")] if get("UNK_VECTOR") else [])
    if not path:
        return unk
    if not os.path.isfile(path):
        raise PrepareError(f"EMBEDDING={path}: no such file; {GLOVE_HINT}")
    return ["--embedding", path, *unk]


def prepare_conll03(get: Callable[[str], str]) -> list[str]:
    need_files("DATA_DIR", get("DATA_DIR"), "CoNLL-2003's train.txt dev.txt test.txt", "train.txt", "dev.txt",
               "test.txt")
    return ["--type", "conll03", "--dir", get("DATA_DIR"), *embedding_flags(get)]


def prepare_ptb(get: Callable[[str], str]) -> list[str]:
    standin = get("WSJ_STANDIN") not in ("", "0")
    if standin:
        need_files("WSJ_DIR", get("WSJ_DIR"), "the WSJ POS files dev.pos test.pos", "dev.pos", "test.pos")
    else:
        need_files("WSJ_DIR", get("WSJ_DIR"), "the WSJ POS files train.pos dev.pos test.pos (or WSJ_STANDIN=1)",
                   "train.pos", "dev.pos", "test.pos")
    need_files("CHUNK_DIR", get("CHUNK_DIR"), "CoNLL-2000's train.txt test.txt", "train.txt", "test.txt")
    need_files("NER_DIR", get("NER_DIR"), "CoNLL-2003's train.txt dev.txt test.txt", "train.txt", "dev.txt",
               "test.txt")
    return ["--type", "ptb", "--pos", get("WSJ_DIR"), "--chunk", get("CHUNK_DIR"), "--ner", get("NER_DIR"),
            *embedding_flags(get), *(["--pos_standin", "0.1"] if standin else [])]


ONTONOTES_SPLITS = ("train", "development", "test")


def english_view(folder: str) -> str:
    """`folder` itself, or for the CoNLL-2012 release layout (<split>/data/english/annotations/..., beside arabic/
    and chinese/) a temporary folder of links <split> -> folder/<split>/data/english, removed at exit."""
    if not os.path.isdir(os.path.join(folder, "train", "data", "english")):
        return folder
    view = tempfile.mkdtemp(prefix="ontonotes-english-")
    import atexit
    import shutil

    atexit.register(shutil.rmtree, view, True)
    for split in ONTONOTES_SPLITS:
        english = os.path.join(folder, split, "data", "english")
        if os.path.isdir(english):
            os.symlink(os.path.abspath(english), os.path.join(view, split))
    return view


def prepare_ontonotes(get: Callable[[str], str]) -> list[str]:
    folder = get("ONTONOTES_DIR")
    if not os.path.isdir(folder):
        raise PrepareError(f"ONTONOTES_DIR={folder} is not a folder: set ONTONOTES_DIR to a CoNLL-2012 folder with "
                           "train/ development/ test/ ('help' says how to build one)")
    return ["--type", "ontonotes", "--dir", english_view(folder), *embedding_flags(get)]


def prepare_columns(get: Callable[[str], str]) -> list[str]:
    specs = get("TASKS").split()
    if len(specs) < 2:
        raise PrepareError(f"TASKS='{get('TASKS')}': give two or more task specs NAME:COLUMN:SCHEME[:FILES], e.g. "
                           "TASKS=\"chunk:2:bio:train=data/conll2000/train.txt,test=data/conll2000/test.txt "
                           "ner:3:bioes:train=...\"")
    flags = ["--type", "columns"] + [f for spec in specs for f in ("--task", spec)]
    for variable, flag in (("TRAIN", "--train"), ("DEV", "--dev"), ("TEST", "--test"), ("FORMAT", "--format"),
                           ("WORD_COLUMN", "--word_column"), ("DEV_FRACTION", "--dev_fraction")):
        if get(variable):
            flags += [flag, get(variable)]
    return flags + embedding_flags(get)


CONLL03_HELP = "CoNLL-2003 English train.txt dev.txt test.txt (word POS chunk NER; IOB1 or BIO)"
SETTINGS = {
    "conll03": Setting("conll03", "CoNLL-2003: POS, chunking and NER on the same sentences",
                       {"DATA_DIR": (os.path.join("data", "conll03"), CONLL03_HELP +
                                     " (https://www.clips.uantwerpen.be/conll2003/ner/)")},
                       prepare_conll03, negative=True),
    "ptb": Setting("ptb", "the paper's Exp3: WSJ POS + CoNLL-2000 chunking + CoNLL-2003 NER, with CRFs",
                   {"WSJ_DIR": (os.path.join("data", "wsj_ptb"), "WSJ POS train.pos dev.pos test.pos (Penn Treebank, "
                                "LDC99T42: bring your own)"),
                    "WSJ_STANDIN": ("", "1: without train.pos (sections 0-18), dev.pos (19-21) is split 90/10 into "
                                    "train and dev"),
                    "CHUNK_DIR": (os.path.join("data", "conll2000"), "CoNLL-2000 train.txt test.txt (10% of train "
                                  "held out as dev; https://www.clips.uantwerpen.be/conll2000/chunking/)"),
                    "NER_DIR": (os.path.join("data", "conll03"), CONLL03_HELP)},
                   prepare_ptb,
                   # Exp3 is reported with CRFs; CRF losses are summed over a sentence's tokens, and with value
                   # clipping alone joint training at lr 0.1 diverges (measured: hard sharing, 1 epoch, POS 17.5 /
                   # chunk 15.8 / NER 0.0 dev), norm clipping at 5 as in Step 1 learns; the original's re-seq-label.
                   presets={"CRF": "1", "CLIP_NORM": "5", "SAMPLING": "resample"}),
    "ontonotes": Setting("ontonotes", "OntoNotes 5.0 (CoNLL-2012): POS, chunks from the parse bits, NER",
                         {"ONTONOTES_DIR": (os.path.join("data", "ontonotes"), "CoNLL-2012 files: train/ "
                                            "development/ test/ with *.gold_conll below them (OntoNotes 5.0, "
                                            "LDC2013T19, through conll-formatted-ontonotes-5.0 and skeleton2conll)")},
                         # The paper's OntoNotes # Params (hard sharing 1497k, single task 4491k) are those of a
                         # 2-layer BiLSTM (REFERENCE §4); its CoNLL-2003 ones imply 1 layer, the scripts' default.
                         prepare_ontonotes, presets={"N_LAYER": "2"}),
    "columns": Setting("columns", "your own tasks from CoNLL-style column files (or CoNLL-U)",
                       {"TASKS": ("", "two or more task specs NAME:COLUMN:SCHEME[:train=F,test=F[,dev=F]] separated "
                                  "by spaces (python prepare-data.py -h)"),
                        "TRAIN": ("", "training file of the tasks without their own"),
                        "DEV": ("", "dev file of those tasks (none: held out from train)"),
                        "TEST": ("", "test file of those tasks"),
                        "FORMAT": ("", "columns or conllu (default: detected from the files)"),
                        "WORD_COLUMN": ("", "the words' 0-based column (default: 0; FORM for CoNLL-U)"),
                        "DEV_FRACTION": ("", "share of train held out as dev for a task without a dev file")},
                       prepare_columns),
}

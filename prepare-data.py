"""Turn raw corpora into the processed data set the training scripts read (vocabularies, ids, word vectors)."""
import argparse
import os
import re
import shutil
import sys
import warnings
from typing import NoReturn

import torch

from utils.data.conll import CONLLU_FORM, FORMATS, are_token_ids, detect_format
from utils.data.dataset import UNK_VECTORS, Dataset, build_vocabularies, embedding_table, index_corpus, summary
from utils.data.glove import read_vectors
from utils.data.readers import (COLUMN_SCHEMES, PP_MAX_POSITION, SPLITS, ColumnTask, read_column_tasks, read_conll03,
                           read_conll03_pp, read_ontonotes, read_ptb)
from utils.runtime import HelpFormatter

TASK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
TASK_HELP = """--type columns: one task, NAME:COLUMN:SCHEME[:FILES], repeated for each task (two or more).
NAME: letters, digits, '_' and '-'. COLUMN: 0-based column of its tags. SCHEME: iob1 or bio (span F1 over BIO;
IOB1 is converted to BIO), bioes (span F1 over BIOES; IOB1/BIO tags are converted) or plain (labels as they are,
token accuracy). FILES: train=PATH,test=PATH[,dev=PATH], the task's own files; without FILES the task reads
--train/--test/--dev. Without a dev file, --dev_fraction of train is held out as dev (seeded by --seed).
Example: --task chunk:2:bio:train=conll2000/train.txt,test=conll2000/test.txt --task ner:3:bioes:train=...
CoNLL-U files (--format conllu, or detected: a .conllu name, `# key = value` comments or 10 tab-separated columns
with an integer ID) read FORM (column 1) as the words; e.g. --task upos:3:plain --task xpos:4:plain --task
deprel:7:plain --train en-ud-train.conllu --test en-ud-test.conllu.
"""
DISTINCT_TAGS = 0.5      # a task with more distinct training tags than this share of its tokens looks like ids
DISTINCT_MIN_TOKENS = 100  # ... once it has this many training tokens


def load_corpus(args: argparse.Namespace, parser: argparse.ArgumentParser, columns: list[ColumnTask] | None) -> dict:
    """Read the raw files of the chosen setting (`columns`: the tasks of --type columns)."""
    if args.type == "conll03":
        sources = {p for p in (args.dir, args.pos, args.chunk, args.ner) if p}
        if len(sources) != 1:
            parser.error("conll03 needs one CoNLL-2003 folder: --dir DIR (or --pos DIR, with --chunk/--ner equal to it)")
        return read_conll03(sources.pop())
    if args.type == "conll03-pp":
        if not args.dir:
            parser.error("conll03-pp needs the CoNLL-2003 folder: --dir DIR (train.txt dev.txt test.txt)")
        return read_conll03_pp(args.dir, args.max_position)
    if args.type == "ptb":
        if not (args.pos and args.chunk and args.ner):
            parser.error("ptb needs --pos WSJ_DIR (train/dev/test.pos), --chunk CONLL2000_DIR and --ner CONLL2003_DIR")
        return read_ptb(args.pos, args.chunk, args.ner, dev_fraction=args.dev_fraction, seed=args.seed,
                        pos_standin=args.pos_standin)
    if args.type == "columns":
        return read_column_tasks(columns, args.word_column, args.dev_fraction, args.seed, args.format)
    if not args.dir:
        parser.error("ontonotes needs --dir DIR holding train/ development/ test/ with *.gold_conll files")
    return read_ontonotes(args.dir)


def parse_task(spec: str, shared: dict[str, str]) -> ColumnTask:
    """A ColumnTask from NAME:COLUMN:SCHEME[:train=PATH,test=PATH,dev=PATH], its files defaulting to `shared`."""
    parts = spec.split(":", 3)
    if len(parts) < 3:
        raise ValueError(f"--task {spec!r}: expected NAME:COLUMN:SCHEME[:train=PATH,test=PATH,dev=PATH]")
    name, column, scheme = parts[:3]
    if not TASK_NAME.fullmatch(name):
        raise ValueError(f"--task {spec!r}: the name {name!r} must be letters, digits, '_' or '-', starting with a "
                         "letter")
    if not column.isdigit():
        raise ValueError(f"--task {spec!r}: the column {column!r} must be a 0-based column number")
    if scheme.lower() not in COLUMN_SCHEMES:
        raise ValueError(f"--task {spec!r}: unknown scheme {scheme!r}; expected one of {', '.join(COLUMN_SCHEMES)}")
    files = dict(shared)
    if len(parts) == 4:
        files = {}
        for item in parts[3].split(","):
            split, _, path = item.partition("=")
            if split not in SPLITS or not path:
                raise ValueError(f"--task {spec!r}: {item!r} is not SPLIT=PATH with SPLIT train, dev or test")
            files[split] = path
    for split in ("train", "test"):
        if split not in files:
            raise ValueError(f"--task {spec!r}: no {split} file: add {split}=PATH to the task or give --{split}")
    return ColumnTask(name, int(column), scheme.lower(), files)


def spec_error(message: str) -> NoReturn:
    """A bad --task spec (or flag of --type columns): one line `error: ...` on stderr, exit status 2, no usage."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def column_format(args: argparse.Namespace, tasks: list[ColumnTask]) -> str:
    """--format, else the format every file of the tasks is detected as (utils.data.conll.detect_format)."""
    if args.format:
        return args.format
    found = {path: detect_format(path) for task in tasks for path in task.files.values()}
    if len(set(found.values())) > 1:
        conllu = next(p for p, f in found.items() if f == "conllu")
        conll = next(p for p, f in found.items() if f == "conll")
        spec_error(f"--format: {conllu} reads as CoNLL-U but {conll} as CoNLL; give --format conll or conllu")
    return next(iter(found.values()), "conll")


def column_tasks(args: argparse.Namespace) -> list[ColumnTask]:
    """The --task specs of --type columns, checked before any corpus is read (the files' first lines tell their
    format); sets args.format and args.word_column (default: FORM, column 1, for CoNLL-U; else 0)."""
    if len(args.task or []) < 2:
        spec_error("--type columns needs two or more --task NAME:COLUMN:SCHEME[:FILES] (see --help)")
    shared = {split: getattr(args, split) for split in SPLITS if getattr(args, split)}
    try:
        tasks = [parse_task(spec, shared) for spec in args.task]
    except ValueError as error:
        spec_error(str(error))
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        spec_error(f"--task: each task needs its own name, got {', '.join(names)}")
    for task in tasks:
        for split, path in task.files.items():
            if not os.path.isfile(path):
                spec_error(f"--task {task.name}: its {split} file {path} does not exist")
    args.format = column_format(args, tasks)
    if args.word_column is None:
        args.word_column = CONLLU_FORM if args.format == "conllu" else 0
    if args.word_column < 0:
        spec_error(f"--word_column {args.word_column}: expected a 0-based column number")
    for task in tasks:
        if task.column == args.word_column:
            spec_error(f"--task {task.name}: column {task.column} is the word column (--word_column)")
    return tasks


def check_columns(corpus: dict, tasks: list[ColumnTask], args: argparse.Namespace) -> None:
    """Refuse a word column of token ids and a task whose training tags are one value (a column one off: the
    columns are 0-based); warn, in one line, of a task whose tags look like ids (one per token)."""
    for task in tasks:
        train = corpus[task.name]["train"]
        if are_token_ids([words for words, _ in train]):
            fix = (f"CoNLL-U words are in FORM: --word_column {CONLLU_FORM}" if args.format == "conllu"
                   else "give --word_column N")
            raise ValueError(f"--word_column {args.word_column}: the words of {task.files['train']} are token ids "
                             f"(1, 2, 3, ... in every sentence); {fix}")
        tags = [t for _, sentence_tags in train for t in sentence_tags]
        distinct = set(tags)
        if len(distinct) == 1:
            raise ValueError(f"task {task.name} (column {task.column}): every training tag is {tags[0]!r}; a task "
                             "needs two or more tags (columns are 0-based: is its column one off?)")
        if are_token_ids([t for _, t in train]) or (len(tags) >= DISTINCT_MIN_TOKENS
                                                     and len(distinct) > DISTINCT_TAGS * len(tags)):
            print(f"warning: task {task.name} (column {task.column}): {len(distinct)} distinct tags for {len(tags)} "
                  "training tokens, like token ids or words (columns are 0-based: is its column right?)",
                  file=sys.stderr)


def publish(tmp: str, out: str) -> None:
    """Move the complete folder `tmp` to `out`; an existing `out` is set aside first and removed only after."""
    if not os.path.lexists(out):
        os.rename(tmp, out)
        return
    old = f"{out}.old-{os.getpid()}"
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old)


def prepare(args: argparse.Namespace, parser: argparse.ArgumentParser, out: str) -> None:
    """Read the corpus and vectors, build the data set in a temporary sibling of `out` and rename it to `out`
    once complete, so `out` is never a half-written folder; the temporary folder goes on any error."""
    if os.path.lexists(out) and not (args.overwrite and os.path.isdir(out)):
        raise ValueError(f"--out {out} exists already" + ("; pass --overwrite to replace it" if os.path.isdir(out)
                                                            else " and is not a folder"))
    columns = column_tasks(args) if args.type == "columns" else None
    if columns is None and (args.task or args.train or args.dev or args.test or args.format
                            or args.word_column is not None):
        parser.error("--task, --train, --dev, --test, --format and --word_column are flags of --type columns")
    generator = torch.Generator().manual_seed(args.seed)
    corpus = load_corpus(args, parser, columns)
    if columns:
        check_columns(corpus, columns, args)
    words, tags = build_vocabularies(corpus)
    if args.embedding:
        lowered = {w.lower() for w, _ in words}
        vectors, dim = read_vectors(args.embedding, lowered)
    else:
        warnings.warn("no --embedding given: word vectors are initialised at random", stacklevel=1)
        vectors, dim = {}, args.embedding_dim
    table, word_rows, coverage = embedding_table(words, vectors, dim, generator, args.unk_vector)
    tasks = index_corpus(corpus, words, tags, {t.name: t.metric for t in columns} if columns else None)
    train_tokens = [w.lower() for task in corpus.values() for sentence, _ in task["train"] for w in sentence]
    covered = sum(1 for w in train_tokens if w in vectors)
    info = {"embedding": {"path": args.embedding, "dim": dim, "types": coverage["types"], "found": coverage["found"],
                          "unk": args.unk_vector}}
    if columns:
        info["columns"] = {"word_column": args.word_column, "format": args.format, "dev_fraction": args.dev_fraction,
                           "seed": args.seed,
                           "tasks": [{"name": t.name, "column": t.column, "scheme": t.scheme, "files": dict(t.files)}
                                     for t in columns]}
    data = Dataset(args.type, words, tasks, table, word_rows, info)
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        data.save(tmp)
        publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(summary(data))
    print(f"words: {len(words):,} in the vocabulary; {coverage['found']:,} of {coverage['types']:,} lowercased types "
          f"({100.0 * coverage['found'] / max(coverage['types'], 1):.1f}%) and "
          f"{100.0 * covered / max(len(train_tokens), 1):.1f}% of training tokens have a pre-trained {dim}-d vector")
    print(f"saved to {out}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--type", required=True, choices=["conll03", "conll03-pp", "ptb", "ontonotes", "columns"], help="experiment setting (conll03-pp: NER + position prediction; columns: your own tasks from CoNLL-style column files, see --task)")
    parser.add_argument("--dir", help="conll03, conll03-pp: folder with train.txt dev.txt test.txt; ontonotes: CoNLL-2012 folder")
    parser.add_argument("--pos", help="conll03: the CoNLL-2003 folder (as the original); ptb: WSJ folder with train.pos dev.pos test.pos")
    parser.add_argument("--chunk", help="conll03: same as --pos; ptb: CoNLL-2000 folder with train.txt test.txt")
    parser.add_argument("--ner", help="conll03: same as --pos; ptb: CoNLL-2003 folder")
    parser.add_argument("--task", action="append", metavar="NAME:COLUMN:SCHEME[:FILES]", help=TASK_HELP)
    parser.add_argument("--train", help="columns: training file of the tasks without their own files")
    parser.add_argument("--dev", help="columns: dev file of the tasks without their own files (none: held out from train)")
    parser.add_argument("--test", help="columns: test file of the tasks without their own files")
    parser.add_argument("--format", choices=FORMATS, default=None, help="columns: the files' format, conll (whitespace-separated columns) or conllu (CoNLL-U: 10 tab-separated columns; comments, multiword ranges and empty nodes skipped); default: detected from the files")
    parser.add_argument("--word_column", type=int, default=None, help="columns: 0-based column of the words (default: 1, FORM, for CoNLL-U; else 0)")
    parser.add_argument("--max_position", type=int, default=PP_MAX_POSITION, help="conll03-pp: positions from this one on share the tag '<max>+'")
    parser.add_argument("--embedding", help="GloVe text file (any dimension, .gz allowed, word2vec header line allowed), e.g. glove.6B.100d.txt")
    parser.add_argument("--embedding_dim", type=int, default=100, help="dimension of random word vectors when --embedding is not given")
    parser.add_argument("--unk_vector", default="random", choices=UNK_VECTORS, help="the <unk> word vector's start: random like a training word's (this project's default) or zero (fastNLP's StaticEmbedding with pre-trained vectors, the original code's)")
    parser.add_argument("--dev_fraction", type=float, default=0.1, help="ptb: share of CoNLL-2000 train held out as chunking dev; columns: share of train held out as dev for a task without a dev file")
    parser.add_argument("--pos_standin", type=float, default=None, metavar="FRACTION", help="ptb without WSJ sections 0-18: ignore train.pos and split dev.pos (sections 19-21) into train and this share of dev, seeded by --seed")
    parser.add_argument("--seed", type=int, default=1, help="seed for random vectors and the dev hold-out (ptb, columns)")
    parser.add_argument("--out", help="output folder (default: data/processed/<type>); written only once complete")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out folder (once the new one is complete)")
    args = parser.parse_args(argv)
    out = os.path.normpath(args.out or os.path.join("data", "processed", args.type))
    try:
        prepare(args, parser, out)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

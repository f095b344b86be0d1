"""Tag text with every task's subnet of a finished run (a Step 3 run folder, hard/soft/hierarchical sharing, or a
Step 1 task folder's round, or export.py's file of one of them) and, when the input has gold columns, score the
tags as conlleval does."""
import argparse
import json
import os
import sys

import torch

from utils.data.conll import FORMATS as COLUMN_FORMATS
from utils.predict.inputs import parse_columns, read_columns, read_text
from utils.predict.output import FORMATTERS, format_scores
from utils.predict.scoring import score
from utils.predict.tagger import load_run, tag, tag_names
from utils.runtime import HelpFormatter, fail


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--run", required=True, help="a finished run folder: train_mtl.py's <save_dir>/<exp_name>, or train_single.py's <save_dir>/cp/<task_id>; or export.py's file of one (OUT.pt)")
    parser.add_argument("--input", required=True, help="the text to tag")
    parser.add_argument("--format", default="text", choices=("text", *COLUMN_FORMATS), help="input: text = one sentence per line, whitespace-tokenised; conll = blank-line-separated sentences of whitespace-separated columns, the word in the run's word column (0 unless a --type columns run recorded another), gold tag columns optional; conllu = CoNLL-U (10 tab-separated columns, comments, multiword ranges and empty nodes skipped), the word in FORM (column 1)")
    parser.add_argument("--word_column", type=int, default=None, help="conll/conllu input: 0-based column of the words (default: see --format)")
    parser.add_argument("--columns", default=None, help="conll/conllu input: gold columns as TASK=COLUMN,... (0-based; default: the columns a --type columns run was trained on; else for conll pos=1,chunk=2,ner=3 for those task names, else task i of the data in column i+1, and none for conllu; none when the file has only words; conllu: only annotated columns, not all '_')")
    parser.add_argument("--output", default=None, help="write the tags here (default: stdout)")
    parser.add_argument("--output_format", default="conll", choices=sorted(FORMATTERS), help="conll = the word then one tag column per task, a blank line after each sentence; jsonl = one JSON object per sentence")
    parser.add_argument("--scores", default=None, help="also write the scores against the gold columns as JSON here")
    parser.add_argument("--round", type=int, default=None, help="Step 1 task folder: the round to use (default: the best-dev round, the sparsest among equals)")
    parser.add_argument("--batch_size", type=int, default=32, help="sentences per batch")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device")
    args = parser.parse_args(argv)
    if args.batch_size <= 0:
        parser.error(f"--batch_size must be positive, got {args.batch_size}")
    for flag in ("columns", "word_column"):
        if getattr(args, flag) is not None and args.format not in COLUMN_FORMATS:
            parser.error(f"--{flag} applies to --format conll or conllu only")
    if args.word_column is not None and args.word_column < 0:
        parser.error(f"--word_column must be a 0-based column number, got {args.word_column}")
    return args


def write_atomic(path: str, text: str) -> None:
    """Write `text` through a temporary sibling and a rename, so a failed run leaves no partial file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not os.path.isfile(args.input):
        fail(f"--input {args.input}: no such file")
    try:
        run = load_run(args.run, args.round, args.device)
        print(f"tagging with {run.description}", file=sys.stderr)
        if args.format in COLUMN_FORMATS:
            names = [s.task.name for s in run.subnets]
            columns = parse_columns(args.columns, names) if args.columns is not None else None
            sentences = read_columns(args.input, args.format, run.data, names, [s.task_id for s in run.subnets],
                                     columns, args.word_column)
        else:
            sentences = read_text(args.input)
        predicted = tag(run, sentences, args.batch_size)
        scores = score(run, sentences, predicted, args.input)
        output = FORMATTERS[args.output_format](sentences, tag_names(run, predicted))
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    if args.scores and not scores:
        fail(f"--scores: {args.input} has no gold columns to score against")
    if args.output:
        write_atomic(args.output, output)
    else:
        sys.stdout.write(output)
    if scores:
        print(format_scores(scores), file=sys.stdout if args.output else sys.stderr)
        if args.scores:
            record = {"input": args.input, "run": args.run, "tasks": scores}
            write_atomic(args.scores, json.dumps(record, indent=2) + "\n")
    print(f"{len(sentences)} sentences, {sum(len(s.words) for s in sentences)} tokens tagged", file=sys.stderr)


if __name__ == "__main__":
    main()

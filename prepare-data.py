"""Turn raw corpora into the processed data set the training scripts read (vocabularies, ids, word vectors)."""
import argparse
import os
import shutil
import sys
import warnings

import torch

from utils.dataset import Dataset, build_vocabularies, embedding_table, index_corpus, summary
from utils.glove import read_vectors
from utils.readers import PP_MAX_POSITION, read_conll03, read_conll03_pp, read_ontonotes, read_ptb


def load_corpus(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict:
    """Read the raw files of the chosen setting."""
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
        return read_ptb(args.pos, args.chunk, args.ner, dev_fraction=args.dev_fraction, seed=args.seed)
    if not args.dir:
        parser.error("ontonotes needs --dir DIR holding train/ development/ test/ with *.gold_conll files")
    return read_ontonotes(args.dir)


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
    generator = torch.Generator().manual_seed(args.seed)
    corpus = load_corpus(args, parser)
    words, tags = build_vocabularies(corpus)
    if args.embedding:
        lowered = {w.lower() for w, _ in words}
        vectors, dim = read_vectors(args.embedding, lowered)
    else:
        warnings.warn("no --embedding given: word vectors are initialised at random", stacklevel=1)
        vectors, dim = {}, args.embedding_dim
    table, word_rows, coverage = embedding_table(words, vectors, dim, generator)
    tasks = index_corpus(corpus, words, tags)
    train_tokens = [w.lower() for task in corpus.values() for sentence, _ in task["train"] for w in sentence]
    covered = sum(1 for w in train_tokens if w in vectors)
    info = {"embedding": {"path": args.embedding, "dim": dim, "types": coverage["types"], "found": coverage["found"]}}
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--type", required=True, choices=["conll03", "conll03-pp", "ptb", "ontonotes"], help="experiment setting (conll03-pp: NER + position prediction)")
    parser.add_argument("--dir", help="conll03, conll03-pp: folder with train.txt dev.txt test.txt; ontonotes: CoNLL-2012 folder")
    parser.add_argument("--pos", help="conll03: the CoNLL-2003 folder (as the original); ptb: WSJ folder with train.pos dev.pos test.pos")
    parser.add_argument("--chunk", help="conll03: same as --pos; ptb: CoNLL-2000 folder with train.txt test.txt")
    parser.add_argument("--ner", help="conll03: same as --pos; ptb: CoNLL-2003 folder")
    parser.add_argument("--max_position", type=int, default=PP_MAX_POSITION, help="conll03-pp: positions from this one on share the tag '<max>+'")
    parser.add_argument("--embedding", help="GloVe text file (any dimension, .gz allowed, word2vec header line allowed), e.g. glove.6B.100d.txt")
    parser.add_argument("--embedding_dim", type=int, default=100, help="dimension of random word vectors when --embedding is not given")
    parser.add_argument("--dev_fraction", type=float, default=0.1, help="ptb: share of CoNLL-2000 train held out as chunking dev")
    parser.add_argument("--seed", type=int, default=1, help="seed for random vectors and the ptb dev hold-out")
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

"""Write a finished run (a Step 3 run folder, hard/soft/hierarchical sharing, or a Step 1 task folder's round) as one
self-contained file that torch.load(weights_only=True) reads: the shared weights once (a prunable weight only where
some task's mask keeps it), each task's mask at one bit per prunable weight, the heads, vocabularies, tag sets and
settings (and a transformer's tokenizer and configuration). `predict.py --run OUT.pt` tags with it exactly as with
the run folder."""
import argparse

from utils.export.writer import export_run
from utils.runtime import HelpFormatter, fail


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished run folder: train_mtl.py's <save_dir>/<exp_name>, or train_single.py's <save_dir>/cp/<task_id>")
    parser.add_argument("out", metavar="OUT.pt", help="the export file to write (replaced atomically)")
    parser.add_argument("--round", type=int, default=None, help="Step 1 task folder: the round to export (default: the best-dev round, the sparsest among equals)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        sizes = export_run(args.run_dir, args.out, args.round)
    except (FileNotFoundError, ValueError) as error:
        fail(str(error))
    print(f"dense weights {sizes.weights}: {sizes.dense:,} bytes")
    print(f"export {args.out}: {sizes.export:,} bytes ({100.0 * sizes.export / sizes.dense:.1f}% of the dense weights)")


if __name__ == "__main__":
    main()

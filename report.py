"""Write the paper's tables (Markdown and CSV), the Step 1 figure and learning curves from the runs under
exp/<setting>/; --compare prints one run's per-task comparison with Step 1. A runs folder of seed<s>/ folders
(run_<setting>.sh with SEEDS) gives every cell as mean ± std over the seeds and checks the paper's orderings."""
import argparse
import os
import sys

from utils.report import compare_run, write_report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("setting", help="experiment setting, e.g. conll03")
    parser.add_argument("--exp_dir", default=None, help="runs folder (default: exp/<setting>); with seed<s>/ folders in it, the report over those seeds")
    parser.add_argument("--out", default=None, help="output folder (default: <exp_dir>/report)")
    parser.add_argument("--lenient", action="store_true", help="score chunking and NER with the original code's lenient Step 1 span decoders (for comparison with its logs) instead of conlleval's")
    parser.add_argument("--compare", metavar="NAME", default=None, help="only print, per task, the test scores of Step 1 (dense round 0 and the chosen subnet) beside the joint run mtl/NAME (the closing table of run_<setting>.sh all); writes nothing")
    args = parser.parse_args(argv)
    exp_dir = args.exp_dir or os.path.join("exp", args.setting)
    if not os.path.isdir(exp_dir):
        print(f"error: {exp_dir}: no runs folder (run bash run_{args.setting}.sh baselines, or pass --exp_dir)",
              file=sys.stderr)
        sys.exit(1)
    if args.compare:
        try:
            print(compare_run(exp_dir, args.compare))
        except (OSError, ValueError, KeyError) as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(1)
        return
    try:
        written = write_report(exp_dir, args.out or os.path.join(exp_dir, "report"), args.setting,
                               "test_lenient" if args.lenient else "test")
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    with open(written[0], encoding="utf-8") as f:
        print(f.read())
    print("written: " + ", ".join(written), file=sys.stderr)


if __name__ == "__main__":
    main()

"""Write the paper's tables (Markdown and CSV), the Step 1 figure and learning curves of one named run of a runs
folder (default: the newest in exp/<setting>) into its report/ folder; --compare NAME prints that run's per-task
comparison with Step 1 instead, --finders NAME... the table of mask finders over named runs. A run with seed<s>/
folders (run_<setting>.sh with SEEDS) gives every cell as mean ± std over the seeds and checks the paper's
orderings; --seed S reports one seed."""
import argparse
import sys

from utils.report.compare import compare_run
from utils.report.finders import claim_lines, finder_table
from utils.report.runs import Context, RunError, choose_run, context, seed_alias
from utils.report.seeds import write_seed_report
from utils.report.write import write_report
from utils.runs import layout


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("setting", help="experiment setting, e.g. conll03 (its runs folder: exp/<setting>)")
    parser.add_argument("--exp_dir", help="runs folder (default: exp/<setting>)")
    parser.add_argument("--name", help="the named run to report (default: the newest in the runs folder, said on "
                        "stderr)")
    parser.add_argument("--seed", type=int, help="report this seed of a run with seed<s>/ folders (default: all its "
                        "seeds, as mean ± std)")
    parser.add_argument("--out", help="output folder (default: the run's report/ folder, or the seed's with --seed)")
    parser.add_argument("--lenient", action="store_true", help="score chunking and NER with the original code's "
                        "lenient Step 1 span decoders (for comparison with its logs) instead of conlleval's")
    parser.add_argument("--compare", metavar="NAME", help="only print, per task, the test scores of Step 1 (dense "
                        "round 0 and the chosen subnet) beside Step 3 of run NAME (the closing table of "
                        "run_<setting>.sh all); writes nothing")
    parser.add_argument("--finders", nargs="+", metavar="NAME", help="only print the finder table of these named runs "
                        "(each `run_<setting>.sh all` with one FINDER, seeds as mean ± std); writes nothing")
    args = parser.parse_args(argv)
    if args.compare and args.name and args.compare != args.name:
        parser.error(f"--compare {args.compare} and --name {args.name}: name the run once")
    return args


def check_seed(ctx: Context, seed: int | None) -> None:
    """A --seed the run has."""
    if seed is not None and seed not in ctx.seeds:
        held = f"its seeds: {', '.join(map(str, ctx.seeds))}" if ctx.seeds else "it has no seed<s>/ folders"
        raise RunError(f"--seed {seed}: run {ctx.name} in {ctx.exp_dir} has no seed{seed}/ ({held})")


def report(args: argparse.Namespace) -> None:
    """Print the comparison, or write the report and print its Markdown (the files written on stderr)."""
    exp_dir, name, seed = args.exp_dir or layout.default_exp_dir(args.setting), args.compare or args.name, args.seed
    if args.finders:
        table, missing = finder_table(exp_dir, args.finders)
        print("\n".join([table.markdown(), *missing, *claim_lines(table)]))
        return
    alias = seed_alias(exp_dir, name)
    if alias and seed in (None, alias[2]):
        exp_dir, name, seed = alias
    name, chosen = choose_run(exp_dir, name, args.setting)
    if chosen:
        print(chosen, file=sys.stderr)
    ctx = context(exp_dir, name, args.setting)
    check_seed(ctx, seed)
    if args.compare:
        print(compare_run(ctx, seed))
        return
    score_key = "test_lenient" if args.lenient else "test"
    if ctx.seeds and seed is None:
        written = write_seed_report(ctx, args.out or ctx.run.report, score_key)
    else:
        run = ctx.run if seed is None else ctx.run.seed(seed)
        written = write_report(ctx, run, args.out or run.report, score_key)
    with open(written[0], encoding="utf-8") as f:
        print(f.read())
    print("written: " + ", ".join(written), file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        report(args)
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

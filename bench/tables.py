"""bench/bench.py's results as Markdown: the arms, the ratios with their targets (met, not met, or not assessed
with too few repetitions), the training step against the machine's limit and the profile of the joint step; and
the transformer arm's arms, ratios and target."""
from bench.arms import ARMS
from bench.parts import OTHER, PARTS
from bench.transformer import ARMS as TRANSFORMER_ARMS


def verdict(target: dict) -> str:
    if target["met"] is None:
        return f"not assessed (needs --reps ≥ {target['min_reps']})"
    return "met" if target["met"] else "NOT met"


def arm_rows(result: dict) -> list[str]:
    lines = ["| arm | median | spread | tokens/s | sentences/s |", "|---|---|---|---|---|"]
    for name, entry in result["arms"].items():
        stat = entry.get("ms_per_step") or entry["ms"]
        unit = "ms/step" if "ms_per_step" in entry else "ms"
        rate = (f"{entry['tokens_per_s']:,.0f} | {entry['sentences_per_s']:,.0f}" if "tokens_per_s" in entry
                else "— | —")
        lines.append(f"| {ARMS[name]} | {stat['median']:.2f} {unit} | {stat['min']:.2f}–{stat['max']:.2f} | {rate} |")
    return lines


def ratio_rows(result: dict) -> list[str]:
    lines = ["| ratio | median | target | |", "|---|---|---|---|"]
    values = {**result["ratios"], "prune_round_ms": result["prune_round_ms"]}
    for name, value in values.items():
        target = result["targets"].get(name)
        goal = f"{target['op']} {target['threshold']:g}" if target else "—"
        lines.append(f"| {name} | {value:.3f} | {goal} | {verdict(target) if target else 'untargeted'} |")
    return lines


def limit_rows(result: dict) -> list[str]:
    limit = result["limit"]
    return ["| training step against the machine's limit | value |", "|---|---|",
            f"| BiLSTM forward + backward, FLOPs per run (padded grid, {limit['padded_tokens']:,} token slots) "
            f"| {limit['flops_per_run'] / 1e9:.3f} G |",
            f"| (i) BiLSTM alone: achieved rate | {limit['bilstm_gflops']:.1f} GFLOP/s |",
            f"| (j) dense products of the same shapes: the machine's rate | {limit['dense_gflops']:.1f} GFLOP/s |",
            f"| rate / limit (median of per-repetition (j) / (i)) | {limit['rate_vs_limit']:.3f} |",
            f"| joint step's share outside the BiLSTM, 1 − (i) / (c) | {100 * limit['joint_outside_bilstm']:.0f}% |"]


def profile_rows(result: dict) -> list[str]:
    lines = ["| part | ms/step | share |", "|---|---|---|"]
    for name, entry in result["profile"].items():
        lines.append(f"| {PARTS.get(name, OTHER)} | {entry['ms_per_step']:.2f} | {100 * entry['share']:.0f}% |")
    return lines


def markdown(result: dict) -> str:
    """The arms, ratios and targets, the machine's limit and the profile as Markdown tables."""
    s, source = result["settings"], result.get("source", {})
    commit = source.get("commit") or "unknown commit"
    state = " (uncommitted changes)" if source.get("dirty") else ""
    head = (f"{source.get('date', '')} at {commit[:12]}{state}: device {s['device']}, {s['threads']} threads, torch "
            f"{s['torch']}, batch {s['batch_size']}, hidden {s['hidden_size']}, {s['n_layer']} layer(s), "
            f"{s['steps']} steps ({s['tokens']} tokens) per arm, {s['reps']} interleaved repetitions after "
            f"{s['warmup']} warm-up; median [min–max]")
    sections = [[head], arm_rows(result), ratio_rows(result), limit_rows(result),
                ["Profile of the masked joint step (c), each part forward + backward alone:"], profile_rows(result)]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def transformer_markdown(result: dict) -> str:
    """The transformer arm's block: its settings, the three arms and the ratios against plain fine-tuning."""
    block, source = result["transformer"], result.get("source", {})
    s = block["settings"]
    commit = source.get("commit") or "unknown commit"
    state = " (uncommitted changes)" if source.get("dirty") else ""
    head = (f"Transformer arm, {source.get('date', '')} at {commit[:12]}{state}: {s['pretrained']}, device "
            f"{s['device']}, {s['threads']} threads, torch {s['torch']}, transformers {s['transformers']}, batch "
            f"{s['batch_size']}, {s['steps']} steps ({s['tokens']} words, {s['subwords']} subwords with the special "
            f"tokens) per arm, {s['optim']}, clip norm {s['clip_norm']:g}, subnets keeping {100 * s['kept']:.0f}%, "
            f"{s['reps']} interleaved repetitions after {s['warmup']} warm-up; median [min–max]")
    arms = ["| arm | median | spread | words/s | sentences/s |", "|---|---|---|---|---|"]
    for name, entry in block["arms"].items():
        stat = entry["ms_per_step"]
        arms.append(f"| {TRANSFORMER_ARMS[name]} | {stat['median']:.1f} ms/step | "
                    f"{stat['min']:.1f}–{stat['max']:.1f} | {entry['tokens_per_s']:,.0f} | "
                    f"{entry['sentences_per_s']:,.1f} |")
    ratios = ["| ratio | median | target | |", "|---|---|---|---|"]
    for name, value in block["ratios"].items():
        target = block["targets"].get(name)
        goal = f"{target['op']} {target['threshold']:g}" if target else "—"
        ratios.append(f"| {name} | {value:.3f} | {goal} | {verdict(target) if target else 'untargeted'} |")
    return "\n\n".join("\n".join(lines) for lines in ([head], arms, ratios)) + "\n"

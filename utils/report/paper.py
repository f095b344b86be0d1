"""The paper's numbers (REFERENCE §1 and §3) per data setting, for the report's text and the orderings' "paper"
column: test scores of the main table and # Params (CoNLL-2003, OntoNotes 5.0; Exp3 "ptb" has hard and sparse
sharing only, POS / NER / Chunk), the multi-task warmup ablation (CoNLL-2003, OntoNotes), negative transfer and
the mask overlap against the gain of sparse over hard sharing (CoNLL-2003). A setting the paper did not run
(`columns`, your own tasks) has none, and the report then quotes none."""
from utils.report.tables import TASK_NAMES

PAPER = {
    "conll03": {
        "main": {"Single task": {"pos": 95.09, "ner": 89.36, "chunk": 89.92, "params": 1602e3},
                 "Single task (subnet)": {"pos": 95.11, "ner": 89.39, "chunk": 89.96, "params": 811e3},
                 "Hard sharing": {"pos": 95.34, "ner": 88.68, "chunk": 90.92, "params": 534e3},
                 "Soft sharing": {"pos": 95.16, "ner": 89.35, "chunk": 90.71, "params": 1596e3},
                 "Hierarchical sharing": {"pos": 95.09, "ner": 89.30, "chunk": 90.89, "params": 1497e3},
                 "Sparse sharing": {"pos": 95.56, "ner": 90.35, "chunk": 91.55, "params": 396e3}},
        "mtw": {"Sparse sharing (no MTW)": {"pos": 95.36, "ner": 89.62, "chunk": 91.04},
                "Sparse sharing (MTW)": {"pos": 95.56, "ner": 90.35, "chunk": 91.55}},
        "negative": {"Single task": {"ner": 71.05, "pp": 99.21}, "Hard sharing": {"ner": 61.62, "pp": 99.50},
                     "Sparse sharing": {"ner": 71.46, "pp": 99.45}},
        "overlap": {"pos & ner": {"overlap": 0.18, "gain": 0.40}, "ner & chunk": {"overlap": 0.20, "gain": 0.34},
                    "pos & chunk": {"overlap": 0.50, "gain": 0.05}}},
    "ontonotes": {
        "main": {"Single task": {"pos": 97.40, "ner": 82.72, "chunk": 95.21, "params": 4491e3},
                 "Single task (subnet)": {"pos": 97.42, "ner": 82.94, "chunk": 95.28, "params": 1459e3},
                 "Hard sharing": {"pos": 97.46, "ner": 82.95, "chunk": 95.52, "params": 1497e3},
                 "Soft sharing": {"pos": 97.34, "ner": 81.93, "chunk": 95.29, "params": 4485e3},
                 "Hierarchical sharing": {"pos": 97.22, "ner": 82.81, "chunk": 95.53, "params": 1497e3},
                 "Sparse sharing": {"pos": 97.54, "ner": 83.42, "chunk": 95.56, "params": 662e3}},
        "mtw": {"Sparse sharing (no MTW)": {"pos": 97.53, "ner": 81.15, "chunk": 95.48},
                "Sparse sharing (MTW)": {"pos": 97.54, "ner": 83.42, "chunk": 95.56}}},
    "ptb": {"main": {"Hard sharing": {"pos": 97.23, "ner": 90.38, "chunk": 94.32},
                     "Sparse sharing": {"pos": 97.57, "ner": 90.87, "chunk": 95.26}}},
}
PAPER_NAMES = {"conll03": "CoNLL-2003", "ontonotes": "OntoNotes 5.0", "ptb": "PTB POS + CoNLL-2000 + CoNLL-2003"}
PAPER_ORDER = ("pos", "ner", "chunk")  # the paper's column order


def paper_numbers(setting: str) -> dict[str, dict[str, dict[str, float]]]:
    """The paper's tables for a data setting ({} for one the paper did not run)."""
    return PAPER.get(setting, {})


def scores_text(scores: dict[str, float]) -> str:
    """Scores in the paper's task order, e.g. "95.56 / 90.35 / 91.55"."""
    tasks = [t for t in PAPER_ORDER if t in scores] + [t for t in scores if t not in PAPER_ORDER and t != "params"]
    return " / ".join(f"{scores[t]:.2f}" for t in tasks)


def tasks_text(scores: dict[str, float]) -> str:
    """The task names of `scores` in the paper's order, e.g. "POS / NER / Chunk"."""
    tasks = [t for t in PAPER_ORDER if t in scores] + [t for t in scores if t not in PAPER_ORDER and t != "params"]
    return " / ".join(TASK_NAMES.get(t, t) for t in tasks)


def mtw_text(setting: str) -> str:
    """The paper's warmup ablation for the setting as a sentence, or "" when the paper has none."""
    mtw = paper_numbers(setting).get("mtw")
    if not mtw:
        return ""
    with_, without = mtw["Sparse sharing (MTW)"], mtw["Sparse sharing (no MTW)"]
    return (f"The paper, {PAPER_NAMES[setting]} ({tasks_text(with_)}): {scores_text(with_)} with, "
            f"{scores_text(without)} without.")


def negative_text(setting: str) -> str:
    """The paper's negative-transfer numbers as a sentence, or "" when the paper has none."""
    negative = paper_numbers(setting).get("negative")
    if not negative:
        return ""
    first = next(iter(negative.values()))
    return ("The paper (" + tasks_text(first) + "): "
            + ", ".join(f"{system.lower()} {scores_text(s)}" for system, s in negative.items()) + ".")


def overlap_text(setting: str) -> str:
    """The paper's overlap ratios and gains (Δ S² − HS) as a sentence, or "" when the paper has none."""
    overlap = paper_numbers(setting).get("overlap")
    if not overlap:
        return ""
    return (f"The paper, {PAPER_NAMES[setting]}: "
            + "; ".join(f"{pair} {v['overlap']:.2f} ({v['gain']:+.2f})" for pair, v in overlap.items()) + ".")

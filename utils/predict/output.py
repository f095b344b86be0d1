"""predict.py's output: the tags as CoNLL columns or JSON lines, and the scores as conlleval prints them."""
import json

from utils.predict.inputs import Sentence


def format_conll(sentences: list[Sentence], tags: dict[str, list[list[str]]]) -> str:
    """One token per line: the word, then one tag column per task (space-separated); a blank line after each
    sentence."""
    lines = []
    for index, sentence in enumerate(sentences):
        for position, word in enumerate(sentence.words):
            lines.append(" ".join([word] + [tags[task][index][position] for task in tags]))
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else "")


def format_jsonl(sentences: list[Sentence], tags: dict[str, list[list[str]]]) -> str:
    """One JSON object per sentence: {"words": [...], "<task>": [...], ...}."""
    return "".join(json.dumps({"words": s.words, **{task: tags[task][i] for task in tags}}, ensure_ascii=False) + "\n"
                   for i, s in enumerate(sentences))


FORMATTERS = {"conll": format_conll, "jsonl": format_jsonl}


def format_scores(scores: dict) -> str:
    """conlleval's report, one block per task."""
    lines = []
    for task, s in scores.items():
        if s["metric"] == "acc":
            lines.append(f"{task}: processed {s['tokens']} tokens in {s['sentences']} sentences; "
                         f"accuracy: {s['accuracy']:6.2f}%")
            continue
        lines.append(f"{task}: processed {s['tokens']} tokens with {s['gold']} phrases; found: {s['found']} phrases; "
                     f"correct: {s['correct']}.")
        lines.append(f"accuracy: {s['accuracy']:6.2f}%; precision: {s['precision']:6.2f}%; "
                     f"recall: {s['recall']:6.2f}%; FB1: {s['f1']:6.2f}")
        for label, t in s["types"].items():
            lines.append(f"{label:>17}: precision: {t['precision']:6.2f}%; recall: {t['recall']:6.2f}%; "
                         f"FB1: {t['f1']:6.2f}  {t['found']}")
    return "\n".join(lines)

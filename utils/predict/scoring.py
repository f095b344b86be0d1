"""Scores of predicted tags against an input's gold columns with the training metrics (utils.training.metrics): token
accuracy and, for span tasks, conlleval's precision, recall and F1 over exact spans, overall and per type."""
import torch
from torch.nn.utils.rnn import pad_sequence

from utils.training.metrics import SpanF1, TokenAccuracy, span_figures
from utils.predict.inputs import Sentence
from utils.predict.tagger import Run


def _span_scores(metric: SpanF1) -> dict:
    """Overall and per-type span figures (percent) with the spans found, expected and correct."""
    precision, recall, f1 = span_figures(metric.tp, metric.fp, metric.fn)
    return {"precision": precision, "recall": recall, "f1": f1, "found": metric.tp + metric.fp,
            "gold": metric.tp + metric.fn, "correct": metric.tp, "types": metric.per_type()}


def score(run: Run, sentences: list[Sentence], predicted: dict[str, list[list[int]]], path: str) -> dict:
    """Per task with gold tags in the input: token accuracy and, for span tasks, conlleval's micro precision,
    recall and F1 over exact spans, overall and per type (percent). "score" is the task's metric as
    results.json reports it. A gold tag outside the run's tag set is an error naming its line."""
    scores = {}
    for subnet in run.subnets:
        name, vocab = subnet.task.name, subnet.task.tags
        if not sentences or name not in sentences[0].gold:
            continue
        gold_ids, pred_ids = [], []
        for sentence, pred in zip(sentences, predicted[name]):
            ids = []
            for tag_, line in zip(sentence.gold[name], sentence.lines):
                if tag_ not in vocab:
                    raise ValueError(f"{path}:{line}: gold tag {tag_!r} of task {name} is not in the run's tag set "
                                     f"({', '.join(sorted(w for w, _ in vocab))})")
                ids.append(vocab.to_index(tag_))
            gold_ids.append(torch.tensor(ids))
            pred_ids.append(torch.tensor(pred))
        gold = pad_sequence(gold_ids, batch_first=True)
        pred = pad_sequence(pred_ids, batch_first=True)
        seq_len = torch.tensor([len(g) for g in gold_ids])
        accuracy = TokenAccuracy()
        accuracy.update(pred, gold, seq_len)
        result = {"metric": subnet.task.metric, "sentences": len(sentences), "tokens": accuracy.total,
                  "accuracy": accuracy.score()}
        if subnet.task.metric == "acc":
            result["score"] = result["accuracy"]
        else:
            spans = SpanF1(vocab, subnet.task.metric)
            spans.update(pred, gold, seq_len)
            result.update(_span_scores(spans))
            result["score"] = result["f1"]
        scores[name] = result
    return scores

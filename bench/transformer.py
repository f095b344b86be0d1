"""The transformer arm of bench/bench.py (--encoder transformer --pretrained PATH): the same training batches of
real data through (i) a plain fine-tuning step, the way a user fine-tunes without this project (AutoModel and a
linear head; the tokenizer called on the batch's words, is_split_into_words=True, padding; cross-entropy on each
word's first subword; AdamW over the same parameter groups, gradient norm clipped, a step), (ii) the project's
dense TransformerTagger step (utils.training.task.train_step, no mask) and (iii) its masked joint step, tasks
alternating, each with its own subnet mask keeping KEPT of the prunable scope and its own optimiser, as the
BiLSTM's joint arm. (i) and (ii) train the single-task arms' task; the joint step's batch k is task k mod T's
k-th batch, the same sentences where the tasks share them (CoNLL-2003). The recipe (optimiser, clip norm,
dropout, batch size) is the transformer encoder's (models.transformer.TransformerTagger.DEFAULTS). Timed
interleaved (bench/timing.py); the block this module collects goes under "transformer" in the results JSON."""
import argparse
import copy
import statistics
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from bench.results import TRANSFORMER_TARGETS, targets
from bench.timing import paired_ratio, summary
from bench.workload import KEPT, subnet_masks
from models import get_model
from models.transformer import TransformerTagger
from utils.data.batching import Batch, collate, epoch_batches
from utils.data.dataset import Dataset
from utils.subnets.masks import Mask
from utils.training.joint import parameter_groups
from utils.training.task import make_optimizer, train_step

RECIPE = TransformerTagger.DEFAULTS
ARMS = {"plain": "(i) plain fine-tuning: AutoModel + linear head", "dense": "(ii) project's dense step",
        "joint": "(iii) project's masked joint step"}
IGNORED = -100  # the label of subwords the loss skips (every subword but a word's first, and the special tokens)


class PlainTagger(nn.Module):
    """A pretrained AutoModel (built without its pooler, as AutoModelForTokenClassification does), dropout and a
    linear head, written as a user would without this project."""

    no_weight_decay = TransformerTagger.no_weight_decay  # biases and LayerNorm, the same rule as the project's

    def __init__(self, pretrained: str, n_tags: int, dropout: float) -> None:
        super().__init__()
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        try:
            self.transformer = transformers.AutoModel.from_pretrained(pretrained, add_pooling_layer=False)
        except TypeError:  # an architecture without a pooler
            self.transformer = transformers.AutoModel.from_pretrained(pretrained)
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(pretrained)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(self.transformer.config.hidden_size, n_tags)

    def loss(self, sentences: list[list[str]], tags: list[list[int]]) -> torch.Tensor:
        """Cross-entropy over the words of a batch, each word scored at its first subword."""
        device = self.out.weight.device
        encoded = self.tokenizer(sentences, is_split_into_words=True, padding=True, truncation=True,
                                 return_tensors="pt")
        labels = torch.full(encoded["input_ids"].shape, IGNORED, dtype=torch.long)
        for b, word_tags in enumerate(tags):
            previous = None
            for position, word in enumerate(encoded.word_ids(b)):
                if word is not None and word != previous:
                    labels[b, position] = word_tags[word]
                previous = word
        hidden = self.transformer(**encoded.to(device)).last_hidden_state
        logits = self.out(self.dropout(hidden))
        return F.cross_entropy(logits.flatten(0, 1), labels.to(device).flatten(), ignore_index=IGNORED)

    def step(self, sentences: list[list[str]], tags: list[list[int]], optimizer: torch.optim.Optimizer,
             clip_norm: float) -> float:
        """One fine-tuning step on one batch; the loss."""
        self.train()
        optimizer.zero_grad(set_to_none=True)
        loss = self.loss(sentences, tags)
        loss.backward()
        nn.utils.clip_grad_norm_([p for p in self.parameters() if p.grad is not None], clip_norm)
        optimizer.step()
        return loss.item()


@dataclass
class TransformerWork:
    """The batches, masks and models of the transformer arm."""

    task_id: int
    sentences: list[list[list[str]]]  # per step, the words of the single-task batch, as strings
    tags: list[list[list[int]]]       # per step, their tag ids (of task_id), one list per sentence
    batches: list[Batch]              # per step, the same sentences collated for the project's model
    joint: list[tuple[int, Batch]]    # the joint step's (task, batch) sequence: task k mod T takes its k-th batch
    masks: list[Mask]                 # one subnet per task, KEPT of the prunable scope
    plain: PlainTagger
    dense: TransformerTagger
    joint_model: TransformerTagger


def build_transformer(args: argparse.Namespace, data: Dataset) -> TransformerWork:
    """The arm's models (the project's built by models.get_model, the plain one with the same initial head of
    task `args.task_id`), masks and batches (`args.steps` length-bucket batches of `args.batch_size`)."""
    torch.manual_seed(args.seed)
    device, pad, task_id = args.device, data.words.padding_idx, args.task_id
    train = data.tasks[task_id].splits["train"]
    order = epoch_batches("bucket", train.lengths, args.batch_size, torch.Generator().manual_seed(args.seed))
    indices = order[:args.steps]
    per_task = [[collate(t.splits["train"], [i % len(t.splits["train"]) for i in idx], pad, device)
                 for idx in indices] for t in data.tasks]
    joint = [(k % len(per_task), per_task[k % len(per_task)][k]) for k in range(len(indices))]
    sentences = [[[data.words.to_word(w) for w in train.words[i].tolist()] for i in idx] for idx in indices]
    tags = [[train.tags[i].tolist() for i in idx] for idx in indices]
    dense = get_model("cnn-lstm", data, dropout=RECIPE["dropout"], encoder="transformer",
                      pretrained=args.pretrained).to(device)
    masks = subnet_masks(dense, len(data.tasks), torch.Generator().manual_seed(args.seed))
    plain = PlainTagger(args.pretrained, len(data.tasks[task_id].tags), RECIPE["dropout"]).to(device)
    plain.out.load_state_dict(dense.heads.out[task_id].state_dict())
    return TransformerWork(task_id, sentences, tags, per_task[task_id], joint, masks, plain, dense,
                           copy.deepcopy(dense))


def transformer_arms(work: TransformerWork) -> dict[str, Callable[[], None]]:
    """One callable per arm, each running its arm once over all the steps' batches."""
    clip = RECIPE["clip_norm"]
    plain_optim = make_optimizer(RECIPE["optim"], parameter_groups(work.plain))
    dense_optim = make_optimizer(RECIPE["optim"], parameter_groups(work.dense))
    joint_optims = [make_optimizer(RECIPE["optim"], parameter_groups(work.joint_model)) for _ in work.masks]

    def plain() -> None:
        for sentences, tags in zip(work.sentences, work.tags):
            work.plain.step(sentences, tags, plain_optim, clip)

    def dense() -> None:
        for batch in work.batches:
            train_step(work.dense, None, work.task_id, batch, dense_optim, clip_norm=clip)

    def joint() -> None:
        for t, batch in work.joint:
            train_step(work.joint_model, work.masks[t], t, batch, joint_optims[t], clip_norm=clip)

    return {"plain": plain, "dense": dense, "joint": joint}


def collect_transformer(args: argparse.Namespace, work: TransformerWork, times: dict[str, list[float]]) -> dict:
    """The "transformer" block of the results: settings, per arm ms per step (median and spread) with tokens/s
    and sentences/s, the ratios (ii)/(i) and (iii)/(i) (medians of per-repetition ratios) and the target."""
    import transformers

    steps = len(work.batches)
    tokens = sum(int(b.seq_len.sum()) for b in work.batches)
    sentences = sum(len(b.seq_len) for b in work.batches)
    subwords = sum(int(work.plain.tokenizer(s, is_split_into_words=True, padding=True,
                                            return_tensors="pt")["attention_mask"].sum()) for s in work.sentences)
    arms = {name: {"ms_per_step": summary([1000 * v / steps for v in values]),
                   "tokens_per_s": tokens / statistics.median(values),
                   "sentences_per_s": sentences / statistics.median(values)} for name, values in times.items()}
    ratios = {"dense_vs_plain": paired_ratio(times, "dense", "plain"),
              "joint_vs_plain": paired_ratio(times, "joint", "plain")}
    settings = {"pretrained": args.pretrained, "data_path": args.data_path, "task_id": work.task_id,
                "seed": args.seed, "device": args.device, "threads": torch.get_num_threads(),
                "torch": torch.__version__, "transformers": transformers.__version__,
                "batch_size": args.batch_size, "steps": steps, "reps": args.reps, "warmup": args.warmup,
                "tokens": tokens, "subwords": subwords, "kept": KEPT, "optim": RECIPE["optim"],
                "clip_norm": RECIPE["clip_norm"], "dropout": RECIPE["dropout"]}
    return {"settings": settings, "arms": arms, "ratios": ratios,
            "targets": targets(ratios, args.reps, TRANSFORMER_TARGETS)}

"""A pretrained transformer as the shared encoder (--encoder transformer --pretrained NAME_OR_PATH), on Hugging
Face transformers (AutoModel, a fast AutoTokenizer), imported only when such a model is built.

Each word is split into subwords on its own, as a tokenizer does with is_split_into_words=True, so a word's pieces
are a table lookup per vocabulary entry; a word's vector is its first subword's (Devlin et al. 2019) or, with
--subword_pooling mean, the mean of its subwords'. A sentence longer than the model's limit is split into
overlapping windows of whole words and each word takes its vector from the window where it sits most centrally;
nothing is cut (a single word of more subwords than a window keeps its first window-full). The prunable scope is
the Linear weights of the attention and feed-forward blocks (embeddings, LayerNorm, pooler and heads stay dense);
the rewind point is the pretrained weights (Chen et al. 2020, lottery tickets in pretrained BERT); the defaults
are the fine-tuning recipe (AdamW, lr 5e-5, weight decay 0.01 except biases and LayerNorm, linear decay after 10%
warm-up, batch 16, gradient norm clipped at 1, as Hugging Face's Trainer; 3 epochs, in the 2–4 that Devlin et al.
recommend)."""
import os
from typing import ClassVar

import torch
from torch import nn

from models.dropout import Dropout
from models.encoder import Encoder, ModelSpec
from models.heads import TaskHeads

POOLINGS = ("first", "mean")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _transformers():
    import transformers
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def load_pretrained(source: str) -> tuple[nn.Module, object]:
    """The AutoModel (without its pooler where the architecture has one) and fast tokenizer of `source`: a local
    folder, or a hub name. A folder without weights (a run's snapshot) gives the architecture, randomly
    initialised: the run's weights are loaded into it next."""
    hf = _transformers()
    try:
        tokenizer = hf.AutoTokenizer.from_pretrained(source, use_fast=True)
        weights = not os.path.isdir(source) or any(os.path.isfile(os.path.join(source, f)) for f in WEIGHT_FILES)
        config = hf.AutoConfig.from_pretrained(source)
        build = (lambda **kw: hf.AutoModel.from_pretrained(source, **kw)) if weights else \
            (lambda **kw: hf.AutoModel.from_config(config, **kw))
        try:
            model = build(add_pooling_layer=False)
        except TypeError:  # an architecture without a pooler
            model = build()
    except (OSError, ValueError) as error:
        raise ValueError(f"--pretrained {source}: {str(error).splitlines()[0]}") from None
    if not tokenizer.is_fast:
        raise ValueError(f"--pretrained {source}: the tokenizer is not a fast (Rust) tokenizer")
    return model, tokenizer


def special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after one sentence (e.g. [CLS] and [SEP])."""
    encoded = tokenizer([["a"]], is_split_into_words=True)
    ids, word_ids = encoded["input_ids"][0], encoded.word_ids(0)
    words = [i for i, w in enumerate(word_ids) if w is not None]
    return ids[:words[0]], ids[words[-1] + 1:]


def window_plan(pieces: list[int], limit: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Windows [start, end) of whole words holding at most `limit` subwords (a longer word alone), each next one
    starting at the word where the previous reaches half its subwords; and per word the window it is read from,
    the one where it is farthest (in words) from an edge, the earlier on ties. One window when all fit."""
    n = len(pieces)
    windows, start = [], 0
    while True:
        end, total = start, 0
        while end < n and (end == start or total + pieces[end] <= limit):
            total += pieces[end]
            end += 1
        windows.append((start, end))
        if end == n:
            break
        half, nxt = 0, start
        while nxt < end - 1 and half < total / 2:
            half += pieces[nxt]
            nxt += 1
        start = max(nxt, start + 1)
    owner = []
    for j in range(n):
        spans = [(min(j - s, e - 1 - j), -k) for k, (s, e) in enumerate(windows) if s <= j < e]
        owner.append(-max(spans)[1])
    return windows, owner


class TransformerTagger(Encoder):
    """A pretrained encoder (`self.transformer`) → dropout → the task's head."""

    DEFAULTS: ClassVar[dict[str, object]] = {
        "optim": "adamw(lr=5e-5, weight_decay=0.01)", "batch_size": 16, "scheduler": "linear", "clip_norm": 1.0,
        "clip_value": 0.0, "dropout": 0.1, "epochs": 3}
    NEED_CUT: ClassVar[str] = "layer"

    def __init__(self, pretrained: str, words: list[str], unknown: int, n_tags: list[int], dropout: float = 0.1,
                 crf: bool = False, pooling: str = "first") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"--subword_pooling {pooling!r}: expected one of {', '.join(POOLINGS)}")
        self.transformer, self.tokenizer = load_pretrained(pretrained)
        self.pooling = pooling
        self.pieces: list[list[int]] = []
        self.add_words(words, [])
        self.pieces[unknown] = [self.tokenizer.unk_token_id]
        self.prefix, self.suffix = special_tokens(self.tokenizer)
        self.lead, self.specials = len(self.prefix), len(self.prefix) + len(self.suffix)
        limit = self.tokenizer.model_max_length
        if not 0 < limit < 100_000:
            limit = self.transformer.config.max_position_embeddings
        self.window = limit - self.specials
        self.dropout = Dropout(dropout)
        self.heads = TaskHeads(self.transformer.config.hidden_size, n_tags, crf)

    @classmethod
    def build(cls, data, spec: ModelSpec) -> "TransformerTagger":
        if not spec.pretrained:
            raise ValueError("--encoder transformer needs --pretrained (a Hugging Face model folder or hub name)")
        words = [data.words.to_word(i) for i in range(len(data.words))]
        return cls(spec.pretrained, words, data.words.unknown_idx, [len(t.tags) for t in data.tasks], spec.dropout,
                   spec.crf, spec.subword_pooling)

    def add_words(self, words: list[str], rows: list[int]) -> None:
        """Subwords of each word on its own (the unknown token for a word that has none)."""
        encoded = self.tokenizer([[w] for w in words], is_split_into_words=True, add_special_tokens=False)
        self.pieces += [ids or [self.tokenizer.unk_token_id] for ids in encoded["input_ids"]]

    def prunable_candidates(self) -> list[str]:
        """The Linear weights of the pretrained model (its pooler excluded where it has one)."""
        return [f"transformer.{name}.weight" for name, module in self.transformer.named_modules()
                if isinstance(module, nn.Linear) and "pooler" not in name]

    def no_weight_decay(self, name: str) -> bool:
        """Biases and LayerNorm weights, as the fine-tuning recipe."""
        if name.endswith("bias"):
            return True
        module = self.get_submodule(name.rsplit(".", 1)[0]) if "." in name else self
        return isinstance(module, nn.LayerNorm) or "norm" in type(module).__name__.lower()

    def save_snapshot(self, folder: str) -> None:
        """The tokenizer's files and the model's configuration (not its weights: they are the run's)."""
        self.tokenizer.save_pretrained(folder)
        self.transformer.config.save_pretrained(folder)

    def encode(self, task: int, words: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """Each word's vector from its subwords, every sentence (window) through the transformer at once."""
        device = words.device
        inputs, window, position, target = [], [], [], []
        width = words.size(1)
        for b, (row, length) in enumerate(zip(words.tolist(), seq_len.tolist())):
            pieces = [self.pieces[w][:self.window] for w in row[:length]]
            windows, owner = window_plan([len(p) for p in pieces], self.window)
            first = len(inputs)
            offsets = []
            for start, end in windows:
                flat, at = [], {}
                for j in range(start, end):
                    at[j] = len(flat)
                    flat += pieces[j]
                offsets.append(at)
                inputs.append(self.prefix + flat + self.suffix)
            for j in range(length):
                k = owner[j]
                used = pieces[j][:1] if self.pooling == "first" else pieces[j]
                for p in range(len(used)):
                    window.append(first + k)
                    position.append(self.lead + offsets[k][j] + p)
                    target.append(b * width + j)
        longest = max(len(ids) for ids in inputs)
        ids = torch.full((len(inputs), longest), self.tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros(len(inputs), longest, dtype=torch.long)
        for i, row in enumerate(inputs):
            ids[i, :len(row)] = torch.tensor(row)
            attention[i, :len(row)] = 1
        hidden = self.transformer(input_ids=ids.to(device), attention_mask=attention.to(device)).last_hidden_state
        window_t, position_t, target_t = (torch.tensor(x, device=device) for x in (window, position, target))
        out = hidden.new_zeros(words.size(0) * width, hidden.size(-1))
        out.index_add_(0, target_t, hidden[window_t, position_t])
        if self.pooling == "mean":
            counts = torch.zeros(words.size(0) * width, device=device).index_add_(
                0, target_t, torch.ones_like(target_t, dtype=hidden.dtype))
            out = out / counts.clamp(min=1)[:, None]
        return out.view(words.size(0), width, -1)

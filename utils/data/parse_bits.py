"""CoNLL-2012's bracketed columns as tags: flat BIO chunks from the parse bits, BIO named entities from the NE bits
(the OntoNotes setting's chunk and NER tasks)."""
import re
from collections.abc import Sequence

_PARSE_TOKEN = re.compile(r"\(([^()*\s]+)|(\*)|(\))")
_NE_BIT = re.compile(r"(?:\(([^()*]+))?\*?(\))?")


def parse_chunks(bits: Sequence[str]) -> list[str]:
    """Derive flat BIO chunks from CoNLL-2012 parse bits (one bit such as `(S(NP*` or `*))` per word).

    Rule: a word's chunk is the innermost phrase around it, if that phrase contains no other phrase (all its
    children are pre-terminals); the chunk label is that phrase's label (B- on its first word, I- after).
    Words whose innermost phrase also contains a phrase, or is the root TOP, are O.
    """
    labels: list[str] = []  # label of every phrase node, in opening order
    has_phrase_child: list[bool] = []
    open_nodes: list[int] = []
    owners: list[int | None] = []  # innermost open phrase of every word
    for bit in bits:
        if _PARSE_TOKEN.sub("", bit):
            raise ValueError(f"malformed parse bit {bit!r}")
        tokens = _PARSE_TOKEN.findall(bit)
        if sum(1 for _, star, _ in tokens if star) != 1:
            raise ValueError(f"parse bit {bit!r} must hold exactly one '*'")
        for label, star, _ in tokens:
            if label:
                if open_nodes:
                    has_phrase_child[open_nodes[-1]] = True
                open_nodes.append(len(labels))
                labels.append(label)
                has_phrase_child.append(False)
            elif star:
                owners.append(open_nodes[-1] if open_nodes else None)
            elif open_nodes:
                open_nodes.pop()
            else:
                raise ValueError(f"parse bit {bit!r} closes a phrase that was never opened")
    if open_nodes:
        raise ValueError(f"parse leaves {len(open_nodes)} phrase(s) unclosed")
    tags: list[str] = []
    for index, node in enumerate(owners):
        if node is None or has_phrase_child[node] or labels[node] == "TOP":
            tags.append("O")
        else:
            tags.append(("I-" if index and owners[index - 1] == node else "B-") + labels[node])
    return tags


def ne_bio(bits: Sequence[str]) -> list[str]:
    """Convert CoNLL-2012 bracketed named-entity bits (`(GPE*`, `*`, `*)`, `(GPE)`) to BIO tags."""
    tags: list[str] = []
    current: str | None = None
    for bit in bits:
        match = _NE_BIT.fullmatch(bit)
        if match is None:
            raise ValueError(f"malformed named-entity bit {bit!r}")
        label, close = match.groups()
        if label and current:
            raise ValueError(f"entity {label} opens inside entity {current}")
        current = label or current
        tags.append(f"{'B' if label else 'I'}-{current}" if current else "O")
        if close:
            if current is None:
                raise ValueError(f"named-entity bit {bit!r} closes an entity that was never opened")
            current = None
    if current:
        raise ValueError(f"entity {current} is never closed")
    return tags

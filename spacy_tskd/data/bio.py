"""BIO tag helpers, read the way conlleval reads them.

conlleval starts an entity at every ``B-X`` and at every ``I-X`` whose previous
tag is ``O`` or of another type. That rule reads IOB1 and IOB2 (BIO) alike and
repairs invalid BIO such as a stray ``I-X`` after ``O``.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Sequence, Tuple

Span = Tuple[int, int, str]  # (start token, end token exclusive, label)


def split_tag(tag: str) -> Tuple[str, str]:
    """Split ``"B-PER"`` into ``("B", "PER")``; ``"O"`` gives ``("O", "")``."""
    if tag == "O":
        return "O", ""
    prefix, sep, label = tag.partition("-")
    if not sep or prefix not in ("B", "I") or not label:
        raise ValueError(f"Invalid NER tag {tag!r}: expected 'O', 'B-TYPE' or 'I-TYPE'.")
    return prefix, label


def bio_to_spans(tags: Sequence[str]) -> List[Span]:
    """Entity spans of a tag sequence in IOB1 or BIO, as conlleval counts them (seqeval's
    chunker, which follows conlleval; the tags are checked first)."""
    from seqeval.metrics.sequence_labeling import get_entities

    for tag in tags:
        split_tag(tag)
    return [(start, end + 1, typ) for typ, start, end in get_entities(list(tags))]


def spans_to_bio(spans: Iterable[Span], length: int) -> List[str]:
    """BIO (IOB2) tags of non-overlapping spans over ``length`` tokens."""
    tags = ["O"] * length
    for start, end, label in spans:
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return tags


def to_bio(tags: Sequence[str]) -> List[str]:
    """Convert IOB1 (or repair invalid BIO) to BIO: ``I-X`` after ``O``/other type becomes ``B-X``."""
    return spans_to_bio(bio_to_spans(tags), len(tags))


def doc_to_bio(doc) -> List[str]:
    """BIO tags of ``doc.ents``."""
    return spans_to_bio(((e.start, e.end, e.label_) for e in doc.ents), len(doc))


def aligned_bio(example) -> List[Optional[str]]:
    """The reference's entity tags on ``example.predicted``'s tokens, in BIO (spaCy's
    alignment and ``biluo_to_iob``); None where the reference has no tag there."""
    from spacy.training import biluo_to_iob

    return biluo_to_iob([t if t not in ("-", "") else None for t in example.get_aligned_ner()])


def bio_label_order(entity_types: Iterable[str]) -> List[str]:
    """The fixed label order used everywhere: ``O``, then ``B-T``, ``I-T`` per type, types sorted.

    For CoNLL: O, B-LOC, I-LOC, B-MISC, I-MISC, B-ORG, I-ORG, B-PER, I-PER.
    """
    labels = ["O"]
    for typ in sorted(set(entity_types)):
        labels.extend((f"B-{typ}", f"I-{typ}"))
    return labels

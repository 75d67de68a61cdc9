"""``spacy-tskd.seqeval_scorer.v1``: entity scores with seqeval (conlleval mode)."""

from __future__ import annotations

from typing import Any, Dict, Iterable

from spacy.training import Example
from spacy.util import registry

from ..data.bio import doc_to_bio


def score_examples(examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
    """Score ``eg.predicted.ents`` against ``eg.reference.ents`` on the predicted tokens."""
    from ..evaluation.scorer import score_bio

    gold, pred = [], []
    for eg in examples:
        aligned = eg.get_aligned_ner()
        gold.append([_biluo_to_bio(t) for t in aligned])
        pred.append(doc_to_bio(eg.predicted))
    return score_bio(gold, pred)


def _biluo_to_bio(tag) -> str:
    if not tag or tag in ("O", "-"):
        return "O"
    prefix, typ = tag.split("-", 1)
    return ("B-" if prefix in ("B", "U") else "I-") + typ


@registry.scorers("spacy-tskd.seqeval_scorer.v1")
def make_seqeval_scorer():
    return score_examples

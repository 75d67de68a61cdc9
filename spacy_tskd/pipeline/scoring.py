"""``spacy-tskd.seqeval_scorer.v1``: entity scores with seqeval (conlleval mode)."""

from __future__ import annotations

from typing import Any, Dict, Iterable

from spacy.training import Example
from spacy.util import registry

from ..data.bio import aligned_bio, doc_to_bio


def score_examples(examples: Iterable[Example], **kwargs) -> Dict[str, Any]:
    """Score ``eg.predicted.ents`` against ``eg.reference.ents`` on the predicted tokens."""
    from ..evaluation.scorer import score_bio

    gold, pred = [], []
    for eg in examples:
        gold.append([t or "O" for t in aligned_bio(eg)])
        pred.append(doc_to_bio(eg.predicted))
    return score_bio(gold, pred)


@registry.scorers("spacy-tskd.seqeval_scorer.v1")
def make_seqeval_scorer():
    return score_examples

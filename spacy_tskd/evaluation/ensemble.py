"""Direct model transfer with several teachers: the α-weighted ensemble (multi-source MT).

Every teacher predicts probabilities on the target test docs; the prediction is the
argmax of Σ_k α_k p_k per token, decoded to entities like ``tskd_ner`` does.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..util import PathLike, atomic_write_text


def ensemble_predict(teachers: Sequence, docs: Sequence, alpha: Sequence[float], *, batch_size=64):
    """Σ_k α_k p_k for every doc; ``teachers`` are loaded pipelines with ``tskd_ner``."""
    from ..weighting.mixture import check_weights

    alpha = check_weights(alpha, len(teachers), source="ensemble weights")
    if alpha.ndim != 1:
        raise ValueError("The MT ensemble takes one α per teacher (corpus-level weights).")
    labels = None
    mixed: List[np.ndarray] = [None] * len(docs)  # type: ignore[list-item]
    for a, nlp in zip(alpha, teachers):
        ner = nlp.get_pipe("tskd_ner")
        if labels is None:
            labels = ner.labels
        elif ner.labels != labels:
            raise ValueError(
                f"Teachers disagree on the label order: {list(labels)} vs {list(ner.labels)}."
            )
        order = sorted(range(len(docs)), key=lambda i: len(docs[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            for i, p in zip(idx, ner.predict([docs[i] for i in idx])):
                mixed[i] = a * p if mixed[i] is None else mixed[i] + a * p
    return mixed, labels


def evaluate_ensemble(
    *,
    teacher_paths: Sequence[PathLike],
    data_path: PathLike,
    alpha: Optional[Sequence[float]] = None,
    output: Optional[PathLike] = None,
    system: str = "MT-ensemble",
    batch_size: int = 64,
) -> Dict[str, Any]:
    """Score the α-weighted teacher ensemble on gold docs (uniform α when None)."""
    import spacy
    from spacy.tokens import Doc, DocBin

    from ..data.bio import bio_to_spans, doc_to_bio, spans_to_bio
    from .scorer import score_bio

    teachers = [spacy.load(p) for p in teacher_paths]
    vocab = teachers[0].vocab
    gold = list(DocBin().from_disk(data_path).get_docs(vocab))
    if not gold:
        raise ValueError(f"{data_path} contains no docs.")
    docs = [Doc(vocab, words=[t.text for t in d]) for d in gold]
    alpha = list(alpha) if alpha is not None else [1.0 / len(teachers)] * len(teachers)
    start = time.perf_counter()
    mixed, labels = ensemble_predict(teachers, docs, alpha, batch_size=batch_size)
    seconds = time.perf_counter() - start
    pred = [
        spans_to_bio(bio_to_spans([labels[i] for i in p.argmax(axis=1)]), len(p)) for p in mixed
    ]
    result: Dict[str, Any] = dict(score_bio([doc_to_bio(d) for d in gold], pred))
    result.update(
        system=system,
        teachers=[str(p) for p in teacher_paths],
        alpha=[float(a) for a in alpha],
        data=str(data_path),
        n_docs=len(gold),
        n_words=sum(len(d) for d in gold),
        seconds=round(seconds, 1),
    )
    if output is not None:
        atomic_write_text(output, json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


__all__ = ["ensemble_predict", "evaluate_ensemble"]

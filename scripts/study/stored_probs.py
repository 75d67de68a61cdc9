"""The study's scores from stored probabilities: teachers (MT, their mixtures) and
students are scored from what ``annotate`` stored on the test docs, with every decoder,
without loading a pipeline again (scripts/study/study_result.py, scripts/fig5_probs.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from spacy_tskd.data.decode import DEFAULT_DECODE, decode_bio
from spacy_tskd.util import PathLike, atomic_write_text


def score_probs(
    *,
    gold: Sequence[Sequence[str]],
    probs: Sequence[np.ndarray],
    labels: Sequence[str],
    decode: str = DEFAULT_DECODE,
) -> Dict[str, Any]:
    """:func:`~.scorer.score_bio` of per-doc probabilities (columns in the order
    ``labels``), decoded with ``decode``, against per-doc gold tags."""
    from spacy_tskd.evaluation.scorer import score_bio

    return score_bio(gold, decode_bio(probs, labels, decode))


def read_gold_bio(data_path: PathLike) -> List[List[str]]:
    """The BIO tags of ``doc.ents`` of every doc of a gold DocBin."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    from spacy_tskd.data.bio import doc_to_bio

    data_path = Path(data_path)
    if not data_path.is_file():
        raise FileNotFoundError(f"Data file not found: {data_path}")
    try:
        gold = [doc_to_bio(d) for d in DocBin().from_disk(data_path).get_docs(Vocab())]
    except Exception as err:
        raise ValueError(f"Could not read {data_path} as a spaCy DocBin: {err}") from err
    if not gold:
        raise ValueError(f"{data_path} contains no docs.")
    return gold


def load_stored_probs(
    probs_paths: Sequence[PathLike], *, data_path: PathLike, alpha: Optional[Sequence[float]] = None
) -> Tuple[List[np.ndarray], Tuple[str, ...]]:
    """Σ_k α_k p_k per doc from annotation directories written by ``annotate`` on the
    docs of ``data_path`` (uniform α when None; one directory and no α: its own
    probabilities). Raises ValueError naming the directory if its docs are not the
    docs of ``data_path``. RETURNS: the per-doc arrays and the label (column) order."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    from spacy_tskd.distill.corpus import TeacherCorpus

    if not probs_paths:
        raise ValueError("No teacher annotations given.")
    corpus = TeacherCorpus(probs_paths, alpha=alpha)
    vocab = Vocab()
    docs, probs = corpus.read_all(vocab)
    gold = list(DocBin().from_disk(data_path).get_docs(vocab))
    for i, (doc, ref) in enumerate(zip(docs, gold)):
        if [t.text for t in doc] != [t.text for t in ref]:
            raise ValueError(
                f"{corpus.path} does not hold the docs of {data_path}: doc {i} differs. "
                f"Annotate {data_path} again."
            )
    if len(docs) != len(gold):
        raise ValueError(
            f"{corpus.path} holds {len(docs)} docs but {data_path} has {len(gold)}. "
            f"Annotate {data_path} again."
        )
    return probs, corpus.labels


def evaluate_stored_probs(
    *,
    probs_paths: Sequence[PathLike],
    data_path: PathLike,
    alpha: Optional[Sequence[float]] = None,
    output: Optional[PathLike] = None,
    system: Optional[str] = None,
    decode: str = DEFAULT_DECODE,
) -> Dict[str, Any]:
    """Score the argmax of Σ_k α_k p_k of stored probabilities on the gold docs of
    ``data_path`` (one file: that teacher's MT; several: the MT ensemble). Returns
    the scores of :func:`~.scorer.score_bio` plus ``probs``, ``alpha``, ``data``,
    ``n_docs`` and ``n_words``; writes them as JSON to ``output`` when given."""
    gold = read_gold_bio(data_path)
    probs, labels = load_stored_probs(probs_paths, data_path=data_path, alpha=alpha)
    result: Dict[str, Any] = dict(score_probs(gold=gold, probs=probs, labels=labels, decode=decode))
    result.update(
        decode=decode,
        probs=[str(p) for p in probs_paths],
        alpha=None if alpha is None else [float(a) for a in alpha],
        data=str(data_path),
        n_docs=len(gold),
        n_words=sum(len(g) for g in gold),
    )
    if system is not None:
        result["system"] = system
    if output is not None:
        atomic_write_text(output, json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result

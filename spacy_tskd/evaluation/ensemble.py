"""Direct model transfer with several teachers: the α-weighted ensemble (multi-source MT).

Every teacher predicts probabilities on the target test docs; Σ_k α_k p_k per token
is decoded to entities by the same code as ``tskd_ner`` (:mod:`..data.decode`:
``argmax`` or BIO-constrained ``viterbi``).
:func:`evaluate_ensemble` runs the teacher pipelines; :func:`evaluate_stored_probs`
scores probabilities stored by ``annotate`` on the test docs, so teachers that
already annotated the test set need not be loaded again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..data.decode import DEFAULT_DECODE, decode_bio
from ..data.docs import unannotated
from ..util import PathLike, atomic_write_text


def score_probs(
    *,
    gold: Sequence[Sequence[str]],
    probs: Sequence[np.ndarray],
    labels: Sequence[str],
    decode: str = DEFAULT_DECODE,
) -> Dict[str, Any]:
    """:func:`~.scorer.score_bio` of per-doc probabilities (columns in the order
    ``labels``), decoded with ``decode``, against per-doc gold tags."""
    from .scorer import score_bio

    return score_bio(gold, decode_bio(probs, labels, decode))


def read_gold_bio(data_path: PathLike) -> List[List[str]]:
    """The BIO tags of ``doc.ents`` of every doc of a gold DocBin."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    from ..data.bio import doc_to_bio

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
    probs_paths: Sequence[PathLike],
    *,
    data_path: PathLike,
    alpha: Optional[Sequence[float]] = None,
) -> Tuple[List[np.ndarray], Tuple[str, ...]]:
    """Σ_k α_k p_k per doc from annotation directories written by ``annotate`` on the
    docs of ``data_path`` (uniform α when None; one directory and no α: its own
    probabilities). Raises ValueError naming the directory if its docs are not the
    docs of ``data_path``. RETURNS: the per-doc arrays and the label (column) order."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    from ..distill.corpus import TeacherCorpus

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
        for start in range(0, len(docs), batch_size):  # the encoder sorts by length
            for i, p in enumerate(ner.predict(docs[start : start + batch_size]), start):
                mixed[i] = a * p if mixed[i] is None else mixed[i] + a * p
    return mixed, labels


def evaluate_ensemble(
    *,
    teacher_paths: Sequence[PathLike],
    data_path: PathLike,
    alpha: Optional[Sequence[float]] = None,
    weights: Optional[PathLike] = None,
    output: Optional[PathLike] = None,
    system: str = "MT-ensemble",
    batch_size: int = 64,
    decode: str = DEFAULT_DECODE,
) -> Dict[str, Any]:
    """Score the α-weighted teacher ensemble on gold docs (uniform α when None).

    weights (Optional[PathLike]): A weights.json from ``weights fit`` instead of
        ``alpha``: its ``alpha_mean`` is matched to the teachers by their language
        (``nlp.lang``), and a file for other sources or another encoder is refused.
    """
    import spacy
    from spacy.tokens import DocBin

    from ..data.bio import doc_to_bio

    if weights is not None and alpha is not None:
        raise ValueError("Give alpha or a weights file, not both.")
    teachers = [spacy.load(p) for p in teacher_paths]
    if weights is not None:
        alpha = alpha_for_teachers(weights, teachers)
    vocab = teachers[0].vocab
    gold = list(DocBin().from_disk(data_path).get_docs(vocab))
    if not gold:
        raise ValueError(f"{data_path} contains no docs.")
    docs = [unannotated(d, vocab) for d in gold]
    alpha = list(alpha) if alpha is not None else [1.0 / len(teachers)] * len(teachers)
    start = time.perf_counter()
    mixed, labels = ensemble_predict(teachers, docs, alpha, batch_size=batch_size)
    seconds = time.perf_counter() - start
    result: Dict[str, Any] = dict(
        score_probs(gold=[doc_to_bio(d) for d in gold], probs=mixed, labels=labels, decode=decode)
    )
    result.update(
        decode=decode,
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


def alpha_for_teachers(weights: PathLike, teachers: Sequence[Any]) -> List[float]:
    """α of a weights file in the order of ``teachers``, matched by their languages;
    refused when the file covers other sources or was fit with another encoder."""
    from ..weighting.weights_file import load_weights

    langs = [nlp.lang for nlp in teachers]
    if len(set(langs)) != len(langs):
        raise ValueError(
            f"The teachers' languages are {langs}: a weights file gives one α per source "
            "language, so each teacher must have its own (nlp.lang)."
        )
    return list(
        load_weights(weights, sources=langs, encoder=_encoder_name(teachers[0]))["alpha_mean"]
    )


def _encoder_name(nlp: Any) -> Optional[str]:
    """The encoder a teacher was built on (its config's ``encoder.name``), if any."""
    config = nlp.config.interpolate()
    for name, factory in zip(
        nlp.pipe_names, (nlp.get_pipe_meta(n).factory for n in nlp.pipe_names)
    ):
        if factory == "tskd_ner":
            encoder = config["components"][name].get("model", {}).get("encoder", {})
            return encoder.get("name")
    return None


__all__ = [
    "alpha_for_teachers",
    "ensemble_predict",
    "evaluate_ensemble",
    "evaluate_stored_probs",
    "load_stored_probs",
    "read_gold_bio",
    "score_probs",
]

"""Direct model transfer with several teachers: the α-weighted ensemble (multi-source MT).

Every teacher predicts probabilities on the target test docs; Σ_k α_k p_k per token
is decoded to entities by the same code as ``tskd_ner`` (:mod:`..data.decode`:
``argmax`` or BIO-constrained ``viterbi``).
:func:`evaluate_ensemble` runs the teacher pipelines.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..data.decode import DEFAULT_DECODE, decode_bio
from ..data.docs import unannotated
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
    gpu_id: int = -1,
) -> Dict[str, Any]:
    """Score the α-weighted teacher ensemble on gold docs (uniform α when None).

    weights (Optional[PathLike]): A weights.json from ``weights fit`` instead of
        ``alpha``: its ``alpha_mean`` is matched to the teachers by their language
        (``nlp.lang``), and a file for other sources or another encoder is refused.
    """
    import spacy
    from spacy.tokens import DocBin

    from ..data.bio import doc_to_bio
    from .evaluate import check_test_labels, entity_types
    from .scorer import score_bio

    if weights is not None and alpha is not None:
        raise ValueError("Give alpha or a weights file, not both.")
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    teachers = [spacy.load(p) for p in teacher_paths]
    if weights is not None:
        alpha = alpha_for_teachers(weights, teachers)
    vocab = teachers[0].vocab
    gold = list(DocBin().from_disk(data_path).get_docs(vocab))
    if not gold:
        raise ValueError(f"{data_path} contains no docs.")
    check_test_labels(gold, entity_types(teachers[0]), data_path)
    docs = [unannotated(d, vocab) for d in gold]
    alpha = list(alpha) if alpha is not None else [1.0 / len(teachers)] * len(teachers)
    start = time.perf_counter()
    mixed, labels = ensemble_predict(teachers, docs, alpha, batch_size=batch_size)
    seconds = time.perf_counter() - start
    gold_tags = [doc_to_bio(d) for d in gold]
    result: Dict[str, Any] = dict(score_bio(gold_tags, decode_bio(mixed, labels, decode)))
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


__all__ = ["alpha_for_teachers", "ensemble_predict", "evaluate_ensemble"]

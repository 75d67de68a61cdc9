"""Evaluate a saved spaCy pipeline's entities on a gold DocBin."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, Optional

from ..data.docs import unannotated
from ..util import PathLike, atomic_write_text, check_pipeline_dir
from .scorer import score_docs


def evaluate(
    *,
    pipeline_path: PathLike,
    data_path: PathLike,
    output: Optional[PathLike] = None,
    batch_size: int = 64,
    gpu_id: int = -1,
    update_meta: bool = False,
    system: Optional[str] = None,
    decode: Optional[str] = None,
    nlp: Any = None,
) -> Dict[str, Any]:
    """Run the pipeline at ``pipeline_path`` on the words of the gold DocBin at
    ``data_path`` and score its entities with seqeval (conlleval mode).

    The pipeline sees unannotated copies of the gold docs (same words and
    spaces), so tokenization always matches. Returns the scores of
    :func:`~spacy_tskd.evaluation.scorer.score_bio` plus ``pipeline``, ``data``,
    ``n_docs``, ``n_words`` and ``words_per_second``; writes the same dict as
    JSON to ``output`` (atomically) when given. ``update_meta`` also writes the
    scores into the ``performance`` block of the pipeline's ``meta.json`` (as
    ``spacy evaluate`` reports them); ``system`` names the row in result tables;
    ``decode`` (``argmax``/``viterbi``) replaces the ``tskd_ner`` components' own;
    ``nlp``: the pipeline at ``pipeline_path`` already loaded (not loaded again).
    """
    import spacy
    from spacy.tokens import DocBin
    from tqdm import tqdm

    pipeline_path = Path(pipeline_path)
    data_path = Path(data_path)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    check_pipeline_dir(pipeline_path)
    if not data_path.is_file():
        raise FileNotFoundError(f"Data file not found: {data_path}")

    if nlp is None:
        if gpu_id >= 0:
            spacy.require_gpu(gpu_id)
        nlp = spacy.load(pipeline_path)
    decoders = set_decode(nlp, decode)

    try:
        gold_docs = list(DocBin().from_disk(data_path).get_docs(nlp.vocab))
    except Exception as err:
        raise ValueError(f"Could not read {data_path} as a spaCy DocBin: {err}") from err
    if not gold_docs:
        raise ValueError(f"{data_path} contains no docs.")

    check_test_labels(gold_docs, entity_types(nlp), data_path)
    inputs = [unannotated(d, nlp.vocab) for d in gold_docs]
    n_words = sum(len(d) for d in inputs)
    start = time.perf_counter()
    pred_docs = list(
        tqdm(
            nlp.pipe(inputs, batch_size=batch_size),
            total=len(inputs),
            desc="Evaluating",
            unit="doc",
        )
    )
    seconds = time.perf_counter() - start

    result: Dict[str, Any] = dict(score_docs(gold_docs, pred_docs))
    result.update(
        pipeline=str(pipeline_path),
        data=str(data_path),
        n_docs=len(gold_docs),
        n_words=n_words,
        words_per_second=n_words / seconds if seconds > 0 else 0.0,
    )
    if decoders:
        result["decode"] = decoders[0] if len(set(decoders)) == 1 else decoders
    if system is not None:
        result["system"] = system
    if update_meta:
        _update_meta(pipeline_path, result)
    if output is not None:
        atomic_write_text(output, json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def entity_types(nlp) -> set:
    """The entity types the ``tskd_ner`` components of ``nlp`` predict (BIO prefixes off)."""
    labels = [lab for _, pipe in nlp.pipeline if hasattr(pipe, "decode") for lab in pipe.labels]
    return {lab.split("-", 1)[-1] for lab in labels if lab != "O"}


def check_test_labels(gold_docs, types: set, data_path: PathLike) -> None:
    """Raise ValueError if the gold docs hold entity types outside ``types`` (none: no check)."""
    unknown = sorted({ent.label_ for doc in gold_docs for ent in doc.ents} - types)
    if types and unknown:
        raise ValueError(
            f"{data_path} has entity labels the teacher does not have: {', '.join(unknown)} "
            f"(it predicts {', '.join(sorted(types))}). Map them to the teacher's labels, or "
            "train the teacher on source data with these labels."
        )


def set_decode(nlp, decode: Optional[str] = None) -> list:
    """Set ``decode`` on every ``tskd_ner`` component (None: keep theirs); return them all."""
    from ..data.decode import check_decoder

    pipes = [pipe for _, pipe in nlp.pipeline if hasattr(pipe, "decode")]
    if decode is not None:
        check_decoder(decode)
        for pipe in pipes:
            pipe.decode = decode
    return [pipe.decode for pipe in pipes]


def _update_meta(pipeline_path: Path, scores: Dict[str, Any]) -> None:
    """Put the entity scores in meta.json's ``performance`` block, atomically."""
    meta_path = pipeline_path / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf8")) if meta_path.exists() else {}
    perf = meta.setdefault("performance", {})
    for key in ("ents_p", "ents_r", "ents_f", "ents_per_type"):
        perf[key] = scores[key]
    perf["evaluated_on"] = scores["data"]
    atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")

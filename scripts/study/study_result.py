"""One result of the study: run an experiment's own steps, score its stored test
probabilities with every decoder, and record what the result format asks for."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Callable, Dict, List

from .study_files import FORMAT, _now, _version


def compute_result(study: Any, exp: Any) -> Dict[str, Any]:
    """Run the missing steps of ``exp`` (a planned experiment of ``study``, a
    :class:`.reproduce._Study`) and return its result: the scores of both decoders,
    the Fig. 5 bins (single-source TS), α (multi-source) and the bookkeeping of
    :func:`.reproduce.run_reproduce`'s result format."""
    from spacy_tskd.data.decode import DECODERS, decode_bio
    from spacy_tskd.weighting.similarity import load_weights

    from .stored_probs import load_stored_probs, read_gold_bio, score_probs

    for step in exp.shared:
        study.log.ensure(step)
    own: List[str] = []
    # the source weights: of the ensemble (MT) or of the student's soft targets (TS)
    weights = None
    if exp.weights is not None:
        weights = [float(a) for a in load_weights(exp.weights, sources=exp.sources)["alpha"]]
    elif exp.setting == "multi":
        weights = [1.0 / len(exp.sources)] * len(exp.sources)
    if exp.student is not None and exp.predict is not None:
        for step in (exp.student, exp.predict):
            study.log.ensure(step)
            own.append(step.what)
        probs_paths, alpha = [exp.predict.path.parent], None
    else:
        probs_paths, alpha = exp.test_probs, weights
    test = study.corpus / exp.target / "test.spacy"
    score_step = f"score {exp.name}"
    start = time.perf_counter()
    gold = read_gold_bio(test)
    probs, labels = load_stored_probs(probs_paths, data_path=test, alpha=alpha)
    by_decode = {d: score_probs(gold=gold, probs=probs, labels=labels, decode=d) for d in DECODERS}
    scores = by_decode[study.s.decode]
    fig5 = None
    if exp.setting == "single" and exp.system == "TS":
        teacher, teacher_labels = load_stored_probs(exp.test_probs, data_path=test)
        fig5 = _correction_bins()(
            gold=gold,
            teacher_probs=teacher,
            labels=teacher_labels,
            student=decode_bio(probs, labels, study.s.decode),
        )
    study.log.record(score_step, time.perf_counter() - start)
    own.append(score_step)
    steps = {step.what: study.log.get(step.what) for step in exp.shared}
    steps.update({name: study.log.get(name) for name in own})
    result: Dict[str, Any] = {
        "format": FORMAT,
        "setting": exp.setting,
        "system": exp.system,
        "sources": list(exp.sources),
        "target": exp.target,
        "seed": exp.seed,
        "scores": {
            "ents_f": scores["ents_f"],
            "ents_p": scores["ents_p"],
            "ents_r": scores["ents_r"],
            "ents_per_type": {
                t: {k: v[k] for k in ("p", "r", "f")} for t, v in scores["ents_per_type"].items()
            },
        },
        "decode": study.s.decode,
        "scores_by_decode": {
            d: {k: v[k] for k in ("ents_f", "ents_p", "ents_r")} for d, v in by_decode.items()
        },
        # the teachers' identity: the same weights hash as annotate's index.json
        "teachers": [_teacher_identity(src, path) for src, path in zip(exp.sources, exp.teachers)],
        "encoder": dict(study.encoder),
        "config_sha256": exp.config_sha256,
        "wall_seconds": round(sum(steps[n] or 0.0 for n in own), 3),
        "steps": steps,
        "hardware": study.hardware(),
        "created": _now(),
        "spacy_tskd_version": _version(),
        "settings": asdict(study.s),
    }
    if fig5 is not None:
        result["fig5"] = fig5
    if weights is not None:
        result["alpha"] = dict(zip(exp.sources, weights))
    return result


def _teacher_identity(lang: str, model_dir: Any) -> Dict[str, str]:
    from spacy_tskd.distill.teacher import read_teacher
    from spacy_tskd.util import sha256_file

    weights = read_teacher(model_dir, "tskd_ner")[2]
    return {"lang": lang, "weights_sha256": sha256_file(weights)}


def _correction_bins() -> Callable[..., List[Dict[str, Any]]]:
    try:
        from .analysis import correction_bins
    except ImportError as err:
        raise RuntimeError(
            "The single-source TS results need scripts/study/analysis.py "
            f"(correction_bins, for Fig. 5), which cannot be imported: {err}. "
            "Run with --only multi until it is there."
        ) from err
    return correction_bins

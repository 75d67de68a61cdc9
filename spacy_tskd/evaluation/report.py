"""The report of a run for a user without target labels, and its F1 table with them.

On held-out *unlabeled* target text (docs neither teacher nor student trained on):

- ``nogold.json``: entities per label of the teacher and of the student, their agreement
  (entity P/R/F1 of the student against the teacher, and the share of tokens with the
  same BIO tag), and the student's confidence (per-token max probability);
- ``confidence.png``: the histogram of that confidence, the teacher's beside it;
- ``examples.html``: the first ``n_examples`` held-out docs rendered with displaCy, the
  teacher's entities beside the student's.

With a gold target test set (one that has docs), also ``MT.json`` (the teacher applied
directly), ``TS.json`` (the student) and ``table.md``, as ``evaluate`` and ``table`` write
them. An empty test set (``convert --allow-empty``) means there is none.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from ..data.docs import unannotated
from ..util import PathLike, atomic_write_bytes, atomic_write_text, check_pipeline_dir

BINS = np.linspace(0.0, 1.0, 21)


def write_report(
    *,
    teacher_path: PathLike,
    student_path: PathLike,
    heldout_path: PathLike,
    output_dir: PathLike,
    test_path: Optional[PathLike] = None,
    n_examples: int = 30,
    batch_size: int = 64,
    gpu_id: int = -1,
) -> Dict[str, Any]:
    """Write the report files to ``output_dir``; return the content of ``nogold.json``
    (with ``"test"``: the MT and TS F1, or None without a test set)."""
    import spacy
    from spacy.tokens import DocBin

    from .evaluate import check_test_labels, entity_types, evaluate
    from .scorer import score_docs
    from .table import summarize

    output_dir = Path(output_dir)
    for path in (teacher_path, student_path):
        check_pipeline_dir(Path(path))
    if not Path(heldout_path).is_file():
        raise FileNotFoundError(f"Held-out text not found: {heldout_path}. Run convert first.")
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    teacher, student = spacy.load(teacher_path), spacy.load(student_path)
    test_docs = list(DocBin().from_disk(test_path).get_docs(teacher.vocab)) if test_path else []
    check_test_labels(test_docs, entity_types(teacher), test_path)  # before any output
    heldout = list(DocBin().from_disk(heldout_path).get_docs(student.vocab))
    if not heldout:
        raise ValueError(f"{heldout_path} holds no docs: hold out some target text (--heldout).")
    runs = {}
    for role, nlp in (("teacher", teacher), ("student", student)):
        inputs = [unannotated(doc, nlp.vocab) for doc in heldout]
        runs[role] = list(nlp.pipe(inputs, batch_size=batch_size))
    agreement = score_docs(runs["teacher"], runs["student"])
    same = sum(
        (a.ent_iob_, a.ent_type_) == (b.ent_iob_, b.ent_type_)
        for t, s in zip(runs["teacher"], runs["student"]) for a, b in zip(t, s)
    )  # fmt: skip
    n_tokens = sum(len(doc) for doc in heldout)
    confidence = {role: _confidence(docs) for role, docs in runs.items()}
    report: Dict[str, Any] = {
        "heldout": str(heldout_path), "n_docs": len(heldout), "n_tokens": n_tokens,
        "teacher": {"path": str(teacher_path), "entities": _counts(runs["teacher"])},
        "student": {"path": str(student_path), "entities": _counts(runs["student"]),
                    "confidence": _summary(confidence["student"])},
        "agreement": {"ents_p": agreement["ents_p"], "ents_r": agreement["ents_r"],
                      "ents_f": agreement["ents_f"], "tokens": same / max(n_tokens, 1)},
        "test": None,
    }  # fmt: skip
    output_dir.mkdir(parents=True, exist_ok=True)
    _plot(confidence, output_dir / "confidence.png")
    _examples(
        runs["teacher"][:n_examples], runs["student"][:n_examples], output_dir / "examples.html"
    )
    if test_docs:
        scores = {}
        for system, path, nlp in (("MT", teacher_path, teacher), ("TS", student_path, student)):
            scores[system] = evaluate(
                pipeline_path=path,
                data_path=test_path,
                output=output_dir / f"{system}.json",
                batch_size=batch_size,
                system=system,
                nlp=nlp,
            )["ents_f"]  # fmt: skip (the pipelines loaded above)
        summarize(metrics_dir=output_dir, output=output_dir / "table.md")
        report["test"] = {"data": str(test_path), **{f"{k}_f": v for k, v in scores.items()}}
    else:  # no test set: no F1 files, not even an earlier run's
        for name in ("MT.json", "TS.json", "table.md"):
            (output_dir / name).unlink(missing_ok=True)
    atomic_write_text(output_dir / "nogold.json", json.dumps(report, indent=2) + "\n")
    return report


def _counts(docs: List[Any]) -> Dict[str, int]:
    counts = Counter(ent.label_ for doc in docs for ent in doc.ents)
    return dict(sorted(counts.items()))


def _confidence(docs: List[Any]) -> np.ndarray:
    rows = [np.asarray(doc._.tskd_probs).max(axis=1) for doc in docs if len(doc)]
    return np.concatenate(rows) if rows else np.zeros(0)


def _summary(values: np.ndarray) -> Dict[str, Any]:
    quantiles = np.quantile(values, [0.05, 0.25, 0.5]) if len(values) else [0.0] * 3
    return {
        "mean": float(values.mean()) if len(values) else 0.0,
        "q05_q25_q50": [float(q) for q in quantiles],
        "below_0.5": float((values < 0.5).mean()) if len(values) else 0.0,
        "histogram": np.histogram(values, bins=BINS)[0].tolist(), "bins": BINS.tolist(),
    }  # fmt: skip


def _plot(confidence: Dict[str, np.ndarray], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "The report's confidence plot needs matplotlib: pip install matplotlib "
            '(or pip install "spacy-tskd[project]").'
        ) from None
    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for role, values in confidence.items():
        weights = np.full(len(values), 1 / max(len(values), 1))
        ax.hist(values, bins=BINS, weights=weights, alpha=0.6, label=role)
    ax.set(xlabel="max probability per token", ylabel="share of tokens", xlim=(0, 1))
    ax.set_title("Confidence on held-out target text")
    ax.legend()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def _examples(teacher_docs: List[Any], student_docs: List[Any], path: Path) -> None:
    import warnings

    from spacy import displacy

    rows = []
    for i, (t, s) in enumerate(zip(teacher_docs, student_docs), 1):
        with warnings.catch_warnings():  # W006: a doc without entities is shown as text
            warnings.simplefilter("ignore", UserWarning)
            cells = [displacy.render(d, style="ent", page=False, jupyter=False) for d in (t, s)]
        rows.append(f"<tr><td>{i}</td><td>{cells[0]}</td><td>{cells[1]}</td></tr>")
    title = html.escape(f"{len(rows)} held-out sentences: teacher and student")
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>"
        "td{vertical-align:top;padding:6px;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>{title}</h1><table><tr><th>#</th><th>teacher</th><th>student</th></tr>"
        + "".join(rows) + "</table></body></html>\n"
    )  # fmt: skip
    atomic_write_text(path, page)


__all__ = ["write_report"]

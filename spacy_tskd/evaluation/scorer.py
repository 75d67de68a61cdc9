"""Entity-level NER scores with seqeval in its default (conlleval-compatible) mode.

seqeval's default mode reads chunks the way conlleval does: an entity starts at
every ``B-X`` and at every ``I-X`` that follows ``O`` or another type. IOB1 gold
(as in the CoNLL-2002/2003 files) and invalid BIO (a stray ``I-X`` after ``O``)
are therefore scored without converting them to BIO first.

Scores use spaCy's key names and scale (fractions in 0..1): ``ents_p``,
``ents_r``, ``ents_f`` and ``ents_per_type``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..data.bio import bio_to_spans, doc_to_bio, split_tag


def _prf(n_correct: int, n_pred: int, n_gold: int) -> Tuple[float, float, float]:
    p = n_correct / n_pred if n_pred else 0.0
    r = n_correct / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def _check_tags(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred):
        raise ValueError(
            f"gold has {len(gold)} sentences but pred has {len(pred)}: they must be aligned."
        )
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(
                f"Sentence {i}: gold has {len(g)} tags but pred has {len(p)}: "
                "both sides must tag the same tokens."
            )
        for side, tags in (("gold", g), ("pred", p)):
            for j, tag in enumerate(tags):
                try:
                    split_tag(tag)
                except ValueError as err:
                    raise ValueError(f"Sentence {i}, token {j} ({side}): {err}") from None


def score_bio(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> Dict[str, Any]:
    """Entity-level precision, recall and F1 of ``pred`` against ``gold``.

    Both sides are lists of sentences of tags (``O``, ``B-X``, ``I-X``) in BIO or
    IOB1, chunked as conlleval does (seqeval's default mode); an entity is correct
    when its type, first and last token match. Returns::

        {"ents_p", "ents_r", "ents_f",              # micro averages, 0..1
         "n_gold", "n_pred", "n_correct",           # entity counts
         "ents_per_type": {TYPE: {"p", "r", "f", "n_gold", "n_pred", "n_correct"}}}

    With no entity on either side every score is 0.0. tests/test_evaluate.py checks it
    against seqeval's ``classification_report`` and spaCy's ``Scorer.score_spans``.
    """
    gold = [list(s) for s in gold]
    pred = [list(s) for s in pred]
    _check_tags(gold, pred)
    gold_ents = {(i, *span) for i, tags in enumerate(gold) for span in bio_to_spans(tags)}
    pred_ents = {(i, *span) for i, tags in enumerate(pred) for span in bio_to_spans(tags)}
    correct = gold_ents & pred_ents
    counts = [Counter(e[3] for e in ents) for ents in (correct, pred_ents, gold_ents)]
    per_type: Dict[str, Dict[str, Any]] = {}
    for typ in sorted(set(counts[1]) | set(counts[2])):
        n_correct, n_pred, n_gold = (c[typ] for c in counts)
        p, r, f = _prf(n_correct, n_pred, n_gold)
        per_type[typ] = {"p": p, "r": r, "f": f, "n_gold": n_gold, "n_pred": n_pred,
                         "n_correct": n_correct}  # fmt: skip
    p, r, f = _prf(len(correct), len(pred_ents), len(gold_ents))
    return {
        "ents_p": p,
        "ents_r": r,
        "ents_f": f,
        "ents_per_type": per_type,
        "n_gold": len(gold_ents),
        "n_pred": len(pred_ents),
        "n_correct": len(correct),
    }


def score_docs(
    gold_docs: Iterable[Any], pred_docs: Optional[Iterable[Any]] = None
) -> Dict[str, Any]:
    """Score ``doc.ents`` of predicted Docs against gold Docs.

    Call as ``score_docs(gold_docs, pred_docs)`` or ``score_docs(examples)`` with
    spaCy ``Example`` objects (``example.reference`` is gold,
    ``example.predicted`` the prediction). Both sides must have the same tokens;
    otherwise a ``ValueError`` names the first mismatching doc.
    """
    if pred_docs is None:
        pairs = [(eg.reference, eg.predicted) for eg in gold_docs]
    else:
        golds, preds = list(gold_docs), list(pred_docs)
        if len(golds) != len(preds):
            raise ValueError(f"Got {len(golds)} gold docs but {len(preds)} predicted docs.")
        pairs = list(zip(golds, preds))
    gold_tags: List[List[str]] = []
    pred_tags: List[List[str]] = []
    for i, (g, p) in enumerate(pairs):
        g_words = [t.text for t in g]
        p_words = [t.text for t in p]
        if g_words != p_words:
            j = next(
                (k for k, (a, b) in enumerate(zip(g_words, p_words)) if a != b),
                min(len(g_words), len(p_words)),
            )
            raise ValueError(
                f"Doc {i}: gold and predicted tokens differ at token {j} "
                f"(gold {len(g_words)} tokens, predicted {len(p_words)}; "
                f"gold {g_words[j : j + 1]!r} vs predicted {p_words[j : j + 1]!r})."
            )
        gold_tags.append(doc_to_bio(g))
        pred_tags.append(doc_to_bio(p))
    return score_bio(gold_tags, pred_tags)


def format_scores_table(scores: Dict[str, Any]) -> str:
    """A plain-text table of per-type and overall P/R/F (percent) and support."""
    header = ("Type", "P", "R", "F", "Support")
    rows = []
    for typ, s in scores.get("ents_per_type", {}).items():
        rows.append((typ, s["p"], s["r"], s["f"], s.get("n_gold", "")))
    overall = (
        "ALL",
        scores["ents_p"],
        scores["ents_r"],
        scores["ents_f"],
        scores.get("n_gold", ""),
    )
    cells = [header] + [
        (t, f"{p * 100:.2f}", f"{r * 100:.2f}", f"{f * 100:.2f}", str(n))
        for t, p, r, f, n in rows + [overall]
    ]
    widths = [max(len(row[k]) for row in cells) for k in range(len(header))]

    def line(row: Sequence[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = "  ".join(c.rjust(w) for c, w in zip(row[1:], widths[1:]))
        return f"{first}  {rest}"

    rule = "-" * len(line(header))
    out = [line(header), rule] + [line(r) for r in cells[1:-1]]
    if len(cells) > 2:
        out.append(rule)
    out.append(line(cells[-1]))
    return "\n".join(out)

"""Fig. 5 of Wu et al. (2020): which of the teacher's mistakes does the student fix?

Every token whose teacher argmax label differs from the gold label is a teacher
misprediction. Mispredictions are binned by the teacher's confidence (its
maximum probability on that token), and per bin we count how many of them the
student labels correctly. The share ``corrected / teacher_errors`` per bin is
the paper's Fig. 5.
"""

from __future__ import annotations

import math
from typing import Dict, Iterable, List, Sequence

import numpy as np

# A probability within this of 1 (float16 rounding) is still a probability.
_PROB_TOLERANCE = 1e-3
# A confidence within this below a bin edge counts to the upper bin, so that
# 0.3 (3 * 0.1 is 0.30000000000000004) falls in [0.3, 0.4) as written.
_EDGE_TOLERANCE = 1e-9


def correction_bins(
    *,
    gold: Sequence[Sequence[str]],
    teacher_probs: Sequence[np.ndarray],
    labels: Sequence[str],
    student: Sequence[Sequence[str]],
    width: float = 0.1,
) -> List[Dict]:
    """Count the teacher's mispredictions per confidence bin and the student's fixes.

    gold (Sequence[Sequence[str]]): Gold label per token, one list per doc.
    teacher_probs (Sequence[np.ndarray]): One ``(n_tokens, n_labels)`` array per
        doc; column ``j`` is the probability of ``labels[j]``.
    labels (Sequence[str]): The label of every column of ``teacher_probs``.
    student (Sequence[Sequence[str]]): The student's predicted label per token.
    width (float): Bin width; ``1 / width`` must be a whole number.
    RETURNS (List[Dict]): One dict per bin, lowest first, empty bins included:
        ``{"lo", "hi", "teacher_errors", "corrected"}``. Bins are half-open,
        ``[lo, hi)``, except the last, which is closed: a confidence of exactly
        1.0 goes in ``[0.9, 1.0]``. Labels are compared as strings, so pass the
        same scheme (BIO, e.g. from ``doc_to_bio``) for all three sides.
    """
    n_bins = _check_width(width)
    labels = list(labels)
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be non-empty and unique, got {labels}.")
    if not (len(gold) == len(teacher_probs) == len(student)):
        raise ValueError(
            f"gold has {len(gold)} docs, teacher_probs {len(teacher_probs)} and "
            f"student {len(student)}: all three must list the same docs in the same order."
        )
    known = set(labels)
    errors = [0] * n_bins
    corrected = [0] * n_bins
    for i, (g, probs, s) in enumerate(zip(gold, teacher_probs, student)):
        probs = np.asarray(probs, dtype="float64")
        if probs.ndim != 2 or probs.shape[1] != len(labels):
            raise ValueError(
                f"Doc {i}: teacher_probs has shape {probs.shape}, expected "
                f"(n_tokens, {len(labels)}) with one column per label in {labels}."
            )
        if not (len(g) == probs.shape[0] == len(s)):
            raise ValueError(
                f"Doc {i}: gold has {len(g)} tokens, teacher_probs {probs.shape[0]} rows "
                f"and student {len(s)} tokens: all three must cover the same tokens."
            )
        for side, tags in (("gold", g), ("student", s)):
            for j, tag in enumerate(tags):
                if tag not in known:
                    raise ValueError(
                        f"Doc {i}, token {j}: {side} label {tag!r} is not in labels "
                        f"{labels}; use the teacher's label set and scheme (BIO)."
                    )
        if probs.size == 0:
            continue
        if (
            not np.all(np.isfinite(probs))
            or probs.min() < -_PROB_TOLERANCE
            or probs.max() > 1 + _PROB_TOLERANCE
        ):
            raise ValueError(f"Doc {i}: teacher_probs must be probabilities in [0, 1].")
        best = probs.argmax(axis=1)
        confidence = np.clip(probs.max(axis=1), 0.0, 1.0)
        for j, (k, p) in enumerate(zip(best, confidence)):
            if labels[k] == g[j]:
                continue
            b = min(int(math.floor(p * n_bins + _EDGE_TOLERANCE)), n_bins - 1)
            errors[b] += 1
            corrected[b] += int(s[j] == g[j])
    return [
        {
            "lo": round(b / n_bins, 10),
            "hi": round((b + 1) / n_bins, 10),
            "teacher_errors": errors[b],
            "corrected": corrected[b],
        }
        for b in range(n_bins)
    ]


def merge_bins(bin_lists: Iterable[Sequence[Dict]]) -> List[Dict]:
    """Sum the counts of several ``correction_bins`` results (e.g. over seeds).

    bin_lists (Iterable[Sequence[Dict]]): Results with the same bin edges.
    RETURNS (List[Dict]): One dict per bin with summed counts.
    """
    merged: List[Dict] = []
    for n, bins in enumerate(bin_lists):
        edges = [(float(b["lo"]), float(b["hi"])) for b in bins]
        if n == 0:
            merged = [{"lo": lo, "hi": hi, "teacher_errors": 0, "corrected": 0} for lo, hi in edges]
        elif edges != [(b["lo"], b["hi"]) for b in merged]:
            raise ValueError(
                "Cannot sum Fig. 5 bins with different edges: "
                f"{[(b['lo'], b['hi']) for b in merged]} vs {edges}."
            )
        for out, b in zip(merged, bins):
            out["teacher_errors"] += int(b["teacher_errors"])
            out["corrected"] += int(b["corrected"])
    return merged


def _check_width(width: float) -> int:
    if not width > 0 or width > 1:
        raise ValueError(f"width must be in (0, 1], got {width}.")
    n_bins = round(1 / width)
    if abs(n_bins * width - 1) > 1e-9:
        raise ValueError(f"1 / width must be a whole number (e.g. 0.1, 0.05), got width {width}.")
    return n_bins

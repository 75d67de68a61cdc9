"""Decoding per-token label probabilities into entity spans.

Two decoders, shared by the ``tskd_ner`` component (teachers and students), the
multi-source MT ensembles and the study:

``argmax``
    The paper's decode: each token takes its most probable label; the tag
    sequence is then read the way conlleval reads it (a stray ``I-X`` after
    ``O`` or another type starts an entity).
``viterbi``
    BIO-constrained decoding, as the method's successors use (UniTrans,
    AdvPicker, CoLaDa): the tag sequence with the highest Σ log p that never
    has ``I-X`` at the start or after anything but ``B-X``/``I-X``. Allowed
    transitions cost nothing; forbidden ones are impossible. The most probable
    valid sequence is exact (dynamic programming over the L labels).

Both take probabilities ``(n_tokens, n_labels)`` with columns in ``labels``
order and return spans ``(start, end, type)``. No well-kept library decodes a
plain probability matrix under BIO constraints without pulling in a CRF
framework, so the 20-line Viterbi is written here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import List, Sequence, Tuple

import numpy as np

from .bio import Span, bio_to_spans, spans_to_bio, split_tag

DECODERS = ("argmax", "viterbi")
# chosen on English dev data (docs/results.md, "Decoding"); the component's factory
# default and the MT ensembles' default
DEFAULT_DECODE = "viterbi"


def check_decoder(decode: str) -> str:
    if decode not in DECODERS:
        raise ValueError(f"Unknown decode {decode!r}: choose one of {', '.join(DECODERS)}.")
    return decode


def bio_constraints(labels: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """``(allowed_start, allowed)``: which labels may open a sentence, and
    ``allowed[i, j]`` whether label j may follow label i under BIO (computed once
    per label set: this runs for every doc)."""
    return _bio_constraints(tuple(labels))


@lru_cache(maxsize=16)
def _bio_constraints(labels: Tuple[str, ...]) -> Tuple[np.ndarray, np.ndarray]:
    parsed = [split_tag(t) for t in labels]
    n = len(labels)
    start = np.array([p != "I" for p, _ in parsed])
    allowed = np.ones((n, n), dtype=bool)
    for j, (pj, tj) in enumerate(parsed):
        if pj == "I":
            allowed[:, j] = [pi in ("B", "I") and ti == tj for pi, ti in parsed]
    start.flags.writeable = allowed.flags.writeable = False  # shared by every caller
    return start, allowed


def viterbi_indices(probs: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """The most probable BIO-valid label index per token (see the module docstring)."""
    p = np.asarray(probs, dtype=np.float64)
    if len(p) == 0:
        return np.zeros(0, dtype=np.int64)
    start, allowed = bio_constraints(labels)
    greedy = p.argmax(axis=1)
    if start[greedy[0]] and allowed[greedy[:-1], greedy[1:]].all():
        # the transitions only forbid, so a valid argmax path is the best path (most
        # sentences: this skips the loop below, a fifth of a CNN student's time)
        return greedy
    logp = np.log(np.maximum(p, 1e-30))
    trans = np.where(allowed, 0.0, -np.inf)
    score = np.where(start, logp[0], -np.inf)
    back = np.zeros(p.shape, dtype=np.int64)
    for t in range(1, len(p)):
        cand = score[:, None] + trans  # (from, to)
        back[t] = cand.argmax(axis=0)
        score = cand[back[t], np.arange(p.shape[1])] + logp[t]
    best = np.empty(len(p), dtype=np.int64)
    best[-1] = int(score.argmax())
    for t in range(len(p) - 1, 0, -1):
        best[t - 1] = back[t, best[t]]
    return best


def decode_spans(
    probs: np.ndarray, labels: Sequence[str], decode: str = DEFAULT_DECODE
) -> List[Span]:
    """Entity spans of one doc's probabilities with the decoder ``decode``."""
    check_decoder(decode)
    p = np.asarray(probs)
    if len(p) == 0:
        return []
    idx = viterbi_indices(p, labels) if decode == "viterbi" else p.argmax(axis=1)
    return bio_to_spans([labels[i] for i in idx])


def decode_bio(
    probs: Sequence[np.ndarray], labels: Sequence[str], decode: str = DEFAULT_DECODE
) -> List[List[str]]:
    """BIO tags per doc (valid IOB2 for both decoders)."""
    labels = list(labels)
    return [spans_to_bio(decode_spans(p, labels, decode), len(p)) for p in probs]


__all__ = [
    "DECODERS", "DEFAULT_DECODE", "bio_constraints", "check_decoder", "decode_bio",
    "decode_spans"
]  # fmt: skip

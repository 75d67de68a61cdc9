"""Multi-source teacher targets: the student learns Σ_k α_k p_k for every token."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np


def check_weights(weights, n_sources: int, *, source: str = "weights") -> np.ndarray:
    """Validate α: shape (K,) or (n_docs, K), non-negative, each row summing to 1."""
    alpha = np.asarray(weights, dtype=np.float64)
    if alpha.ndim not in (1, 2) or alpha.shape[-1] != n_sources:
        raise ValueError(
            f"{source}: expected {n_sources} weights per row (one per teacher), "
            f"got an array of shape {alpha.shape}."
        )
    if (alpha < 0).any():
        raise ValueError(f"{source}: weights must be non-negative, got {alpha.min():.4g}.")
    sums = alpha.sum(axis=-1)
    if not np.allclose(sums, 1.0, atol=1e-4):
        raise ValueError(
            f"{source}: weights must sum to 1 (per sentence for sentence-level weights), "
            f"got sums between {sums.min():.6g} and {sums.max():.6g}."
        )
    return alpha


class MixedTeacherProbs:
    """α-weighted mixture of several :class:`TeacherProbs` over the same docs.

    parts: one TeacherProbs per source-language teacher, all over the same docs
        and with the same label order.
    weights: α of shape (K,) (one per teacher) or (n_docs, K) (per sentence);
        None means uniform (the ``avg`` scheme).
    """

    def __init__(self, parts: Sequence, weights: Optional[Sequence] = None) -> None:
        if not parts:
            raise ValueError("MixedTeacherProbs needs at least one teacher.")
        self.parts = list(parts)
        first = self.parts[0]
        for p in self.parts[1:]:
            p.check_labels(list(first.labels), what=f"the label order of {first.path}")
            if len(p) != len(first) or not np.array_equal(p.offsets, first.offsets):
                raise ValueError(
                    f"{p.path} and {first.path} do not hold probabilities for the same docs "
                    f"({len(p)} vs {len(first)} docs): annotate the same target file."
                )
        k = len(self.parts)
        alpha = np.full(k, 1.0 / k) if weights is None else weights
        self.alpha = check_weights(alpha, k)
        if self.alpha.ndim == 2 and len(self.alpha) != len(first):
            raise ValueError(
                f"Sentence-level weights cover {len(self.alpha)} docs but the teachers' "
                f"probabilities cover {len(first)}."
            )
        self.labels: Tuple[str, ...] = first.labels
        self.path = first.path

    @property
    def weights(self) -> List:
        return self.alpha.tolist()

    def __len__(self) -> int:
        return len(self.parts[0])

    def __getitem__(self, i: int) -> np.ndarray:
        alpha = self.alpha[i] if self.alpha.ndim == 2 else self.alpha
        out = sum(float(a) * p[i] for a, p in zip(alpha, self.parts))
        return np.asarray(out, dtype=np.float32)

    def check_labels(self, labels, *, what: str) -> None:
        self.parts[0].check_labels(labels, what=what)

    def check_docs(self, docs, *, prefix: bool = False) -> None:
        for p in self.parts:
            p.check_docs(docs, prefix=prefix)

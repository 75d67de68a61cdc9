"""Source weights α: checked once, used by the teacher corpus and the MT ensemble."""

from __future__ import annotations

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

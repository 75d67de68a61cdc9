"""Neighbour-based denoising of pseudo labels: a weight per target token (CoLaDa).

A teacher's pseudo label is more trustworthy when the tokens closest to it in the
teacher's representation space carry the same label. For every unlabeled target token
t with pseudo label y_t (the teacher's argmax):

1. its k nearest neighbours among all target tokens (cosine similarity of L2-normalised
   vectors; the token itself and exact duplicates, similarity 1, are skipped);
2. c_t = how many of them agree with y_t at the type level (B-X and I-X agree; O only
   with O);
3. s_t = (c_t + smooth) / (max_{u: y_u = y_t} c_u + smooth): agreement relative to the
   best-supported token of the same label;
4. per label y, with a_y the mean of s over its tokens:
   w_t = sigmoid(sharpness * (s_t - mu * a_y)), then divided by the largest w of the label.

This is the reweighting of CoLaDa (Ma et al., ACL 2023; microsoft/vert-papers,
papers/CoLaDa/trainers/ts_trainer.py, ``load_knn``), whose defaults are k = 500,
sharpness (``ealpha``) 6, mu (``emu``) 1, smooth (``smK``) 0. The student's loss is then
the weighted mean over tokens (:mod:`spacy_tskd.pipeline.losses`).

Nearest neighbours come from faiss (``faiss-cpu``): an exact inner-product index
(``IndexFlatIP``) up to ``exact_per_k * k`` tokens, an HNSW graph (``IndexHNSWFlat``,
M = 32, inner product) above; docs/performance.md has the measurements behind the
choice (``scripts/bench_knn.py``). Written by hand is only the weighting, which no
library provides.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data.bio import split_tag


def nearest_neighbours(vectors: np.ndarray, k: int, *, exact_per_k: int = 400) -> tuple:
    """The ``k`` most similar other rows of ``vectors`` (cosine) for every row.

    RETURNS (Tuple[np.ndarray, np.ndarray]): similarities and indices, shape (n, k);
        index -1 where fewer than k other rows exist.
    """
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32).copy()
    n, dim = x.shape
    faiss.normalize_L2(x)
    if n <= exact_per_k * k:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = max(64, 2 * k)
    index.add(x)
    wanted = min(n, 2 * k + 1)  # room for the token itself and exact duplicates
    sims, ids = index.search(x, wanted)
    out_sims = np.full((n, k), -np.inf, dtype=np.float32)
    out_ids = np.full((n, k), -1, dtype=np.int64)
    for i in range(n):
        keep = (ids[i] >= 0) & (ids[i] != i) & (sims[i] < 1.0 - 1e-6)
        s, j = sims[i][keep][:k], ids[i][keep][:k]
        out_sims[i, : len(j)], out_ids[i, : len(j)] = s, j
    return out_sims, out_ids


def neighbour_weights(
    vectors: np.ndarray,
    labels: np.ndarray,
    label_names: Sequence[str],
    *,
    k: int,
    sharpness: float,
    mu: float,
    smooth: float = 0.0,
) -> np.ndarray:
    """One weight in (0, 1] per token from its neighbours' agreement with its label.

    vectors (np.ndarray): (n_tokens, dim) token representations from the teacher.
    labels (np.ndarray): (n_tokens,) pseudo-label indices into ``label_names``.
    label_names (Sequence[str]): BIO labels, e.g. ``O, B-LOC, I-LOC, ...``.
    k, sharpness, mu, smooth: see the module docstring.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(vectors) != len(labels):
        raise ValueError(f"{len(vectors)} vectors for {len(labels)} labels.")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    if len(labels) < 2:
        return np.ones(len(labels), dtype=np.float32)
    # type of every label as an integer (B-X and I-X share one; O has its own)
    names = [split_tag(name)[1] if name != "O" else "" for name in label_names]
    type_of = np.array([sorted(set(names)).index(t) for t in names], dtype=np.int64)
    _, ids = nearest_neighbours(vectors, min(k, len(labels) - 1))
    token_type = type_of[labels]
    same = (token_type[np.maximum(ids, 0)] == token_type[:, None]) & (ids >= 0)
    agree = same.sum(axis=1).astype(np.float64)
    weights = np.ones(len(labels), dtype=np.float64)
    for y in np.unique(labels):
        mask = labels == y
        best = agree[mask].max() + smooth
        support = (agree[mask] + smooth) / best if best > 0 else np.ones(int(mask.sum()))
        w = 1.0 / (1.0 + np.exp(-sharpness * (support - mu * support.mean())))
        weights[mask] = w / w.max()
    return weights.astype(np.float32)


__all__ = ["nearest_neighbours", "neighbour_weights"]

"""Losses on token logits, each returning ``(loss, d_loss/d_logits)``.

All functions take the student's logits ``z`` (n_tokens, n_labels) and return
the mean loss and its exact gradient with respect to ``z``, computed through the
softmax, so they plug into any thinc model that outputs logits.
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import numpy as np

LossFn = Callable[[np.ndarray, np.ndarray], Tuple[float, np.ndarray]]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32."""
    z = np.asarray(z, dtype=np.float32)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def cross_entropy(z: np.ndarray, target: np.ndarray) -> Tuple[float, np.ndarray]:
    """Mean cross-entropy against label indices; rows with ``target < 0`` are ignored."""
    target = np.asarray(target)
    keep = target >= 0
    n = int(keep.sum())
    d = np.zeros_like(z, dtype=np.float32)
    if n == 0:
        return 0.0, d
    logp = _log_softmax(z[keep])
    loss = -logp[np.arange(n), target[keep]].mean()
    g = np.exp(logp)
    g[np.arange(n), target[keep]] -= 1.0
    d[keep] = g / n
    return float(loss), d


def mse_loss(z: np.ndarray, q: np.ndarray) -> Tuple[float, np.ndarray]:
    """The paper's distillation loss: MSE between softmax(z) and q, mean over tokens and labels.

    L = 1/(T*C) * sum_t sum_c (p_tc - q_tc)^2 with p = softmax(z).
    dL/dp = 2 (p - q) / (T*C); through the softmax dL/dz_j = p_j (g_j - sum_c g_c p_c).
    """
    if z.size == 0:
        return 0.0, np.zeros_like(z, dtype=np.float32)
    p = np.exp(_log_softmax(z))
    q = np.asarray(q, dtype=np.float64)
    diff = p - q
    loss = float((diff**2).mean())
    g = 2.0 * diff / diff.size
    d = p * (g - (g * p).sum(axis=-1, keepdims=True))
    return loss, d.astype(np.float32)


def soft_cross_entropy(z: np.ndarray, q: np.ndarray) -> Tuple[float, np.ndarray]:
    """Cross-entropy against the teacher distribution q, mean over tokens."""
    if z.size == 0:
        return 0.0, np.zeros_like(z, dtype=np.float32)
    logp = _log_softmax(z)
    q = np.asarray(q, dtype=np.float64)
    loss = float(-(q * logp).sum(axis=-1).mean())
    d = (np.exp(logp) - q) / len(z)
    return loss, d.astype(np.float32)


def hard_label_loss(z: np.ndarray, q: np.ndarray) -> Tuple[float, np.ndarray]:
    """The HL ablation: cross-entropy on the teacher's argmax labels."""
    return cross_entropy(z, np.asarray(q).argmax(axis=-1))


DISTILL_LOSSES: Dict[str, LossFn] = {
    "mse": mse_loss,
    "hard": hard_label_loss,
    "soft_ce": soft_cross_entropy,
}

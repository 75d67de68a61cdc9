"""Losses on token logits, each returning ``(loss, d_loss/d_logits)``.

All functions take the student's logits ``z`` (n_tokens, n_labels) and return
the mean loss and its exact gradient with respect to ``z``, computed through the
softmax, so they plug into any thinc model that outputs logits. The distillation
losses take optional token weights ``w`` (n_tokens,): the loss is then the mean over
tokens of w_t times the token's loss (w = 1 everywhere gives the unweighted loss), as
in neighbour-based denoising (:mod:`spacy_tskd.distill.neighbours`). They run where
``z`` is (numpy or cupy: on a GPU the loss stays on the device).
"""

from __future__ import annotations

import functools
from typing import Callable, Dict, Optional, Tuple

import numpy as np
from thinc.api import get_array_module

LossFn = Callable[..., Tuple[float, np.ndarray]]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32."""
    z = np.asarray(z, dtype=np.float32)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z, xp=np):
    z = z.astype(xp.float64)
    m = z.max(axis=-1, keepdims=True)
    return z - m - xp.log(xp.exp(z - m).sum(axis=-1, keepdims=True))


def _token_weights(w: Optional[np.ndarray], n: int, xp=np) -> np.ndarray:
    if w is None:
        return xp.ones(n, dtype=xp.float64)
    w = xp.asarray(w, dtype=xp.float64).reshape(-1)
    if len(w) != n:
        raise ValueError(f"{len(w)} token weights for {n} tokens.")
    return w


def cross_entropy(
    z: np.ndarray, target: np.ndarray, w: Optional[np.ndarray] = None
) -> Tuple[float, np.ndarray]:
    """Mean cross-entropy against label indices; rows with ``target < 0`` are ignored."""
    xp = get_array_module(z)
    target = xp.asarray(target)
    keep = target >= 0
    n = int(keep.sum())
    d = xp.zeros_like(z, dtype=xp.float32)
    if n == 0:
        return 0.0, d
    w = _token_weights(w, len(z), xp)[keep]
    logp = _log_softmax(z[keep], xp)
    rows = xp.arange(n)
    loss = -(w * logp[rows, target[keep]]).mean()
    g = xp.exp(logp)
    g[rows, target[keep]] -= 1.0
    d[keep] = g * w[:, None] / n
    return float(loss), d


def mse_loss(
    z: np.ndarray, q: np.ndarray, w: Optional[np.ndarray] = None
) -> Tuple[float, np.ndarray]:
    """The paper's distillation loss: MSE between softmax(z) and q, mean over tokens and labels.

    L = 1/(T*C) * sum_t sum_c (p_tc - q_tc)^2 with p = softmax(z).
    dL/dp = 2 (p - q) / (T*C); through the softmax dL/dz_j = p_j (g_j - sum_c g_c p_c).
    """
    xp = get_array_module(z)
    if z.size == 0:
        return 0.0, xp.zeros_like(z, dtype=xp.float32)
    w = _token_weights(w, len(z), xp)[:, None]
    p = xp.exp(_log_softmax(z, xp))
    q = xp.asarray(q, dtype=xp.float64)
    diff = p - q
    loss = float((w * diff**2).mean())
    g = 2.0 * w * diff / diff.size
    d = p * (g - (g * p).sum(axis=-1, keepdims=True))
    return loss, d.astype(xp.float32)


def soft_cross_entropy(
    z: np.ndarray, q: np.ndarray, w: Optional[np.ndarray] = None
) -> Tuple[float, np.ndarray]:
    """Cross-entropy against the teacher distribution q, mean over tokens."""
    xp = get_array_module(z)
    if z.size == 0:
        return 0.0, xp.zeros_like(z, dtype=xp.float32)
    w = _token_weights(w, len(z), xp)
    logp = _log_softmax(z, xp)
    q = xp.asarray(q, dtype=xp.float64)
    loss = float(-(w * (q * logp).sum(axis=-1)).mean())
    d = w[:, None] * (xp.exp(logp) - q) / len(z)
    return loss, d.astype(xp.float32)


def kl_divergence(
    z: np.ndarray, q: np.ndarray, w: Optional[np.ndarray] = None, temperature: float = 1.0
) -> Tuple[float, np.ndarray]:
    """Hinton et al.'s distillation loss: T^2 KL(q_T || p_T), mean over tokens, with
    p_T = softmax(z / T) and q_T the teacher's distribution softened to q^(1/T)
    (normalised; equal to softmax(logits / T) of the stored probabilities' logits).

    dL/dz = T (p_T - q_T) / n; at T = 1 that is soft cross-entropy's gradient.
    """
    xp = get_array_module(z)
    if z.size == 0:
        return 0.0, xp.zeros_like(z, dtype=xp.float32)
    t = float(temperature)
    if t <= 0:
        raise ValueError(f"distill_temperature = {temperature}: it must be above 0.")
    w = _token_weights(w, len(z), xp)
    logp = _log_softmax(z / t, xp)
    # float16 probabilities can be 0: floored before the log (q_T of them stays ~0)
    logq = _log_softmax(xp.log(xp.maximum(xp.asarray(q, dtype=xp.float64), 1e-12)) / t, xp)
    q_t = xp.exp(logq)
    loss = float(t * t * (w * (q_t * (logq - logp)).sum(axis=-1)).mean())
    d = t * w[:, None] * (xp.exp(logp) - q_t) / len(z)
    return loss, d.astype(xp.float32)


def hard_label_loss(
    z: np.ndarray, q: np.ndarray, w: Optional[np.ndarray] = None
) -> Tuple[float, np.ndarray]:
    """The HL ablation: cross-entropy on the teacher's argmax labels."""
    return cross_entropy(z, get_array_module(z).asarray(q).argmax(axis=-1), w)


DISTILL_LOSSES: Dict[str, LossFn] = {
    "mse": mse_loss,
    "hard": hard_label_loss,
    "soft_ce": soft_cross_entropy,
    "kl": kl_divergence,
}


def get_distill_loss(name: str, temperature: float = 1.0) -> LossFn:
    """The loss ``name`` of ``DISTILL_LOSSES``; ``temperature`` is KL's (the others take none)."""
    if name not in DISTILL_LOSSES:
        raise ValueError(
            f"Unknown distill_loss {name!r}: choose one of {sorted(DISTILL_LOSSES)} "
            "in the [components.tskd_ner] config block."
        )
    if name == "kl":
        return functools.partial(kl_divergence, temperature=temperature)
    return DISTILL_LOSSES[name]

"""Language-similarity source weighting for multi-source transfer (Wu et al. 2020, §3.2).

With K source languages (one teacher each), the student learns from the mixture
Σ_k α_k p_k of the teachers' distributions (see :mod:`.mixture`). This module
computes α from how similar the target text is to each source language.

Sentence embeddings u come from the frozen pretrained encoder
(:func:`.embeddings.sentence_embeddings`: mean of the last hidden layer over the
word pieces). μ_k is the mean sentence embedding of source language k.

Schemes (``method``):

``avg``
    α_k = 1/K.
``sim`` (the paper's learned similarity)
    s(x, k) = (U u_x + b_U)ᵀ (V μ_k + b_V) with learned language embeddings μ_k
    (initialised at the language means), rank 64, trained to identify the source
    language of source sentences with γ‖μμᵀ − I‖²_F (:mod:`.language_model`).
``cosine`` / ``l2``
    s(x, k) = cos(u_x, μ_k), or −‖u_x − μ_k‖₂, for every target sentence x, as the
    authors' code does (microsoft/vert-papers, ``get_unlearn_st_sims``).

Normalisation (every scheme but ``avg``), with S = [s(x, k)] the n_target × K
matrix of scores::

    τ = Var(S) = (1/(nK)) Σ_{x,k} (s(x, k) − mean(S))²     (population variance, all entries)
    A_x,k = exp(s(x, k) / τ) / Σ_j exp(s(x, j) / τ)       (row softmax)
    sentence level: α_x = A_x  (one weight vector per target sentence)
    corpus level:   α_k = (1/n) Σ_x A_x,k                 (Eq. 11)

Guard: if τ is not finite or τ ≤ ε·max(1, mean(S²)) (ε = float64 machine
epsilon: all scores equal up to rounding) then τ = 1; the softmax of equal
scores is uniform whatever τ is.

:func:`fit_weights` writes a ``weights.json`` (plus ``weights.safetensors`` with
the similarity model for ``sim``); :func:`load_weights` reads and
checks it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..util import PathLike, atomic_write_text, sha256_file
from .embeddings import cached_sentence_embeddings, encoder_identity, resolve_encoder
from .language_model import LearnedLanguageModel, fit_similarity_model
from .mixture import check_weights
from .weights_file import FORMAT_VERSION, METHODS, load_similarity_model, load_weights, save_model


def softmax_alpha(values, *, sentence_level: bool = False) -> Tuple[np.ndarray, float]:
    """α and τ from scores/similarities ``values`` of shape (n, K) or (K,).

    τ = population variance of all entries of ``values`` (guarded: see the
    module docstring); A = row-wise softmax(values / τ). Returns (A, τ) for
    sentence level (``values`` must be 2-D), or (mean of the rows of A, τ).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        if sentence_level:
            raise ValueError("Sentence-level weights need one row of scores per sentence.")
        v = v[None, :]
    if v.ndim != 2 or v.size == 0:
        raise ValueError(f"Expected scores of shape (n, K), got {v.shape}.")
    if not np.isfinite(v).all():
        raise ValueError("The similarity scores contain NaN or infinite values.")
    tau = float(v.var())
    if not math.isfinite(tau) or tau <= np.finfo(np.float64).eps * max(1.0, float(np.mean(v * v))):
        tau = 1.0
    z = v / tau
    z -= z.max(axis=1, keepdims=True)
    a = np.exp(z)
    a /= a.sum(axis=1, keepdims=True)
    return (a if sentence_level else a.mean(axis=0)), tau


def similarity_values(method: str, target_embeddings, mu) -> np.ndarray:
    """``cosine``/``l2`` similarities (n, K) of every target sentence to the
    prototypes ``mu`` (K, hidden)."""
    t = np.asarray(target_embeddings, dtype=np.float64)
    m = np.asarray(mu, dtype=np.float64)
    if method == "cosine":
        tn = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
        mn = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
        return tn @ mn.T
    if method == "l2":
        return -np.linalg.norm(t[:, None, :] - m[None, :, :], axis=-1)
    raise ValueError(f"Unknown similarity {method!r}: expected 'cosine' or 'l2'.")


def compute_alpha(
    method: str,
    target_embeddings=None,
    *,
    mu=None,
    model=None,
    sentence_level: bool = False,
    n_sources: Optional[int] = None,
) -> Tuple[np.ndarray, Optional[float]]:
    """α for one scheme (see the module docstring); returns (α, τ), τ None for ``avg``."""
    _check_method(method)
    if method == "avg":
        k = n_sources if n_sources is not None else (len(mu) if mu is not None else None)
        if k is None and model is not None:
            k = len(model.languages)
        if not k:
            raise ValueError("avg weights need the number of sources.")
        if sentence_level:
            if target_embeddings is None:
                raise ValueError("Sentence-level avg weights need the target sentences.")
            return np.full((len(target_embeddings), k), 1.0 / k), None
        return np.full(k, 1.0 / k), None
    if target_embeddings is None or len(target_embeddings) == 0:
        raise ValueError("No target sentences to compute weights from.")
    if method == "sim":
        if model is None:
            raise ValueError(f"The {method} scheme needs a fitted similarity model.")
        values = model.score_embeddings(target_embeddings)
    else:
        if mu is None:
            raise ValueError(f"The {method} scheme needs the source prototypes mu.")
        values = similarity_values(method, target_embeddings, mu)
    return softmax_alpha(values, sentence_level=sentence_level)


def fit_weights(
    *,
    source_docs: Mapping[str, PathLike],
    target_docs: PathLike,
    method: str = "sim",
    sentence_level: bool = False,
    encoder: Optional[PathLike] = None,
    rank: int,
    gamma: float,
    output: PathLike,
    max_sents: int = 0,
    max_target_sents: int = 0,
    seed: int = 0,
    epochs: int,
    lr: float,
    batch_size: int,
    embed_batch_size: int = 32,
    max_length: int,
    progress: bool = True,
    embedding_cache: Optional[PathLike] = None,
    gpu_id: int = -1,
) -> Dict[str, Any]:
    """Compute source-language weights α and write them to ``output`` (JSON, atomic).

    source_docs: language -> source DocBin (``.spacy``); the order is α's order.
    target_docs: the (unlabeled) target DocBin the student will be distilled on.
    method: ``avg``, ``sim``, ``cosine`` or ``l2`` (module docstring).
    sentence_level: one α per target sentence (rows in the target's doc order).
    encoder: the pretrained encoder (local HF dir or cached hub name); required
        except for ``avg``.
    max_sents: use at most N sentences per *source* language (0: all), a random
        subset drawn with ``seed`` (kept in corpus order).
    max_target_sents: use the first N target sentences (0: all). Sentence-level
        α then covers only those docs: distill with the same ``max_docs``.
    seed, epochs, lr, batch_size, rank, gamma: similarity-model training (``sim``).
    embed_batch_size, max_length: sentence embedding.
    gpu_id: the GPU the encoder embeds on (-1: CPU).
    embedding_cache: a folder where sentence embeddings are stored and reused
        (keyed by encoder hash, max_length and text), so fitting several methods
        or targets embeds each corpus once.
    RETURNS: the JSON written: ``format``, ``method``, ``sentence_level``,
        ``params`` (settings, τ, sentence counts, the model's training stats),
        ``encoder`` (``{"name", "sha256", "hashed"}``, see
        :func:`.embeddings.encoder_identity`; null for ``avg`` without encoder),
        ``sources``, ``target``, ``target_sha256``, ``n_target``, ``alpha`` (K
        floats, or one list of K floats per target sentence), ``alpha_mean``
        (K floats), and for ``sim`` ``similarity_model`` (``file``: the
        ``.safetensors`` beside ``output``, ``sha256``, ``config``).
    """
    _check_method(method)
    output = Path(output)
    if output.suffix == ".safetensors":
        raise ValueError(f"{output}: the weights file is JSON; give a name such as weights.json.")
    if output.is_dir():
        raise ValueError(f"Output path {output} is a directory: give a file such as weights.json.")
    if not source_docs:
        raise ValueError("No source docs given: need one DocBin per source language.")
    if max_sents < 0 or max_target_sents < 0:
        raise ValueError("max_sents and max_target_sents must be 0 (all) or positive.")
    sources = [str(s) for s in source_docs]
    if len(set(sources)) != len(sources):
        raise ValueError(f"Duplicate source languages: {sources}.")
    if len(sources) < 2:
        raise ValueError(
            f"Weights need at least two source languages, got only {sources}: with one "
            "teacher there is nothing to weigh; distil from it directly (paths.weights = null)."
        )
    if method != "avg" and encoder is None:
        raise ValueError(f"The {method} scheme needs an encoder (--encoder).")
    source_paths = {lang: Path(p) for lang, p in source_docs.items()}
    target_path = Path(target_docs)
    for what, p in [*((f"Source docs of {k!r}", p) for k, p in source_paths.items()),
                    ("Target docs", target_path)]:  # fmt: skip
        if not p.is_file():
            raise FileNotFoundError(f"{what} not found: {p}.")

    target_texts = _read_texts(target_path, max_target_sents, seed=None)
    params: Dict[str, Any] = dict(max_sents=max_sents, max_target_sents=max_target_sents, seed=seed)
    identity = encoder_identity(encoder) if encoder is not None else None
    if method == "avg" and identity is not None and identity["sha256"] is None:
        identity = None  # avg reads no encoder: one that is not there is not recorded
    result: Dict[str, Any] = {}
    if method == "avg":
        n = len(sources)
        alpha, tau = compute_alpha("avg", target_texts, n_sources=n, sentence_level=sentence_level)
    else:
        embed = dict(encoder=resolve_encoder(encoder, gpu_id=gpu_id)[:2], cache_dir=embedding_cache,
                     encoder_sha256=identity["sha256"] if identity else None,
                     batch_size=embed_batch_size, max_length=max_length, progress=progress)  # fmt: skip
        source_emb = {
            lang: cached_sentence_embeddings(_read_texts(p, max_sents, seed=seed), **embed)
            for lang, p in source_paths.items()
        }
        target_emb = cached_sentence_embeddings(target_texts, **embed)
        params["max_length"] = max_length
        params["n_source_sents"] = {lang: len(e) for lang, e in source_emb.items()}
        if method == "sim":
            train = dict(epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
            model = fit_similarity_model(
                source_emb, rank=rank, gamma=gamma, progress=progress, **train
            )
            model.max_length = max_length
            alpha, tau = compute_alpha(
                method, target_emb, model=model, sentence_level=sentence_level
            )
            params.update(rank=model.rank, rank_requested=rank, gamma=gamma, **train,
                          balance=True, train=model.train_stats)  # fmt: skip
            result["similarity_model"] = save_model(model, output.with_suffix(".safetensors"))
        else:
            mu = np.stack([e.astype(np.float64).mean(axis=0) for e in source_emb.values()])
            alpha, tau = compute_alpha(method, target_emb, mu=mu, sentence_level=sentence_level)
    params["tau"] = tau
    alpha_mean = alpha.mean(axis=0) if alpha.ndim == 2 else alpha
    data: Dict[str, Any] = dict(
        format=FORMAT_VERSION, method=method, sentence_level=bool(sentence_level), params=params,
        encoder=identity, sources=sources, target=str(target_path),
        target_sha256=sha256_file(target_path), n_target=len(target_texts),
        alpha=alpha.tolist(), alpha_mean=alpha_mean.tolist(), **result,
    )  # fmt: skip
    check_weights(data["alpha"], len(sources), source=str(output))
    atomic_write_text(output, json.dumps(data, indent=2) + "\n")
    return data


def _read_texts(path: Path, max_sents: int, *, seed: Optional[int]) -> List[str]:
    """Sentences of a DocBin as words joined by spaces; at most ``max_sents``
    (the first ones if ``seed`` is None, else a seeded random subset in order)."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    try:
        docs = DocBin().from_disk(path).get_docs(Vocab())
        texts = [" ".join(t.text for t in doc) for doc in docs]
    except Exception as err:
        raise ValueError(f"{path}: cannot read it as a spaCy DocBin (.spacy): {err}") from None
    if not texts:
        raise ValueError(f"{path} holds no docs.")
    if max_sents and len(texts) > max_sents:
        if seed is None:
            texts = texts[:max_sents]
        else:
            rng = np.random.default_rng(seed)
            keep = np.sort(rng.choice(len(texts), size=max_sents, replace=False))
            texts = [texts[i] for i in keep]
    return texts


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(
            f"Unknown weighting method {method!r}: expected one of {', '.join(METHODS)}."
        )


__all__ = [
    "METHODS", "LearnedLanguageModel", "compute_alpha", "fit_similarity_model", "fit_weights",
    "load_similarity_model", "load_weights", "similarity_values", "softmax_alpha"
]  # fmt: skip

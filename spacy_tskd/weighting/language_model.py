"""The ``sim`` language-identification model that scores a sentence against each source.

It scores sentence embeddings u (n, hidden) against K source languages and is trained
with cross-entropy to predict the language of source sentences (balanced per language),
plus γ times an orthogonality penalty, with Adam. The paper's form (the authors' code,
microsoft/vert-papers ``papers/SingleMulti-TS/modeling.py``, ``DomainLearner``)::

    s(u, k) = (U u + b_U)ᵀ (V μ_k + b_V)        U, V: hidden -> r (r = 64), M = UᵀV
    μ (K × hidden) is learned, initialised at the mean sentence embedding of each language
    penalty: ‖μ μᵀ − I_K‖²_F

The authors' default penalty is ‖μᵀμ − I_hidden‖²_F; it equals ‖μμᵀ − I_K‖²_F +
(hidden − K), so both have the same gradient; the K × K form is cheaper.
:func:`fit_similarity_model` trains it, deterministically for a seed.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn


class LearnedLanguageModel(nn.Module):
    """``sim``: s(u, k) = (U u + b_U)ᵀ (V μ_k + b_V) with learned language embeddings μ.

    hidden_size: the encoder's hidden size.
    languages: the K source languages, in score-column order.
    rank: r, the output size of U and V (capped at hidden_size).
    mu: (K, hidden) initial language embeddings (default zeros, for loading).
    """

    def __init__(
        self,
        hidden_size: int,
        languages: Sequence[str],
        rank: int = 64,
        mu: Optional[Union[np.ndarray, torch.Tensor]] = None,
    ) -> None:
        super().__init__()
        if hidden_size < 1 or rank < 1:
            raise ValueError(f"hidden_size and rank must be positive, got {hidden_size}, {rank}.")
        if not languages:
            raise ValueError(f"{type(self).__name__} needs at least one source language.")
        self.languages: List[str] = list(languages)
        self.hidden_size = int(hidden_size)
        self.rank_requested = int(rank)
        self.rank = min(int(rank), self.hidden_size)
        self.encoder_name: Optional[str] = None
        self.max_length: Optional[int] = None  # word pieces per sentence, as fitted
        self.train_stats: Dict[str, float] = {}
        k = len(self.languages)
        mu_t = torch.zeros(k, self.hidden_size) if mu is None else torch.as_tensor(mu).float()
        if tuple(mu_t.shape) != (k, self.hidden_size):
            raise ValueError(
                f"mu must have shape {(k, self.hidden_size)}, got {tuple(mu_t.shape)}."
            )
        self.mu = nn.Parameter(mu_t.clone())
        self.U = nn.Linear(self.hidden_size, self.rank)
        self.V = nn.Linear(self.hidden_size, self.rank)

    def config(self) -> Dict[str, Any]:
        return {
            "hidden_size": self.hidden_size,
            "languages": list(self.languages),
            "rank": self.rank,
            "rank_requested": self.rank_requested,
        }

    def score_embeddings(self, embeddings) -> np.ndarray:
        """Scores (n, K) as float64 numpy for sentence embeddings (n, hidden)."""
        x = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
        if x.ndim != 2 or x.shape[1] != self.hidden_size:
            raise ValueError(
                f"Expected embeddings of shape (n, {self.hidden_size}), got {tuple(x.shape)}: "
                "were they computed with another encoder?"
            )
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return self(x.to(self.mu.device)).double().cpu().numpy()
        finally:
            self.train(was_training)

    def score(self, docs_or_texts, *, encoder=None, **embed_kwargs) -> np.ndarray:
        """Scores (n, K) of new sentences, embedded with ``encoder`` (default: the
        encoder the model was fitted with, as recorded in its weights JSON)."""
        from .embeddings import sentence_embeddings

        encoder = encoder if encoder is not None else self.encoder_name
        if encoder is None:
            raise ValueError("No encoder given and none recorded with this similarity model.")
        embed_kwargs.setdefault("progress", False)
        embed_kwargs.setdefault("max_length", self.max_length)
        emb = sentence_embeddings(docs_or_texts, encoder=encoder, **embed_kwargs)
        return self.score_embeddings(emb)

    def reset_parameters(self, generator: Optional[torch.Generator] = None) -> None:
        """U, V as torch's Linear default (uniform ±1/√hidden) from ``generator``; μ unchanged."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for layer in (self.U, self.V):
                layer.weight.copy_(
                    torch.rand(layer.weight.shape, generator=generator) * 2 * bound - bound
                )
                layer.bias.copy_(
                    torch.rand(layer.bias.shape, generator=generator) * 2 * bound - bound
                )

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Scores (n, K) for embeddings u (n, hidden)."""
        return self.U(u) @ self.V(self.mu).T

    def orthogonality_penalty(self) -> torch.Tensor:
        """‖μμᵀ − I_K‖²_F (not multiplied by γ)."""
        eye = torch.eye(len(self.languages), dtype=self.mu.dtype, device=self.mu.device)
        diff = self.mu @ self.mu.T - eye
        return (diff * diff).sum()


def fit_similarity_model(
    source_embeddings: Mapping[str, Any],
    *,
    rank: int,
    gamma: float,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int = 0,
    balance: bool = True,
    progress: bool = False,
) -> LearnedLanguageModel:
    """Train a language-identification model on the embeddings of source sentences.

    source_embeddings: language -> (n_k, hidden) sentence embeddings; the dict
        order is the score-column order.
    Loss per batch: cross-entropy(s(u, ·), language) + γ ‖μμᵀ − I‖²_F, with Adam.
    balance: weight each language's sentences by n / (K n_k) in the
        cross-entropy, so that a bigger source corpus does not push every score
        (and α) toward its language.
    Deterministic for a seed: initialisation and shuffling use a private
    ``torch.Generator`` (the global RNG is not touched).
    The fitted model is in eval mode; ``model.train_stats`` holds the final
    ``loss``, ``penalty`` and ``accuracy`` on the source sentences.
    """
    from tqdm import tqdm

    if not source_embeddings:
        raise ValueError("fit_similarity_model needs the embeddings of at least one language.")
    if epochs < 1 or batch_size < 1 or lr <= 0 or gamma < 0:
        raise ValueError(
            f"Need epochs >= 1, batch_size >= 1, lr > 0 and gamma >= 0; got epochs={epochs}, "
            f"batch_size={batch_size}, lr={lr}, gamma={gamma}."
        )
    languages = list(source_embeddings)
    arrays = []
    for lang in languages:
        arr = np.asarray(source_embeddings[lang], dtype=np.float32)
        if arr.ndim != 2 or len(arr) == 0:
            raise ValueError(
                f"Embeddings of {lang!r} must be a non-empty (n, hidden) array, got "
                f"shape {arr.shape}."
            )
        if arrays and arr.shape[1] != arrays[0].shape[1]:
            raise ValueError(
                f"Embeddings of {lang!r} have {arr.shape[1]} dimensions but those of "
                f"{languages[0]!r} have {arrays[0].shape[1]}: use one encoder for all."
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"Embeddings of {lang!r} contain NaN or infinite values.")
        arrays.append(arr)
    mu = np.stack([a.astype(np.float64).mean(axis=0) for a in arrays]).astype(np.float32)
    model = LearnedLanguageModel(arrays[0].shape[1], languages, rank=rank, mu=mu)
    gen = torch.Generator().manual_seed(int(seed))
    model.reset_parameters(gen)
    x = torch.from_numpy(np.concatenate(arrays))
    y = torch.cat([torch.full((len(a),), k, dtype=torch.long) for k, a in enumerate(arrays)])
    counts = torch.tensor([len(a) for a in arrays], dtype=torch.float32)
    class_weight = len(x) / (len(arrays) * counts) if balance else None
    loss_fn = nn.CrossEntropyLoss(weight=class_weight)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _epoch in tqdm(range(epochs), desc="similarity", unit="epoch", disable=not progress):
        perm = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), batch_size):
            idx = perm[start : start + batch_size]
            loss = loss_fn(model(x[idx]), y[idx]) + gamma * model.orthogonality_penalty()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        scores = model(x)
        penalty = float(model.orthogonality_penalty())
        model.train_stats = {
            "loss": float(loss_fn(scores, y)) + gamma * penalty,
            "penalty": penalty,
            "accuracy": float((scores.argmax(dim=1) == y).float().mean()),
        }
    return model


def build_model(config: Mapping[str, Any]) -> LearnedLanguageModel:
    """An untrained model of the shape a saved ``config`` describes."""
    model = LearnedLanguageModel(config["hidden_size"], config["languages"], rank=config["rank"])
    model.rank_requested = int(config.get("rank_requested", config["rank"]))
    return model


__all__ = ["LearnedLanguageModel", "build_model", "fit_similarity_model"]

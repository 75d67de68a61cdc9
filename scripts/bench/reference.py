"""The paper-style reference loop of ``bench distill``, written like the original code.

A Hugging Face ``AutoModelForTokenClassification`` loaded from the encoder directory,
every batch padded to ``max_length`` word pieces (``padding="max_length",
truncation=True, is_split_into_words=True``; inputs tokenized once before training,
like the original's cached features), embeddings and the bottom ``frozen_layers``
layers with ``requires_grad=False`` but run with autograd on, loss on the first piece
of each word: MSE between softmax(logits) and the teacher probabilities (mean over
tokens and labels), ``torch.optim.AdamW`` and global gradient-norm clipping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import numpy as np

from spacy_tskd.util import PathLike

from .student import check_encoder_dir, student_hf_model


@dataclass
class ReferenceBatch:
    """Inputs of the reference model for a list of docs (padded to ``max_length``).

    input_ids, attention_mask (torch.Tensor): ``(n_docs, max_length)``.
    rows, cols (torch.Tensor): sequence and position of each labelled token's first piece.
    tokens (np.ndarray): index of each labelled token in the docs' tokens concatenated.
    n_tokens (int): all tokens of the docs.
    fits (np.ndarray): ``(n_tokens,)`` bool: the token's doc was not truncated.
    pieces (int): non-padding pieces (special tokens included).
    """

    input_ids: Any
    attention_mask: Any
    rows: Any
    cols: Any
    tokens: np.ndarray
    n_tokens: int
    fits: np.ndarray
    pieces: int


def encode_reference_batch(tokenizer, docs: Sequence, max_length: int) -> ReferenceBatch:
    """Tokenize docs the way the paper's code does: padded and truncated to ``max_length``;
    each word's label sits on its first piece that holds the word's characters."""
    import torch

    words = [[t.text for t in doc] for doc in docs]
    enc = tokenizer(
        words,
        is_split_into_words=True,
        padding="max_length",
        max_length=max_length,
        truncation=True,
        return_tensors="pt",
    )
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in words])]).astype(np.int64)
    rows: List[int] = []
    cols: List[int] = []
    tokens: List[int] = []
    fits = np.zeros(int(offsets[-1]), dtype=bool)
    n_real = enc["attention_mask"].sum(dim=1).tolist()
    for d in range(len(words)):
        word_ids = enc.word_ids(d)
        pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"][d])
        seen = set()
        for pos, w in enumerate(word_ids):
            if w is None or w in seen:
                continue
            seen.add(w)
            # the first piece with the word's characters: a bare "▁" (SentencePiece's
            # whitespace marker, split off before punctuation) covers the space before
            # the word, and spacy-transformers aligns it to no token
            nxt = pos + 1
            if pieces[pos] == "\u2581" and nxt < len(word_ids) and word_ids[nxt] == w:
                pos = nxt
            rows.append(d)
            cols.append(pos)
            tokens.append(int(offsets[d]) + w)
        # exactly max_length pieces may be a truncation: count it as one
        fits[offsets[d] : offsets[d + 1]] = n_real[d] < max_length
    return ReferenceBatch(
        input_ids=enc["input_ids"],
        attention_mask=enc["attention_mask"],
        rows=torch.tensor(rows, dtype=torch.long),
        cols=torch.tensor(cols, dtype=torch.long),
        tokens=np.asarray(tokens, dtype=np.int64),
        n_tokens=int(offsets[-1]),
        fits=fits,
        pieces=int(sum(n_real)),
    )


def load_reference_model(encoder: PathLike, labels: Sequence[str]):
    """``AutoModelForTokenClassification`` + tokenizer from a local encoder directory."""
    import transformers
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    path = check_encoder_dir(encoder)
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # "classifier newly initialized" is expected
    try:
        model = AutoModelForTokenClassification.from_pretrained(
            str(path),
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={lab: i for i, lab in enumerate(labels)},
        )
    finally:
        transformers.logging.set_verbosity(verbosity)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"The tokenizer in {path} is not a fast tokenizer: add tokenizer.json.")
    return model, tokenizer


def copy_head_to_reference(ner, reference) -> None:
    """Copy the ``tskd_ner`` output layer (thinc ``Linear`` W, b) into ``reference.classifier``."""
    import torch

    output_layer = ner.model.get_ref("output_layer")
    W = ner.model.ops.to_numpy(output_layer.get_param("W"))
    b = ner.model.ops.to_numpy(output_layer.get_param("b"))
    classifier = getattr(reference, "classifier", None)
    if not isinstance(classifier, torch.nn.Linear) or tuple(classifier.weight.shape) != W.shape:
        raise ValueError(
            f"The reference model's classifier does not match the component's output layer "
            f"{W.shape}: load the reference with num_labels={W.shape[0]}."
        )
    with torch.no_grad():
        classifier.weight.copy_(torch.from_numpy(np.ascontiguousarray(W, dtype=np.float32)))
        classifier.bias.copy_(torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)))


def check_same_encoder_weights(ner, reference) -> None:
    """Raise ValueError unless the component's encoder and ``reference`` hold equal weights."""
    import torch

    ours = student_hf_model(ner).state_dict()
    theirs = reference.base_model.state_dict()
    keys = [k for k in ours if not k.startswith("pooler.")]
    missing = [k for k in keys if k not in theirs]
    differ = [k for k in keys if k in theirs and not torch.equal(ours[k], theirs[k])]
    if missing or differ:
        raise ValueError(
            "The project's encoder and the reference model do not start from the same "
            f"weights (missing {missing[:3]}, different {differ[:3]}). Both must load the "
            "same local encoder directory."
        )


def freeze_reference(reference, frozen_layers: int) -> None:
    """``requires_grad=False`` on the embeddings and the bottom ``frozen_layers`` layers."""
    base = reference.base_model
    layers = base.encoder.layer
    if frozen_layers > len(layers):
        raise ValueError(
            f"frozen_layers={frozen_layers} but the encoder has only {len(layers)} layers."
        )
    for p in base.embeddings.parameters():
        p.requires_grad_(False)
    for layer in layers[:frozen_layers]:
        for p in layer.parameters():
            p.requires_grad_(False)


def reference_logits(reference, batch: ReferenceBatch) -> np.ndarray:
    """Eval-mode logits per token, ``(n_tokens, n_labels)``; NaN rows for tokens without a piece."""
    import torch

    was_training = reference.training
    reference.eval()
    try:
        with torch.no_grad():
            logits = reference(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
            picked = logits.logits[batch.rows, batch.cols].numpy()
    finally:
        reference.train(was_training)
    out = np.full((batch.n_tokens, picked.shape[1]), np.nan, dtype=np.float32)
    out[batch.tokens] = picked
    return out


def reference_step(reference, batch: ReferenceBatch, q, optimizer, params, grad_clip: float):
    """One training step of the reference loop; returns ``(loss, global grad norm)``."""
    import torch

    logits = reference(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    p = torch.softmax(logits[batch.rows, batch.cols], dim=-1)
    loss = ((p - q) ** 2).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        norm = float(torch.nn.utils.clip_grad_norm_(params, grad_clip))
    else:
        norm = float(torch.norm(torch.stack([p.grad.norm() for p in params if p.grad is not None])))
    optimizer.step()
    return float(loss.detach()), norm


def run_reference(
    reference, tokenizer, docs, probs, batches, max_length, learn_rate, thinc_opt, warmup
) -> Dict[str, Any]:
    import torch

    encoded = [encode_reference_batch(tokenizer, [docs[i] for i in b], max_length) for b in batches]
    targets = []
    for b, enc in zip(batches, encoded):
        q = np.concatenate([probs[i] for i in b])[enc.tokens]
        targets.append(torch.from_numpy(np.ascontiguousarray(q, dtype=np.float32)))
    params = [p for p in reference.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=learn_rate,
        betas=(float(thinc_opt.b1), float(thinc_opt.b2)),
        eps=float(thinc_opt.eps),
        weight_decay=float(thinc_opt.L2) if thinc_opt.L2_is_weight_decay else 0.0,
    )
    grad_clip = float(thinc_opt.grad_clip or 0.0)
    reference.train()
    for enc, q in zip(encoded[:warmup], targets[:warmup]):
        reference_step(reference, enc, q, optimizer, params, grad_clip)
    losses: List[float] = []
    norms: List[float] = []
    step_seconds: List[float] = []
    start = time.perf_counter()
    for enc, q in zip(encoded[warmup:], targets[warmup:]):
        t = time.perf_counter()
        loss, norm = reference_step(reference, enc, q, optimizer, params, grad_clip)
        step_seconds.append(time.perf_counter() - t)
        losses.append(loss)
        norms.append(norm)
    seconds = time.perf_counter() - start
    timed = encoded[warmup:]
    return {
        "seconds": seconds,
        "step_seconds": step_seconds,
        "losses": losses,
        "mean_loss": float(np.mean(losses)),
        "pieces": sum(e.pieces for e in timed),
        "padded_pieces": sum(int(e.input_ids.numel()) for e in timed),
        "max_length": max_length,
        "max_grad_norm": max(norms),
        "tokens_without_label": sum(e.n_tokens - len(e.tokens) for e in timed),
    }


def disable_dropout(module) -> None:
    """Zero every dropout of a torch module (nn.Dropout and SDPA attention's dropout_prob)."""
    import torch

    for m in module.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if hasattr(m, "dropout_prob"):
            m.dropout_prob = 0.0


__all__ = [
    "ReferenceBatch",
    "check_same_encoder_weights",
    "copy_head_to_reference",
    "disable_dropout",
    "encode_reference_batch",
    "freeze_reference",
    "load_reference_model",
    "reference_logits",
    "reference_step",
    "run_reference",
]

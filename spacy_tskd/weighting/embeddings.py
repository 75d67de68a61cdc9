"""Sentence embeddings from the frozen pretrained encoder (for source weighting).

The language-similarity weighting of the paper (Section 3.2) represents every
sentence by a vector u from the *pretrained* multilingual encoder, never from a
fine-tuned teacher. Here u is the **mean of the last hidden layer over the
sentence's word pieces** (attention-masked, the special tokens [CLS]/[SEP]/<s>/</s>
excluded). Mean pooling is used rather than a pooler output because the offline
encoder is loaded without a pooler (``add_pooling_layer=False``; the e5 encoders
are trained for mean pooling anyway).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..util import PathLike

# Files whose bytes identify an encoder's weights, in preference order.
_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.pt", "tf_model*.h5")


def doc_text(doc_or_text: Any) -> str:
    """The text embedded for one sentence: a Doc's words joined by single spaces.

    A string is used as is; a sequence of strings (words) is joined by spaces.
    """
    if isinstance(doc_or_text, str):
        return doc_or_text
    if hasattr(doc_or_text, "__iter__") and hasattr(doc_or_text, "vocab"):  # a spaCy Doc
        return " ".join(t.text for t in doc_or_text)
    if isinstance(doc_or_text, (list, tuple)) and all(isinstance(w, str) for w in doc_or_text):
        return " ".join(doc_or_text)
    raise TypeError(
        f"Expected a spaCy Doc, a string or a list of words, got {type(doc_or_text).__name__}."
    )


def resolve_encoder(
    encoder: Union[PathLike, Tuple[Any, Any]], *, gpu_id: int = -1
) -> Tuple[Any, Any, str]:
    """``(transformer, tokenizer, name)`` from a name/path or an already loaded pair; on
    GPU ``gpu_id`` when it is >= 0."""
    if isinstance(encoder, tuple) and len(encoder) == 2:
        transformer, tokenizer = encoder
        name = getattr(transformer.config, "_name_or_path", "") or "<in-memory encoder>"
    else:
        from ..encoders.pretrained import load_pretrained

        (transformer, tokenizer), name = load_pretrained(str(encoder)), str(encoder)
    if gpu_id >= 0:
        transformer = transformer.to(f"cuda:{gpu_id}")
    return transformer, tokenizer, str(name)


def sentence_embeddings(
    docs_or_texts: Iterable[Any],
    *,
    encoder: Union[PathLike, Tuple[Any, Any]],
    max_length: int,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """Embed sentences with the frozen pretrained encoder.

    docs_or_texts: spaCy Docs (their words joined by spaces), strings, or lists of words.
    encoder: a local Hugging Face model directory or cached hub name (loaded with
        ``load_pretrained``), or an already loaded ``(transformer, tokenizer)`` pair.
    batch_size: sentences per forward pass. Sentences are sorted by their number
        of word pieces and each batch is padded to its longest sentence, so little
        compute goes into padding; the output keeps the input order.
    max_length: word pieces per sentence (special tokens included); longer
        sentences are truncated.
    progress: show a tqdm progress bar.
    RETURNS: float32 array ``(n, hidden)``: per sentence, the mean of the last
        hidden layer over its word pieces (padding and special tokens masked out;
        a sentence with no word piece falls back to the mean over its special
        tokens). Mean pooling, not a pooler: the offline encoder has no pooler.
        The encoder runs in eval mode under ``torch.no_grad()``.
    """
    import torch
    from tqdm import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}.")
    if max_length < 3:
        raise ValueError(f"max_length must be at least 3 word pieces, not {max_length}.")
    texts = [doc_text(d) for d in docs_or_texts]
    transformer, tokenizer, _ = resolve_encoder(encoder)
    hidden = int(transformer.config.hidden_size)
    if not texts:
        return np.zeros((0, hidden), dtype=np.float32)
    enc = tokenizer(
        texts,
        truncation=True,
        max_length=max_length,
        return_special_tokens_mask=True,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    ids: List[List[int]] = enc["input_ids"]
    special: List[List[int]] = enc["special_tokens_mask"]
    order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(transformer.parameters()).device
    out = np.zeros((len(texts), hidden), dtype=np.float32)
    was_training = transformer.training
    transformer.eval()
    try:
        with torch.no_grad():
            starts = range(0, len(order), batch_size)
            for start in tqdm(starts, desc="embed", unit="batch", disable=not progress):
                rows = order[start : start + batch_size]
                width = max(len(ids[i]) for i in rows)
                input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
                attention = torch.zeros((len(rows), width), dtype=torch.long)
                pieces = torch.zeros((len(rows), width), dtype=torch.bool)
                for j, i in enumerate(rows):
                    n = len(ids[i])
                    input_ids[j, :n] = torch.tensor(ids[i], dtype=torch.long)
                    attention[j, :n] = 1
                    pieces[j, :n] = torch.tensor(special[i], dtype=torch.long) == 0
                # no word piece at all (empty sentence): average the special tokens
                empty = ~pieces.any(dim=1)
                pieces[empty] = attention[empty].bool()
                states = transformer(
                    input_ids=input_ids.to(device), attention_mask=attention.to(device)
                ).last_hidden_state.float()
                mask = pieces.to(device).unsqueeze(-1).to(states.dtype)
                mean = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                out[rows] = mean.cpu().numpy()
    finally:
        transformer.train(was_training)
    return out


def cached_sentence_embeddings(
    docs_or_texts: Iterable[Any],
    *,
    encoder: Union[PathLike, Tuple[Any, Any]],
    encoder_sha256: Optional[str],
    cache_dir: Optional[PathLike],
    max_length: int,
    **embed_kwargs: Any,
) -> np.ndarray:
    """:func:`sentence_embeddings`, stored in ``cache_dir`` and reused on a later call.

    The cache key is the SHA-256 of the encoder's identity hash, ``max_length``
    and the sentences' text, so a different encoder, length limit or text never
    hits a stale entry. Entries are ``<key>.npy`` files written atomically. Without
    ``cache_dir`` or ``encoder_sha256`` (an encoder that cannot be identified),
    nothing is cached.
    """
    texts = [doc_text(d) for d in docs_or_texts]
    if cache_dir is None or not encoder_sha256:
        return sentence_embeddings(texts, encoder=encoder, max_length=max_length, **embed_kwargs)
    import io

    from ..util import atomic_write_bytes

    digest = hashlib.sha256(f"{encoder_sha256}\0{max_length}\0".encode())
    for text in texts:
        digest.update(text.encode("utf8") + b"\0")
    path = Path(cache_dir) / f"{digest.hexdigest()}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    emb = sentence_embeddings(texts, encoder=encoder, max_length=max_length, **embed_kwargs)
    buffer = io.BytesIO()
    np.save(buffer, emb, allow_pickle=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return emb


def encoder_identity(encoder: Union[PathLike, Tuple[Any, Any]]) -> Dict[str, Any]:
    """``{"name", "sha256", "hashed"}``: what identifies the encoder embeddings came from.

    ``sha256`` is the SHA-256 over the encoder's weight files (``*.safetensors``,
    else ``pytorch_model*.bin``, ``*.pt``, ``tf_model*.h5``), each file's name and
    bytes in sorted name order; when the directory holds no weight file, over its
    ``config.json``. ``hashed`` lists the hashed file names. The directory is the
    local path, or for a hub name its snapshot in the local Hugging Face cache
    (never downloaded). For an in-memory ``(transformer, tokenizer)`` pair, the
    hash is over its state dict (parameter names and float32 bytes) and
    ``hashed`` is ``["<state_dict>"]``. ``sha256`` is None when nothing can be found.
    """
    if isinstance(encoder, tuple):
        transformer, _tok, name = resolve_encoder(encoder)
        digest = hashlib.sha256()
        for key, value in sorted(transformer.state_dict().items()):
            digest.update(key.encode("utf8"))
            digest.update(value.detach().float().cpu().contiguous().numpy().tobytes())
        return {"name": name, "sha256": digest.hexdigest(), "hashed": ["<state_dict>"]}
    name = str(encoder)
    directory = _encoder_dir(name)
    if directory is None:
        return {"name": name, "sha256": None, "hashed": []}
    files: List[Path] = []
    for pattern in _WEIGHT_PATTERNS:
        files = sorted(p for p in directory.glob(pattern) if p.is_file())
        if files:
            break
    if not files and (directory / "config.json").is_file():
        files = [directory / "config.json"]
    if not files:
        return {"name": name, "sha256": None, "hashed": []}
    return {"name": name, "sha256": _hash_files(files), "hashed": [p.name for p in files]}


def _encoder_dir(name: str) -> Optional[Path]:
    path = Path(name)
    if path.is_dir():
        return path
    try:  # a hub name: its snapshot in the local cache only
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:
        return None


def _hash_files(files: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode("utf8") + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


__all__ = [
    "cached_sentence_embeddings", "doc_text", "encoder_identity", "resolve_encoder",
    "sentence_embeddings"
]  # fmt: skip

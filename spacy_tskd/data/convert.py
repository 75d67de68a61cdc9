"""A user's file to a spaCy DocBin: labelled data or unlabeled text, in any language.

Formats, chosen by the file (``fmt="auto"``):

- ``.spacy``: a DocBin (labelled data needs ``doc.ents``);
- ``.jsonl``: one JSON object per line, ``text`` and character-offset ``spans``
  (:mod:`spacy_tskd.data.jsonl`);
- any other file: CoNLL/IOB (:mod:`spacy_tskd.data.conll`) for labelled data; for
  unlabeled text, CoNLL if its first lines are ``TOKEN ... TAG`` lines, else plain text
  with one doc per line (:mod:`spacy_tskd.data.text`).

Unlabeled text keeps its words only (gold entities, if the file has any, are dropped).
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import islice
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..util import PathLike, atomic_write_bytes

FORMATS = ("auto", "conll", "jsonl", "spacy", "text")
_TAG = re.compile(r"^(O|[BIES]-\S+)$")


def blank(lang: str) -> Any:
    """``spacy.blank(lang)``, with an error that says what to do for an unknown code."""
    import spacy
    from spacy.util import get_lang_class

    try:
        get_lang_class(lang)
    except ImportError:
        raise ValueError(
            f"Unknown language code {lang!r}: spaCy has no language of that code. Use an "
            "ISO 639-1 code spaCy supports (https://spacy.io/usage/models#languages), "
            "such as 'pt' or 'fi', or 'xx' for multi-language."
        ) from None
    return spacy.blank(lang)


def detect_format(path: PathLike, *, labelled: bool) -> str:
    """The format ``fmt="auto"`` reads ``path`` as (see the module's docstring)."""
    path = Path(path)
    if path.suffix == ".spacy":
        return "spacy"
    if path.suffix == ".jsonl":
        return "jsonl"
    if path.suffix == ".json":
        raise ValueError(
            f"{path}: a .json file is not read; write one JSON object per line to a .jsonl "
            "file (Prodigy: db-out; doccano: export as JSONL)."
        )
    if labelled or _looks_like_conll(path):
        return "conll"
    return "text"


def read_docs(
    path: PathLike,
    *,
    lang: str,
    labelled: bool,
    fmt: str = "auto",
    text_field: str = "text",
    alignment_mode: str = "strict",
) -> List[Any]:
    """Read ``path`` into docs of language ``lang``: with ``labelled``, gold ``doc.ents``.

    RAISES (FileNotFoundError): If ``path`` is not a file.
    RAISES (ValueError): An unknown language or format, or a bad line (naming the file
        and line); labelled data without any entity; a file without any doc.
    """
    from .docs import unannotated

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Input file not found: {path}")
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    nlp = blank(lang)
    fmt = detect_format(path, labelled=labelled) if fmt == "auto" else fmt
    if fmt == "spacy":
        from spacy.tokens import DocBin

        docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    elif fmt == "jsonl":
        from .jsonl import jsonl_to_docs

        docs = jsonl_to_docs(
            path, nlp=nlp, labelled=labelled, text_field=text_field, alignment_mode=alignment_mode
        )
    elif fmt == "conll":
        from .conll import read_conll, sentences_to_docs

        docs = sentences_to_docs(read_conll(path), nlp.vocab)
    else:
        from .text import read_text

        docs = [doc for _, doc in read_text(path, nlp=nlp)]
    if not docs:
        raise ValueError(f"{path}: no docs in this file ({fmt}). Is it the right file?")
    if labelled and not any(doc.ents for doc in docs):
        raise ValueError(
            f"{path}: labelled data ({fmt}) without a single entity. A teacher's train and "
            "dev sets (and a test set) need gold entities; unlabeled text needs --unlabeled."
        )
    return docs if labelled else [unannotated(doc) for doc in docs]


def convert(
    *,
    input_path: PathLike,
    output_path: PathLike,
    lang: str,
    unlabeled: bool = False,
    fmt: str = "auto",
    text_field: str = "text",
    alignment_mode: str = "strict",
    max_sents: int = 0,
    skip_sents: int = 0,
    heldout: int = 0,
    heldout_path: Optional[PathLike] = None,
    allow_empty: bool = False,
) -> Dict[str, Any]:
    """Convert a file to a DocBin (``.spacy``), one doc per sentence or line, atomically:
    if reading fails, nothing is written.

    max_sents (int): Keep the first N docs (after ``skip_sents``); 0 keeps all.
    skip_sents (int): Drop the first N docs first.
    heldout (int): Also write N held-out docs to ``heldout_path``: those after the first
        ``max_sents``, or with ``max_sents=0`` the last N (then not in the output).
    allow_empty (bool): An empty input file gives an empty DocBin (a test set that is
        not there: ``configs/none.txt``) instead of an error.
    RETURNS (Dict[str, Any]): ``{"docs", "tokens", "entities": {label: n}, "heldout"}``.
    """
    from spacy.tokens import DocBin

    for name, value in (("max_sents", max_sents), ("skip_sents", skip_sents), ("heldout", heldout)):
        if value < 0:
            raise ValueError(f"{name} must be 0 (all) or positive, not {value}.")
    if heldout and heldout_path is None:
        raise ValueError("heldout > 0 needs a heldout_path to write the held-out docs to.")
    output_path = Path(output_path)
    if output_path.is_dir():
        raise ValueError(
            f"Output path {output_path} is a directory: give a file such as train.spacy."
        )
    if allow_empty and Path(input_path).is_file() and not Path(input_path).stat().st_size:
        atomic_write_bytes(output_path, DocBin().to_bytes())
        return {"docs": 0, "tokens": 0, "entities": {}, "heldout": 0}
    docs = read_docs(
        input_path, lang=lang, labelled=not unlabeled, fmt=fmt, text_field=text_field,
        alignment_mode=alignment_mode,
    )[skip_sents:]  # fmt: skip
    end = max_sents or max(len(docs) - heldout, 0)
    kept, held = docs[:end], docs[end : end + heldout]
    if not kept or len(held) < heldout:
        raise ValueError(
            f"{input_path}: {len(docs)} docs (after skipping {skip_sents}) are too few to keep "
            f"{max_sents or 'all but the held-out'} and hold out {heldout}: give more text or "
            "lower the numbers."
        )
    if heldout:
        atomic_write_bytes(heldout_path, DocBin(docs=held, store_user_data=False).to_bytes())
    atomic_write_bytes(output_path, DocBin(docs=kept, store_user_data=False).to_bytes())
    entities = Counter(ent.label_ for doc in kept for ent in doc.ents)
    return {
        "docs": len(kept), "tokens": sum(len(doc) for doc in kept),
        "entities": dict(sorted(entities.items())), "heldout": len(held),
    }  # fmt: skip


def _looks_like_conll(path: Path, n_lines: int = 50) -> bool:
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        lines = [line.split() for line in islice(f, 4 * n_lines)]
    rows = [parts for parts in lines if parts and parts[0] != "-DOCSTART-"][:n_lines]
    return bool(rows) and all(len(parts) >= 2 and _TAG.match(parts[-1]) for parts in rows)


__all__ = ["FORMATS", "blank", "convert", "detect_format", "read_docs"]

"""JSONL input: one JSON object per line, ``{"text": ..., "spans": [{"start", "end",
"label"}]}`` with character offsets, the shape Prodigy and doccano export.

For unlabeled text only the text field is read (``text_field``, default ``"text"``).
Prodigy's rejected and ignored examples (``"answer": "reject"`` / ``"ignore"``) are
skipped. Every error names the file and the 1-based line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

from ..util import PathLike

ALIGNMENT_MODES = ("strict", "contract", "expand")


def iter_jsonl(path: PathLike, *, text_field: str = "text") -> Iterator[Tuple[int, Dict]]:
    """Yield ``(line_number, record)`` for every non-blank line that is not rejected.

    RAISES (ValueError): A line that is not a JSON object, or has no string ``text_field``.
    """
    path = Path(path)
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}, line {number}: not valid JSON ({err.msg}).") from None
            if not isinstance(record, dict):
                raise ValueError(
                    f"{path}, line {number}: expected a JSON object per line, found "
                    f"{type(record).__name__}."
                )
            if record.get("answer") in ("reject", "ignore"):
                continue
            if not isinstance(record.get(text_field), str):
                keys = ", ".join(sorted(record)) or "none"
                raise ValueError(
                    f"{path}, line {number}: no {text_field!r} field holding a string (its "
                    f"keys: {keys}). Name the field that holds the text with --text-field."
                )
            yield number, record


def jsonl_to_docs(
    path: PathLike,
    *,
    nlp: Any,
    labelled: bool,
    text_field: str = "text",
    alignment_mode: str = "strict",
) -> List[Any]:
    """Read a JSONL file into docs, tokenised by ``nlp``; with ``labelled``, each line's
    ``spans`` become ``doc.ents`` (``alignment_mode`` as in ``Doc.char_span``).

    RAISES (ValueError): A bad line (see :func:`iter_jsonl`); with ``labelled``, a span
        without integer ``start``/``end`` and a ``label``, out of the text's range, off
        the token boundaries (in ``"strict"`` mode) or overlapping another.
    """
    if alignment_mode not in ALIGNMENT_MODES:
        raise ValueError(
            f"Unknown alignment mode {alignment_mode!r}: use one of {', '.join(ALIGNMENT_MODES)}."
        )
    docs = []
    for number, record in iter_jsonl(path, text_field=text_field):
        doc = nlp.make_doc(record[text_field])
        if labelled:
            where = f"{path}, line {number}"
            doc.ents = _spans(doc, record.get("spans") or [], where, alignment_mode)
        docs.append(doc)
    return docs


def _spans(doc: Any, spans: List[Dict], where: str, alignment_mode: str) -> List[Any]:
    out = []
    for span in spans:
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        if not (isinstance(start, int) and isinstance(end, int) and label):
            raise ValueError(
                f'{where}: a span needs integer "start" and "end" and a "label": {span}.'
            )
        if not 0 <= start < end <= len(doc.text):
            raise ValueError(
                f"{where}: span {start}-{end} ({label}) is out of range: the text has "
                f"{len(doc.text)} characters, and a span needs 0 <= start < end."
            )
        ent = doc.char_span(start, end, label=label, alignment_mode=alignment_mode)
        if ent is None or not len(ent):
            raise ValueError(
                f"{where}: span {start}-{end} ({label}, {doc.text[start:end]!r}) does not fall "
                "on token boundaries. Fix the offsets, or set --alignment-mode contract "
                "or expand to snap it to the tokens."
            )
        out.append(ent)
    out.sort(key=lambda ent: ent.start)
    for before, after in zip(out, out[1:]):
        if after.start < before.end:
            raise ValueError(
                f"{where}: spans {before.start_char}-{before.end_char} ({before.label_}) and "
                f"{after.start_char}-{after.end_char} ({after.label_}) overlap; NER needs "
                "non-overlapping entities: keep one of them."
            )
    return out


__all__ = ["ALIGNMENT_MODES", "iter_jsonl", "jsonl_to_docs"]

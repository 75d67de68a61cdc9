"""Plain-text input: one sentence (or paragraph) per line, read lazily.

The streaming format for large unlabeled corpora. The file is UTF-8 (a leading
byte-order mark is ignored); each non-blank line is one doc, tokenised with
spaCy's tokenizer for a language (``spacy.blank(lang)``); lines holding only
whitespace are skipped, and leading/trailing whitespace is stripped. The file is
read line by line and never held in memory; every error names the file and the
line number.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from ..util import PathLike


@dataclass(frozen=True)
class TextScan:
    """What one pass over a plain-text file found (see :func:`scan_text`).

    n_docs (int): Non-blank lines.
    n_lines (int): All lines.
    size (int): File size in bytes.
    sha256 (str): SHA-256 of the file's bytes.
    """

    n_docs: int
    n_lines: int
    size: int
    sha256: str


def iter_lines(path: PathLike, start: int = 0) -> Iterator[Tuple[int, str]]:
    """Yield ``(line_number, text)`` for every non-blank line, stripped, lazily.

    path (PathLike): A UTF-8 text file.
    start (int): Byte offset of a line to begin at (from :func:`doc_offsets`); line
        numbers then count from it.
    YIELDS (Tuple[int, str]): The 1-based line number and the stripped text.
    RAISES (FileNotFoundError): If ``path`` is not a file.
    RAISES (ValueError): At the first line that is not valid UTF-8.
    """
    for number, text, _ in _read(path, hash_bytes=False, start=start):
        if text:
            yield number, text


def doc_offsets(path: PathLike, every: int) -> List[int]:
    """Byte offsets of docs 0, every, 2 * every, ... (docs: non-blank lines), so that
    a reader can start at a shard without reading the lines before it."""
    offsets, n_docs, position = [], 0, 0
    with open(path, "rb") as f:
        for raw in f:
            if raw.strip() and raw.strip() != b"\xef\xbb\xbf":
                if n_docs % every == 0:
                    offsets.append(position)
                n_docs += 1
            position += len(raw)
    return offsets


def scan_text(path: PathLike) -> TextScan:
    """Count the docs of a plain-text file and hash it in one pass (constant memory).

    Every line is decoded, so an encoding error is found here, before any work.
    RAISES (ValueError): At the first line that is not valid UTF-8.
    """
    digest = hashlib.sha256()
    n_docs = n_lines = size = 0
    for number, text, raw in _read(path, hash_bytes=True):
        n_lines = number
        digest.update(raw)
        size += len(raw)
        n_docs += bool(text)
    return TextScan(n_docs=n_docs, n_lines=n_lines, size=size, sha256=digest.hexdigest())


def read_text(
    path: PathLike, *, lang: str = "xx", nlp=None, skip: int = 0
) -> Iterator[Tuple[int, object]]:
    """Yield ``(line_number, doc)`` for every non-blank line, tokenised by spaCy, lazily.

    path (PathLike): A UTF-8 text file, one sentence or paragraph per line.
    lang (str): Language code for ``spacy.blank(lang)``'s tokenizer.
    nlp (Optional[Language]): Use this pipeline's tokenizer (and vocab) instead.
    skip (int): Skip the first ``skip`` docs without tokenising them.
    YIELDS (Tuple[int, Doc]): The 1-based line number and the doc (words only).
    """
    if nlp is None:
        from .convert import blank

        nlp = blank(lang)
    tokenizer = nlp.tokenizer
    for i, (number, text) in enumerate(iter_lines(path)):
        if i >= skip:
            yield number, tokenizer(text)


def _read(
    path: PathLike, *, hash_bytes: bool, start: int = 0
) -> Iterator[Tuple[int, str, Optional[bytes]]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Text file not found: {path}")
    with open(path, "rb") as f:
        f.seek(start)
        for number, raw in enumerate(f, start=1):
            bom = number == 1 and start == 0 and raw.startswith(b"\xef\xbb\xbf")
            line = raw[3:] if bom else raw
            try:
                text = line.decode("utf8")
            except UnicodeDecodeError as err:
                raise ValueError(
                    f"{path}, line {number}: not valid UTF-8 (byte {line[err.start]:#04x} at "
                    f"column {err.start + 1}). The text input must be UTF-8: convert the file, "
                    f"e.g. `iconv -f latin1 -t utf-8 {path} > out.txt`, or fix that line."
                ) from None
            yield number, text.strip(), (raw if hash_bytes else None)


__all__ = ["TextScan", "doc_offsets", "iter_lines", "read_text", "scan_text"]

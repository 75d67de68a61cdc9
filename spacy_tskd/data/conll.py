"""Read CoNLL-2002/2003 style NER files (``convert`` writes them to DocBins).

A file holds one token per line, sentences separated by blank lines. Columns
are separated by spaces or tabs: the token is the first column and the NER
tag the last (2 to 5 columns, as in the CoNLL files; any other middle columns
are ignored). Tags may be IOB1 or BIO (IOB2) and are returned as BIO.
``-DOCSTART-`` lines (any number of columns, standing alone or heading a
sentence block) are skipped. The file must be UTF-8; a BOM and CRLF line
endings are accepted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, List, NamedTuple, Optional

from ..util import PathLike
from .bio import to_bio

DOCSTART = "-DOCSTART-"
_COLUMN_SEP = re.compile(r"[ \t]+")
_BOM = b"\xef\xbb\xbf"


class CoNLLFormatError(ValueError):
    """A CoNLL file that cannot be read. ``path`` and ``line`` (1-based, or None) locate it."""

    def __init__(self, path: PathLike, line: Optional[int], message: str) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{path}, line {line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")


class CoNLLSentence(NamedTuple):
    """One sentence: its tokens, its BIO tags and the 1-based line where it starts."""

    words: List[str]
    tags: List[str]
    line: int


def read_conll(path: PathLike) -> List[CoNLLSentence]:
    """Read a CoNLL NER file into sentences with BIO tags.

    path (PathLike): The CoNLL file (UTF-8).
    RETURNS (List[CoNLLSentence]): The sentences, ``-DOCSTART-`` lines excluded.
    RAISES (CoNLLFormatError): If the file is not UTF-8, is empty, has no sentences,
        has a token line with another column count than the first one, or an
        unknown tag.
    """
    path = Path(path)
    text = _read_text(path)
    sentences: List[CoNLLSentence] = []
    words: List[str] = []
    tags: List[str] = []
    start = 0
    n_cols = 0
    first_line = 0
    valid_tags = {"O"}
    lineno = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        if line.isascii():
            parts = line.split()
        else:
            stripped = line.strip()
            parts = _COLUMN_SEP.split(stripped) if stripped else []
        if not parts or parts[0] == DOCSTART:
            # A blank line ends a sentence; so does a -DOCSTART- line (a new document).
            if words:
                sentences.append(CoNLLSentence(words, to_bio(tags), start))
                words, tags = [], []
            continue
        if len(parts) != n_cols:
            if n_cols:
                raise CoNLLFormatError(
                    path,
                    lineno,
                    f"found {len(parts)} column{'s' if len(parts) > 1 else ''} but the first "
                    f"token line (line {first_line}) has {n_cols}: {line.strip()!r}. Every token "
                    "line needs the same columns, token first and NER tag last; fix or remove "
                    "this line.",
                )
            if len(parts) < 2:
                raise CoNLLFormatError(
                    path,
                    lineno,
                    f"found 1 column ({line.strip()!r}) but a token line needs at least two, "
                    "the token and the NER tag last, separated by spaces or tabs.",
                )
            n_cols, first_line = len(parts), lineno
        tag = parts[-1]
        if tag not in valid_tags:
            _check_tag(path, lineno, tag, n_cols)
            valid_tags.add(tag)
        if not words:
            start = lineno
        words.append(parts[0])
        tags.append(tag)
    if words:
        sentences.append(CoNLLSentence(words, to_bio(tags), start))
    if not sentences:
        raise CoNLLFormatError(
            path,
            None,
            f"no sentences in its {lineno} lines (only blank lines and {DOCSTART} lines). "
            "Expected one token per line ('TOKEN ... TAG') with blank lines between sentences.",
        )
    return sentences


def sentences_to_docs(sentences: Iterable[CoNLLSentence], vocab: Any) -> List[Any]:
    """Build one ``Doc`` per sentence; its BIO tags become ``doc.ents``.

    sentences (Iterable[CoNLLSentence]): Sentences from ``read_conll``.
    vocab (Vocab): The vocab to build the docs with.
    RETURNS (List[Doc]): The docs.
    """
    from spacy.tokens import Doc

    return [Doc(vocab, words=s.words, spaces=[True] * len(s.words), ents=s.tags) for s in sentences]


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if not data:
        raise CoNLLFormatError(
            path, None, "the file is empty. Expected one token per line ('TOKEN ... TAG')."
        )
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise CoNLLFormatError(
            path,
            line,
            "found a NUL byte: this looks like a binary file (or UTF-16), "
            "not a UTF-8 CoNLL text file.",
        )
    try:
        return data.decode("utf8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise CoNLLFormatError(
            path,
            line,
            f"invalid UTF-8 byte 0x{data[err.start]:02X}. The file must be UTF-8; "
            f"if it is Latin-1, convert it with: iconv -f ISO-8859-1 -t UTF-8 {path} > OUT.txt",
        ) from None


def _check_tag(path: Path, lineno: int, tag: str, n_cols: int) -> None:
    prefix, sep, label = tag.partition("-")
    if tag == "O" or (sep and prefix in ("B", "I") and label):
        return
    raise CoNLLFormatError(
        path,
        lineno,
        f"unknown NER tag {tag!r} in the last column (column {n_cols}). Expected 'O', "
        "'B-TYPE' or 'I-TYPE' (IOB1 or BIO); convert other schemes such as BIOES to BIO, "
        "and put the NER tag in the last column.",
    )


__all__ = ["DOCSTART", "CoNLLFormatError", "CoNLLSentence", "read_conll", "sentences_to_docs"]

"""A doc without its gold labels: what a teacher, a student or a scorer may see."""

from __future__ import annotations

from typing import Any, Optional


def unannotated(doc: Any, vocab: Optional[Any] = None) -> Any:
    """A fresh ``Doc`` with only the words and spaces of ``doc`` (in ``vocab``, default
    the doc's own): no entities, tags or user data, so gold labels cannot leak."""
    from spacy.tokens import Doc

    return Doc(
        vocab if vocab is not None else doc.vocab,
        words=[t.text for t in doc],
        spaces=[bool(t.whitespace_) for t in doc],
    )


__all__ = ["unannotated"]

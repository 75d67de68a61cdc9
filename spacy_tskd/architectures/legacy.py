"""Registered names of spacy-tskd 0.1 that this version no longer builds.

``spacy-tskd.FirstPieceEncoder.v1`` was 0.1's hand-written transformer encoder (its own
torch shim). Its pipelines cannot be loaded by this version: the name stays registered
only to say so, instead of spaCy's "could not find function" error.
"""

from __future__ import annotations

from typing import Any

from spacy.util import registry


@registry.architectures("spacy-tskd.FirstPieceEncoder.v1")
def build_first_piece_encoder(
    name: str,
    max_length: int = 128,
    frozen_layers: int = 3,
    freeze_embeddings: bool = True,
    chunk_pieces: int = 4096,
) -> Any:
    """0.1's signature, so that its saved configs validate and reach this error."""
    from .. import __version__

    raise ValueError(
        "This pipeline uses spacy-tskd.FirstPieceEncoder.v1, the hand-written encoder of "
        f"spacy-tskd 0.1.0, which spacy-tskd {__version__} no longer provides. Load it "
        "with `pip install spacy-tskd==0.1.0`, or train it again: the encoder is now "
        "spacy-tskd.TransformerEncoder.v1 (spacy-transformers)."
    )


__all__ = ["build_first_piece_encoder"]

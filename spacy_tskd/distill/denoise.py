"""``denoise()``: teacher annotations whose docs also carry a weight per token.

The weights come from :func:`.neighbours.neighbour_weights`: each token's pseudo label
(the argmax of its stored probabilities) is compared with the labels of its k nearest
neighbours among all target tokens, in the representation space of a model (the
teacher, or in later rounds the previous student): the vector its ``tskd_ner`` encoder
gives the token, i.e. the softmax layer's input. The output is a new annotation
directory (same shards, same probabilities, plus ``"weights"``), which ``distill``
reads like any other; its loss then weighs each token.

Several annotation directories (one per source teacher, or per seed) are read as
:class:`.corpus.TeacherCorpus` reads them, mixed with ``alpha``: the pseudo label is the
mixture's argmax. The weights are then stored with the *first* directory's copy, where
the reader looks for them; the student reads that copy in place of the first directory.

The recipe (k and the weighting curve) is the ``[denoise]`` block of
``configs/denoise.cfg``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np

from ..util import PathLike, atomic_write_text, config_block
from .annotations import STORED_DTYPE, USER_DATA_KEY, load_shard_docs, read_json, write_shard
from .corpus import TeacherCorpus
from .neighbours import neighbour_weights
from .teacher import load_teacher

RECIPE_KEYS = ("k", "sharpness", "mu", "smooth")


def load_denoise_recipe(path: PathLike, **overrides: Any) -> Dict[str, Any]:
    """The ``[denoise]`` block of ``path``; ``overrides`` that are not None replace values."""
    return config_block(path, "denoise", RECIPE_KEYS, **overrides)


def denoise(
    *,
    model_path: PathLike,
    annotations: Union[PathLike, Sequence[PathLike]],
    output_dir: PathLike,
    alpha: Optional[Any] = None,
    k: int,
    sharpness: float,
    mu: float,
    smooth: float,
    batch_size: int = 32,
    component: str = "tskd_ner",
    gpu_id: int = -1,
    progress: bool = True,
) -> Dict[str, Any]:
    """Write ``output_dir``: the annotations of ``annotations`` with neighbour weights.

    model_path (PathLike): The pipeline whose token vectors define the neighbours.
    annotations (Union[PathLike, Sequence[PathLike]]): An annotation directory written by
        ``annotate``, or several of the same input (their α-mixture gives the labels).
    output_dir (PathLike): The new annotation directory (must not hold another run): a
        copy of the first directory with the weights.
    alpha: The mixture weights for several directories (as TeacherCorpus takes them).
    RETURNS (Dict[str, Any]): ``output_dir``, ``n_tokens``, mean weight per label, seconds.
    """
    from tqdm import tqdm

    start = time.perf_counter()
    dirs = [annotations] if isinstance(annotations, (str, Path)) else list(annotations)
    source, output_dir = TeacherCorpus(dirs, alpha=alpha), Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        raise ValueError(f"{output_dir} is not empty: give a new output directory.")
    nlp, pipe, _, _ = load_teacher(teacher_path=model_path, component=component, gpu_id=gpu_id)
    encoder = pipe.model.get_ref("encoder")
    vectors, labels = [], []
    with tqdm(total=len(source), desc="Token vectors", unit="doc", disable=not progress) as bar:
        for index in range(source.n_shards):
            docs, probs = source.load(index, nlp.vocab)
            shard_vectors: list = [None] * len(docs)
            for b in range(0, len(docs), batch_size):  # the encoder sorts by length
                idx = [i for i in range(b, min(b + batch_size, len(docs))) if len(docs[i])]
                for i, v in zip(idx, encoder.predict([docs[i] for i in idx]) if idx else []):
                    shard_vectors[i] = encoder.ops.to_numpy(v).astype(np.float32)
                bar.update(min(batch_size, len(docs) - b))
            vectors.extend(v for v in shard_vectors if v is not None)
            labels.extend(p.argmax(axis=1) for p in probs if len(p))
    flat = np.concatenate(vectors) if vectors else np.zeros((0, 1), np.float32)
    flat_labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    del vectors
    weights = neighbour_weights(
        flat, flat_labels, source.labels, k=k, sharpness=sharpness, mu=mu, smooth=smooth
    )
    meta = read_json(source.dirs[0] / "meta.json")
    meta["denoise"] = {
        "model": str(Path(model_path).resolve()),
        "k": k,
        "sharpness": sharpness,
        "mu": mu,
        "smooth": smooth,
        "from": [str(d.resolve()) for d in source.dirs],
        "alpha": source.weights,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output_dir / "meta.json", json.dumps(meta, indent=1) + "\n")
    _write_weighted(source, output_dir, weights, meta, nlp.vocab)
    by_label = {
        name: float(weights[flat_labels == y].mean())
        for y, name in enumerate(source.labels)
        if (flat_labels == y).any()
    }
    return {
        "output_dir": str(output_dir),
        "n_tokens": int(len(weights)),
        "mean_weight_by_label": by_label,
        "seconds": round(time.perf_counter() - start, 3),
    }


def _write_weighted(
    source: TeacherCorpus, output_dir: Path, weights: np.ndarray, meta: Dict, vocab: Any
) -> None:
    """Copy every shard of ``source`` with each doc's slice of ``weights`` added to the
    doc's stored entry (its probabilities and teacher stay byte for byte)."""
    position, shards = 0, []
    for info in source.indexes[0]["shards"]:
        docs = load_shard_docs(source.dirs[0], info, vocab)
        for doc in docs:
            entry = doc.user_data[USER_DATA_KEY]
            entry["weights"] = weights[position : position + len(doc)].astype(STORED_DTYPE)
            position += len(doc)
        index = int(info["index"])
        shards.append(write_shard(output_dir, index, docs, {k: info[k] for k in _INFO_KEYS}))
    index_json = {**meta, **{k: source.indexes[0][k] for k in ("n_docs", "n_tokens")}}
    index_json["shards"] = shards
    atomic_write_text(output_dir / "index.json", json.dumps(index_json, indent=1) + "\n")


_INFO_KEYS = ("doc_start", "doc_end", "n_tokens", "seconds")


__all__ = ["denoise", "load_denoise_recipe"]

"""Teacher annotations: docs that carry their teacher's probabilities, in DocBin shards.

``annotate`` (:mod:`.annotate`) writes one directory per (teacher, input):

``meta.json``
    Written first; ties the directory to one run: ``format``, ``teacher``
    (``path``, ``component``, ``lang``, ``weights_sha256``), ``labels`` (the
    column order), ``input`` (``path``, ``sha256``, ``format`` ``"docbin"`` or
    ``"text"``, ``lang`` of the tokenizer for text, ``n_docs``), ``max_docs``,
    ``shard_size``, ``n_shards``, ``spacy_tskd_version``.
``shard-NNNNN.spacy``
    A spaCy DocBin (``store_user_data=True``) of ``shard_size`` consecutive docs
    (the last shard fewer). The docs hold only words and spaces (no gold) and
    carry their probabilities in ``doc.user_data[USER_DATA_KEY]``:
    ``{"teacher": <weights_sha256[:16]>, "probs": float16 (n_tokens, n_labels)}``,
    plus ``"weights"``: float16 (n_tokens,) after neighbour-based denoising
    (``denoise``, :mod:`.denoise`).
``shard-NNNNN.json``
    Written after the shard: ``index``, ``doc_start``, ``doc_end``, ``n_tokens``,
    ``sha256`` of the DocBin file, ``seconds``. A shard counts as finished when
    this file exists and the DocBin's hash matches it.
``index.json``
    Written last, when every shard is finished: ``meta.json`` plus ``shards``
    (the sidecars in order), ``n_docs`` and ``n_tokens``. Readers need it; a
    directory without it is an unfinished run (rerun the same command).

So a doc's probabilities travel inside the doc: nothing matches docs to
probabilities by position across files. Several directories (one per source
teacher) are joined doc by doc by :class:`~.corpus.TeacherCorpus`, which
checks that both hold the same words. Every file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..util import PathLike, atomic_path, atomic_write_text, sha256_file

FORMAT = "spacy-tskd-annotations/2"
USER_DATA_KEY = "tskd_teacher"
STORED_DTYPE = "float16"


def shard_file(directory: PathLike, index: int, suffix: str = ".spacy") -> Path:
    """``directory/shard-NNNNN.spacy`` (or ``.json``, its sidecar)."""
    return Path(directory) / f"shard-{index:05d}{suffix}"


def teacher_id(meta: Dict[str, Any]) -> str:
    """The short teacher identity stored in every doc."""
    return str(meta["teacher"]["weights_sha256"])[:16]


def set_doc_probs(doc: Any, probs: np.ndarray, teacher: str) -> None:
    """Attach a teacher's ``(len(doc), n_labels)`` probabilities to ``doc``."""
    doc.user_data[USER_DATA_KEY] = {
        "teacher": teacher,
        "probs": np.ascontiguousarray(probs, dtype=STORED_DTYPE),
    }


def get_doc_weights(doc: Any) -> Optional[np.ndarray]:
    """A doc's token weights (``float32``), or None if it carries none."""
    entry = doc.user_data.get(USER_DATA_KEY) or {}
    weights = entry.get("weights")
    return None if weights is None else np.asarray(weights, dtype=np.float32)


def get_doc_probs(doc: Any, *, where: str = "doc") -> Tuple[str, np.ndarray]:
    """A doc's teacher identity and probabilities as ``float32`` rows summing to 1."""
    entry = doc.user_data.get(USER_DATA_KEY)
    if not isinstance(entry, dict) or "probs" not in entry:
        raise ValueError(
            f"{where} carries no teacher probabilities (user_data[{USER_DATA_KEY!r}])."
        )
    rows = np.asarray(entry["probs"], dtype=np.float32)
    if rows.ndim != 2 or len(rows) != len(doc):
        raise ValueError(
            f"{where} has {len(doc)} tokens but carries probabilities of shape {rows.shape}."
        )
    if len(rows):  # float16 keeps ~3 digits: renormalise
        rows /= np.maximum(rows.sum(axis=1, keepdims=True), np.float32(1e-12))
    return str(entry.get("teacher")), rows


def write_shard(
    directory: Path, index: int, docs: List[Any], info: Dict[str, Any]
) -> Dict[str, Any]:
    """Write shard ``index`` (DocBin, then its sidecar), both atomically."""
    from spacy.tokens import DocBin

    path = shard_file(directory, index)
    with atomic_path(path) as tmp:
        DocBin(docs=docs, store_user_data=True).to_disk(tmp)
    sidecar = {"index": index, **info, "sha256": sha256_file(path)}
    atomic_write_text(shard_file(directory, index, ".json"), json.dumps(sidecar, indent=1) + "\n")
    return sidecar


def finished_shard(directory: Path, index: int) -> Optional[Dict[str, Any]]:
    """Shard ``index``'s sidecar if the shard is complete and intact, else None."""
    sidecar, path = shard_file(directory, index, ".json"), shard_file(directory, index)
    try:
        info = json.loads(sidecar.read_text(encoding="utf8"))
    except (OSError, ValueError):
        return None
    if not path.is_file() or info.get("sha256") != sha256_file(path):
        return None
    return info


def read_json(path: Path) -> Dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err}). Rerun the annotate command.") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object. Rerun the annotate command.")
    return data


def read_index(directory: PathLike) -> Dict[str, Any]:
    """The ``index.json`` of a finished annotation directory, checked.

    RAISES (FileNotFoundError): If ``directory`` does not exist.
    RAISES (ValueError): For a file, an unfinished run or another format.
    """
    directory = Path(directory)
    if not directory.exists():
        raise FileNotFoundError(
            f"Teacher annotations not found: {directory}. Write them with "
            "`python -m spacy_tskd annotate TEACHER INPUT OUTPUT_DIR`."
        )
    if not directory.is_dir():
        raise ValueError(
            f"{directory} is a file, not a directory of teacher annotations written by "
            "`python -m spacy_tskd annotate TEACHER INPUT OUTPUT_DIR`."
        )
    index_path = directory / "index.json"
    if not index_path.is_file():
        if (directory / "meta.json").is_file():
            raise ValueError(
                f"{directory} is unfinished (no index.json): rerun the annotate command that "
                "wrote it; it resumes after the last finished shard."
            )
        raise ValueError(
            f"{directory} holds no teacher annotations (no index.json). Write them with "
            "`python -m spacy_tskd annotate TEACHER INPUT OUTPUT_DIR`."
        )
    index = read_json(index_path)
    if index.get("format") != FORMAT:
        raise ValueError(
            f"{index_path} has format {index.get('format')!r}; this version reads {FORMAT!r}. "
            "Annotate again with this version."
        )
    return index


def load_shard_docs(directory: PathLike, info: Dict[str, Any], vocab: Any) -> List[Any]:
    """The docs of one shard (sidecar ``info``), checked against the sidecar."""
    from spacy.tokens import DocBin

    path = shard_file(directory, int(info["index"]))
    rerun = "Rerun the annotate command that wrote it: it recomputes a damaged shard."
    try:
        docs = list(DocBin().from_disk(path).get_docs(vocab))
    except Exception as err:
        raise ValueError(f"{path} is not a readable DocBin ({err}). {rerun}") from err
    expected = int(info["doc_end"]) - int(info["doc_start"])
    n_tokens = sum(len(d) for d in docs)
    if len(docs) != expected or n_tokens != int(info["n_tokens"]):
        raise ValueError(
            f"{path} holds {len(docs)} docs and {n_tokens} tokens but its index records "
            f"{expected} docs and {info['n_tokens']} tokens (truncated or replaced). {rerun}"
        )
    return docs


__all__ = [
    "FORMAT", "USER_DATA_KEY", "finished_shard", "get_doc_probs", "get_doc_weights",
    "load_shard_docs", "read_index", "set_doc_probs", "shard_file", "write_shard"
]  # fmt: skip

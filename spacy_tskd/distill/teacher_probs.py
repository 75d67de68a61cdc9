"""Teacher probabilities: computed once by the annotate step, stored, and read back.

The teacher pipeline's NER component runs in eval mode (``model.predict``: no
dropout, no gradients) on *unannotated* copies of the target docs (same words
and spaces; no entities, tags or user data are ever visible to it) and its
per-token probabilities are written to one ``.npz`` file.

File format (``numpy.savez``, no pickled objects: it loads with
``np.load(path, allow_pickle=False)``):

``probs``
    ``float16`` array of shape ``(total_tokens, n_labels)``: the probabilities
    of every token of every doc, docs concatenated in their DocBin order.
    float16 keeps about 3 significant decimal digits (relative error up to
    ~5e-4, values below ~6e-8 flush to 0), so a stored row sums to 1 only
    approximately: :meth:`TeacherProbs.__getitem__` returns the rows as
    ``float32`` renormalised to sum to 1.
``offsets``
    ``int64`` array of shape ``(n_docs + 1,)``: doc ``i`` owns rows
    ``offsets[i]:offsets[i + 1]`` (``offsets[0] == 0``,
    ``offsets[-1] == total_tokens``).
``labels``
    numpy unicode array of shape ``(n_labels,)``: the column order (the
    component's ``labels``, e.g. ``O, B-LOC, I-LOC, ...``).
``meta``
    0-d numpy unicode array holding a JSON object: ``format_version``,
    ``teacher_path``, ``component``, ``teacher_weights_sha256`` (sha256 of
    ``<teacher_path>/<component>/model``), ``labels``, ``docs_path``,
    ``docs_sha256``, ``docs_total`` (docs in the DocBin), ``doc_start`` and
    ``doc_end`` (the docs ``[doc_start, doc_end)`` of the DocBin held by this
    file), ``n_docs``, ``n_tokens``, ``dtype`` (``"float16"``), ``max_docs``,
    ``shard`` (``null``, or ``{"index": i, "count": n}``), ``created`` (UTC,
    ISO 8601) and ``spacy_tskd_version``.

Sharding (large corpora): ``annotate(..., shard=(i, n))`` annotates the i-th of
n *contiguous* blocks of docs: with N docs (after ``max_docs``), shard i holds
docs ``[N * i // n, N * (i + 1) // n)``. Contiguous blocks make merging a plain
concatenation: :func:`merge_shards` checks that the shard files come from the
same teacher, docs file and labels and cover every doc exactly once, and
writes one full file. A shard file is itself a valid probabilities file whose
docs are the block ``[doc_start, doc_end)``.

The DocBin is read lazily: docs are decoded one at a time from the loaded
DocBin, in chunks of ``64 * batch_size`` docs; each chunk is sorted by length
for batching (less padding) and the results are stored in the original order.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..data.docs import unannotated
from ..util import PathLike, atomic_path, check_pipeline_dir

FORMAT_VERSION = 1
STORED_DTYPE = "float16"
CHUNK_BATCHES = 64
_KEYS = ("probs", "offsets", "labels", "meta")


class TeacherProbs:
    """Stored teacher probabilities: one ``float32`` array per doc.

    path (Path): The file the probabilities were read from (used in errors).
    probs (np.ndarray): ``(total_tokens, n_labels)`` stored rows (float16).
    offsets (np.ndarray): ``(n_docs + 1,)`` int64 row offsets.
    labels (Tuple[str, ...]): Column order.
    meta (Dict[str, Any]): The file's metadata.
    """

    def __init__(
        self,
        path: PathLike,
        probs: np.ndarray,
        offsets: np.ndarray,
        labels: Sequence[str],
        meta: Dict[str, Any],
    ) -> None:
        self.path = Path(path)
        self.probs = probs
        self.offsets = offsets
        self.labels: Tuple[str, ...] = tuple(str(x) for x in labels)
        self.meta: Dict[str, Any] = meta

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])

    def n_tokens_of(self, i: int) -> int:
        """The number of tokens of doc ``i``."""
        return int(self.offsets[i + 1] - self.offsets[i])

    def __getitem__(self, i: int) -> np.ndarray:
        """Doc ``i``'s probabilities, ``float32`` ``(n_tokens_i, n_labels)``, rows summing to 1."""
        n = len(self)
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"TeacherProbs indices must be integers, not {type(i).__name__}.")
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"Doc index out of range: {self.path} holds {n} docs.")
        rows = self.probs[self.offsets[i] : self.offsets[i + 1]].astype(np.float32)
        if len(rows):
            rows /= np.maximum(rows.sum(axis=1, keepdims=True), np.float32(1e-12))
        return rows

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def check_labels(self, labels: Sequence[str], *, what: str = "the student") -> None:
        """Raise ValueError if ``labels`` (the order of ``what``) differs from the file's."""
        labels = tuple(labels)
        if labels != self.labels:
            raise ValueError(
                f"Teacher probabilities {self.path} have the labels {list(self.labels)} "
                f"but {what} has {list(labels)}. The label sets or their order differ: "
                "the teacher and the student must use the same entity types."
            )

    def check_docs(self, docs: Sequence[Any], *, prefix: bool = False) -> None:
        """Raise ValueError unless ``docs`` match the stored docs in number and token counts.

        For a shard file, ``docs`` are the docs ``[meta["doc_start"], meta["doc_end"])``.
        prefix: ``docs`` may be the first N stored docs (``distill.max_docs``).
        """
        docs = list(docs)
        start = int(self.meta.get("doc_start", 0) or 0)
        hint = (
            f" (this file holds docs {start}..{start + len(self) - 1} of {self.meta.get('docs_path')})"
            if start
            else f" (annotated from {self.meta.get('docs_path')})"
        )
        for i, doc in enumerate(docs[: len(self)]):
            if len(doc) != self.n_tokens_of(i):
                raise ValueError(
                    f"Teacher probabilities {self.path} do not match the docs: doc {i} has "
                    f"{len(doc)} tokens but the file stores {self.n_tokens_of(i)}{hint}. "
                    "Annotate these docs again with the teacher."
                )
        if len(docs) > len(self) or (len(docs) < len(self) and not prefix):
            raise ValueError(
                f"Teacher probabilities {self.path} do not match the docs: the file stores "
                f"{len(self)} docs but {len(docs)} were given (first mismatching doc index "
                f"{min(len(docs), len(self))}){hint}. Annotate these docs again with the teacher."
            )


def load_teacher_probs(path: PathLike) -> TeacherProbs:
    """Read a teacher probabilities file written by :func:`annotate` or :func:`merge_shards`.

    RAISES (FileNotFoundError): If ``path`` does not exist.
    RAISES (ValueError): If it is not a valid teacher probabilities file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Teacher probabilities file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a teacher probabilities file (.npz).")

    def invalid(why: str) -> ValueError:
        return ValueError(
            f"{path} is not a valid teacher probabilities file: {why}. "
            "Write it with `python -m spacy_tskd annotate`."
        )

    try:
        data = np.load(path, allow_pickle=False)
    except Exception as err:  # not a numpy file, a truncated zip, pickled data, ...
        raise invalid(f"{type(err).__name__}: {err}") from err
    if not hasattr(data, "files"):
        raise invalid("it is a single .npy array, not an .npz archive")
    with data:
        missing = [k for k in _KEYS if k not in data.files]
        if missing:
            raise invalid(f"missing arrays {missing} (it has {sorted(data.files)})")
        try:
            arrays = {k: data[k] for k in _KEYS}
        except Exception as err:  # object arrays, corrupt members
            raise invalid(f"{type(err).__name__}: {err}") from err

    probs, offsets, labels, meta_arr = (arrays[k] for k in _KEYS)
    if probs.ndim != 2 or probs.dtype.kind != "f":
        raise invalid(f"'probs' must be a 2-D float array, got {probs.dtype} {probs.shape}")
    if offsets.ndim != 1 or offsets.dtype.kind not in "iu" or len(offsets) < 1:
        raise invalid(f"'offsets' must be a non-empty 1-D int array, got {offsets.dtype}")
    offsets = offsets.astype(np.int64)
    if offsets[0] != 0 or offsets[-1] != len(probs) or np.any(np.diff(offsets) < 0):
        raise invalid(
            f"'offsets' must rise from 0 to the {len(probs)} rows of 'probs', "
            f"got {offsets[0]}..{offsets[-1]}"
        )
    if labels.ndim != 1 or labels.dtype.kind != "U" or len(labels) != probs.shape[1]:
        raise invalid(
            f"'labels' must be a 1-D string array of {probs.shape[1]} labels, "
            f"got {labels.dtype} {labels.shape}"
        )
    if meta_arr.ndim != 0 or meta_arr.dtype.kind != "U":
        raise invalid("'meta' must be a 0-d string array holding JSON")
    try:
        meta = json.loads(str(meta_arr[()]))
    except json.JSONDecodeError as err:
        raise invalid(f"'meta' is not valid JSON ({err})") from err
    if not isinstance(meta, dict):
        raise invalid("'meta' must be a JSON object")
    return TeacherProbs(path, probs, offsets, labels.tolist(), meta)


# ---------------------------------------------------------------- annotation


def annotate(
    *,
    teacher_path: PathLike,
    docs_path: PathLike,
    output_path: PathLike,
    component: str = "tskd_ner",
    batch_size: int = 32,
    max_docs: int = 0,
    gpu_id: int = -1,
    shard: Optional[Tuple[int, int]] = None,
    progress: bool = True,
) -> Dict[str, Any]:
    """Run the teacher's NER component on the target docs and store its probabilities.

    Only ``component``'s ``predict`` runs (eval mode; no other pipeline
    component, no ``set_annotations``), on fresh docs built from the words and
    spaces of the DocBin's docs, so gold annotation is never visible to the
    teacher. Docs are batched by length within chunks and stored in their
    original order. The output is written atomically: on any error nothing is
    written and an existing ``output_path`` is left as it was.

    teacher_path (PathLike): Saved teacher pipeline directory.
    docs_path (PathLike): Target docs (spaCy DocBin, ``.spacy``).
    output_path (PathLike): The ``.npz`` file to write (see the module docstring).
    component (str): Name of the NER component in the teacher pipeline.
    batch_size (int): Docs per ``predict`` call.
    max_docs (int): Annotate only the first N docs; 0 annotates all.
    gpu_id (int): GPU id, or -1 for CPU.
    shard (Optional[Tuple[int, int]]): ``(i, n)``: annotate only the i-th of n
        contiguous blocks of the docs; ``output_path`` is then that shard's file.
    progress (bool): Show a tqdm progress bar (docs).
    RETURNS (Dict[str, Any]): The metadata stored in the file.
    """
    from spacy.tokens import DocBin
    from tqdm import tqdm

    from .. import __version__

    teacher_path = Path(teacher_path)
    docs_path = Path(docs_path)
    output_path = Path(output_path)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    if max_docs < 0:
        raise ValueError(f"max_docs must be 0 (all docs) or positive, got {max_docs}.")
    shard_index, shard_count = _check_shard(shard)
    check_pipeline_dir(teacher_path, "Teacher pipeline")
    if not docs_path.is_file():
        raise FileNotFoundError(f"Docs file not found: {docs_path}")
    if output_path.is_dir():
        raise ValueError(
            f"Output path {output_path} is a directory: give a file name such as teacher.npz."
        )
    if output_path.resolve() == docs_path.resolve():
        raise ValueError(f"Output path {output_path} is the docs file: give another name.")

    nlp, pipe, labels, weights_path = load_teacher(
        teacher_path=teacher_path, component=component, gpu_id=gpu_id
    )

    try:
        doc_bin = DocBin().from_disk(docs_path)
    except Exception as err:
        raise ValueError(f"Could not read {docs_path} as a spaCy DocBin: {err}") from err
    docs_total = len(doc_bin)
    n_selected = min(docs_total, max_docs) if max_docs else docs_total
    if n_selected == 0:
        raise ValueError(f"{docs_path} contains no docs.")
    doc_start = n_selected * shard_index // shard_count
    doc_end = n_selected * (shard_index + 1) // shard_count
    n_docs = doc_end - doc_start

    start_time = time.perf_counter()
    gold_docs = itertools.islice(doc_bin.get_docs(nlp.vocab), doc_start, doc_end)
    chunk_size = batch_size * CHUNK_BATCHES
    n_labels = len(labels)
    per_doc: List[np.ndarray] = []
    desc = "Annotating" if shard is None else f"Annotating shard {shard_index}/{shard_count}"
    with tqdm(total=n_docs, desc=desc, unit="doc", disable=not progress) as bar:
        while True:
            chunk = [unannotated(d, nlp.vocab) for d in itertools.islice(gold_docs, chunk_size)]
            if not chunk:
                break
            per_doc.extend(
                predict_probs(
                    pipe,
                    chunk,
                    batch_size=batch_size,
                    component=component,
                    first_index=doc_start + len(per_doc),
                    on_batch=bar.update,
                )
            )
    if len(per_doc) != n_docs:  # pragma: no cover - DocBin shorter than its length
        raise ValueError(f"Expected {n_docs} docs from {docs_path}, read {len(per_doc)}.")

    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p in per_doc])
    probs = (
        np.concatenate(per_doc, axis=0) if per_doc else np.zeros((0, n_labels), dtype=STORED_DTYPE)
    )
    meta: Dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "teacher_path": str(teacher_path.resolve()),
        "component": component,
        "teacher_weights_sha256": _sha256(weights_path),
        "labels": list(labels),
        "docs_path": str(docs_path.resolve()),
        "docs_sha256": _sha256(docs_path),
        "docs_total": docs_total,
        "doc_start": doc_start,
        "doc_end": doc_end,
        "n_docs": n_docs,
        "n_tokens": int(offsets[-1]),
        "dtype": STORED_DTYPE,
        "max_docs": max_docs,
        "shard": None if shard is None else {"index": shard_index, "count": shard_count},
        "batch_size": batch_size,
        "seconds": round(time.perf_counter() - start_time, 3),
        "created": _now(),
        "spacy_tskd_version": __version__,
    }
    _write(output_path, probs, offsets, labels, meta)
    return meta


def load_teacher(
    *, teacher_path: PathLike, component: str = "tskd_ner", gpu_id: int = -1
) -> Tuple[Any, Any, Tuple[str, ...], Path]:
    """Load a saved teacher pipeline and check that ``component`` can annotate.

    RETURNS (Tuple[Language, TrainablePipe, Tuple[str, ...], Path]): The pipeline,
        its NER component, the component's labels and its weights file (hashed
        into the metadata of every probabilities file).
    """
    import spacy

    teacher_path = Path(teacher_path)
    check_pipeline_dir(teacher_path, "Teacher pipeline")
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(teacher_path)
    if component not in nlp.pipe_names:
        raise ValueError(
            f"The teacher pipeline {teacher_path} has no component {component!r}; "
            f"its components are {nlp.pipe_names}. Use --component."
        )
    pipe = nlp.get_pipe(component)
    if not hasattr(pipe, "predict") or not hasattr(pipe, "labels"):
        raise ValueError(
            f"Component {component!r} of {teacher_path} cannot be a teacher: it has no "
            "predict() returning per-token probabilities (use a tskd_ner component)."
        )
    labels = tuple(pipe.labels)
    if not labels:
        raise ValueError(f"Component {component!r} of {teacher_path} has no labels (untrained?).")
    weights_path = teacher_path / component / "model"
    if not weights_path.is_file():
        raise FileNotFoundError(
            f"The teacher's weights file {weights_path} is missing: save the teacher "
            "pipeline with nlp.to_disk."
        )
    return nlp, pipe, labels, weights_path


def predict_probs(
    pipe: Any,
    docs: Sequence[Any],
    *,
    batch_size: int,
    component: str = "tskd_ner",
    first_index: int = 0,
    on_batch: Optional[Callable[[int], Any]] = None,
) -> List[np.ndarray]:
    """The teacher's probabilities for ``docs``, ``float16``, in the order of ``docs``.

    Docs are sorted by length and cut into batches of ``batch_size`` (less
    padding); empty docs are not sent to the model.
    first_index (int): Index of ``docs[0]`` in its corpus (for error messages).
    on_batch (Optional[Callable[[int], Any]]): Called with the docs of each batch
        (e.g. a progress bar's ``update``).
    """
    n_labels = len(pipe.labels)
    out: List[Optional[np.ndarray]] = [None] * len(docs)
    order = sorted(range(len(docs)), key=lambda j: len(docs[j]))
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        nonempty = [j for j in idx if len(docs[j])]
        for j in idx:
            if not len(docs[j]):
                out[j] = np.zeros((0, n_labels), dtype=STORED_DTYPE)
        if nonempty:
            preds = pipe.predict([docs[j] for j in nonempty])
            if len(preds) != len(nonempty):
                raise ValueError(
                    f"Component {component!r} returned {len(preds)} arrays for "
                    f"{len(nonempty)} docs."
                )
            for j, p in zip(nonempty, preds):
                p = np.asarray(pipe.model.ops.to_numpy(p), dtype=np.float32)
                if p.shape != (len(docs[j]), n_labels):
                    raise ValueError(
                        f"Component {component!r} returned shape {p.shape} for doc "
                        f"{first_index + j} with {len(docs[j])} tokens and {n_labels} labels."
                    )
                out[j] = p.astype(STORED_DTYPE)
        if on_batch is not None:
            on_batch(len(idx))
    return out  # type: ignore[return-value]


def merge_shards(paths: Sequence[PathLike], output_path: PathLike) -> Dict[str, Any]:
    """Concatenate the shard files of one ``annotate`` run into one full file.

    The shards (any order) must come from the same teacher weights, docs file,
    component, labels and ``max_docs``, have the same shard count and cover
    every shard index exactly once. Writes ``output_path`` atomically.
    RETURNS (Dict[str, Any]): The merged file's metadata (``shard`` is null).
    """
    if not paths:
        raise ValueError("merge_shards needs at least one shard file.")
    parts = [load_teacher_probs(p) for p in paths]
    for part in parts:
        if not isinstance(part.meta.get("shard"), dict):
            raise ValueError(f"{part.path} is not a shard file (its meta has no shard).")
    parts.sort(key=lambda p: p.meta["shard"]["index"])
    first = parts[0]
    count = first.meta["shard"]["count"]
    same = ("teacher_weights_sha256", "component", "docs_sha256", "max_docs", "docs_total")
    for part in parts[1:]:
        if part.labels != first.labels:
            raise ValueError(
                f"Shards {first.path} and {part.path} have different labels: "
                f"{list(first.labels)} vs {list(part.labels)}."
            )
        for key in same:
            if part.meta.get(key) != first.meta.get(key):
                raise ValueError(
                    f"Shards {first.path} and {part.path} come from different runs: "
                    f"{key} is {first.meta.get(key)!r} vs {part.meta.get(key)!r}."
                )
        if part.meta["shard"]["count"] != count:
            raise ValueError(
                f"Shards {first.path} and {part.path} have different shard counts "
                f"({count} vs {part.meta['shard']['count']})."
            )
    indices = [p.meta["shard"]["index"] for p in parts]
    if indices != list(range(count)):
        missing = sorted(set(range(count)) - set(indices))
        dupes = sorted({i for i in indices if indices.count(i) > 1})
        raise ValueError(
            f"The shard files do not cover shards 0..{count - 1} exactly once "
            f"(missing {missing}, repeated {dupes})."
        )
    expected_start = 0
    for part in parts:
        if part.meta["doc_start"] != expected_start:
            raise ValueError(
                f"Shard {part.path} starts at doc {part.meta['doc_start']}, expected "
                f"{expected_start}."
            )
        expected_start = part.meta["doc_end"]
    probs = np.concatenate([p.probs for p in parts], axis=0)
    offsets = np.concatenate(
        [[0]] + [p.offsets[1:] + p_base for p, p_base in zip(parts, _bases(parts))]
    ).astype(np.int64)
    meta = dict(first.meta)
    meta.update(
        doc_start=0,
        doc_end=expected_start,
        n_docs=len(offsets) - 1,
        n_tokens=int(offsets[-1]),
        shard=None,
        seconds=round(sum(float(p.meta.get("seconds", 0.0)) for p in parts), 3),
        merged_from=[str(Path(p.path).resolve()) for p in parts],
        created=_now(),
    )
    _write(Path(output_path), probs, offsets, first.labels, meta)
    return meta


# ---------------------------------------------------------------- helpers


def _check_shard(shard: Optional[Tuple[int, int]]) -> Tuple[int, int]:
    if shard is None:
        return 0, 1
    try:
        index, count = (int(x) for x in shard)
    except (TypeError, ValueError):
        raise ValueError(f"shard must be a pair (index, count), got {shard!r}.") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard index must be in 0..count-1 with count >= 1, got {shard!r}.")
    return index, count


def _bases(parts: Sequence[TeacherProbs]) -> Iterable[int]:
    base = 0
    for part in parts:
        yield base
        base += part.n_tokens


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _write(
    path: Path,
    probs: np.ndarray,
    offsets: np.ndarray,
    labels: Sequence[str],
    meta: Dict[str, Any],
    **extra: np.ndarray,
) -> None:
    """Write a probabilities file atomically; ``extra`` arrays are stored beside the four."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file handle: numpy does not append ".npz"
            np.savez(
                f,
                probs=np.ascontiguousarray(probs, dtype=STORED_DTYPE),
                offsets=np.asarray(offsets, dtype=np.int64),
                labels=np.array(list(labels), dtype=np.str_),
                meta=np.array(json.dumps(meta, ensure_ascii=False), dtype=np.str_),
                **extra,
            )


__all__ = [
    "FORMAT_VERSION",
    "TeacherProbs",
    "annotate",
    "load_teacher",
    "load_teacher_probs",
    "merge_shards",
    "predict_probs",
]

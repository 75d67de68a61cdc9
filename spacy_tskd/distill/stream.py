"""Sharded teacher probabilities for large corpora: streaming annotation, lazy reading.

:func:`annotate_stream` reads the target text lazily and writes a directory of
shards, ``shard-00000.npz``, ``shard-00001.npz``, ..., each holding
``shard_size`` consecutive docs (the last one fewer). Plain text (UTF-8, one
sentence or paragraph per line, see :mod:`spacy_tskd.data.text`) is the
streaming format: only one shard's docs and probabilities are ever in memory.
A ``.spacy`` DocBin is accepted too, but spaCy loads a DocBin whole.

Shard file: a teacher probabilities file (``probs``, ``offsets``, ``labels``,
``meta``; see :mod:`spacy_tskd.distill.teacher_probs`, so
:func:`~spacy_tskd.distill.teacher_probs.load_teacher_probs` and
:func:`~spacy_tskd.distill.teacher_probs.merge_shards` read it) plus the docs'
tokens, so the student never re-tokenises and cannot mismatch:

``words_utf8``
    ``uint8`` array: the UTF-8 bytes of all tokens, concatenated.
``word_offsets``
    ``int64`` array of shape ``(n_tokens + 1,)``: token ``t`` is
    ``words_utf8[word_offsets[t]:word_offsets[t + 1]]``.
``spaces``
    ``bool`` array of shape ``(n_tokens,)``: whether token ``t`` is followed by
    a space.

Nothing is pickled (``np.load(path, allow_pickle=False)`` works). The meta has
the keys of a sharded ``annotate`` file (``teacher_weights_sha256``,
``docs_path`` and ``docs_sha256`` of the input, ``docs_total``, ``doc_start``,
``doc_end``, ``n_docs``, ``shard`` = ``{"index": i, "count": n}``, ...) and
``stream``: ``{"input_format", "input_size", "lang", "shard_size",
"line_start", "line_end"}`` (the input's first and last line of the shard, for
plain text).

Resume: rerunning with the same arguments keeps every shard whose file is
complete and matches the teacher weights, the input and the settings, and
recomputes a missing, truncated or corrupt one (skipping a finished shard only
reads past its lines). Each shard is written atomically, so the directory never
holds a partial shard under its final name. A shard written by another teacher,
from another input or with other settings is an error, raised before any work.

:class:`ShardedTeacherProbs` reads a shard directory (or several, one per source
teacher, mixed with weights α) one shard at a time for ``distill``.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..data.docs import unannotated
from ..util import PathLike
from .teacher_probs import (
    CHUNK_BATCHES,
    FORMAT_VERSION,
    STORED_DTYPE,
    TeacherProbs,
    _now,
    _sha256,
    _write,
    load_teacher,
    load_teacher_probs,
    predict_probs,
)

SHARD_PATTERN = re.compile(r"^shard-(\d{5,})\.npz$")
TOKEN_KEYS = ("words_utf8", "word_offsets", "spaces")
# meta keys that tie a shard to a run: teacher, input, settings
_RUN_KEYS = {
    "teacher_weights_sha256": "teacher weights (sha256)",
    "component": "teacher component",
    "labels": "labels",
    "docs_sha256": "input (sha256)",
    "docs_total": "docs in the input",
}
_SETTING_KEYS = ("shard_size", "lang", "input_format", "max_docs")


def shard_path(output_dir: PathLike, index: int) -> Path:
    """The file of shard ``index`` in ``output_dir``."""
    return Path(output_dir) / f"shard-{index:05d}.npz"


def annotate_stream(
    *,
    teacher_path: PathLike,
    input_path: PathLike,
    output_dir: PathLike,
    lang: Optional[str] = None,
    shard_size: int = 10000,
    batch_size: int = 32,
    max_docs: int = 0,
    component: str = "tskd_ner",
    gpu_id: int = -1,
    progress: bool = True,
) -> Dict[str, Any]:
    """Annotate a large corpus lazily into a directory of self-contained shards.

    teacher_path (PathLike): Saved teacher pipeline directory.
    input_path (PathLike): Plain text (UTF-8, one doc per non-blank line; the
        streaming format) or a ``.spacy`` DocBin (loaded whole).
    output_dir (PathLike): Directory of ``shard-NNNNN.npz`` files (see the module
        docstring); created if needed. Rerunning resumes.
    lang (Optional[str]): Language of spaCy's tokenizer for plain text
        (``spacy.blank(lang)``); None: the teacher pipeline's language. Use the
        student's language. Ignored for a DocBin (its docs are tokenised).
    shard_size (int): Docs per shard.
    batch_size (int): Docs per ``predict`` call.
    max_docs (int): Annotate only the first N docs; 0 annotates all.
    component (str): Name of the NER component in the teacher pipeline.
    gpu_id (int): GPU id, or -1 for CPU.
    progress (bool): Show a tqdm progress bar (docs).
    RETURNS (Dict[str, Any]): ``output_dir``, ``n_docs``, ``n_tokens``,
        ``n_shards``, ``written`` and ``skipped`` (shard indices), ``seconds``.
    """
    import spacy
    from tqdm import tqdm

    from .. import __version__
    from ..data.text import iter_lines, scan_text

    input_path, output_dir = Path(input_path), Path(output_dir)
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    if max_docs < 0:
        raise ValueError(f"max_docs must be 0 (all docs) or positive, got {max_docs}.")
    if not input_path.is_file():
        raise FileNotFoundError(f"Input file not found: {input_path}")
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"Output directory {output_dir} is a file: give a directory name.")
    nlp, pipe, labels, weights_path = load_teacher(
        teacher_path=teacher_path, component=component, gpu_id=gpu_id
    )

    start_time = time.perf_counter()
    is_docbin = input_path.suffix == ".spacy"
    if is_docbin:
        from spacy.tokens import DocBin

        try:
            doc_bin = DocBin().from_disk(input_path)
        except Exception as err:
            raise ValueError(f"Could not read {input_path} as a spaCy DocBin: {err}") from err
        docs_total, input_sha = len(doc_bin), _sha256(input_path)
        lang = None
    else:
        scan = scan_text(input_path)  # one pass: counts docs, hashes, checks UTF-8
        docs_total, input_sha = scan.n_docs, scan.sha256
        lang = lang or nlp.lang
    n_docs = min(docs_total, max_docs) if max_docs else docs_total
    if n_docs == 0:
        raise ValueError(f"{input_path} contains no docs (every line is blank).")
    n_shards = -(-n_docs // shard_size)
    run = {
        "teacher_weights_sha256": _sha256(weights_path),
        "component": component,
        "labels": list(labels),
        "docs_sha256": input_sha,
        "docs_total": docs_total,
    }
    settings = {
        "shard_size": shard_size,
        "lang": lang,
        "input_format": "docbin" if is_docbin else "text",
        "max_docs": max_docs,
    }
    done = _check_existing(output_dir, run, settings, n_shards, n_docs, input_path)
    chunk_size = batch_size * CHUNK_BATCHES

    if is_docbin:
        stream: Iterator[Tuple[Optional[int], Any]] = (
            (None, d) for d in itertools.islice(doc_bin.get_docs(nlp.vocab), n_docs)
        )
        tokenizer = None
    else:
        stream = itertools.islice(iter_lines(input_path), n_docs)
        tokenizer = spacy.blank(lang).tokenizer
    base_meta = {
        "format_version": FORMAT_VERSION,
        "teacher_path": str(Path(teacher_path).resolve()),
        **run,
        "docs_path": str(input_path.resolve()),
        "max_docs": max_docs,
        "dtype": STORED_DTYPE,
        "batch_size": batch_size,
        "spacy_tskd_version": __version__,
    }
    written: List[int] = []
    n_tokens_total = 0
    with tqdm(total=n_docs, desc="Annotating", unit="doc", disable=not progress) as bar:
        for index in range(n_shards):
            doc_start = index * shard_size
            size = min(n_docs, doc_start + shard_size) - doc_start
            items = itertools.islice(stream, size)
            if index in done:
                n_read = sum(1 for _ in items)  # skip ahead: only reads past the lines
                bar.update(n_read)
                n_tokens_total += done[index]
            else:
                shard_start = time.perf_counter()
                shard = _ShardBuilder()
                for chunk in _chunked(items, chunk_size):
                    docs = [
                        unannotated(tokenizer(x) if tokenizer else x, nlp.vocab) for _, x in chunk
                    ]
                    probs = predict_probs(
                        pipe,
                        docs,
                        batch_size=batch_size,
                        component=component,
                        first_index=doc_start + shard.n_docs,
                        on_batch=bar.update,
                    )
                    shard.add(docs, probs, [number for number, _ in chunk])
                n_read = shard.n_docs
                if n_read == size:
                    meta = {
                        **base_meta,
                        "doc_start": doc_start,
                        "doc_end": doc_start + size,
                        "n_docs": size,
                        "n_tokens": shard.n_tokens,
                        "shard": {"index": index, "count": n_shards},
                        "stream": {
                            **settings,
                            "input_size": input_path.stat().st_size,
                            "line_start": shard.lines[0] if shard.lines else None,
                            "line_end": shard.lines[-1] if shard.lines else None,
                        },
                        "seconds": round(time.perf_counter() - shard_start, 3),
                        "created": _now(),
                    }
                    shard.write(shard_path(output_dir, index), labels, meta)
                    written.append(index)
                    n_tokens_total += shard.n_tokens
                del shard  # one shard in memory at a time
            if n_read != size:
                raise ValueError(
                    f"{input_path} changed while it was annotated: shard {index} expected "
                    f"docs {doc_start}..{doc_start + size - 1} but the input ended after "
                    f"{doc_start + n_read} docs. Rerun the same command."
                )
    return {
        "output_dir": str(output_dir),
        "n_docs": n_docs,
        "n_tokens": n_tokens_total,
        "n_shards": n_shards,
        "written": written,
        "skipped": sorted(done),
        "seconds": round(time.perf_counter() - start_time, 3),
    }


def _chunked(items: Iterator[Any], size: int) -> Iterator[List[Any]]:
    while True:
        chunk = list(itertools.islice(items, size))
        if not chunk:
            return
        yield chunk


class _ShardBuilder:
    """The tokens and probabilities of one shard, collected chunk by chunk."""

    def __init__(self) -> None:
        self.words = bytearray()
        self.word_offsets: List[int] = [0]
        self.spaces: List[bool] = []
        self.probs: List[np.ndarray] = []
        self.lines: List[int] = []

    @property
    def n_docs(self) -> int:
        return len(self.probs)

    @property
    def n_tokens(self) -> int:
        return len(self.spaces)

    def add(self, docs: Sequence[Any], probs: Sequence[np.ndarray], lines: Sequence) -> None:
        for doc, p in zip(docs, probs):
            for token in doc:
                self.words += token.text.encode("utf8")
                self.word_offsets.append(len(self.words))
                self.spaces.append(bool(token.whitespace_))
            self.probs.append(p)
        self.lines.extend(n for n in lines if n is not None)

    def write(self, path: Path, labels: Sequence[str], meta: Dict[str, Any]) -> None:
        offsets = np.zeros(len(self.probs) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(p) for p in self.probs])
        probs = np.concatenate(self.probs, axis=0).astype(STORED_DTYPE, copy=False)
        _write(
            path,
            probs,
            offsets,
            labels,
            meta,
            words_utf8=np.frombuffer(bytes(self.words), dtype=np.uint8),
            word_offsets=np.asarray(self.word_offsets, dtype=np.int64),
            spaces=np.asarray(self.spaces, dtype=bool),
        )


def _check_existing(
    output_dir: Path,
    run: Mapping[str, Any],
    settings: Mapping[str, Any],
    n_shards: int,
    n_docs: int,
    input_path: Path,
) -> Dict[int, int]:
    """Find the finished shards of this run: ``{index: n_tokens}``.

    Removes temporary files of interrupted writes; a shard that cannot be read
    is left to be recomputed; a shard of another run raises ValueError.
    """
    if not output_dir.is_dir():
        return {}
    for tmp in output_dir.glob(".shard-*.npz.*.tmp"):
        tmp.unlink(missing_ok=True)
    done: Dict[int, int] = {}
    redo = "Use another --output-dir, or delete the old shards to annotate again."
    for path in sorted(output_dir.iterdir()):
        match = SHARD_PATTERN.match(path.name)
        if not match:
            continue
        index = int(match.group(1))
        meta = _read_meta(path)
        if index >= n_shards:
            raise ValueError(
                f"{path} does not belong to this run: annotating {input_path} gives "
                f"{n_shards} shards ({n_docs} docs). {redo}"
            )
        if meta is None:
            continue  # unreadable (truncated, corrupt): recomputed
        for key, what in _RUN_KEYS.items():
            if meta.get(key) != run[key]:
                source = (
                    f"another teacher ({meta.get('teacher_path')})"
                    if key in ("teacher_weights_sha256", "component", "labels")
                    else f"another input ({meta.get('docs_path')})"
                )
                raise ValueError(
                    f"{path} was written by {source}: its {what} is "
                    f"{_short(meta.get(key))}, this run's is {_short(run[key])}. {redo}"
                )
        stream = meta.get("stream") or {}
        for key in _SETTING_KEYS:
            if stream.get(key) != settings[key]:
                raise ValueError(
                    f"{path} was written with {key} = {stream.get(key)!r}, this run uses "
                    f"{settings[key]!r}. Rerun with the same settings to resume. {redo}"
                )
        start = index * settings["shard_size"]
        expected = (start, min(n_docs, start + settings["shard_size"]))
        try:
            shard = load_shard_file(path)
        except ValueError:
            continue
        if (meta.get("doc_start"), meta.get("doc_end")) == expected and len(shard[0]) == (
            expected[1] - expected[0]
        ):
            done[index] = shard[0].n_tokens
        del shard
    return done


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _read_meta(path: Path) -> Optional[Dict[str, Any]]:
    """A shard's meta (reads only that array), or None if the file cannot be read."""
    import json

    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"][()]))
    except Exception:
        return None
    return meta if isinstance(meta, dict) else None


def load_shard_file(path: PathLike) -> Tuple[TeacherProbs, np.ndarray, np.ndarray, np.ndarray]:
    """Read a shard file: its probabilities and its tokens (``words_utf8``, ``word_offsets``,
    ``spaces``), checked for consistency.

    RAISES (ValueError): If the file is not a complete shard file.
    """
    path = Path(path)
    probs = load_teacher_probs(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in TOKEN_KEYS if k not in data.files]
            if missing:
                raise ValueError(f"missing arrays {missing}")
            words, word_offsets, spaces = (data[k] for k in TOKEN_KEYS)
    except Exception as err:
        raise ValueError(
            f"{path} is not a valid shard file ({type(err).__name__}: {err}). "
            "Rerun the annotate command that wrote it: it recomputes this shard."
        ) from err
    n = probs.n_tokens
    if (
        words.dtype != np.uint8
        or word_offsets.shape != (n + 1,)
        or spaces.shape != (n,)
        or (n and (word_offsets[0] != 0 or word_offsets[-1] != len(words)))
        or np.any(np.diff(word_offsets) < 0)
    ):
        raise ValueError(
            f"{path} is not a valid shard file: its tokens do not match its {n} rows of "
            "probabilities. Rerun the annotate command that wrote it: it recomputes this shard."
        )
    return probs, words, word_offsets.astype(np.int64), spaces.astype(bool)


# ---------------------------------------------------------------- reading


@dataclass
class Shard:
    """One loaded shard: docs and their teacher probabilities (``float32``)."""

    index: int
    docs: List[Any]
    probs: List[np.ndarray]
    owner: Optional[ShardedTeacherProbs] = field(default=None, repr=False)

    def release(self) -> None:
        """Drop the docs and probabilities (the reader then holds one shard fewer)."""
        if self.owner is not None:
            self.docs.clear()
            self.probs.clear()
            self.owner.held -= 1
            self.owner = None


class ShardedTeacherProbs:
    """A shard directory (or several, one per source teacher), read one shard at a time.

    paths (Sequence[PathLike]): Shard directories written by :func:`annotate_stream`
        from the same input with the same shard size.
    weights: α for several directories: shape (K,) or (n_docs, K); None is uniform.

    ``loads`` counts shard reads; ``held`` is the number of shards loaded and not
    yet released, ``max_held`` its peak (1 when reading with :meth:`iter_shards`).
    """

    def __init__(self, paths: Sequence[PathLike], weights: Optional[Any] = None) -> None:
        if isinstance(paths, (str, Path)):
            paths = [paths]
        self.dirs = [Path(p) for p in paths]
        if not self.dirs:
            raise ValueError("ShardedTeacherProbs needs at least one shard directory.")
        self.sources = [_list_shards(d) for d in self.dirs]
        first, first_dir = self.sources[0], self.dirs[0]
        for other, other_dir in zip(self.sources[1:], self.dirs[1:]):
            a, b = first[0], other[0]
            if a["docs_sha256"] != b["docs_sha256"] or [
                (m["doc_start"], m["doc_end"]) for m in first
            ] != [(m["doc_start"], m["doc_end"]) for m in other]:
                raise ValueError(
                    f"Shard directories {first_dir} and {other_dir} do not hold the same docs "
                    "in the same shards: annotate the same input with the same --shard-size "
                    "(and --lang) for every teacher."
                )
            if a["labels"] != b["labels"]:
                raise ValueError(
                    f"Shard directories {first_dir} and {other_dir} have different labels: "
                    f"{a['labels']} vs {b['labels']}."
                )
        self.path = first_dir
        self.labels: Tuple[str, ...] = tuple(first[0]["labels"])
        self.alpha = None
        if len(self.dirs) > 1 or weights is not None:
            from ..weighting.mixture import check_weights

            k = len(self.dirs)
            self.alpha = check_weights(np.full(k, 1.0 / k) if weights is None else weights, k)
            if self.alpha.ndim == 2 and len(self.alpha) != len(self):
                raise ValueError(
                    f"Sentence-level weights cover {len(self.alpha)} docs but the shards in "
                    f"{first_dir} hold {len(self)}."
                )
        self.loads = 0
        self.held = 0
        self.max_held = 0

    # -- listing (meta only; nothing is loaded) ---------------------------------
    @property
    def n_shards(self) -> int:
        return len(self.sources[0])

    def __len__(self) -> int:
        return int(self.sources[0][-1]["doc_end"])

    def shard_sizes(self) -> List[int]:
        """Docs per shard, in shard order."""
        return [int(m["n_docs"]) for m in self.sources[0]]

    @property
    def n_tokens(self) -> int:
        return sum(int(m["n_tokens"]) for m in self.sources[0])

    @property
    def weights(self) -> Optional[List]:
        return None if self.alpha is None else self.alpha.tolist()

    @property
    def metas(self) -> List[Dict[str, Any]]:
        """One summary per directory: the first shard's meta without per-shard keys."""
        skip = ("doc_start", "doc_end", "n_docs", "n_tokens", "shard", "seconds", "created")
        out = []
        for d, shards in zip(self.dirs, self.sources):
            meta = {k: v for k, v in shards[0].items() if k not in skip}
            meta["shard_dir"] = str(d.resolve())
            meta["n_shards"] = len(shards)
            meta["n_tokens"] = sum(int(m["n_tokens"]) for m in shards)
            out.append(meta)
        return out

    def check_labels(self, labels: Sequence[str], *, what: str = "the student") -> None:
        """Raise ValueError if ``labels`` (the order of ``what``) differs from the shards'."""
        if tuple(labels) != self.labels:
            raise ValueError(
                f"Teacher probabilities in {self.path} have the labels {list(self.labels)} "
                f"but {what} has {list(labels)}. The label sets or their order differ: "
                "the teacher and the student must use the same entity types."
            )

    # -- loading ----------------------------------------------------------------
    def load(self, index: int, vocab: Any, *, start: int = 0, end: Optional[int] = None) -> Shard:
        """Load docs ``[start, end)`` of shard ``index`` (shard-local positions) and their
        probabilities (mixed with α for several directories). Call ``release()`` on it."""
        from spacy.tokens import Doc

        parts = [load_shard_file(self._file(s, index)) for s in range(len(self.dirs))]
        probs0, words, word_offsets, spaces = parts[0]
        for (p, w, wo, sp), d in zip(parts[1:], self.dirs[1:]):
            if not (
                np.array_equal(p.offsets, probs0.offsets)
                and np.array_equal(wo, word_offsets)
                and np.array_equal(w, words)
                and np.array_equal(sp, spaces)
            ):
                raise ValueError(
                    f"Shard {index} of {d} and of {self.dirs[0]} hold different tokens: "
                    "annotate the same input with the same --lang for every teacher."
                )
        n = len(probs0)
        end = n if end is None else min(end, n)
        if len(self.dirs) > 1 or self.alpha is not None:
            from ..weighting.mixture import MixedTeacherProbs

            first = int(probs0.meta["doc_start"])
            alpha = self.alpha[first : first + n] if self.alpha.ndim == 2 else self.alpha
            source: Any = MixedTeacherProbs([p for p, _, _, _ in parts], alpha)
        else:
            source = probs0
        text = words.tobytes()
        docs, probs = [], []
        for i in range(start, end):
            a, b = int(probs0.offsets[i]), int(probs0.offsets[i + 1])
            tokens = [
                text[word_offsets[t] : word_offsets[t + 1]].decode("utf8") for t in range(a, b)
            ]
            docs.append(Doc(vocab, words=tokens, spaces=spaces[a:b].tolist()))
            probs.append(source[i])
        del parts, source, text
        self.loads += 1
        self.held += 1
        self.max_held = max(self.max_held, self.held)
        return Shard(index, docs, probs, owner=self)

    def iter_shards(
        self,
        vocab: Any,
        order: Sequence[int],
        *,
        ends: Optional[Mapping[int, int]] = None,
    ) -> Iterator[Shard]:
        """Yield the shards in ``order`` one at a time; each is released before the next
        is loaded (and the last when the iteration ends).

        ends (Optional[Mapping[int, int]]): Use only the first ``ends[i]`` docs of shard i.
        """
        shard: Optional[Shard] = None
        try:
            for index in order:
                if shard is not None:
                    shard.release()
                shard = None
                shard = self.load(index, vocab, end=None if ends is None else ends.get(index))
                yield shard
        finally:
            if shard is not None:
                shard.release()

    def _file(self, source: int, index: int) -> Path:
        return Path(self.sources[source][index]["_path"])


def _list_shards(directory: Path) -> List[Dict[str, Any]]:
    """The metas of a complete shard directory, in shard order (each with ``_path``)."""
    rerun = "Rerun the annotate command that wrote it (same arguments) to finish or repair it."
    if not directory.is_dir():
        raise FileNotFoundError(f"Shard directory not found: {directory}")
    metas = []
    for path in sorted(directory.iterdir()):
        if not SHARD_PATTERN.match(path.name):
            continue
        meta = _read_meta(path)
        if meta is None or not isinstance(meta.get("shard"), dict) or "stream" not in meta:
            raise ValueError(f"{path} is not a readable shard file. {rerun}")
        meta["_path"] = str(path)
        metas.append(meta)
    if not metas:
        raise ValueError(
            f"{directory} holds no shard-NNNNN.npz files: write it with "
            "`python -m spacy_tskd annotate TEACHER INPUT.txt --output-dir DIR`."
        )
    metas.sort(key=lambda m: m["shard"]["index"])
    count = metas[0]["shard"]["count"]
    indices = [m["shard"]["index"] for m in metas]
    if indices != list(range(count)):
        missing = sorted(set(range(count)) - set(indices))
        raise ValueError(
            f"{directory} is incomplete: shards {missing} of {count} are missing. {rerun}"
        )
    first = metas[0]
    for meta in metas[1:]:
        for key in list(_RUN_KEYS) + ["shard"]:
            same = meta[key]["count"] == count if key == "shard" else meta[key] == first[key]
            if not same:
                raise ValueError(
                    f"{meta['_path']} and {first['_path']} come from different annotate runs "
                    f"({_RUN_KEYS.get(key, key)} differs). {rerun}"
                )
    position = 0
    for meta in metas:
        if meta["doc_start"] != position:
            raise ValueError(
                f"{meta['_path']} starts at doc {meta['doc_start']}, expected {position}. {rerun}"
            )
        position = meta["doc_end"]
    return metas


__all__ = [
    "Shard",
    "ShardedTeacherProbs",
    "annotate_stream",
    "load_shard_file",
    "shard_path",
]

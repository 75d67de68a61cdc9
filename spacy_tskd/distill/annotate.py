"""``annotate()``: the teacher's probabilities on unlabeled text, computed once and stored.

The teacher pipeline's NER component runs in eval mode (``predict``: no dropout,
no gradients) on docs that hold only words and spaces (no entities, tags or user
data are ever visible to it). Each doc is stored with its probabilities in DocBin
shards (:mod:`.annotations`): one shard's docs are in memory at a time, so plain
text of any size streams through in flat memory.

Input: a ``.spacy`` DocBin (spaCy loads a DocBin whole), or plain text (UTF-8,
one doc per non-blank line, see :mod:`spacy_tskd.data.text`), tokenised with
``spacy.blank(lang)``: the streaming format.

Resume: rerunning the same command keeps every finished shard and recomputes the
others. ``part=(i, n)`` annotates only the shards whose index is i modulo n, so
n processes (or machines sharing the directory) split one run; whichever
finishes the last shard writes ``index.json``.
"""

from __future__ import annotations

import datetime
import itertools
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from ..data.docs import unannotated
from ..util import PathLike, atomic_write_text, sha256_file
from .annotations import FORMAT, finished_shard, set_doc_probs, shard_file, teacher_id, write_shard
from .teacher import load_teacher, predict_probs, read_teacher

# settings that must be equal for a rerun to resume a directory
_RUN_KEYS = ("format", "teacher", "labels", "input", "max_docs", "shard_size")


def annotate(
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
    part: Optional[Tuple[int, int]] = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Dict[str, Any]:
    """Annotate ``input_path`` with the teacher into the directory ``output_dir``.

    teacher_path (PathLike): Saved teacher pipeline directory.
    input_path (PathLike): A ``.spacy`` DocBin, or plain text (one doc per line).
    output_dir (PathLike): The annotation directory (created; rerunning resumes).
    lang (Optional[str]): Tokenizer language of plain text (required for it): the
        target language.
    shard_size (int): Docs per shard.
    batch_size (int): Docs per ``predict`` call (sorted by length within a shard).
    max_docs (int): Annotate only the first N docs; 0 annotates all.
    component (str): The teacher's NER component.
    gpu_id (int): GPU id, or -1 for CPU.
    part (Optional[Tuple[int, int]]): ``(i, n)``: only the shards ``index % n == i``.
    overwrite (bool): Replace the annotations of another run in ``output_dir``
        (another teacher, input or settings) instead of raising an error.
    progress (bool): Show a progress bar (docs).
    RETURNS (Dict[str, Any]): ``output_dir``, ``n_docs``, ``n_shards``, ``written``
        and ``skipped`` (shard indices), ``complete`` (index.json written), ``seconds``.
    """
    from tqdm import tqdm

    part_index, part_count = _check_part(part)
    start_time = time.perf_counter()
    pipe, source, meta = start_run(
        teacher_path=teacher_path, input_path=input_path, output_dir=output_dir, lang=lang,
        shard_size=shard_size, batch_size=batch_size, max_docs=max_docs, component=component,
        gpu_id=gpu_id, overwrite=overwrite,
    )  # fmt: skip
    input_path, output_dir = Path(input_path), Path(output_dir)
    n_docs, n_shards = meta["n_docs"], meta["n_shards"]
    mine = [i for i in range(n_shards) if i % part_count == part_index]
    done = {i for i in mine if finished_shard(output_dir, i) is not None}
    written: List[int] = []
    docs_iter = itertools.islice(source.docs(), n_docs)
    with tqdm(total=n_docs, desc="Annotating", unit="doc", disable=not progress) as bar:
        for index in range(n_shards):
            size = min(n_docs, (index + 1) * shard_size) - index * shard_size
            chunk = itertools.islice(docs_iter, size)
            if index not in mine or index in done:
                n_read = sum(1 for _ in chunk)  # skip: only reads past the docs
                bar.update(n_read)
            else:
                docs = annotate_shard(
                    pipe, chunk, index=index, meta=meta, output_dir=output_dir,
                    batch_size=batch_size, on_batch=bar.update, write=False,
                )  # fmt: skip
                n_read = len(docs)
                if n_read == size:
                    write_shard(output_dir, index, docs, docs.info)
                    written.append(index)
                del docs  # one shard in memory at a time
            if n_read != size:
                raise ValueError(
                    f"{input_path} changed while it was annotated: shard {index} expected "
                    f"{size} docs but the input ended after {index * shard_size + n_read}. "
                    "Rerun the same command."
                )
    return finish_run(output_dir, meta, written=written, skipped=done, start_time=start_time)


def finish_run(
    output_dir: Path, meta: Dict[str, Any], *, written: List[int], skipped: Any, start_time: float
) -> Dict[str, Any]:
    """Write ``index.json`` if every shard is finished; the result of an annotate run."""
    index = _write_index(output_dir, {k: v for k, v in meta.items() if k != "n_docs"})
    return {
        "output_dir": str(output_dir),
        "n_docs": meta["n_docs"],
        "n_tokens": None if index is None else index["n_tokens"],
        "n_shards": meta["n_shards"],
        "labels": list(meta["labels"]),
        "written": sorted(written),
        "skipped": sorted(skipped),
        "complete": index is not None,
        "seconds": round(time.perf_counter() - start_time, 3),
    }


def start_run(
    *,
    teacher_path: PathLike,
    input_path: PathLike,
    output_dir: PathLike,
    lang: Optional[str],
    shard_size: int,
    batch_size: int,
    max_docs: int,
    component: str,
    gpu_id: int,
    overwrite: bool,
    load_model: bool = True,
) -> Tuple[Any, _Input, Dict[str, Any]]:
    """Check the settings, load the teacher, read the input's identity and start (or
    resume) the directory: writes ``meta.json``. Returns the teacher's component (None
    with ``load_model=False``: a driver that only plans reads the teacher's identity from
    its files), the input and the meta (with the labels, ``n_docs`` and ``n_shards``)."""
    from .. import __version__

    input_path, output_dir = Path(input_path), Path(output_dir)
    if shard_size < 1 or batch_size < 1 or max_docs < 0:
        raise ValueError(
            f"shard_size and batch_size must be at least 1 and max_docs at least 0, got "
            f"{shard_size}, {batch_size} and {max_docs}."
        )
    if not input_path.is_file():
        raise FileNotFoundError(f"Input file not found: {input_path}")
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"Output {output_dir} is a file: give a directory name.")
    if load_model:
        nlp, pipe, labels, weights_path = load_teacher(
            teacher_path=teacher_path, component=component, gpu_id=gpu_id
        )
        teacher_lang, vocab = nlp.lang, nlp.vocab
    else:
        pipe, vocab = None, None
        teacher_lang, labels, weights_path = read_teacher(teacher_path, component)
    source = _Input(input_path, vocab, lang)
    n_docs = min(source.n_docs, max_docs) if max_docs else source.n_docs
    if n_docs == 0:
        raise ValueError(f"{input_path} contains no docs (every line is blank).")
    meta = {
        "format": FORMAT,
        "teacher": {
            "path": str(Path(teacher_path).resolve()),
            "component": component,
            "lang": teacher_lang,
            "weights_sha256": sha256_file(weights_path),
        },
        "labels": list(labels),
        "input": source.identity,
        "max_docs": max_docs,
        "shard_size": shard_size,
        "n_shards": -(-n_docs // shard_size),
        "spacy_tskd_version": __version__,
    }
    _start_or_resume(output_dir, meta, overwrite=overwrite)
    return pipe, source, {**meta, "n_docs": n_docs}


class _ShardDocs(list):
    """A shard's annotated docs and its ``info`` (doc range, tokens, seconds)."""

    info: Dict[str, Any]


def annotate_shard(
    pipe: Any,
    docs: Iterable[Any],
    *,
    index: int,
    meta: Dict[str, Any],
    output_dir: Path,
    batch_size: int,
    on_batch: Optional[Callable[[int], Any]] = None,
    write: bool = True,
) -> _ShardDocs:
    """Annotate the docs of shard ``index`` (copies without annotations) and, with
    ``write``, store them: the one code path of every annotator (one process, parts,
    Ray actors), so that they all write the same shards."""
    start = time.perf_counter()
    vocab = pipe.vocab
    out = _ShardDocs(unannotated(d, vocab) for d in docs)
    probs = predict_probs(
        pipe, out, batch_size=batch_size, component=meta["teacher"]["component"],
        first_index=index * meta["shard_size"], on_batch=on_batch,
    )  # fmt: skip
    for doc, p in zip(out, probs):
        set_doc_probs(doc, p, teacher_id(meta))
    first = index * meta["shard_size"]
    out.info = {
        "doc_start": first,
        "doc_end": first + len(out),
        "n_tokens": sum(len(d) for d in out),
        "seconds": round(time.perf_counter() - start, 3),
    }
    if write:
        write_shard(output_dir, index, out, out.info)
    return out


class _Input:
    """The docs of a DocBin or a plain-text file, read lazily, and their identity."""

    def __init__(self, path: Path, vocab: Any, lang: Optional[str]) -> None:
        self.path, self.vocab = path, vocab
        self.is_docbin = path.suffix == ".spacy"
        if path.suffix in (".jsonl", ".json"):
            raise ValueError(
                f"{path}: annotate reads a DocBin (.spacy) or plain text, not JSON. Convert "
                f"it first: python -m spacy_tskd convert {path} text.spacy --lang LANG --unlabeled"
            )
        if not self.is_docbin and not lang:
            raise ValueError(
                f"{path} is plain text: give its language with --lang (the target language; "
                "the teacher's would tokenise it in the source language)."
            )
        if not self.is_docbin:
            from ..data.convert import blank

            self.tokenizer = blank(lang).tokenizer  # an unknown language fails here, early
        if self.is_docbin:
            from spacy.tokens import DocBin

            try:
                self.doc_bin = DocBin().from_disk(path)
            except Exception as err:
                raise ValueError(f"Could not read {path} as a spaCy DocBin: {err}") from err
            self.n_docs, digest, self.lang = len(self.doc_bin), sha256_file(path), None
        else:
            from ..data.text import scan_text

            scan = scan_text(path)  # one pass: counts docs, hashes, checks UTF-8
            self.n_docs, digest, self.lang = scan.n_docs, scan.sha256, lang
        self.identity = {
            "path": str(path.resolve()),
            "sha256": digest,
            "format": "docbin" if self.is_docbin else "text",
            "lang": self.lang,
            "n_docs": self.n_docs,
        }

    def docs(self) -> Iterator[Any]:
        if self.is_docbin:
            yield from self.doc_bin.get_docs(self.vocab)
            return
        from ..data.text import iter_lines

        for _, text in iter_lines(self.path):
            yield self.tokenizer(text)


def _start_or_resume(output_dir: Path, meta: Dict[str, Any], *, overwrite: bool) -> None:
    """Write ``meta.json``, or check that an existing one is this run's."""
    import shutil

    from .annotations import read_json

    path = output_dir / "meta.json"
    if path.is_file():
        old = read_json(path)
        changed = [k for k in _RUN_KEYS if _portable(old.get(k)) != _portable(meta[k])]
        if not changed:
            return
        if not overwrite:
            key = changed[0]
            raise ValueError(
                f"{output_dir} holds another annotate run: its {key} is "
                f"{_short(old.get(key))}, this run's is {_short(meta[key])}. Rerun with the "
                "same teacher, input and settings to resume, use another output directory, "
                "or pass --overwrite to replace it."
            )
        shutil.rmtree(output_dir)  # it holds an annotate run (meta.json): replaced
    if output_dir.is_dir() and any(output_dir.iterdir()):
        raise ValueError(
            f"{output_dir} is not empty and holds no annotate run (no meta.json): give an "
            "empty or new output directory."
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(meta, indent=1, ensure_ascii=False) + "\n")


def _write_index(output_dir: Path, meta: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Write ``index.json`` if every shard is finished; returns it, or None."""
    shards = [finished_shard(output_dir, i) for i in range(meta["n_shards"])]
    if any(s is None for s in shards):
        return None
    index = {
        **meta,
        "shards": shards,
        "n_docs": shards[-1]["doc_end"],
        "n_tokens": sum(int(s["n_tokens"]) for s in shards),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_text(output_dir / "index.json", json.dumps(index, indent=1) + "\n")
    return index


def _check_part(part: Optional[Tuple[int, int]]) -> Tuple[int, int]:
    if part is None:
        return 0, 1
    try:
        index, count = (int(x) for x in part)
    except (TypeError, ValueError):
        raise ValueError(f"part must be a pair (index, count), got {part!r}.") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"part must be I/N with 0 <= I < N, got {part!r}.")
    return index, count


def _portable(value: Any) -> Any:
    """A run setting without its paths: a moved input or teacher still resumes."""
    return {k: v for k, v in value.items() if k != "path"} if isinstance(value, dict) else value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


__all__ = ["annotate", "shard_file"]

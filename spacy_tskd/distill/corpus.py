"""``spacy-tskd.TeacherCorpus.v1``: docs with their teacher's distribution, read lazily.

A registered corpus reader over one annotation directory (single source) or
several (one per source teacher, over the same input). For several sources the
student's target is Σ_k α_k p_k per token: α is a reader setting, so
multi-source mixing is configuration::

    [corpora.distillation]
    @readers = "spacy-tskd.TeacherCorpus.v1"
    path = "probs/en-es,probs/de-es,probs/nl-es"
    # null: uniform (avg); a list, one α per path; or a weights.json from `weights fit`
    alpha = "weights/es-sim.json"
    # the source language of each path; null: each teacher's own lang
    sources = null

Shards are read one at a time (:meth:`TeacherCorpus.load_weighted`); the directories
are joined doc by doc, and a doc whose words differ between them is an error. Unlike
spaCy's readers it is not a stream of Examples: ``distill()`` (:mod:`.loop`) reads it
shard by shard, since each doc needs its teacher array beside it and a shard is
shuffled and bucketed as a whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from spacy.util import registry

from ..util import PathLike
from .annotations import (
    USER_DATA_KEY,
    get_doc_probs,
    get_doc_weights,
    load_shard_docs,
    read_index,
    shard_file,
    teacher_id,
)

Alpha = Union[None, str, Sequence[float], Sequence[Sequence[float]], Dict[str, float]]


@registry.readers("spacy-tskd.TeacherCorpus.v1")
def create_teacher_corpus(
    path: Union[None, str, Sequence[str]],
    alpha: Alpha = None,
    sources: Union[None, str, Sequence[str]] = None,
    confidence: bool = False,
) -> TeacherCorpus:
    """path: an annotation directory, or several (a list or comma-separated).
    alpha: None (uniform), one α per path, ``{source: α}``, or a weights.json.
    sources: the source language of each path; None reads each teacher's lang.
    confidence: weigh each token by (max p)² of its target (times stored weights)."""
    if not path:
        raise ValueError(
            "The teacher corpus has no path: set paths.teacher_probs to the directory "
            "written by `python -m spacy_tskd annotate TEACHER INPUT OUTPUT_DIR`."
        )
    return TeacherCorpus(
        _split(path),
        alpha=alpha,
        sources=_split(sources) if sources else None,
        confidence=confidence,
    )


class TeacherCorpus:
    """One or several annotation directories of the same input, mixed with α.

    Several directories of one source (teachers trained with different seeds) make a
    teacher ensemble: with ``alpha=None`` the target is their mean."""

    def __init__(
        self,
        paths: Sequence[PathLike],
        *,
        alpha: Alpha = None,
        sources: Optional[Sequence[str]] = None,
        confidence: bool = False,
    ) -> None:
        if isinstance(paths, (str, Path)):
            paths = [paths]
        self.dirs = [Path(p) for p in paths]
        if not self.dirs:
            raise ValueError("TeacherCorpus needs at least one annotation directory.")
        self.indexes = [read_index(d) for d in self.dirs]
        first, first_dir = self.indexes[0], self.dirs[0]
        for index, directory in zip(self.indexes[1:], self.dirs[1:]):
            _check_same_docs(first, first_dir, index, directory)
        self.labels: Tuple[str, ...] = tuple(first["labels"])
        self.path = first_dir
        self.sources = list(sources) if sources else [i["teacher"]["lang"] for i in self.indexes]
        if len(self.sources) != len(self.dirs):
            raise ValueError(
                f"sources names {len(self.sources)} languages ({self.sources}) for "
                f"{len(self.dirs)} annotation directories: give one per directory."
            )
        self.alpha = _resolve_alpha(alpha, self.sources, self)
        self.confidence = bool(confidence)

    # -- what the directories hold (index only; nothing is loaded) -------------
    def __len__(self) -> int:
        return int(self.indexes[0]["n_docs"])

    @property
    def n_tokens(self) -> int:
        return int(self.indexes[0]["n_tokens"])

    @property
    def n_shards(self) -> int:
        return len(self.indexes[0]["shards"])

    def shard_sizes(self) -> List[int]:
        """Docs per shard, in shard order."""
        return [int(s["doc_end"]) - int(s["doc_start"]) for s in self.indexes[0]["shards"]]

    @property
    def metas(self) -> List[Dict[str, Any]]:
        """One summary per directory: its index without the shard list."""
        return [
            {**{k: v for k, v in i.items() if k != "shards"}, "dir": str(d.resolve())}
            for i, d in zip(self.indexes, self.dirs)
        ]

    @property
    def weights(self) -> Optional[List]:
        return None if self.alpha is None else self.alpha.tolist()

    def check_labels(self, labels: Sequence[str], *, what: str = "the student") -> None:
        """Raise ValueError if ``labels`` (the order of ``what``) differs from the teachers'."""
        if tuple(labels) != self.labels:
            raise ValueError(
                f"Teacher annotations {self.path} have the labels {list(self.labels)} but "
                f"{what} has {list(labels)}. The label sets or their order differ: the "
                "teacher and the student must use the same entity types."
            )

    # -- reading ----------------------------------------------------------------
    def load(
        self, index: int, vocab: Any, *, start: int = 0, end: Optional[int] = None
    ) -> Tuple[List[Any], List[np.ndarray]]:
        """Docs ``[start, end)`` of shard ``index`` (shard-local) and their targets
        (``float32``; the α-mixture for several sources). The docs keep no user data."""
        docs, probs, _ = self.load_weighted(index, vocab, start=start, end=end)
        return docs, probs

    def load_weighted(
        self, index: int, vocab: Any, *, start: int = 0, end: Optional[int] = None
    ) -> Tuple[List[Any], List[np.ndarray], Optional[List[np.ndarray]]]:
        """:meth:`load` plus each doc's token weights: those stored by ``denoise`` (for
        several sources, the first directory's), times (max p)² with ``confidence``;
        None when there are neither."""
        parts = [
            load_shard_docs(d, i["shards"][index], vocab) for d, i in zip(self.dirs, self.indexes)
        ]
        docs = parts[0][start:end]
        doc_start = int(self.indexes[0]["shards"][index]["doc_start"]) + start
        probs, weights = [], []
        for offset, doc in enumerate(docs):
            where = f"doc {offset + start} of {shard_file(self.dirs[0], index)}"
            rows = []
            for k, (directory, meta, shard) in enumerate(zip(self.dirs, self.indexes, parts)):
                other = shard[offset + start]
                if k and [t.text for t in other] != [t.text for t in doc]:
                    raise ValueError(
                        f"{where} and doc {offset + start} of {shard_file(directory, index)} "
                        "hold different words: annotate the same input (with the same --lang) "
                        "with every teacher."
                    )
                teacher, p = get_doc_probs(other, where=where)
                if teacher != teacher_id(meta):
                    raise ValueError(
                        f"{where} was annotated by teacher {teacher}, but {directory} records "
                        f"{teacher_id(meta)}. Annotate the directory again."
                    )
                rows.append(p)
            target = self._mix(rows, doc_start + offset)
            probs.append(target)
            w = get_doc_weights(doc)
            if self.confidence:
                w = _confidence(target) if w is None else w * _confidence(target)
            weights.append(w)
            doc.user_data.pop(USER_DATA_KEY, None)
        if any(w is None for w in weights):
            return docs, probs, None
        return docs, probs, weights

    def _mix(self, rows: List[np.ndarray], doc_index: int) -> np.ndarray:
        if self.alpha is None:
            return rows[0] if len(rows) == 1 else np.mean(rows, axis=0, dtype=np.float32)
        alpha = self.alpha[doc_index] if self.alpha.ndim == 2 else self.alpha
        return np.asarray(sum(float(a) * p for a, p in zip(alpha, rows)), dtype=np.float32)

    def read_all(self, vocab: Any) -> Tuple[List[Any], List[np.ndarray]]:
        """Every doc and its targets, in order (small corpora: test sets, benchmarks)."""
        docs: List[Any] = []
        probs: List[np.ndarray] = []
        for index in range(self.n_shards):
            d, p = self.load(index, vocab)
            docs.extend(d)
            probs.extend(p)
        return docs, probs


def _confidence(target: np.ndarray) -> np.ndarray:
    """MTMT's token weight: the squared probability of the target's argmax."""
    return np.square(target.max(axis=1), dtype=np.float32) if len(target) else target[:, 0]


def _check_same_docs(a: Dict, a_dir: Path, b: Dict, b_dir: Path) -> None:
    same_input = all(a["input"].get(k) == b["input"].get(k) for k in ("sha256", "lang"))
    if not same_input or [s["doc_end"] for s in a["shards"]] != [s["doc_end"] for s in b["shards"]]:
        raise ValueError(
            f"Annotation directories {a_dir} and {b_dir} do not hold the same docs in the "
            "same shards: annotate the same input with the same --shard-size, --max-docs and "
            "--lang for every teacher."
        )
    if a["labels"] != b["labels"]:
        raise ValueError(
            f"Annotation directories {a_dir} and {b_dir} have different labels: "
            f"{a['labels']} vs {b['labels']}."
        )


def _resolve_alpha(alpha: Alpha, sources: List[str], corpus: TeacherCorpus):
    """α as an array of shape (K,) or (n_docs, K), in the order of ``sources``."""
    from ..weighting.mixture import check_weights

    k = len(sources)
    if alpha is None or (isinstance(alpha, str) and not alpha):
        return None
    if isinstance(alpha, (str, Path)):
        from ..weighting.weights_file import load_weights

        alpha = load_weights(alpha, sources=sources)["alpha"]
    elif isinstance(alpha, dict):
        missing = [s for s in sources if s not in alpha]
        if missing or len(alpha) != k:
            raise ValueError(
                f"alpha names the sources {sorted(alpha)} but the corpus has {sources}: "
                "give one α per source."
            )
        alpha = [alpha[s] for s in sources]
    checked = check_weights(alpha, k, source="TeacherCorpus alpha")
    if checked.ndim == 2 and len(checked) != len(corpus):
        raise ValueError(
            f"Sentence-level α covers {len(checked)} docs but {corpus.path} holds {len(corpus)}."
        )
    return checked


def _split(value: Union[str, Sequence[str]]) -> List[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [v for v in str(value).split(",") if v]


__all__ = ["TeacherCorpus", "create_teacher_corpus"]

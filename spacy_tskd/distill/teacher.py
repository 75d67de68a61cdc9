"""A saved teacher: its identity read from its files, the model loaded, its
probabilities predicted in length-sorted batches (used by ``annotate``, its Ray
actors, ``denoise`` and the benchmarks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..util import PathLike, check_pipeline_dir
from .annotations import STORED_DTYPE


def _check_component(teacher_path: Path, component: str, pipe_names: List[str]) -> None:
    if component not in pipe_names:
        raise ValueError(
            f"The teacher pipeline {teacher_path} has no component {component!r}; "
            f"its components are {pipe_names}. Use --component."
        )


def _weights_file(teacher_path: Path, component: str) -> Path:
    """The component's weights file (hashed into the annotations' meta)."""
    weights_path = teacher_path / component / "model"
    if not weights_path.is_file():
        raise FileNotFoundError(
            f"The teacher's weights file {weights_path} is missing: save the teacher "
            "pipeline with nlp.to_disk."
        )
    return weights_path


def read_teacher(teacher_path: PathLike, component: str) -> Tuple[str, Tuple[str, ...], Path]:
    """A saved teacher's language, labels and weights file, read from its files without
    loading the model (the Ray driver plans a run this way; its actors load the model).

    RAISES (FileNotFoundError): If the pipeline or its weights file is missing.
    RAISES (ValueError): If ``component`` is not in the pipeline or has no labels.
    """
    from spacy.util import load_config

    teacher_path = Path(teacher_path)
    check_pipeline_dir(teacher_path, "Teacher pipeline")
    config = load_config(teacher_path / "config.cfg")
    _check_component(teacher_path, component, list(config["nlp"]["pipeline"]))
    cfg_path = teacher_path / component / "cfg"
    labels = (
        json.loads(cfg_path.read_text(encoding="utf8")).get("labels")
        if cfg_path.is_file()
        else None
    )
    if not labels:
        raise ValueError(
            f"Component {component!r} of {teacher_path} has no labels in {cfg_path}: "
            "a teacher is a trained tskd_ner component."
        )
    weights_path = _weights_file(teacher_path, component)
    return config["nlp"]["lang"], tuple(labels), weights_path


def load_teacher(
    *, teacher_path: PathLike, component: str = "tskd_ner", gpu_id: int = -1
) -> Tuple[Any, Any, Tuple[str, ...], Path]:
    """Load a saved teacher and check that ``component`` can annotate.

    RETURNS (Tuple[Language, TrainablePipe, Tuple[str, ...], Path]): The pipeline,
        its NER component, the component's labels and its weights file (hashed
        into the annotations' meta as the teacher's identity).
    """
    import spacy

    teacher_path = Path(teacher_path)
    check_pipeline_dir(teacher_path, "Teacher pipeline")
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(teacher_path)
    _check_component(teacher_path, component, nlp.pipe_names)
    pipe = nlp.get_pipe(component)
    if not hasattr(pipe, "predict") or not hasattr(pipe, "labels"):
        raise ValueError(
            f"Component {component!r} of {teacher_path} cannot be a teacher: it has no "
            "predict() returning per-token probabilities (use a tskd_ner component)."
        )
    labels = tuple(pipe.labels)
    if not labels:
        raise ValueError(f"Component {component!r} of {teacher_path} has no labels (untrained?).")
    weights_path = _weights_file(teacher_path, component)
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

    Docs go to the model in batches of ``batch_size`` (the transformer encoder sorts
    each by length to pad less); empty docs are not sent to the model.
    first_index (int): Index of ``docs[0]`` in its corpus (for error messages).
    on_batch (Optional[Callable[[int], Any]]): Called with the docs of each batch.
    """
    n_labels = len(pipe.labels)
    out: List[Optional[np.ndarray]] = [None] * len(docs)
    for b in range(0, len(docs), batch_size):
        idx = list(range(b, min(b + batch_size, len(docs))))
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


__all__ = ["load_teacher", "predict_probs", "read_teacher"]

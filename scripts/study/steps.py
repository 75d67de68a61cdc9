"""The study's resumable steps: convert, train a teacher, annotate, fit weights, distil.

Every step writes its output atomically and is skipped when that output exists, so an
interrupted study resumes where it stopped; teachers and annotations are shared by
every experiment that needs them. :mod:`.reproduce` plans and runs the study with them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from spacy_tskd.resumable import Step
from spacy_tskd.util import PathLike

# the project directory's configs (commands run from it), never the source tree's: the
# package installed from a wheel has no configs/
CONFIGS = Path("configs")


# ---------------------------------------------------------------- step builders


def convert_steps(
    *,
    corpus: Path,
    data_dir: PathLike,
    conll: str,
    lang: str,
    teacher_sents: int,
    dev_sents: int,
    target_sents: Optional[int] = None,
    test_sents: Optional[int] = None,
) -> List[Step]:
    """Conversions of one language to ``corpus/{lang}/{name}.spacy``: labelled
    ``train``/``dev`` for its teacher; for a target (``target_sents`` given) also
    ``unlabeled`` (the first sentences of its train split; gold is never read
    downstream) and ``test``. A size of 0 keeps every sentence."""
    from spacy_tskd.data.convert import convert

    todo = [("train", "train", teacher_sents), ("dev", "dev", dev_sents)]
    if target_sents is not None:
        todo += [("train", "unlabeled", target_sents), ("test", "test", test_sents or 0)]
    steps = []
    for split, name, limit in todo:
        dst = corpus / lang / f"{name}.spacy"
        kwargs = {
            "input_path": Path(data_dir) / conll / lang / f"{split}.txt",
            "output_path": dst,
            "lang": lang,
            "max_sents": limit,
        }
        steps.append(Step(dst, f"convert {lang} {split} -> {name}", convert, kwargs))
    return steps


def teacher_step(
    *,
    lang_dir: Path,
    corpus: Path,
    lang: str,
    encoder: str,
    epochs: int,
    lr: float,
    seed: int,
    config: PathLike,
    gpu_id: int,
    what: str,
) -> Step:
    """Train the teacher of ``lang`` into ``lang_dir/model-last``; ``lang_dir/DONE``
    marks it finished."""
    overrides = {
        "paths.train": str(corpus / lang / "train.spacy"),
        "paths.dev": str(corpus / lang / "dev.spacy"),
        "paths.encoder": encoder,
        "training.max_epochs": epochs,
        "training.optimizer.learn_rate.initial_rate": lr,
        "system.seed": seed,
        "nlp.lang": lang,  # the teacher speaks its source language
    }
    kwargs = {"lang_dir": lang_dir, "config": config, "overrides": overrides, "gpu_id": gpu_id}
    return Step(lang_dir / "DONE", what, _train_teacher, kwargs)


def annotate_step(*, teacher: Path, docs: Path, output: Path, gpu_id: int, what: str) -> Step:
    """Store the probabilities of the pipeline ``teacher`` on ``docs`` (gold stripped)
    in the annotation directory ``output``; its ``index.json`` marks it finished."""
    from spacy_tskd.distill.annotate import annotate

    kwargs = {
        "teacher_path": teacher,
        "input_path": docs,
        "output_dir": output,
        "gpu_id": gpu_id,
        "progress": False,
    }
    return Step(output / "index.json", what, annotate, kwargs)


def weights_step(
    *,
    source_docs: Mapping[str, Path],
    target_docs: Path,
    method: str,
    encoder: str,
    output: Path,
    seed: int,
    embedding_cache: Path,
    what: str,
) -> Step:
    """Fit the source weights α of ``method`` for the target text, with the recipe of
    ``configs/weights.cfg``."""
    from spacy_tskd.weighting.similarity import fit_weights
    from spacy_tskd.weighting.weights_file import load_recipe

    kwargs = {
        "source_docs": dict(source_docs),
        "target_docs": target_docs,
        "method": method,
        "encoder": encoder,
        "output": output,
        "seed": seed,
        "embedding_cache": embedding_cache,
        **load_recipe(CONFIGS / "weights.cfg"),
    }
    return Step(output, what, fit_weights, kwargs)


def student_step(
    *,
    student_dir: Path,
    target: str,
    probs: Sequence[Path],
    sources: Sequence[str],
    weights: Optional[Path],
    encoder: str,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    config: PathLike,
    gpu_id: int,
    what: str,
    loss: Optional[str] = None,
) -> Step:
    """Distil the teachers' (α-mixed) probabilities into ``student_dir/model-last``, a
    pipeline of the ``target`` language; ``loss`` overrides the config's ``distill_loss``
    (``"hard"``: the HL ablation)."""
    from spacy_tskd.distill.loop import distill

    overrides: Dict[str, Any] = {
        "paths.teacher_probs": ",".join(str(p) for p in probs),
        "paths.encoder": encoder,
        "paths.weights": None if weights is None else str(weights),
        "corpora.distillation.sources": ",".join(sources),
        "distillation.max_epochs": epochs,
        "distillation.batch_size": batch_size,
        "distillation.optimizer.learn_rate.initial_rate": lr,
        "system.seed": seed,
        "nlp.lang": target,
    }
    if loss is not None:
        overrides["components.tskd_ner.distill_loss"] = loss
    kwargs = {
        "config_path": config,
        "output_path": student_dir,
        "overrides": overrides,
        "gpu_id": gpu_id,
    }
    return Step(student_dir / "model-last", what, distill, kwargs)


def _train_teacher(*, lang_dir: Path, config: PathLike, overrides: Dict, gpu_id: int) -> None:
    from spacy_tskd.training.teacher import train_teacher
    from spacy_tskd.util import atomic_write_text

    train_teacher(config_path=config, output_path=lang_dir, overrides=overrides, gpu_id=gpu_id)
    atomic_write_text(lang_dir / "DONE", "model-last\n")

"""Resumable experiment runner for multi-source transfer (leave-one-out over CoNLL).

For every target language T, the other languages are the sources. The runner
converts the data, trains one teacher per language, annotates T's unlabeled
text with every source teacher, fits the source weights (``sim``, ``cosine``,
``l2``), trains one student per weighting scheme, and scores the multi-source
MT ensembles and the students on T's test set.

Every step writes its output atomically and is skipped when that output exists,
so an interrupted run resumes where it stopped; teachers and probabilities are
shared by every experiment that needs them. The step builders (:func:`convert_steps`,
:func:`teacher_step`, :func:`annotate_step`, :func:`weights_step`,
:func:`student_step`) are shared with the paper study in :mod:`.reproduce`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ..util import PathLike
from .table import markdown_table

# the project directory's configs (commands run from it), never the source tree's: the
# package installed from a wheel has no configs/
CONFIGS = Path("configs")
SCHEMES = ("avg", "sim", "cosine", "l2")


@dataclass
class Settings:
    """Everything that defines a run; recorded beside its results."""

    data_dir: str = "../shared/data"
    conll: str = "conll"
    encoder: str = "assets/encoder"
    languages: Sequence[str] = ("en", "de", "es", "nl")
    targets: Sequence[str] = ("es", "nl", "de")
    schemes: Sequence[str] = SCHEMES
    teacher_sents: int = 1000
    target_sents: int = 4000
    test_sents: int = 500
    dev_sents: int = 200
    teacher_epochs: int = 4
    teacher_lr: float = 5e-4
    student_epochs: int = 1
    student_lr: float = 1e-4
    student_batch: int = 8
    seed: int = 0
    gpu_id: int = -1
    teacher_config: str = str(CONFIGS / "teacher.cfg")
    student_config: str = str(CONFIGS / "student.cfg")
    extra: Dict[str, str] = field(default_factory=dict)


def once(path: Path, what: str, step: Callable[..., object], **kwargs) -> Optional[float]:
    """Run ``step(**kwargs)`` unless ``path`` exists (each step writes ``path`` atomically).

    RETURNS (Optional[float]): The step's wall time in seconds, or None if it was skipped.
    """
    if path.exists():
        print(f"[skip] {what}: {path} exists")
        return None
    start = time.perf_counter()
    print(f"[run] {what}")
    step(**kwargs)
    if not path.exists():
        raise RuntimeError(f"Step '{what}' finished without writing {path}.")
    seconds = time.perf_counter() - start
    print(f"[done] {what} in {seconds:.1f} s")
    return seconds


@dataclass
class Step:
    """One resumable step: ``fn(**kwargs)`` writes ``path`` atomically; ``what`` names it."""

    path: Path
    what: str
    fn: Callable[..., object]
    kwargs: Dict[str, Any]

    def run(self) -> Optional[float]:
        """Run the step unless its output exists (see :func:`once`)."""
        return once(self.path, self.what, self.fn, **self.kwargs)


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
    from ..data.conll import convert

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
    from ..distill.annotate import annotate

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
    """Fit the source weights α of ``method`` for the target text."""
    from ..weighting.similarity import fit_weights

    kwargs = {
        "source_docs": dict(source_docs),
        "target_docs": target_docs,
        "method": method,
        "encoder": encoder,
        "output": output,
        "seed": seed,
        "embedding_cache": embedding_cache,
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
    from ..distill.run import distill

    overrides: Dict[str, Any] = {
        "paths.teacher_probs": ",".join(str(p) for p in probs),
        "paths.encoder": encoder,
        "paths.weights": None if weights is None else str(weights),
        "corpora.distill.sources": ",".join(sources),
        "distill.epochs": epochs,
        "distill.batch_size": batch_size,
        "distill.optimizer.learn_rate.initial_rate": lr,
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


# ---------------------------------------------------------------- the multi-source study


def run_multi(*, out_dir: PathLike, settings: Settings) -> str:
    """Run (or resume) the multi-source study in ``out_dir``; return the result table."""
    from ..evaluation.ensemble import evaluate_ensemble
    from ..evaluation.evaluate import evaluate
    from ..util import atomic_write_text
    from ..weighting.similarity import load_weights

    s = settings
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "settings.json", json.dumps(asdict(s), indent=2, default=list))
    corpus, metrics = out / "corpus", out / "metrics"

    # 1. data: labelled train/dev for the teachers; for every target, the first
    # target_sents of its train split as unlabeled text (gold dropped) and its test set
    for lang in s.languages:
        is_target = lang in s.targets
        for step in convert_steps(
            corpus=corpus,
            data_dir=s.data_dir,
            conll=s.conll,
            lang=lang,
            teacher_sents=s.teacher_sents,
            dev_sents=s.dev_sents,
            target_sents=s.target_sents if is_target else None,
            test_sents=s.test_sents if is_target else None,
        ):
            step.run()

    # 2. one teacher per language (shared by every target it is a source for)
    def teacher_dir(lang: str) -> Path:
        return out / "teachers" / lang

    for lang in s.languages:
        teacher_step(
            lang_dir=teacher_dir(lang),
            corpus=corpus,
            lang=lang,
            encoder=s.encoder,
            epochs=s.teacher_epochs,
            lr=s.teacher_lr,
            seed=s.seed,
            config=s.teacher_config,
            gpu_id=s.gpu_id,
            what=f"teacher {lang}",
        ).run()

    rows: List[Dict] = []
    for target in s.targets:
        sources = [lang for lang in s.languages if lang != target]
        unlabeled = corpus / target / "unlabeled.spacy"
        test = corpus / target / "test.spacy"
        probs = []
        # 3. every source teacher annotates the target text once
        for src in sources:
            path = out / "probs" / f"{src}-{target}"
            annotate_step(
                teacher=teacher_dir(src) / "model-last",
                docs=unlabeled,
                output=path,
                gpu_id=s.gpu_id,
                what=f"annotate {target} with the {src} teacher",
            ).run()
            probs.append(path)
        # 4. source weights
        weights: Dict[str, Path] = {}
        for method in ("sim", "cosine", "l2"):
            if method != "sim" and method not in s.schemes:  # sim is needed for MT-sim
                continue
            path = out / "weights" / f"{target}-{method}.json"
            weights_step(
                source_docs={src: corpus / src / "train.spacy" for src in sources},
                target_docs=unlabeled,
                method=method,
                encoder=s.encoder,
                output=path,
                seed=s.seed,
                embedding_cache=out / "embeddings",
                what=f"weights {method} for {target}",
            ).run()
            weights[method] = path
        teachers = [teacher_dir(src) / "model-last" for src in sources]
        # 5. multi-source MT: the weighted ensemble of the teachers
        for name, path in (("MT-avg", None), ("MT-sim", weights.get("sim"))):
            result = metrics / f"{target}-{name}-seed{s.seed}.json"
            alpha = None if path is None else load_weights(path, sources=sources)["alpha"]
            once(
                result,
                f"{name} on {target}",
                evaluate_ensemble,
                teacher_paths=teachers,
                data_path=test,
                alpha=alpha,
                output=result,
                system=name,
            )
            rows.append(_row(result, target))
        # 6. students, one per weighting scheme
        for scheme in s.schemes:
            student = out / "students" / f"{target}-{scheme}-seed{s.seed}"
            student_step(
                student_dir=student,
                target=target,
                probs=probs,
                sources=sources,
                weights=None if scheme == "avg" else weights[scheme],
                encoder=s.encoder,
                epochs=s.student_epochs,
                batch_size=s.student_batch,
                lr=s.student_lr,
                seed=s.seed,
                config=s.student_config,
                gpu_id=s.gpu_id,
                what=f"student {scheme} for {target}",
            ).run()
            name = f"TS-{scheme}"
            result = metrics / f"{target}-{name}-seed{s.seed}.json"
            once(
                result,
                f"{name} on {target}",
                evaluate,
                pipeline_path=student / "model-last",
                data_path=test,
                output=result,
                system=name,
                gpu_id=s.gpu_id,
            )
            rows.append(_row(result, target))
    table = pivot_table(rows)
    atomic_write_text(out / "table.md", table + "\n")
    return table


def _train_teacher(*, lang_dir: Path, config: PathLike, overrides: Dict, gpu_id: int) -> None:
    from ..training.teacher import train_teacher
    from ..util import atomic_write_text

    train_teacher(config_path=config, output_path=lang_dir, overrides=overrides, gpu_id=gpu_id)
    atomic_write_text(lang_dir / "DONE", "model-last\n")


def _row(path: Path, target: str) -> Dict:
    data = json.loads(path.read_text(encoding="utf8"))
    return {"target": target, "system": data["system"], "f1": data["ents_f"]}


def pivot_table(rows: Sequence[Dict]) -> str:
    """Markdown table: one row per target language, one column per system (F1 %)."""
    systems = list(dict.fromkeys(r["system"] for r in rows))
    targets = list(dict.fromkeys(r["target"] for r in rows))
    cell = {(r["target"], r["system"]): r["f1"] for r in rows}
    body = [
        [t] + [f"{100 * cell[t, x]:.2f}" if (t, x) in cell else "–" for x in systems]
        for t in targets
    ]
    return markdown_table(["target", *systems], body)

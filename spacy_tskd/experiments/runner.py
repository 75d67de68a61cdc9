"""Resumable experiment runner for multi-source transfer (leave-one-out over CoNLL).

For every target language T, the other languages are the sources. The runner
converts the data, trains one teacher per language, annotates T's unlabeled
text with every source teacher, fits the source weights (``sim``, ``cosine``,
``l2``), trains one student per weighting scheme, and scores the multi-source
MT ensembles and the students on T's test set.

Every step writes its output atomically and is skipped when that output exists,
so an interrupted run resumes where it stopped; teachers and probabilities are
shared by every experiment that needs them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Sequence

from ..util import PathLike

CONFIGS = Path(__file__).resolve().parent.parent.parent / "configs"
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
    target_sents: int = 500
    test_sents: int = 200
    dev_sents: int = 100
    teacher_epochs: int = 2
    teacher_lr: float = 3e-4
    student_epochs: int = 2
    student_lr: float = 1e-4
    student_batch: int = 8
    seed: int = 0
    gpu_id: int = -1
    teacher_config: str = str(CONFIGS / "teacher.cfg")
    student_config: str = str(CONFIGS / "student.cfg")
    extra: Dict[str, str] = field(default_factory=dict)


def once(path: Path, what: str, step: Callable[..., object], **kwargs) -> None:
    """Run ``step(**kwargs)`` unless ``path`` exists (each step writes ``path`` atomically)."""
    if path.exists():
        print(f"[skip] {what}: {path} exists")
        return
    start = time.perf_counter()
    print(f"[run] {what}")
    step(**kwargs)
    if not path.exists():
        raise RuntimeError(f"Step '{what}' finished without writing {path}.")
    print(f"[done] {what} in {time.perf_counter() - start:.1f} s")


def run_multi(*, out_dir: PathLike, settings: Settings) -> str:
    """Run (or resume) the multi-source study in ``out_dir``; return the result table."""
    from ..data.conll import convert
    from ..distill.run import distill
    from ..distill.teacher_probs import annotate
    from ..evaluation.ensemble import evaluate_ensemble
    from ..evaluation.evaluate import evaluate
    from ..util import atomic_write_text
    from ..weighting.similarity import fit_weights, load_weights

    s = settings
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "settings.json", json.dumps(asdict(s), indent=2, default=list))
    corpus, metrics = out / "corpus", out / "metrics"

    # 1. data: labelled train/dev for the teachers; for every target, the first
    # target_sents of its train split as unlabeled text (gold dropped) and its test set
    splits = [("train", "train", s.teacher_sents), ("dev", "dev", s.dev_sents)]
    for lang in s.languages:
        todo = splits + (
            [("train", "unlabeled", s.target_sents), ("test", "test", s.test_sents)]
            if lang in s.targets
            else []
        )
        for split, name, limit in todo:
            src = Path(s.data_dir) / s.conll / lang / f"{split}.txt"
            dst = corpus / lang / f"{name}.spacy"
            once(
                dst,
                f"convert {lang} {split} -> {name}",
                convert,
                input_path=src,
                output_path=dst,
                lang=lang,
                max_sents=limit,
            )

    # 2. one teacher per language (shared by every target it is a source for)
    def teacher_dir(lang: str) -> Path:
        return out / "teachers" / lang

    for lang in s.languages:
        done = teacher_dir(lang) / "DONE"
        overrides = {
            "paths.train": str(corpus / lang / "train.spacy"),
            "paths.dev": str(corpus / lang / "dev.spacy"),
            "paths.encoder": s.encoder,
            "training.max_epochs": s.teacher_epochs,
            "training.optimizer.learn_rate.initial_rate": s.teacher_lr,
            "system.seed": s.seed,
        }

        once(
            done,
            f"teacher {lang}",
            _train_teacher,
            lang_dir=teacher_dir(lang),
            settings=s,
            overrides=overrides,
        )

    rows: List[Dict] = []
    for target in s.targets:
        sources = [lang for lang in s.languages if lang != target]
        unlabeled = corpus / target / "unlabeled.spacy"
        test = corpus / target / "test.spacy"
        probs = []
        # 3. every source teacher annotates the target text once
        for src in sources:
            path = out / "probs" / f"{src}-{target}.npz"
            once(
                path,
                f"annotate {target} with the {src} teacher",
                annotate,
                teacher_path=teacher_dir(src) / "model-last",
                docs_path=unlabeled,
                output_path=path,
                gpu_id=s.gpu_id,
            )
            probs.append(path)
        # 4. source weights
        weights: Dict[str, Path] = {}
        for method in ("sim", "cosine", "l2"):
            if method != "sim" and method not in s.schemes:  # sim is needed for MT-sim
                continue
            path = out / "weights" / f"{target}-{method}.json"
            once(
                path,
                f"weights {method} for {target}",
                fit_weights,
                source_docs={src: corpus / src / "train.spacy" for src in sources},
                target_docs=unlabeled,
                method=method,
                encoder=s.encoder,
                output=path,
                seed=s.seed,
                embedding_cache=out / "embeddings",
            )
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
            overrides = {
                "paths.target": str(unlabeled),
                "paths.teacher_probs": ",".join(str(p) for p in probs),
                "paths.encoder": s.encoder,
                "distill.weights": None if scheme == "avg" else str(weights[scheme]),
                "distill.sources": ",".join(sources),
                "distill.epochs": s.student_epochs,
                "distill.batch_size": s.student_batch,
                "distill.optimizer.learn_rate.initial_rate": s.student_lr,
                "system.seed": s.seed,
            }
            once(
                student / "model-last",
                f"student {scheme} for {target}",
                distill,
                config_path=s.student_config,
                output_path=student,
                overrides=overrides,
                gpu_id=s.gpu_id,
            )
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


def _train_teacher(*, lang_dir: Path, settings: Settings, overrides: Dict) -> None:
    from ..training.teacher import train_teacher
    from ..util import atomic_write_text

    train_teacher(
        config_path=settings.teacher_config,
        output_path=lang_dir,
        overrides=overrides,
        gpu_id=settings.gpu_id,
    )
    atomic_write_text(lang_dir / "DONE", "model-last\n")


def _row(path: Path, target: str) -> Dict:
    data = json.loads(path.read_text(encoding="utf8"))
    return {"target": target, "system": data["system"], "f1": data["ents_f"]}


def pivot_table(rows: Sequence[Dict]) -> str:
    """Markdown table: one row per target language, one column per system (F1 %)."""
    systems = list(dict.fromkeys(r["system"] for r in rows))
    targets = list(dict.fromkeys(r["target"] for r in rows))
    cell = {(r["target"], r["system"]): r["f1"] for r in rows}
    lines = ["| target | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for t in targets:
        vals = [f"{100 * cell[t, x]:.2f}" if (t, x) in cell else "–" for x in systems]
        lines.append(f"| {t} | " + " | ".join(vals) + " |")
    return "\n".join(lines)

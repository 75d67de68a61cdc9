"""The paper study as one resumable run: single- and multi-source transfer over seeds.

For every seed, one teacher is trained per language (shared by every experiment
of that seed). Each teacher annotates the unlabeled text (the train split, gold
stripped) and the test set of every target it is a source for, once; the MT
systems are scored from those stored test probabilities, without loading the
teachers again. Experiments (``sources -> target``):

``single`` (``single_source`` -> every other target)
    ``MT`` (the teacher's argmax), ``HL`` (student, cross-entropy on the teacher's
    argmax), ``TS`` (student, MSE on the teacher's probabilities; its result also
    holds the Fig. 5 bins).
``multi`` (every other language -> target, leave-one-out)
    ``MT-avg`` / ``MT-sim`` (argmax of Σ_k α_k p_k over the stored test
    probabilities), ``TS-avg``, ``TS-sim``, ``TS-cosine``, ``TS-l2`` (students).

Weights: ``cosine`` and ``l2`` are deterministic functions of the frozen encoder's
sentence embeddings, so they are fitted once per target and shared by every
seed; ``sim`` trains a similarity model whose initialisation and shuffling
depend on the seed, so it is fitted once per (target, seed) with that seed.
Sentence embeddings are cached in ``out_dir/embeddings``.

Students are scored from their own probabilities on the test set (``annotate``
run with the student pipeline), so every system is decoded the same way. Stored
probabilities are float16: an argmax can differ from the pipeline's float32
one only where two labels tie after rounding.

Every experiment and seed writes one result JSON to ``results_dir`` (see
:func:`run_reproduce`); a result is skipped when its file is complete and was
computed with the same ``config_sha256``. Intermediate artifacts in ``out_dir``
are written atomically and reused (teachers, probabilities, weights, students);
``out_dir/study.json`` records the settings they were made with, and a run with
other settings is refused rather than mixing artifacts. The wall time of every
step that runs is appended to ``out_dir/steps.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from spacy_tskd.resumable import Step
from spacy_tskd.util import PathLike, atomic_write_text

from .steps import annotate_step, convert_steps, student_step, teacher_step, weights_step
from .study_files import FORMAT, _hardware, _read_text, _result_status, _sha256_text, _StepLog
from .study_result import _correction_bins, compute_result
from .study_settings import (
    ARTIFACT_SETTINGS,
    DATA_SETTINGS,
    MULTI_SYSTEMS,
    SINGLE_SYSTEMS,
    WEIGHTS_FORMAT,
    ReproduceSettings,
    check_settings,
    with_config_defaults,
)


@dataclass
class _Experiment:
    setting: str
    system: str
    sources: List[str]
    target: str
    seed: int
    shared: List[Step]  # steps shared with other experiments, in order
    test_probs: List[Path]  # the source teachers' stored test probabilities
    weights: Optional[Path] = None  # α of MT-sim
    student: Optional[Step] = None
    predict: Optional[Step] = None  # the student's probabilities on the test set
    config_sha256: str = ""
    teachers: List[Path] = field(default_factory=list)  # the sources' model-last dirs

    @property
    def name(self) -> str:
        return (
            f"{self.setting}-{self.system}-{'+'.join(self.sources)}-{self.target}-seed{self.seed}"
        )


def run_reproduce(
    *, out_dir: PathLike, results_dir: PathLike, settings: ReproduceSettings
) -> List[Dict[str, Any]]:
    """Run (or resume) the study; artifacts go to ``out_dir``, results to ``results_dir``.

    Each (experiment, seed) writes ``{setting}-{system}-{sources}-{target}-seed{seed}.json``
    (sources joined by ``+``) atomically::

        {"format": "spacy-tskd-result/1", "setting", "system", "sources" (sorted),
         "target", "seed", "teachers": [{"lang", "weights_sha256"}] (one per source),
         "scores": {"ents_f", "ents_p", "ents_r",
         "ents_per_type": {TYPE: {"p", "r", "f"}}} (fractions), "encoder": {"name",
         "sha256"}, "config_sha256", "wall_seconds" (this experiment's own steps),
         "steps": {step: seconds (null: ran before steps were logged)}, "hardware",
         "created", "spacy_tskd_version", "settings", "fig5" (single-source TS only),
         "alpha" (multi-source only: {source: weight}, as used)}

    ``config_sha256`` hashes the config files' text, the overrides of every
    teacher and student involved (paths relative to ``out_dir``), the data sizes,
    the weighting method and the encoder's identity. A result file that exists,
    is complete and has the same hash is skipped; a partial or corrupt one, or one
    with another hash, is recomputed.

    RETURNS (List[Dict[str, Any]]): The results of the selected experiments, in order.
    RAISES (ValueError): On invalid settings, or if ``out_dir`` holds artifacts made
        with other settings.
    """
    s = with_config_defaults(settings)
    check_settings(s)
    study = _Study(Path(out_dir), s)
    results = Path(results_dir)
    plan = plan_results(study, s, results)
    todo = [p for p in plan if p[2] != "ok"]
    print(f"{len(plan)} results selected, {len(todo)} to compute, in {results}")
    if any(e.setting == "single" and e.system == "TS" for e, *_ in todo):
        _correction_bins()  # fail now, not after hours of training
    out: List[Dict[str, Any]] = []
    for exp, path, status, why in plan:
        if status == "ok":
            print(f"[skip] result {exp.name}: {path} exists")
            out.append(json.loads(path.read_text(encoding="utf8")))
            continue
        if status == "redo":
            print(f"[redo] result {exp.name}: {why}")
        print(f"[run] result {exp.name}")
        start = time.perf_counter()
        result = study.compute(exp)
        atomic_write_text(path, json.dumps(result, indent=2) + "\n")
        print(
            f"[done] result {exp.name} in {time.perf_counter() - start:.1f} s: "
            f"F1 {100 * result['scores']['ents_f']:.2f} -> {path}"
        )
        out.append(result)
    return out


def plan_results(study: _Study, s: ReproduceSettings, results: Path) -> List[Tuple]:
    """``(experiment, result path, status, why)`` for every selected result, in order."""
    plan = []
    for seed in s.seeds:
        for exp in study.experiments(int(seed)):
            path = results / f"{exp.name}.json"
            plan.append((exp, path, *_result_status(path, exp.config_sha256)))
    return plan


class _Study:
    """Plans the experiments of the study and runs their steps in ``out``."""

    def __init__(self, out: Path, settings: ReproduceSettings) -> None:
        from spacy_tskd.weighting.embeddings import encoder_identity

        self.out, self.s = out, settings
        self.corpus = out / "corpus"
        identity = encoder_identity(settings.encoder)
        self.encoder = {"name": settings.encoder, "sha256": identity["sha256"]}
        self.configs = {
            "teacher": _read_text(settings.teacher_config, "teacher config"),
            "student": _read_text(settings.student_config, "student config"),
        }
        self._check_out_dir()
        self.log = _StepLog(out / "steps.jsonl")
        self._hardware: Optional[Dict[str, Any]] = None

    # -- artifacts ----------------------------------------------------------
    def _check_out_dir(self) -> None:
        s = self.s
        record = {k: getattr(s, k) for k in ARTIFACT_SETTINGS}
        record["encoder_sha256"] = self.encoder["sha256"] or s.encoder
        record["config_sha256"] = {k: _sha256_text(v) for k, v in self.configs.items()}
        path = self.out / "study.json"
        if path.exists():
            try:
                old = json.loads(path.read_text(encoding="utf8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                old = None  # an interrupted first write: rewritten below
            if isinstance(old, dict):
                diff = [k for k in record if old.get(k) != record[k]]
                if diff:
                    shown = ", ".join(f"{k} {old.get(k)!r} -> {record[k]!r}" for k in diff)
                    raise ValueError(
                        f"{self.out} holds artifacts made with other settings ({shown}; "
                        f"see {path}). Use another OUT_DIR, or delete {self.out} to start again."
                    )
        atomic_write_text(path, json.dumps(record, indent=2) + "\n")

    def _convert(self, lang: str, name: str) -> Step:
        steps = convert_steps(
            corpus=self.corpus,
            data_dir=self.s.data_dir,
            conll=self.s.conll,
            lang=lang,
            teacher_sents=self.s.teacher_sents,
            dev_sents=self.s.dev_sents,
            target_sents=self.s.target_sents,
            test_sents=self.s.test_sents,
        )
        return next(step for step in steps if step.path.stem == name)

    def _teacher(self, lang: str, seed: int) -> Step:
        return teacher_step(
            lang_dir=self.out / "teachers" / f"{lang}-seed{seed}",
            corpus=self.corpus,
            lang=lang,
            encoder=self.s.encoder,
            epochs=self.s.teacher_epochs,
            lr=self.s.teacher_lr,
            seed=seed,
            config=self.s.teacher_config,
            gpu_id=self.s.gpu_id,
            what=f"teacher {lang} seed{seed}",
        )

    def _annotate(self, src: str, target: str, seed: int, split: str) -> Step:
        docs, suffix = ("test", "-test") if split == "test" else ("unlabeled", "")
        return annotate_step(
            teacher=self._teacher(src, seed).path.parent / "model-last",
            docs=self.corpus / target / f"{docs}.spacy",
            output=self.out / "probs" / f"seed{seed}" / f"{src}-{target}{suffix}",
            gpu_id=self.s.gpu_id,
            what=f"annotate {target} {docs} with the {src} teacher seed{seed}",
        )

    def _weights(self, sources: List[str], target: str, method: str, seed: int) -> Step:
        per_seed = method == "sim"
        name = f"{target}-{method}" + (f"-seed{seed}" if per_seed else "")
        return weights_step(
            source_docs={src: self.corpus / src / "train.spacy" for src in sources},
            target_docs=self.corpus / target / "unlabeled.spacy",
            method=method,
            encoder=self.s.encoder,
            output=self.out / "weights" / f"{name}.json",
            seed=seed if per_seed else 0,
            embedding_cache=self.out / "embeddings",
            what=f"weights {method} for {target}" + (f" seed{seed}" if per_seed else ""),
        )

    # -- planning -----------------------------------------------------------
    def experiments(self, seed: int) -> List[_Experiment]:
        """Every selected experiment of one seed, its steps planned, nothing run."""
        s = self.s
        plan: List[_Experiment] = []
        if s.only in ("all", "single"):
            for target in s.targets:
                if target != s.single_source:
                    for system in self._systems(SINGLE_SYSTEMS):
                        plan.append(self._plan("single", system, [s.single_source], target, seed))
        if s.only in ("all", "multi"):
            for target in s.targets:
                sources = sorted(lang for lang in s.languages if lang != target)
                for system in self._systems(MULTI_SYSTEMS):
                    plan.append(self._plan("multi", system, sources, target, seed))
        return plan

    def _systems(self, systems: Sequence[str]) -> List[str]:
        return [x for x in systems if not self.s.systems or x in self.s.systems]

    def _plan(
        self, setting: str, system: str, sources: List[str], target: str, seed: int
    ) -> _Experiment:
        method = system.split("-")[1] if "-" in system else None  # avg, sim, cosine, l2
        is_student = system.startswith("TS") or system == "HL"
        needs_test_probs = not is_student or (setting, system) == ("single", "TS")  # Fig. 5
        shared: List[Step] = []
        for src in sources:
            shared += [self._convert(src, "train"), self._convert(src, "dev")]
        shared.append(self._convert(target, "test"))
        if is_student or method == "sim":
            shared.append(self._convert(target, "unlabeled"))
        teachers = [self._teacher(src, seed) for src in sources]
        shared += teachers
        test_probs = [self._annotate(src, target, seed, "test") for src in sources]
        if needs_test_probs:
            shared += test_probs
        exp = _Experiment(
            setting, system, sources, target, seed, shared, [p.path.parent for p in test_probs],
            teachers=[t.path.parent / "model-last" for t in teachers],
        )  # fmt: skip
        if method not in (None, "avg"):
            weights = self._weights(sources, target, method, seed)
            shared.append(weights)
            exp.weights = weights.path
        if is_student:
            probs = [self._annotate(src, target, seed, "unlabeled") for src in sources]
            shared += probs
            student_dir = self.out / "students" / exp.name
            exp.student = student_step(
                student_dir=student_dir,
                target=target,
                probs=[p.path.parent for p in probs],
                sources=sources,
                weights=exp.weights if system.startswith("TS-") else None,
                encoder=self.s.encoder,
                epochs=self.s.student_epochs,
                batch_size=self.s.student_batch,
                lr=self.s.student_lr,
                seed=seed,
                config=self.s.student_config,
                gpu_id=self.s.gpu_id,
                what=f"student {exp.name}",
                loss="hard" if system == "HL" else self.s.student_loss,
            )
            exp.predict = annotate_step(
                teacher=student_dir / "model-last",
                docs=self.corpus / target / "test.spacy",
                output=self.out / "probs" / "students" / f"{exp.name}-test",
                gpu_id=self.s.gpu_id,
                what=f"predict {exp.name}",
            )
        exp.config_sha256 = self._config_sha256(exp, method)
        return exp

    def _config_sha256(self, exp: _Experiment, method: Optional[str]) -> str:
        teachers = {src: self._teacher(src, exp.seed).kwargs["overrides"] for src in exp.sources}
        payload = {
            "configs": {"teacher": self.configs["teacher"]},
            "teachers": {k: self._portable(v) for k, v in teachers.items()},
            "data": {k: getattr(self.s, k) for k in DATA_SETTINGS},
            "encoder": self.encoder["sha256"] or self.s.encoder,
            "weights": None if method in (None, "avg") else {"method": method},
        }
        if method in ("sim", "cosine", "l2"):
            # weights format 2 (learned-μ sim, per-sentence cosine/l2): results made with
            # format 1 have another hash and are recomputed
            payload["weights"]["format"] = WEIGHTS_FORMAT
        if method == "sim":
            payload["weights"]["seed"] = exp.seed
        if self.s.decode != "argmax":  # results made before decoders existed keep their hash
            payload["decode"] = self.s.decode
        if exp.student is not None:
            payload["configs"]["student"] = self.configs["student"]
            payload["student"] = self._portable(exp.student.kwargs["overrides"])
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf8")).hexdigest()

    def _portable(self, overrides: Dict[str, Any]) -> Dict[str, Any]:
        """Overrides with paths inside ``out`` made relative and the encoder path
        dropped (its identity is hashed instead), so a moved study keeps its hash.
        ``nlp.lang`` is dropped too: it only picks the tokenizer for raw text (teachers
        train on the CoNLL tokens, ``gold_preproc = true``; students on docs rebuilt
        from them)."""

        def rel(part: str) -> str:
            try:
                return "<out>/" + Path(part).relative_to(self.out).as_posix()
            except ValueError:
                return part

        portable = {}
        for key, value in overrides.items():
            if key == "nlp.lang":
                continue
            if key == "paths.encoder":
                value = "<encoder>"
            elif isinstance(value, str):
                value = ",".join(rel(part) for part in value.split(","))
            portable[key] = value
        return portable

    # -- running ------------------------------------------------------------
    def compute(self, exp: _Experiment) -> Dict[str, Any]:
        """Run the experiment's missing steps and return its result."""
        return compute_result(self, exp)

    def hardware(self) -> Dict[str, Any]:
        if self._hardware is None:
            self._hardware = _hardware(self.s.gpu_id)
        return self._hardware


__all__ = [
    "FORMAT",
    "MULTI_SYSTEMS",
    "SINGLE_SYSTEMS",
    "ReproduceSettings",
    "run_reproduce",
    "with_config_defaults",
]

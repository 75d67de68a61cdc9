"""Multi-round self-distillation: each round's student is the next round's teacher.

Round 0 is the method of the paper: the source teacher annotates the unlabeled target
text and a student learns its distribution. In round r > 0 the student of round r - 1
annotates the same text and a new student learns from it (RIKD, CoLaDa). Each round can
weigh its tokens by neighbour agreement (``denoise``, :mod:`.denoise`), in the
representation space of that round's teacher, and start its student from the plain
encoder (``start = "plain"``, as the paper's student) or from the previous student
(``"previous"``).

Round 0's teacher can be several pipelines (``teacher_path`` a list): source teachers
of several languages, or one source trained with several seeds (an ensemble). Each
annotates the text into ``round-0/probs-K`` and the student learns their α-mixture
(``alpha``: None for the mean, a list or a weights.json, as
:class:`.corpus.TeacherCorpus` takes it); denoising labels tokens by the mixture and
finds neighbours with the first teacher's vectors. Later rounds have one teacher.

Everything is kept: ``OUT/round-R/probs`` (annotations), ``round-R/denoised``,
``round-R/student/model-last``. Every step writes its output atomically and is skipped
when the output exists, so an interrupted run resumes at the step it stopped in; a run
with other settings or inputs (teachers, text, config, test set: by content) starts over. The
recipe (rounds, denoise, start) is the ``[rounds]`` block of ``configs/rounds.cfg``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from ..util import PathLike, atomic_write_text, config_block, sha256_path

RECIPE_KEYS = ("rounds", "denoise", "start")
STARTS = ("plain", "previous")


def load_rounds_recipe(path: PathLike, **overrides: Any) -> Dict[str, Any]:
    """The ``[rounds]`` block of ``path``; ``overrides`` that are not None replace values."""
    return config_block(path, "rounds", RECIPE_KEYS, **overrides)


def run_rounds(
    *,
    teacher_path: Union[PathLike, Sequence[PathLike]],
    target_docs: PathLike,
    out_dir: PathLike,
    student_config: PathLike,
    rounds: int,
    denoise: bool,
    start: str,
    denoise_recipe: Optional[Dict[str, Any]] = None,
    alpha: Optional[Any] = None,
    overrides: Optional[Dict[str, Any]] = None,
    test_docs: Optional[PathLike] = None,
    gpu_id: int = -1,
) -> List[Path]:
    """Run (or resume) ``rounds`` rounds; returns each round's ``student/model-last``.

    teacher_path (Union[PathLike, Sequence[PathLike]]): The source teacher pipeline
        (round 0's teacher), or several, mixed with ``alpha``.
    target_docs (PathLike): The unlabeled target text (DocBin or plain text).
    student_config (PathLike): The student config (``configs/student.cfg``);
        ``overrides`` are applied to it in every round (e.g. ``nlp.lang``, epochs).
    denoise_recipe (Optional[Dict[str, Any]]): k, sharpness, mu, smooth (with ``denoise``).
    alpha: Round 0's mixture weights for several teachers (None: their mean).
    test_docs (Optional[PathLike]): A gold DocBin: each round's student is scored on it
        (``round-R/scores.json``; for the record: nothing in the loop reads it).
    """
    from ..evaluation.evaluate import evaluate
    from ..resumable import Step
    from .annotate import annotate
    from .denoise import denoise as denoise_fn
    from .loop import distill

    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}.")
    if start not in STARTS:
        raise ValueError(f"start must be one of {', '.join(STARTS)}, got {start!r}.")
    if denoise and not denoise_recipe:
        raise ValueError("denoise needs its recipe (configs/denoise.cfg).")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    many = not isinstance(teacher_path, (str, Path))
    teachers = [Path(t) for t in teacher_path] if many else [Path(teacher_path)]
    settings = {"rounds": rounds, "denoise": denoise, "start": start, "alpha": alpha,
                "teachers": [str(t) for t in teachers], "overrides": overrides,
                "denoise_recipe": denoise_recipe, "target": str(target_docs),
                "test": str(test_docs)}  # fmt: skip
    # the steps resume when their output exists: only for the same inputs (by content)
    inputs = [*teachers, target_docs, student_config, *([test_docs] if test_docs else [])]
    settings["inputs_sha256"] = {str(p): sha256_path(p) for p in inputs}
    _start_over_if_changed(out, json.loads(json.dumps(settings, default=str)))
    atomic_write_text(out / "rounds.json", json.dumps(settings, indent=1, default=str) + "\n")
    students: List[Path] = []
    for r in range(rounds):
        here = out / f"round-{r}"
        mixing = r == 0 and many
        probs = [here / (f"probs-{k}" if mixing else "probs") for k in range(len(teachers))]
        for teacher, directory in zip(teachers, probs):
            Step(
                directory / "index.json",
                f"round {r}: annotate with {teacher}",
                annotate,
                {"teacher_path": teacher, "input_path": target_docs, "output_dir": directory,
                 "lang": (overrides or {}).get("nlp.lang"), "gpu_id": gpu_id, "progress": False},
            ).run()  # fmt: skip
        round_alpha = alpha if mixing else None
        if denoise:
            Step(
                here / "denoised" / "index.json",
                f"round {r}: denoise",
                denoise_fn,
                {"model_path": teachers[0], "annotations": probs, "alpha": round_alpha,
                 "output_dir": here / "denoised", "gpu_id": gpu_id, "progress": False,
                 **denoise_recipe},
            ).run()  # fmt: skip
            probs[0] = here / "denoised"
        student_overrides = {**(overrides or {}), "paths.teacher_probs": ",".join(map(str, probs))}
        if round_alpha is not None:
            student_overrides["paths.weights"] = round_alpha
        if start == "previous" and students:
            student_overrides["distillation.init_from"] = str(students[-1])
        Step(
            here / "student" / "model-last",
            f"round {r}: student",
            distill,
            {"config_path": student_config, "output_path": here / "student",
             "overrides": student_overrides, "gpu_id": gpu_id,
             "resume": (here / "student" / "checkpoint" / "state.json").exists()},
        ).run()  # fmt: skip
        students.append(here / "student" / "model-last")
        teachers = [students[-1]]
        if test_docs is not None:
            Step(
                here / "scores.json",
                f"round {r}: score on {test_docs}",
                evaluate,
                {"pipeline_path": students[-1], "data_path": test_docs,
                 "output": here / "scores.json", "system": f"round {r}", "gpu_id": gpu_id},
            ).run()  # fmt: skip
    return students


def _start_over_if_changed(out: Path, settings: Dict[str, Any]) -> None:
    """Remove the rounds of an earlier run in ``out`` whose settings or inputs differ."""
    import shutil

    path = out / "rounds.json"
    old = json.loads(path.read_text(encoding="utf8")) if path.is_file() else None
    rounds = sorted(out.glob("round-*"))
    if rounds and old != settings:
        changed = sorted(k for k in settings if (old or {}).get(k) != settings[k])
        print(f"[restart] {out}: {', '.join(changed)} changed since its last run; starting over")
        for directory in rounds:
            shutil.rmtree(directory)


__all__ = ["load_rounds_recipe", "run_rounds"]

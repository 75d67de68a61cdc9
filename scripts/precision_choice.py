"""The measurement behind the default ``mixed_precision`` (docs/defaults.md), source data only.

    python -m scripts.precision_choice docs/perf/precision_choice.json [--work DIR]

In both precisions (float32, bfloat16 autocast):

1. the demo's teacher (project.yml: ``source_sents`` English sentences, ``teacher_epochs``,
   ``teacher_lr``), seeds 0 and 1, scored on the English dev set;
2. a student distilled on *English* unlabeled text (the train sentences after the
   teacher's, labels dropped) from the float32 seed-0 teacher, scored on the English
   dev set and by the no-gold monitor (agreement with the teacher on held-out text).

No target-language data is read. Needs the demo's corpus (``spacy project run convert``)
and the CoNLL English train file. Each run's wall time is recorded; a finished run is
not repeated (delete ``--work`` to start over).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Dict

import srsly
import typer

from scripts.record_run import run_unless_done

PRECISIONS = ("fp32", "bf16")
PY = [sys.executable, "-m", "spacy_tskd"]


def _precision(p: str) -> str:
    return f"--components.tskd_ner.model.encoder.mixed_precision={p}"


def main(
    output: Path = typer.Argument(..., help="Result JSON (docs/perf/precision_choice.json)."),
    work: Path = typer.Option(Path("training/precision"), "--work", help="Run directory."),
    en_train: Path = typer.Option(Path("../shared/data/conll/en/train.txt"), "--en-train"),
    seeds: int = typer.Option(2, "--seeds", help="Teacher seeds per precision."),
    source_sents: int = typer.Option(1000, "--source-sents"),
    teacher_epochs: int = typer.Option(4, "--teacher-epochs"),
    teacher_lr: float = typer.Option(5e-4, "--teacher-lr"),
    text_sents: int = typer.Option(2000, "--text-sents", help="English unlabeled docs."),
) -> None:
    from scripts.record_run import git_commit, machine

    start = time.time()
    work.mkdir(parents=True, exist_ok=True)
    results: Dict[str, Any] = {"teachers": {}, "students": {}}
    for p in PRECISIONS:
        for seed in range(seeds):
            out = work / f"teacher-{p}-s{seed}"
            wall = run_unless_done(PY + [
                "train-teacher", "configs/teacher.cfg", "--output", str(out), "--nlp.lang", "en",
                "--paths.train", "corpus/en/train.spacy", "--paths.dev", "corpus/en/dev.spacy",
                "--training.max_epochs", str(teacher_epochs), "--system.seed", str(seed),
                "--training.optimizer.learn_rate.initial_rate", str(teacher_lr), _precision(p),
            ], out / "model-last" / "meta.json")  # fmt: skip
            meta = srsly.read_json(out / "model-last" / "meta.json")
            _keep_wall(out, wall)
            results["teachers"][f"{p}/seed{seed}"] = {
                "en_dev_f1": 100 * meta["performance"]["ents_f"],
                "wall_seconds": round(_wall(out)),
            }
    text = work / "en-text.spacy"
    run_unless_done(PY + ["convert", str(en_train), str(text), "--lang", "en", "--unlabeled",
               "--skip-sents", str(source_sents), "--max-sents", str(text_sents)], text)  # fmt: skip
    teacher = work / "teacher-fp32-s0" / "model-last"
    probs = work / "probs-en"
    run_unless_done(PY + ["annotate", str(teacher), str(text), str(probs), "--overwrite"], probs / "index.json")  # fmt: skip
    for p in PRECISIONS:
        out = work / f"student-{p}"
        wall = run_unless_done(PY + ["distill", "configs/student.cfg", "--output", str(out), "--nlp.lang", "en",
                          "--paths.teacher_probs", str(probs), _precision(p)],
                    out / "model-last" / "meta.json")  # fmt: skip
        _keep_wall(out, wall)
        scores = out / "en-dev.json"
        run_unless_done(PY + ["evaluate", str(out / "model-last"), "corpus/en/dev.spacy", "--output", str(scores)], scores)  # fmt: skip
        meta = srsly.read_json(out / "model-last" / "meta.json")
        results["students"][p] = {
            "en_dev_f1": _f1(srsly.read_json(scores)),
            "monitor": meta["tskd"]["heldout_monitor"],
            "wall_seconds": round(_wall(out)),
        }
    t = results["teachers"]
    for p in PRECISIONS:
        results[f"teacher_mean_{p}"] = sum(t[f"{p}/seed{s}"]["en_dev_f1"] for s in range(seeds)) / seeds  # fmt: skip
    results["teacher_bf16_minus_fp32"] = results["teacher_mean_bf16"] - results["teacher_mean_fp32"]
    s = results["students"]
    results["student_bf16_minus_fp32"] = s["bf16"]["en_dev_f1"] - s["fp32"]["en_dev_f1"]
    record = {"command": "python -m scripts.precision_choice " + " ".join(sys.argv[1:]),
              "date": time.strftime("%Y-%m-%d"), "code": git_commit(),
              "wall_seconds": round(time.time() - start), "machine": machine(), **results}  # fmt: skip
    srsly.write_json(output, record)
    typer.echo(json.dumps(results, indent=2))


def _f1(scores: Dict[str, Any]) -> float:
    value = scores.get("ents_f", scores.get("f1"))
    return 100 * value if value <= 1 else value


def _keep_wall(out: Path, wall: float) -> None:
    if wall:
        srsly.write_json(out / "wall.json", {"wall_seconds": wall})


def _wall(out: Path) -> float:
    path = out / "wall.json"
    return srsly.read_json(path)["wall_seconds"] if path.exists() else 0.0


if __name__ == "__main__":
    typer.run(main)

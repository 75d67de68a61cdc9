"""The measurement behind the student's loss and epochs (docs/defaults.md), English only.

    python -m scripts.loss_choice docs/perf/loss_choice.json [--work DIR]
        [--teacher PIPELINE --text DOCBIN]

English stands in for the target: a teacher trained on the demo's English sentences
(project.yml ``source_sents``; ``--teacher`` reuses one) annotates *other* English
train sentences read as unlabeled text (``--text`` reuses a DocBin), and a student is
distilled from those probabilities with each loss (``mse``, the paper's; ``soft_ce``;
``hard``, the HL ablation; ``kl`` at a temperature, ``kl:2``) and each ``--schedules``
batch size and learning rate (empty: configs/student.cfg's), for ``--seeds`` seeds,
``--epochs`` epochs. After every epoch the student is scored on the English dev set and
by the no-gold monitor (agreement with the teacher on held-out text), so the cell
"epoch e" is the student after e epochs of an ``--epochs``-epoch schedule (one
warm-up and linear decay over all of them). No target-language data is read.

Each finished run is kept (``--work``) and the result file is rewritten after every
run, so a stopped measurement resumes and its partial result can be committed.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import srsly
import typer

from scripts.record_run import run_unless_done, write_result

PY = [sys.executable, "-m", "spacy_tskd"]


def loss_overrides(loss: str) -> List[str]:
    """``kl:T`` -> the kl loss at temperature T; any other name as it is."""
    name, _, temperature = loss.partition(":")
    args = ["--components.tskd_ner.distill_loss", name]
    if name == "kl":
        args += ["--components.tskd_ner.distill_temperature", temperature or "1.0"]
    return args


def schedule_overrides(schedule: str) -> List[str]:
    """``BATCH/LR`` -> the student's batch size and initial learning rate; ``""`` -> none."""
    if not schedule:
        return []
    batch, _, lr = schedule.partition("/")
    if not (batch.isdigit() and lr):
        raise typer.BadParameter(f"--schedules: {schedule!r} is not BATCH/LR, e.g. 8/1e-4")
    rate = "--distillation.optimizer.learn_rate.initial_rate"
    return ["--distillation.batch_size", batch, rate, lr]


def epoch_scores(meta: Dict[str, Any]) -> List[Dict[str, float]]:
    """Per epoch of a student's meta: English dev F1 (%) and monitor agreement."""
    rows = [r for r in meta["tskd"]["log"] if "dev_ents_f" in r]
    return [{"epoch": r["epoch"] + 1, "en_dev_f1": 100 * r["dev_ents_f"],
             "agreement": r["monitor"]["agreement"]} for r in rows]  # fmt: skip


def summarise(runs: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """Mean and sd over seeds per (loss, epoch); the best by mean English dev F1."""
    cells: Dict[str, Dict[str, Any]] = {}
    for run in runs.values():
        for e in run["epochs"]:
            cell = cells.setdefault(f"{run['loss']}/epoch{e['epoch']}",
                                    {"loss": run["loss"], "epochs": e["epoch"], "f1": [], "agreement": []})  # fmt: skip
            cell["f1"].append(e["en_dev_f1"])
            cell["agreement"].append(e["agreement"])
    for cell in cells.values():
        f1 = cell["f1"]
        cell["n"] = len(f1)
        cell["mean_f1"] = statistics.mean(f1)
        cell["sd_f1"] = statistics.stdev(f1) if len(f1) > 1 else None
        cell["mean_agreement"] = statistics.mean(cell["agreement"])
    full = [c for c in cells.values() if c["n"] == max(c["n"] for c in cells.values())]
    best = max(full, key=lambda c: c["mean_f1"]) if full else None
    return {
        "cells": cells,
        "best": None if best is None else f"{best['loss']}/epoch{best['epochs']}",
    }


def main(
    output: Path = typer.Argument(..., help="Result JSON (docs/perf/loss_choice.json)."),
    work: Path = typer.Option(Path("training/loss"), "--work", help="Run directory."),
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="An English teacher."),
    text: Optional[Path] = typer.Option(None, "--text", help="English unlabeled DocBin."),
    en_train: Path = typer.Option(Path("../shared/data/conll/en/train.txt"), "--en-train"),
    en_dev: Path = typer.Option(Path("corpus/en/dev.spacy"), "--en-dev"),
    losses: str = typer.Option("mse,soft_ce,hard,kl:2", "--losses"),
    seeds: int = typer.Option(3, "--seeds"),
    epochs: int = typer.Option(3, "--epochs"),
    source_sents: int = typer.Option(1000, "--source-sents"),
    teacher_epochs: int = typer.Option(4, "--teacher-epochs"),
    teacher_lr: float = typer.Option(5e-4, "--teacher-lr"),
    text_sents: int = typer.Option(2000, "--text-sents", help="English unlabeled docs."),
    schedules: str = typer.Option("", "--schedules", help="BATCH/LR,... e.g. 8/1e-4,32/4e-4."),
) -> None:
    from scripts.record_run import git_commit, machine

    work.mkdir(parents=True, exist_ok=True)
    if teacher is None:
        out = work / "teacher"
        run_unless_done(PY + ["train-teacher", "configs/teacher.cfg", "--output", str(out), "--nlp.lang", "en",
                   "--paths.train", "corpus/en/train.spacy", "--paths.dev", str(en_dev),
                   "--training.max_epochs", str(teacher_epochs),
                   "--training.optimizer.learn_rate.initial_rate", str(teacher_lr)],
             out / "model-last" / "meta.json")  # fmt: skip
        teacher = out / "model-last"
    if text is None:
        text = work / "en-text.spacy"
        run_unless_done(PY + ["convert", str(en_train), str(text), "--lang", "en", "--unlabeled",
                   "--skip-sents", str(source_sents), "--max-sents", str(text_sents)], text)  # fmt: skip
    teacher_dev = work / "teacher-en-dev.json"  # the teacher on the students' dev set
    run_unless_done(PY + ["evaluate", str(teacher), str(en_dev), "--output", str(teacher_dev)], teacher_dev)  # fmt: skip
    probs = work / "probs-en"
    run_unless_done(PY + ["annotate", str(teacher), str(text), str(probs), "--overwrite"], probs / "index.json")  # fmt: skip
    record: Dict[str, Any] = {
        "command": "python -m scripts.loss_choice " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"), "machine": machine(),
        "teacher": str(teacher), "teacher_en_dev_f1": 100 * srsly.read_json(teacher_dev)["ents_f"],
        "text": str(text), "epochs": epochs, "seeds": seeds, "runs": {},
    }  # fmt: skip
    for seed in range(seeds):  # seed-major: a partial result has every loss
        for loss, schedule in [(a, b) for a in losses.split(",") for b in schedules.split(",")]:
            name = f"{loss}, batch {schedule.replace('/', ', lr ')}" if schedule else loss
            tail = "-b" + schedule.replace("/", "-lr") if schedule else ""
            out = work / f"student-{loss.replace(':', '-t')}-s{seed}{tail}"
            wall = run_unless_done(PY + ["distill", "configs/student.cfg", "--output", str(out), "--nlp.lang", "en",
                              "--paths.teacher_probs", str(probs), "--paths.dev", str(en_dev),
                              "--distillation.max_epochs", str(epochs), "--system.seed", str(seed),
                              *loss_overrides(loss), *schedule_overrides(schedule)], out / "model-last" / "meta.json")  # fmt: skip
            if wall:
                srsly.write_json(out / "wall.json", {"wall_seconds": wall})
            meta = srsly.read_json(out / "model-last" / "meta.json")
            record["runs"][f"{name}/seed{seed}"] = {
                "loss": name, "seed": seed, "epochs": epoch_scores(meta),
                "wall_seconds": round(srsly.read_json(out / "wall.json")["wall_seconds"]),
            }  # fmt: skip
            wall_all = sum(r["wall_seconds"] for r in record["runs"].values())
            record.update(summarise(record["runs"]), code=git_commit(), wall_seconds=wall_all)
            write_result(output, record)
    typer.echo(f"{output}: best {record['best']}")


if __name__ == "__main__":
    typer.run(main)

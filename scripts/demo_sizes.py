"""The demo's source size (project.yml ``source_sents``), chosen on English data only.

    python -m scripts.demo_sizes docs/perf/demo_teacher_size.json [--work DIR]

The demo's teacher (configs/teacher.cfg with project.yml's ``teacher_epochs`` and
``teacher_lr``) on the first N English training sentences, for each N of ``--sizes`` and
each seed, scored on the whole English dev set (the teacher's own dev slice, the
first ``--dev-sents`` sentences, is what training reports). Each run's wall time is
recorded, since the demo's time budget, not the F1, bounds N. No target-language data
is read. A finished run is not repeated (delete ``--work`` to start over).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import srsly
import typer

from scripts.record_run import git_commit, machine, run_unless_done, write_result

PY = [sys.executable, "-m", "spacy_tskd"]


def main(
    output: Path = typer.Argument(..., help="Result JSON (docs/perf/demo_teacher_size.json)."),
    work: Path = typer.Option(Path("training/demo-sizes"), "--work", help="Run directory."),
    data: Path = typer.Option(Path("../shared/data/conll/en"), "--data", help="CoNLL en/."),
    sizes: str = typer.Option("1000,2000", "--sizes", help="Source sentences to compare."),
    seeds: int = typer.Option(3, "--seeds", help="Teacher seeds per size."),
    dev_sents: int = typer.Option(200, "--dev-sents", help="project.yml dev_sents."),
    teacher_epochs: int = typer.Option(4, "--teacher-epochs"),
    teacher_lr: float = typer.Option(5e-4, "--teacher-lr"),
) -> None:
    start = time.time()
    work.mkdir(parents=True, exist_ok=True)
    dev, dev_full = work / "dev.spacy", work / "dev-full.spacy"
    run_unless_done(PY + ["convert", str(data / "dev.txt"), str(dev), "--lang", "en",
                          "--max-sents", str(dev_sents)], dev)  # fmt: skip
    run_unless_done(
        PY + ["convert", str(data / "dev.txt"), str(dev_full), "--lang", "en"], dev_full
    )
    cells: Dict[str, Any] = {}
    for n in [int(s) for s in sizes.split(",")]:
        train = work / f"train-{n}.spacy"
        run_unless_done(PY + ["convert", str(data / "train.txt"), str(train), "--lang", "en",
                              "--max-sents", str(n)], train)  # fmt: skip
        runs: List[Dict[str, Any]] = []
        for seed in range(seeds):
            out = work / f"teacher-{n}-s{seed}"
            wall = run_unless_done(PY + [
                "train-teacher", "configs/teacher.cfg", "--output", str(out), "--nlp.lang", "en",
                "--paths.train", str(train), "--paths.dev", str(dev),
                "--training.max_epochs", str(teacher_epochs), "--system.seed", str(seed),
                "--training.optimizer.learn_rate.initial_rate", str(teacher_lr),
            ], out / "model-last" / "meta.json")  # fmt: skip
            if wall:
                srsly.write_json(out / "wall.json", {"wall_seconds": wall})
            scores = out / "en-dev-full.json"
            run_unless_done(PY + ["evaluate", str(out / "model-last"), str(dev_full),
                                  "--output", str(scores)], scores)  # fmt: skip
            runs.append({"seed": seed,
                         "en_dev_f1": round(100 * srsly.read_json(scores)["ents_f"], 2),
                         "wall_seconds": round(srsly.read_json(out / "wall.json")["wall_seconds"])})  # fmt: skip
        f1 = [r["en_dev_f1"] for r in runs]
        cells[str(n)] = {"source_sents": n, "runs": runs, "mean_f1": round(statistics.mean(f1), 2),
                         "sd_f1": round(statistics.stdev(f1), 2) if len(f1) > 1 else None,
                         "mean_wall_seconds": round(statistics.mean(r["wall_seconds"] for r in runs))}  # fmt: skip
    record = {
        "command": "python -m scripts.demo_sizes " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"), "code": git_commit(), "machine": machine(),
        "wall_seconds": round(time.time() - start), "teacher_epochs": teacher_epochs,
        "teacher_lr": teacher_lr, "scored_on": "the whole CoNLL English dev set", "cells": cells,
    }  # fmt: skip
    write_result(output, record)
    typer.echo(
        json.dumps(
            {n: (c["mean_f1"], c["sd_f1"], c["mean_wall_seconds"]) for n, c in cells.items()}
        )
    )


if __name__ == "__main__":
    typer.run(main)

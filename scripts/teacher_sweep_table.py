"""The teacher-recipe sweep as a Markdown table (docs/results.md, "Teacher recipe").

Reads what scripts/teacher_sweep.sh wrote: ``training/sweep/teacher-eE-lrLR/wall.json``
(training seconds) and ``metrics/sweep/teacher-eE-lrLR-SPLIT-DECODE.json`` (entity F1
of the teacher's stored probabilities). The recipe is chosen on English dev only (the
``--decode`` column); the target columns are reported, never used to choose.

    python scripts/teacher_sweep_table.py --decode viterbi
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

SPLITS = ("en-dev", "en-test", "es-test", "nl-test", "de-test")
NAME = re.compile(r"teacher-e(\d+)-lr([0-9.e-]+)$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decode", default="viterbi", choices=("argmax", "viterbi"))
    parser.add_argument("--runs", type=Path, default=Path("training/sweep"))
    parser.add_argument("--metrics", type=Path, default=Path("metrics/sweep"))
    args = parser.parse_args()
    rows = []
    for run in sorted(args.runs.glob("teacher-e*")):
        match = NAME.match(run.name)
        if not match or not (run / "wall.json").exists():
            continue
        scores = {}
        for split in SPLITS:
            path = args.metrics / f"{run.name}-{split}-{args.decode}.json"
            if path.exists():
                scores[split] = 100 * json.loads(path.read_text())["ents_f"]
        wall = json.loads((run / "wall.json").read_text())["train_seconds"]
        rows.append((int(match.group(1)), float(match.group(2)), scores, wall))
    rows.sort(key=lambda r: (r[0], r[1]))
    best = max((r for r in rows if "en-dev" in r[2]), key=lambda r: r[2]["en-dev"], default=None)
    print(f"| epochs | lr | {' | '.join(SPLITS)} | train s |")
    print("|---|---|" + "---|" * len(SPLITS) + "---|")
    for epochs, lr, scores, wall in rows:
        cells = [f"{scores[s]:.2f}" if s in scores else "–" for s in SPLITS]
        if best is not None and (epochs, lr) == best[:2]:
            cells[0] = f"**{cells[0]}**"
        print(f"| {epochs} | {lr:g} | {' | '.join(cells)} | {wall} |")


if __name__ == "__main__":
    main()

"""The rows of docs/results.md "Beyond the paper" from scripts/options_full.sh's runs.

For every OUT/TARGET/OPTION/round-R that has both decoders' scores
(round-R/scores-{argmax,viterbi}.json, from the student's stored test probabilities),
one Markdown row: F1 argmax and viterbi, per type (viterbi), and the round's step
times read from the run's log (OUT/TARGET/OPTION/log.txt, the "[done] round R: ..."
lines of `rounds`; a step that was skipped because an earlier run made it has no time).

Then, for every option run with several student seeds (OPTION and OPTION-seedN), one
row per target and round: mean ± sample sd of both decoders' F1 over the seeds.

usage: python scripts/options_table.py [OUT]   (default training/full/options-t3)
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from scripts.study.report_format import format_cell

DONE = re.compile(r"\[done\] round (\d+): (\w+).* in ([\d.]+) s")
TYPES = ("LOC", "MISC", "ORG", "PER")


def step_times(log: Path) -> dict:
    """{(round, step): seconds} of the last run that did each step."""
    times: dict = {}
    if log.exists():
        for match in DONE.finditer(log.read_text(encoding="utf8", errors="replace")):
            times[(int(match[1]), match[2])] = float(match[3])
    return times


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "training/full/options-t3")
    print("| target | option | round | F1 argmax | F1 viterbi | LOC / MISC / ORG / PER | "
          "CPU cost (s): annotate / denoise / student |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    seeds: dict = defaultdict(list)  # (target, option, round) -> [{decoder: F1}]
    for round_dir in sorted(out.glob("*/*/round-*")):
        scores = {d: round_dir / f"scores-{d}.json" for d in ("argmax", "viterbi")}
        if not all(p.exists() for p in scores.values()):
            continue
        f1 = {d: json.loads(p.read_text())["ents_f"] * 100 for d, p in scores.items()}
        per_type = json.loads(scores["viterbi"].read_text())["ents_per_type"]
        types = " / ".join(f"{per_type[t]['f'] * 100:.1f}" for t in TYPES if t in per_type)
        r = int(round_dir.name.split("-")[1])
        times = step_times(round_dir.parent / "log.txt")
        cost = " / ".join(
            f"{times[(r, step)]:,.0f}" if (r, step) in times else "–"
            for step in ("annotate", "denoise", "student")
        )
        target, option = round_dir.parent.parent.name, round_dir.parent.name
        print(f"| {target} | {option} | {r} | {f1['argmax']:.2f} | {f1['viterbi']:.2f} | "
              f"{types} | {cost} |")  # fmt: skip
        seeds[(target, re.sub(r"-seed\d+$", "", option), r)].append(f1)
    print(
        "\n| target | option | round | seeds | F1 argmax | F1 viterbi |\n|---|---|---|---|---|---|"
    )
    for (target, option, r), runs in sorted(seeds.items()):
        if len(runs) > 1:
            cells = " | ".join(
                format_cell([run[d] for run in runs], show_n=False) for d in ("argmax", "viterbi")
            )
            print(f"| {target} | {option} | {r} | {len(runs)} | {cells} |")


if __name__ == "__main__":
    main()

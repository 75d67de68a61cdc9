"""README's results table, read from the committed result files.

    python scripts/readme_table.py            # print the table
    python scripts/readme_table.py --write    # replace the table in README.md
    python scripts/readme_table.py --check    # exit 1 if README.md's table differs

Demo rows read docs/perf/*.json (written by scripts/record_run.py); full-data rows read
the study's result files (results/study/*.json, written by `python -m scripts.study
reproduce`). tests/test_project.py runs --check.
"""

import json
import sys
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file
from scripts.record_run import ran_bf16  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
STUDY = "results/study"
TARGETS = ("es", "nl", "de")
HEADER = ["| run | test set | MT | TS | details |", "|---|---|---|---|---|"]


def _read(path: str) -> Dict:
    return json.loads((ROOT / path).read_text(encoding="utf8"))


def _f1(scores: Dict) -> str:
    return f"{100 * scores['ents_f']:.2f}"


def _when(record: Dict) -> str:
    cores = record["machine"].get("cores")
    device = record["machine"].get("gpu") or (
        f"{cores} CPU cores" if cores else record["machine"]["cpu"]
    )
    bf16 = ran_bf16(record)
    return f"{record['date']}, {record['wall_seconds']:,} s on {device}, {'bfloat16' if bf16 else 'float32'}"


# (result file, run, MT cell, TS cell): cells are format strings over the file's scores
DEMOS = (
    ("docs/perf/all-demo-en-es-seed0.json", "`spacy project run all`", "{MT}", "**{TS}**"),
    ("docs/perf/all-demo-en-es-seed1.json", "the same, `--vars.seed 1`", "{MT}", "**{TS}**"),
    ("docs/perf/all-hard-en-es-3ep.json", "`all` with 1,000 source sentences (the size then) and configs/student.cfg's 3 student epochs "
     "(`--vars.student_epochs 3`)", "{MT}", "**{TS}**"),
    ("docs/perf/rounds-en-es.json", "`spacy project run rounds`: round 1 of self-distillation",
     "–", "**{round-1}** (round 0: {round-0})"),
    ("docs/perf/multi-es.json", "`spacy project run multi`, uniform α",
     "{MT-avg}", "**{TS-avg}** (sim: {TS-sim})"),
)  # fmt: skip


def demo_rows() -> List[str]:
    rows = []
    for path, run, mt, ts in DEMOS:
        if not (ROOT / path).is_file():
            continue
        rec = _read(path)
        f1 = {name: _f1(scores) for name, scores in rec["scores"].items()}
        cells = [c.replace("{", "{0[").replace("}", "]}").format(f1) for c in (mt, ts)]
        rows.append(
            f"| {run} ({_when(rec)}) | es, first 500 sentences | {cells[0]} | {cells[1]} "
            f"| [{path}]({path}) |"
        )
    return rows


def study_rows() -> List[str]:
    def cells(name: str) -> List[str]:
        return [_f1(_read(f"{STUDY}/{name.format(t=t)}")["scores"]) for t in TARGETS]

    def bold(mt: List[str], ts: List[str]) -> str:
        return " / ".join(f"**{b}**" if float(b) > float(a) else b for a, b in zip(mt, ts))

    rows = []
    link = f"[docs/results.md](docs/results.md), [{STUDY}/]({STUDY}/)"
    mt, ts = cells("single-MT-en-{t}-seed0.json"), cells("single-TS-en-{t}-seed0.json")
    rows.append(
        f"| full data, en → {' / '.join(TARGETS)} (the study, seed 0, argmax) | full test sets "
        f"| {' / '.join(mt)} | {bold(mt, ts)} | {link} |"
    )
    sources = {"es": "de+en+nl", "nl": "de+en+es", "de": "en+es+nl"}
    mt = [
        _f1(_read(f"{STUDY}/multi-MT-avg-{sources[t]}-{t}-seed0.json")["scores"]) for t in TARGETS
    ]
    ts = [
        _f1(_read(f"{STUDY}/multi-TS-avg-{sources[t]}-{t}-seed0.json")["scores"]) for t in TARGETS
    ]
    rows.append(
        "| full data, multi-source: the other three languages → "
        f"{' / '.join(TARGETS)}, α uniform (the study, seed 0, argmax) | full test sets "
        f"| {' / '.join(mt)} (MT-avg) | {bold(mt, ts)} | {link} |"
    )
    return rows


def table() -> List[str]:
    return HEADER + demo_rows() + study_rows()


def readme_table(text: str) -> List[str]:
    """The table that starts with HEADER in README's text."""
    lines = text.splitlines()
    start = lines.index(HEADER[0])
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return lines[start:end]


def main(argv: List[str]) -> int:
    text = README.read_text(encoding="utf8")
    new = table()
    if "--check" in argv:
        old = readme_table(text)
        if old != new:
            print("README.md's results table differs from the result files; run "
                  "python scripts/readme_table.py --write", file=sys.stderr)  # fmt: skip
            return 1
        return 0
    if "--write" in argv:
        old = readme_table(text)
        README.write_text(text.replace("\n".join(old), "\n".join(new)), encoding="utf8")
        return 0
    print("\n".join(new))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

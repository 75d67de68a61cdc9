"""A small F1 table over the evaluation JSON files of a run (``metrics/*.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..util import PathLike, atomic_write_text


def collect_scores(metrics_dir: PathLike) -> List[Dict]:
    """Every scores JSON written by ``evaluate --output`` under ``metrics_dir``."""
    rows = []
    for path in sorted(Path(metrics_dir).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf8"))
        if "ents_f" in data:
            data.setdefault("system", path.stem)
            data["file"] = path.name
            rows.append(data)
    return rows


def markdown_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The one Markdown table writer of the project (run tables, study tables, report)."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def format_table(rows: List[Dict]) -> str:
    """Markdown table: system, data, docs, P, R, F1 and per-type F1."""
    types = sorted({t for r in rows for t in r.get("ents_per_type", {})})
    head = ["system", "evaluated on", "docs", "decode", "P", "R", "F1"] + [f"F1 {t}" for t in types]
    cells = []
    for r in rows:
        per = r.get("ents_per_type", {})
        cells.append(
            [
                r["system"],
                str(r.get("data", "")),
                str(r.get("n_docs", "")),
                str(r.get("decode", "–")),
                f"{100 * r['ents_p']:.2f}",
                f"{100 * r['ents_r']:.2f}",
                f"**{100 * r['ents_f']:.2f}**",
            ]
            + [f"{100 * per[t]['f']:.2f}" if t in per else "–" for t in types]
        )
    return markdown_table(head, cells)


def summarize(*, metrics_dir: PathLike, output: Optional[PathLike] = None) -> str:
    """Format the table of ``metrics_dir``; also write it to ``output`` if given."""
    rows = collect_scores(metrics_dir)
    if not rows:
        raise ValueError(
            f"No scores (*.json with ents_f) in {metrics_dir}: run the evaluate steps."
        )
    table = format_table(rows)
    if output is not None:
        atomic_write_text(output, table + "\n")
    return table

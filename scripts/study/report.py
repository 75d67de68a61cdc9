"""The results report: Markdown tables laid out like the paper's, plus bar charts.

Reads every result JSON (``format: spacy-tskd-result/1``, one per experiment and
seed) under one or more folders, averages over seeds and writes one Markdown file
that says which command made it, with PNG charts beside it. The sections are built in
``report_tables.py`` (F1 tables) and ``report_records.py`` (records of the runs).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

from spacy_tskd.util import PathLike, atomic_write_bytes, atomic_write_text

from .paper import DEVIATIONS, NO_PAPER, PAPER_MBERT, PAPER_SOURCE, TABLES  # noqa: F401 (PAPER_MBERT: re-exported)
from .report_claims import claims_section
from .report_records import all_results_section, recipe_section, weights_section
from .report_tables import decoders_section, fig5_section, table_section
from .results import RESULT_FORMAT, TARGETS, load_results


def loss_choice_section(path: Path, output: Path) -> list:
    """The student's loss × epochs on English (the plugin's default student's choice)."""
    import json

    from scripts.perf_tables import loss_choice_table

    data = json.loads(path.read_text(encoding="utf8"))
    link = Path(os.path.relpath(path, output.parent)).as_posix()
    return [
        "## The student's loss and epochs, chosen on English",
        "",
        "The study's TS rows use the paper's student (MSE, 1 epoch). The plugin's default "
        "student (configs/student.cfg) is the best mean English dev F1 below: English text "
        "read as unlabeled stands in for the target, so no target label chooses it. Cells: "
        f"English dev F1, mean ± sd (n seeds), best in bold. File: [{path.name}]({link}), "
        f"with the teacher, the text and the command (`{data['command']}`).",
        "",
        loss_choice_table(data),
        "",
    ]


def write_report(
    *,
    results_dir: Union[PathLike, Sequence[PathLike]],
    output: PathLike,
    plots_dir: Optional[PathLike] = None,
    command: Optional[str] = None,
    made_by: Sequence[str] = (),
    loss_choice: Optional[PathLike] = None,
) -> str:
    """Write the Markdown report of every result under ``results_dir``, with plots.

    results_dir (Union[PathLike, Sequence[PathLike]]): Folder(s) searched recursively
        for result ``*.json``. Results of different teacher recipes are separate rows.
    output (PathLike): The Markdown file to write.
    plots_dir (Optional[PathLike]): Where the PNGs go (default: ``output``'s folder).
    command (Optional[str]): The command shown at the top (default: the CLI line).
    made_by (Sequence[str]): Commands that produced the results, shown above it.
    loss_choice (Optional[PathLike]): A ``scripts/loss_choice.py`` result: the section
        on how the student's loss and epochs were chosen on English.
    RETURNS (str): The Markdown text.
    """
    dirs = [results_dir] if isinstance(results_dir, (str, Path)) else list(results_dir)
    output = Path(output)
    plots = Path(plots_dir) if plots_dir is not None else output.parent
    if command is None:
        command = shlex.join(
            ["python", "-m", "scripts.study", "report", *map(str, dirs), "--output", str(output)]
            + (["--plots-dir", str(plots_dir)] if plots_dir is not None else [])
            + (["--loss-choice", str(loss_choice)] if loss_choice is not None else [])
        )
    command = "\n".join([*made_by, command])
    groups, n_files, skipped = load_results(dirs)
    pngs: Dict[str, bytes] = {}

    def figure(name: str, data: bytes) -> str:
        path = plots / f"{output.stem}-{name}.png"
        pngs[str(path)] = data
        return Path(os.path.relpath(path, output.parent)).as_posix()

    lines = [
        "# Cross-lingual NER results (spacy-tskd)",
        "",
        "Made by:",
        "",
        "```bash",
        command,
        "```",
        "",
        f"{n_files} result files read from "
        + ", ".join(f"`{d}`" for d in dirs)
        + (f" ({len(skipped)} other JSON files skipped: not {RESULT_FORMAT})." if skipped else "."),
        "",
        "Conventions: every cell is entity-level micro F1 in % (seqeval, conlleval mode) as "
        "`mean ± sd (n)` over n seeds, sd being the sample standard deviation (n − 1 in the "
        "denominator); with one seed there is no sd and the cell reads `mean ± – (1)`. "
        "`missing` means no result file exists for the cell: nothing is estimated. `avg` is "
        "the mean of the es, nl and de means, given only when all three exist. Single-source "
        "rows have en as the source; multi-source rows have the other three CoNLL languages "
        "as sources (leave one out). Results with other sources are listed under "
        '"All results" only. Results of different teacher recipes are separate rows, '
        "labelled with the recipe.",
        "",
        "The column **paper (mBERT)** quotes the F1 published by Wu et al. (ACL 2020) with "
        'multilingual BERT, **a different encoder** from the one used here (see "All '
        'results"): it is for orientation, not a like-for-like comparison. Values are '
        f"{' / '.join(TARGETS)}, taken from the authors' results tables ({PAPER_SOURCE}); "
        f"`{NO_PAPER}` marks rows whose paper numbers were not at hand.",
        "",
    ]
    lines += claims_section(groups)
    for spec in TABLES:
        lines += table_section(spec, groups, figure)
    lines += fig5_section(groups, figure)
    lines += weights_section(groups)
    lines += decoders_section(groups)
    lines += all_results_section(groups)
    lines += recipe_section(groups)
    if loss_choice is not None:
        lines += loss_choice_section(Path(loss_choice), output)
    lines += ["## Deviations from the paper", "", *(f"* {d}" for d in DEVIATIONS), ""]
    for path, data in pngs.items():
        atomic_write_bytes(path, data)
    text = "\n".join(lines).rstrip("\n") + "\n"
    atomic_write_text(output, text)
    return text

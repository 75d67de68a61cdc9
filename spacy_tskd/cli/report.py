"""``python -m spacy_tskd report RESULTS_DIR... --output docs/results.md``: the results report."""

from pathlib import Path
from typing import List, Optional

import typer

from ._app import app, command


@command(app, "report")
def report_cli(
    results_dir: List[Path] = typer.Argument(
        ...,
        help="Folders of result JSON files (searched recursively); results of different "
        "teacher recipes become separate rows.",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The Markdown report to write."),
    plots_dir: Optional[Path] = typer.Option(
        None, "--plots-dir", help="Where the PNG charts go (default: the output's folder)."
    ),
    made_by: Optional[List[str]] = typer.Option(
        None,
        "--made-by",
        help="A command that produced the results, shown at the top (repeatable).",
    ),
) -> None:
    """Write the Markdown report (paper-style tables, per-type F1, Fig. 5) with charts."""
    from wasabi import msg

    from ..experiments.report import write_report

    write_report(results_dir=results_dir, output=output, plots_dir=plots_dir, made_by=made_by or ())
    msg.good(f"Report written to {output}")

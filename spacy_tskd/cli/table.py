"""``python -m spacy_tskd table METRICS_DIR``: F1 per system of a run."""

from pathlib import Path
from typing import Optional

import typer

from ._app import app, command


@command(app, "table")
def table_cli(
    metrics_dir: Path = typer.Argument(..., help="Folder of evaluate --output JSON files"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write Markdown here"),
) -> None:
    """Print a Markdown table of F1 (overall and per type) for every evaluated system."""
    from ..evaluation.table import summarize

    typer.echo(summarize(metrics_dir=metrics_dir, output=output))

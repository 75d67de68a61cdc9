"""``python -m spacy_tskd package STUDENT OUTPUT_DIR --name NAME``: a wheel of the student."""

from pathlib import Path
from typing import Optional

import typer

from ._app import app, command


@command(app, "package")
def package_cli(
    student: Path = typer.Argument(..., help="Student pipeline (model-last)."),
    output_dir: Path = typer.Argument(..., help="Folder for the package (e.g. packages)."),
    name: str = typer.Option(..., "--name", "-n", help="Package name, e.g. tskd_en_es."),
    version: str = typer.Option("0.1.0", "--version", "-v", help="Package version."),
    scores: Optional[Path] = typer.Option(
        None, "--scores", help="The student's evaluate JSON (TS.json): meta's performance."
    ),
) -> None:
    """Build an installable wheel of a student with `spacy package`."""
    from wasabi import msg

    from ..package import package_student

    wheel = package_student(
        pipeline_path=student, output_dir=output_dir, name=name, version=version, scores=scores
    )
    msg.good(f"Wheel: {wheel}", f"pip install {wheel}")

"""``python -m spacy_tskd train-teacher``: spaCy's trainer with a data-sized schedule."""

from pathlib import Path
from typing import Optional

import typer

from ._app import app, command


@command(
    app,
    "train-teacher",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def train_teacher_cli(
    ctx: typer.Context,
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Teacher config"),
    output_path: Optional[Path] = typer.Option(None, "--output", "-o", help="Output directory"),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU"),
):
    """Train a source-language teacher (config overrides as in `spacy train`,
    e.g. --paths.train corpus/en/train.spacy --training.max_epochs 1)."""
    from spacy.cli._util import parse_config_overrides

    from ..training.teacher import train_teacher

    overrides = parse_config_overrides(ctx.args)
    train_teacher(
        config_path=config_path, output_path=output_path, overrides=overrides, gpu_id=gpu_id
    )

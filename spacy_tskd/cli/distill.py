"""``python -m spacy_tskd distill``: train a student on stored teacher probabilities."""

from pathlib import Path

import typer

from ._app import app, command


@command(
    app, "distill", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def distill_cli(
    ctx: typer.Context,
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Student config"),
    output_path: Path = typer.Option(..., "--output", "-o", help="Output directory"),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU"),
    resume: bool = typer.Option(
        False, "--resume", help="Continue a killed run from OUTPUT/checkpoint (same config)."
    ),
):
    """Distil teacher probabilities into a student (config overrides as in `spacy train`,
    e.g. --paths.teacher_probs training/probs/en-es --nlp.lang es; several directories,
    comma-separated, are mixed with --paths.weights or uniformly)."""
    from spacy.cli._util import parse_config_overrides

    from ..distill.loop import distill

    distill(
        config_path=config_path,
        output_path=output_path,
        overrides=parse_config_overrides(ctx.args),
        gpu_id=gpu_id,
        resume=resume,
    )

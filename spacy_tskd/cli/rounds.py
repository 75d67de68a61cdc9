"""``python -m spacy_tskd rounds TEACHER TARGET OUT_DIR``: multi-round self-distillation."""

import json
from pathlib import Path
from typing import Optional

import typer

from ._app import app, command


@command(app, "rounds", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def rounds_cli(
    ctx: typer.Context,
    teacher: str = typer.Argument(
        ..., help="The source teacher pipeline (round 0), or several comma-separated."
    ),
    target: Path = typer.Argument(..., help="Unlabeled target text (.spacy or .txt)."),
    out_dir: Path = typer.Argument(..., help="Folder for every round (resumable)."),
    student_config: Path = typer.Option(
        Path("configs/student.cfg"), "--student-config", help="The student config."
    ),
    config: Path = typer.Option(
        Path("configs/rounds.cfg"), "--config", "-c", help="Rounds config: the recipe."
    ),
    denoise_config: Path = typer.Option(
        Path("configs/denoise.cfg"), "--denoise-config", help="Denoise config (k, curve)."
    ),
    rounds: Optional[int] = typer.Option(None, "--rounds", help="Override the rounds."),
    denoise: Optional[bool] = typer.Option(
        None, "--denoise/--no-denoise", help="Override whether tokens are weighted."
    ),
    start: Optional[str] = typer.Option(None, "--start", help="Override: plain or previous."),
    alpha: Optional[str] = typer.Option(
        None, "--alpha", help="Round 0's α for several teachers: a weights.json (default: mean)."
    ),
    test: Optional[Path] = typer.Option(
        None, "--test", help="Gold DocBin: score every round's student on it (the record)."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
) -> None:
    """Round 0: the teacher's student; round r: the student of round r-1's student.
    Extra --section.key value options override the student config."""
    from spacy.cli._util import parse_config_overrides
    from wasabi import msg

    from ..distill.denoise import load_denoise_recipe
    from ..distill.rounds import load_rounds_recipe, run_rounds

    recipe = load_rounds_recipe(config, rounds=rounds, denoise=denoise, start=start)
    teachers = [Path(t) for t in teacher.split(",") if t]
    students = run_rounds(
        teacher_path=teachers[0] if len(teachers) == 1 else teachers,
        alpha=alpha,
        target_docs=target,
        out_dir=out_dir,
        student_config=student_config,
        denoise_recipe=load_denoise_recipe(denoise_config) if recipe["denoise"] else None,
        overrides=parse_config_overrides(ctx.args),
        test_docs=test,
        gpu_id=gpu_id,
        **recipe,
    )
    for r, path in enumerate(students):
        msg.good(f"round {r}: {path}")
    if test is not None:
        from ..evaluation.scorer import format_scores_table

        for r in range(len(students)):
            scores = json.loads((out_dir / f"round-{r}" / "scores.json").read_text("utf8"))
            typer.echo(f"round {r}")
            typer.echo(format_scores_table(scores))

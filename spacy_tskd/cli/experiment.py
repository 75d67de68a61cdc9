"""``python -m spacy_tskd experiment multi OUT_DIR``: the resumable multi-source study."""

from pathlib import Path

import typer

from ._app import app

experiment_app = typer.Typer(help="Resumable experiment runners.", no_args_is_help=True)
app.add_typer(experiment_app, name="experiment")


def _csv(value: str):
    return tuple(x.strip() for x in value.split(",") if x.strip())


@experiment_app.command("multi")
def multi_cli(
    out_dir: Path = typer.Argument(..., help="Folder for every output of the study"),
    data_dir: str = typer.Option("../shared/data", help="Folder with {conll}/{lang}/*.txt"),
    conll: str = typer.Option("conll", help="Sub-folder of data_dir: conll or conll_tsl"),
    encoder: str = typer.Option("assets/encoder", help="HF encoder directory or cached name"),
    languages: str = typer.Option("en,de,es,nl", help="All languages (teachers)"),
    targets: str = typer.Option("es,nl,de", help="Target languages (leave-one-out)"),
    schemes: str = typer.Option("avg,sim,cosine,l2", help="Student weighting schemes"),
    teacher_sents: int = typer.Option(
        1000, help="Labelled training sentences per teacher language; 0 = all"
    ),
    target_sents: int = typer.Option(
        500, help="Unlabeled sentences per target (its train split, gold dropped); 0 = all"
    ),
    test_sents: int = typer.Option(200, help="Test sentences per target; 0 = all"),
    dev_sents: int = typer.Option(100, help="Source dev sentences; 0 = all"),
    teacher_epochs: int = typer.Option(2),
    teacher_lr: float = typer.Option(3e-4),
    student_epochs: int = typer.Option(2),
    student_lr: float = typer.Option(1e-4),
    student_batch: int = typer.Option(8),
    seed: int = typer.Option(0),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g"),
):
    """Teachers for every language, weights, annotation, students (avg/sim/cosine/l2)
    and MT ensembles for every target; prints target x system F1. Resumes: finished
    outputs are skipped."""
    from ..experiments.runner import Settings, run_multi

    settings = Settings(
        data_dir=data_dir,
        conll=conll,
        encoder=encoder,
        languages=_csv(languages),
        targets=_csv(targets),
        schemes=_csv(schemes),
        teacher_sents=teacher_sents,
        target_sents=target_sents,
        test_sents=test_sents,
        dev_sents=dev_sents,
        teacher_epochs=teacher_epochs,
        teacher_lr=teacher_lr,
        student_epochs=student_epochs,
        student_lr=student_lr,
        student_batch=student_batch,
        seed=seed,
        gpu_id=gpu_id,
    )
    try:
        table = run_multi(out_dir=out_dir, settings=settings)
    except (ValueError, FileNotFoundError) as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(table)

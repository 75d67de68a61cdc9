"""``python -m scripts.study reproduce|report``: the paper's study (one resumable runner,
optionally on Ray) and its report. Run from the project root."""

from pathlib import Path
from typing import List, Optional

import typer

from spacy_tskd.cli._app import command, make_app

FROM_CONFIG = "Default: the value in configs/teacher.cfg or configs/student.cfg."
app = make_app("scripts.study", "The paper's study: the resumable runner and the report.")


def _csv(value: str):
    return tuple(x.strip() for x in value.split(",") if x.strip())


def _ints(value: str, option: str):
    try:
        return tuple(int(x) for x in _csv(value))
    except ValueError:
        raise ValueError(f"{option} takes integers separated by commas, got {value!r}.") from None


@command(app, "reproduce")
def reproduce_cli(
    out_dir: Path = typer.Argument(..., help="Folder for the study's artifacts (resumable)"),
    results: Optional[Path] = typer.Option(
        None,
        "--results",
        help="Folder for one result JSON per run (default: OUT_DIR/results, "
        "ignored by git; copy them to results/study to commit them)",
    ),  # fmt: skip
    seeds: str = typer.Option("0", help="Seeds, e.g. 0,1,2 (the default: one seed)"),
    only: str = typer.Option("all", help="all, single or multi"),
    systems: str = typer.Option(
        "all", help="Systems to run, e.g. TS,MT-avg (MT, TS, HL, MT-avg, ..., TS-l2) or all"
    ),
    targets: str = typer.Option("es,nl,de", help="Target languages"),
    data_dir: str = typer.Option("../shared/data", help="Folder with {conll}/{lang}/*.txt"),
    conll: str = typer.Option("conll", help="Sub-folder of data_dir: conll or conll_tsl"),
    encoder: str = typer.Option("assets/encoder", help="HF encoder directory or cached name"),
    languages: str = typer.Option("en,de,es,nl", help="All languages (one teacher each)"),
    single_source: str = typer.Option("en", help="Source language of the single-source runs"),
    teacher_sents: int = typer.Option(0, help="Labelled sentences per teacher; 0 = all"),
    target_sents: int = typer.Option(0, help="Unlabeled sentences per target; 0 = all"),
    test_sents: int = typer.Option(0, help="Test sentences per target; 0 = all"),
    dev_sents: int = typer.Option(0, help="Source dev sentences; 0 = all"),
    teacher_epochs: Optional[int] = typer.Option(None, help=FROM_CONFIG),
    teacher_lr: Optional[float] = typer.Option(None, help=FROM_CONFIG),
    student_epochs: int = typer.Option(1, help="Student epochs (the paper's study: 1)"),
    student_loss: str = typer.Option("mse", help="TS's loss (the paper's: mse); HL: hard"),
    student_lr: Optional[float] = typer.Option(None, help=FROM_CONFIG),
    student_batch: Optional[int] = typer.Option(None, help=FROM_CONFIG),
    decode: Optional[str] = typer.Option(
        None, help="argmax (the paper) or viterbi, for every system. " + FROM_CONFIG
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g"),
    ray: Optional[str] = typer.Option(
        None, "--ray", help="Run independent cells as Ray tasks: auto, an address or local."
    ),
    ray_cpus: float = typer.Option(1.0, "--ray-cpus", help="Ray: CPUs per task."),
    ray_gpus: float = typer.Option(0.0, "--ray-gpus", help="Ray: GPUs per task."),
):
    """The paper study: single-source MT/HL/TS (en -> es, nl, de) and multi-source
    MT-avg/MT-sim/TS-avg/TS-sim/TS-cosine/TS-l2 (leave-one-out), per seed, one
    result JSON each. Resumes: finished results and artifacts are skipped."""
    results = results or out_dir / "results"
    from scripts.study.reproduce import ReproduceSettings, run_reproduce

    settings = ReproduceSettings(
        data_dir=data_dir,
        conll=conll,
        encoder=encoder,
        languages=_csv(languages),
        single_source=single_source,
        targets=_csv(targets),
        seeds=_ints(seeds, "--seeds"),
        only=only,
        systems=() if systems == "all" else _csv(systems),
        teacher_sents=teacher_sents,
        target_sents=target_sents,
        test_sents=test_sents,
        dev_sents=dev_sents,
        teacher_epochs=teacher_epochs,
        teacher_lr=teacher_lr,
        student_epochs=student_epochs,
        student_loss=student_loss,
        student_lr=student_lr,
        student_batch=student_batch,
        decode=decode,
        gpu_id=gpu_id,
    )
    if ray is not None:
        from scripts.study.grid_ray import run_reproduce_on_ray

        report = run_reproduce_on_ray(
            address=ray, out_dir=out_dir, results_dir=results, settings=settings,
            cpus_per_task=ray_cpus, gpus_per_task=ray_gpus,
        )  # fmt: skip
        typer.echo(
            f"{len(report['done'])} results computed, {len(report['skipped'])} kept, "
            f"{len(report['failed'])} failed"
        )
        for name, error in report["failed"].items():
            typer.echo(f"failed: {name}: {error}")
        if report["failed"]:
            raise typer.Exit(code=1)
        return
    done = run_reproduce(out_dir=out_dir, results_dir=results, settings=settings)
    for r in done:
        typer.echo(
            f"{r['setting']:6} {r['system']:9} {'+'.join(r['sources']):>8} -> {r['target']} "
            f"seed {r['seed']}: F1 {100 * r['scores']['ents_f']:.2f}"
        )


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
    loss_choice: Optional[Path] = typer.Option(
        None, "--loss-choice", help="A scripts/loss_choice.py result: the student's recipe."
    ),
) -> None:
    """Write the Markdown report (paper-style tables, per-type F1, Fig. 5) with charts."""
    from wasabi import msg

    from scripts.study.report import write_report

    write_report(
        results_dir=results_dir, output=output, plots_dir=plots_dir, made_by=made_by or (),
        loss_choice=loss_choice,
    )  # fmt: skip
    msg.good(f"Report written to {output}")


if __name__ == "__main__":
    app()

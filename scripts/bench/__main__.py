"""``python -m scripts.bench distill|encoders|annotate``: speed benchmarks (CPU).

``bench distill`` exits with code 2 (after printing and writing the JSON) when
its correctness check fails; errors in the inputs exit with code 1.
"""

import time
from pathlib import Path
from typing import Optional

import typer

from spacy_tskd.cli._app import command, make_app

_START = time.time()

bench_app = make_app(
    "scripts.bench",
    "Speed benchmarks: distillation step vs a paper-style reference; teacher inference.",
)


# options shared by `bench distill` and `bench encoders` (one definition each)
ENCODER_OPTION = typer.Option(..., "--encoder", help="Local Hugging Face encoder directory.")
TEACHER_PROBS_OPTION = typer.Option(
    ..., "--teacher-probs", help="Teacher annotations (directory) written by `annotate`."
)
N_SENTS_OPTION = typer.Option(352, "--n-sents", "-n", help="Training sample: first N docs.")
BATCH_SIZE_OPTION = typer.Option(32, "--batch-size", "-b", help="Docs per step.")
STEPS_OPTION = typer.Option(10, "--steps", help="Timed steps per path.")
WARMUP_STEPS_OPTION = typer.Option(1, "--warmup-steps", help="Untimed steps before them.")
FROZEN_LAYERS_OPTION = typer.Option(3, "--frozen-layers", help="Frozen bottom layers.")
SEED_OPTION = typer.Option(0, "--seed", help="Batch order and torch seed.")
THREADS_OPTION = typer.Option(0, "--threads", help="torch threads (0: torch's default).")
JSON_PATH_OPTION = typer.Option(None, "--json", help="Write all numbers here.")


@command(bench_app, "distill")
def bench_distill_cli(
    encoder: Path = ENCODER_OPTION,
    teacher_probs: Path = TEACHER_PROBS_OPTION,
    n_sents: int = N_SENTS_OPTION,
    batch_size: int = BATCH_SIZE_OPTION,
    steps: int = STEPS_OPTION,
    warmup_steps: int = WARMUP_STEPS_OPTION,
    heldout: int = typer.Option(32, "--heldout", help="Held-out docs for the check."),
    learn_rate: float = typer.Option(1e-4, "--learn-rate", help="Constant learning rate."),
    max_length: int = typer.Option(128, "--max-length", help="Word pieces per sequence."),
    frozen_layers: int = FROZEN_LAYERS_OPTION,
    dropout: bool = typer.Option(
        True, "--dropout/--no-dropout", help="--no-dropout: deterministic, tighter check."
    ),
    tolerance: Optional[float] = typer.Option(
        None, "--tolerance", help="Relative held-out loss gap allowed (0.1; 0.02 no dropout)."
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Student config (default configs/student.cfg)."
    ),
    seed: int = SEED_OPTION,
    threads: int = THREADS_OPTION,
    json_path: Optional[Path] = JSON_PATH_OPTION,
) -> None:
    """Time the project's distillation step against a paper-style Hugging Face loop."""
    from wasabi import msg

    from scripts.bench.distill import bench_distill, format_distill_report

    results = bench_distill(
        encoder=encoder,
        teacher_probs=teacher_probs,
        n_sents=n_sents,
        batch_size=batch_size,
        steps=steps,
        warmup_steps=warmup_steps,
        heldout=heldout,
        learn_rate=learn_rate,
        max_length=max_length,
        frozen_layers=frozen_layers,
        dropout=dropout,
        tolerance=tolerance,
        config_path=config,
        seed=seed,
        threads=threads,
    )
    _print_setting(results["setting"])
    msg.table(
        format_distill_report(results),
        header=("", f"reference (HF, pad {max_length})", "project"),
        aligns=("l", "r", "r"),
    )
    check = results["check"]
    typer.echo(
        f"speed-up (project / reference): {results['speedup']:.2f}x  "
        f"(same {results['project']['sentences']} sentences, "
        f"{results['project']['words']} words)"
    )
    typer.echo(
        f"check: held-out MSE reference {check['final_loss_reference']:.6f}, project "
        f"{check['final_loss_project']:.6f}, gap {check['relative_difference']:.2%} "
        f"(tolerance {check['tolerance']:.0%}); before training max prob diff "
        f"{check['initial_max_prob_diff']:.1e}; reference max grad norm "
        f"{results['reference']['max_grad_norm']:.3g}"
    )
    _save(results, json_path)
    if not check["passed"]:
        for problem in check["problems"]:
            msg.fail(f"Correctness check FAILED: {problem}")
        raise typer.Exit(code=2)
    msg.good("Correctness check passed")


@command(bench_app, "encoders")
def bench_encoders_cli(
    encoder: Path = ENCODER_OPTION,
    teacher_probs: Path = TEACHER_PROBS_OPTION,
    n_sents: int = N_SENTS_OPTION,
    batch_size: int = BATCH_SIZE_OPTION,
    steps: int = STEPS_OPTION,
    warmup_steps: int = WARMUP_STEPS_OPTION,
    max_length: int = typer.Option(128, "--max-length", help="Word pieces per window."),
    frozen_layers: int = FROZEN_LAYERS_OPTION,
    spacy_ner: bool = typer.Option(
        True, "--spacy-ner/--no-spacy-ner", help="Also time spaCy's transformer + ner."
    ),
    seed: int = SEED_OPTION,
    threads: int = THREADS_OPTION,
    json_path: Optional[Path] = JSON_PATH_OPTION,
) -> None:
    """The student on spacy-transformers and spaCy's own transformer + ner, timed on the
    same batches."""
    from wasabi import msg

    from scripts.bench.encoders import bench_encoders, format_encoders_report

    results = bench_encoders(
        encoder=encoder,
        teacher_probs=teacher_probs,
        n_sents=n_sents,
        batch_size=batch_size,
        steps=steps,
        warmup_steps=warmup_steps,
        max_length=max_length,
        frozen_layers=frozen_layers,
        spacy_ner=spacy_ner,
        seed=seed,
        threads=threads,
    )
    msg.table(format_encoders_report(results), header=["", *results["paths"]])
    _save(results, json_path)


@command(bench_app, "annotate")
def bench_annotate_cli(
    pipeline: Path = typer.Argument(..., help="Saved teacher pipeline directory."),
    docs: Path = typer.Argument(..., help="Target docs as a spaCy DocBin (.spacy)."),
    n_sents: int = typer.Option(512, "--n-sents", "-n", help="Docs to annotate."),
    batch_size: int = typer.Option(32, "--batch-size", "-b", help="Docs per predict batch."),
    component: str = typer.Option("tskd_ner", "--component", "-c", help="NER component."),
    matmul_repeats: int = typer.Option(10, "--matmul-repeats", help="Timed matmul runs."),
    threads: int = THREADS_OPTION,
    json_path: Optional[Path] = JSON_PATH_OPTION,
) -> None:
    """Time teacher inference (word pieces/s, words/s) against a FLOP bound."""
    from wasabi import msg

    from scripts.bench.annotate import bench_annotate, format_annotate_report

    results = bench_annotate(
        pipeline=pipeline,
        docs=docs,
        n_sents=n_sents,
        batch_size=batch_size,
        component=component,
        matmul_repeats=matmul_repeats,
        threads=threads,
    )
    _print_setting(results["setting"])
    msg.table(format_annotate_report(results), header=("", "value"), aligns=("l", "r"))
    _save(results, json_path)


@command(bench_app, "precision")
def bench_precision_cli(
    encoder: Path = ENCODER_OPTION,
    teacher: Path = typer.Option(..., "--teacher", help="Saved transformer teacher."),
    teacher_probs: Path = TEACHER_PROBS_OPTION,
    student: Path = typer.Option(..., "--student", help="Saved transformer student."),
    n_sents: int = typer.Option(320, "--n-sents", "-n", help="Docs: first N of the probs."),
    batch_size: int = BATCH_SIZE_OPTION,
    steps: int = STEPS_OPTION,
    warmup_steps: int = WARMUP_STEPS_OPTION,
    frozen_layers: int = FROZEN_LAYERS_OPTION,
    seed: int = SEED_OPTION,
    threads: int = THREADS_OPTION,
    json_path: Optional[Path] = JSON_PATH_OPTION,
) -> None:
    """float32 against bfloat16: training step, annotation and nlp.pipe, with the bounds."""
    from wasabi import msg

    from scripts.bench.precision import bench_precision
    from scripts.perf_tables import precision_rows

    results = bench_precision(
        encoder=encoder, teacher=teacher, teacher_probs=teacher_probs, student=student,
        n_sents=n_sents, batch_size=batch_size, steps=steps, warmup_steps=warmup_steps,
        frozen_layers=frozen_layers, seed=seed, threads=threads,
    )  # fmt: skip
    _print_setting(results["setting"])
    msg.table(precision_rows(results), header=("", "fp32", "bf16", "bf16 / fp32"))
    _save(results, json_path)


def _save(results, json_path: Optional[Path]) -> None:
    from wasabi import msg

    from scripts.bench import write_json

    if json_path is not None:
        import datetime
        import sys
        import time

        from scripts.record_run import git_commit, machine

        results = {"command": "python -m scripts.bench " + " ".join(sys.argv[1:]),
                   "date": datetime.date.today().isoformat(), "code": git_commit(),
                   "wall_seconds": round(time.time() - _START), "machine": machine(),
                   **results}  # fmt: skip
        write_json(json_path, results)
        msg.info(f"Results written to {json_path}")


def _print_setting(setting) -> None:
    keys = ("torch_version", "torch_threads", "cpu_model", "n_sents", "batch_size")
    keys += ("timed_steps", "warmup_steps", "max_length", "dropout")
    typer.echo("setting: " + ", ".join(f"{k} {setting[k]}" for k in keys if k in setting))


if __name__ == "__main__":
    bench_app()

"""``python -m spacy_tskd evaluate PIPELINE DATA.spacy``: seqeval entity scores."""

from pathlib import Path
from typing import List, Optional

import typer

from ..data.decode import DEFAULT_DECODE
from ._app import app, command


@command(app, "evaluate")
def evaluate_cli(
    pipeline: Path = typer.Argument(..., help="Saved spaCy pipeline directory."),
    data: Path = typer.Argument(..., help="Gold data as a spaCy DocBin (.spacy)."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write the scores as JSON to this file."
    ),
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Docs per nlp.pipe batch."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
    update_meta: bool = typer.Option(
        False, "--update-meta", help="Also store the scores in the pipeline's meta.json."
    ),
    system: Optional[str] = typer.Option(
        None, "--system", help="Name of this system in result tables (e.g. MT, TS, HL)."
    ),
    decode: Optional[str] = typer.Option(
        None, "--decode", help="argmax or viterbi (default: the pipeline's own setting)."
    ),
) -> None:
    """Score a pipeline's entities on gold data (seqeval, conlleval mode)."""
    from wasabi import msg

    from ..evaluation.evaluate import evaluate
    from ..evaluation.scorer import format_scores_table

    scores = evaluate(
        pipeline_path=pipeline,
        data_path=data,
        output=output,
        batch_size=batch_size,
        gpu_id=gpu_id,
        update_meta=update_meta,
        system=system,
        decode=decode,
    )
    typer.echo(format_scores_table(scores))
    msg.good(
        f"F1 {scores['ents_f'] * 100:.2f} "
        f"(P {scores['ents_p'] * 100:.2f}, R {scores['ents_r'] * 100:.2f}) "
        f"on {scores['n_docs']} docs, {scores['words_per_second']:.0f} words/s"
    )
    if output is not None:
        msg.info(f"Scores written to {output}")


@command(app, "evaluate-ensemble")
def evaluate_ensemble_cli(
    data: Path = typer.Argument(..., help="Gold data as a spaCy DocBin (.spacy)."),
    teachers: List[Path] = typer.Argument(..., help="Teacher pipelines (one per source)."),
    alpha: Optional[str] = typer.Option(
        None, "--alpha", help="Comma-separated α per teacher (default: uniform, 'avg')."
    ),
    weights: Optional[Path] = typer.Option(
        None,
        "--weights",
        help="weights.json from `weights fit`: its alpha_mean, matched to the teachers by language.",
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write scores JSON."),
    system: str = typer.Option("MT-ensemble", "--system", help="Row name in result tables."),
    decode: str = typer.Option(
        DEFAULT_DECODE, "--decode", help="argmax or viterbi (as the tskd_ner component)."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
) -> None:
    """Multi-source MT: score the α-weighted ensemble of the teachers on gold data."""
    from wasabi import msg

    from ..evaluation.ensemble import evaluate_ensemble
    from ..evaluation.scorer import format_scores_table

    scores = evaluate_ensemble(
        teacher_paths=teachers,
        data_path=data,
        alpha=None if alpha is None else [float(a) for a in alpha.split(",")],
        weights=weights,
        output=output,
        system=system,
        decode=decode,
        gpu_id=gpu_id,
    )
    typer.echo(format_scores_table(scores))
    msg.good(f"{system}: F1 {scores['ents_f'] * 100:.2f} with α = {scores['alpha']}")

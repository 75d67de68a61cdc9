"""``python -m spacy_tskd annotate TEACHER DOCS.spacy OUTPUT.npz``: store teacher probabilities.

Also ``python -m spacy_tskd merge-shards OUTPUT.npz SHARD.npz...`` to join the
files of a sharded run (``annotate --shard I/N``).
"""

import time
from pathlib import Path
from typing import List, Optional, Tuple

import typer

from ._app import app


def _parse_shard(value: Optional[str]) -> Optional[Tuple[int, int]]:
    if value is None:
        return None
    index, sep, count = value.partition("/")
    try:
        if not sep:
            raise ValueError
        return int(index), int(count)
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 0/4), got {value!r}.") from None


@app.command("annotate")
def annotate_cli(
    teacher: Path = typer.Argument(..., help="Saved teacher pipeline directory."),
    docs: Path = typer.Argument(..., help="Target docs as a spaCy DocBin (.spacy)."),
    output: Path = typer.Argument(..., help="Output teacher probabilities file (.npz)."),
    component: str = typer.Option(
        "tskd_ner", "--component", "-c", help="Name of the teacher's NER component."
    ),
    batch_size: int = typer.Option(32, "--batch-size", "-b", help="Docs per predict batch."),
    max_docs: int = typer.Option(
        0, "--max-docs", "-n", help="Annotate only the first N docs (0: all)."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
    shard: Optional[str] = typer.Option(
        None,
        "--shard",
        help="I/N: annotate only the I-th of N contiguous blocks of docs (join with merge-shards).",
    ),
) -> None:
    """Run the teacher's NER (eval mode, no gold labels) on DOCS and store its probabilities."""
    from wasabi import msg

    from ..distill.teacher_probs import annotate

    start = time.perf_counter()
    try:
        meta = annotate(
            teacher_path=teacher,
            docs_path=docs,
            output_path=output,
            component=component,
            batch_size=batch_size,
            max_docs=max_docs,
            gpu_id=gpu_id,
            shard=_parse_shard(shard),
        )
    except (FileNotFoundError, ValueError) as err:
        msg.fail(str(err))
        raise typer.Exit(code=1) from None
    elapsed = time.perf_counter() - start
    rows = [
        ("docs", meta["n_docs"]),
        ("tokens", meta["n_tokens"]),
        ("labels", len(meta["labels"])),
        ("seconds (annotation)", f"{meta['seconds']:.1f}"),
        ("seconds (total)", f"{elapsed:.1f}"),
    ]
    if meta["shard"] is not None:
        rows.append(("shard", f"{meta['shard']['index']}/{meta['shard']['count']}"))
        rows.append(("doc range", f"{meta['doc_start']}..{meta['doc_end']}"))
    msg.table(rows, header=("", "value"), aligns=("l", "r"))
    msg.good(
        f"Wrote teacher probabilities of {meta['n_docs']} docs ({meta['n_tokens']} tokens) "
        f"to {output} in {elapsed:.1f}s"
    )


@app.command("merge-shards")
def merge_shards_cli(
    output: Path = typer.Argument(..., help="Output teacher probabilities file (.npz)."),
    shards: List[Path] = typer.Argument(..., help="The shard files of one annotate run."),
) -> None:
    """Join the shard files of a sharded annotate run into one probabilities file."""
    from wasabi import msg

    from ..distill.teacher_probs import merge_shards

    try:
        meta = merge_shards(shards, output)
    except (FileNotFoundError, ValueError) as err:
        msg.fail(str(err))
        raise typer.Exit(code=1) from None
    msg.good(
        f"Merged {len(shards)} shards: {meta['n_docs']} docs ({meta['n_tokens']} tokens) "
        f"written to {output}"
    )

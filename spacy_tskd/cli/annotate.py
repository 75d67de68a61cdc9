"""``python -m spacy_tskd annotate TEACHER DOCS.spacy OUTPUT.npz``: store teacher probabilities.

Large corpora: ``python -m spacy_tskd annotate TEACHER INPUT.txt --output-dir DIR
--shard-size N [--lang es]`` streams plain text (one doc per line) into
resumable shards ``DIR/shard-NNNNN.npz`` that ``distill`` reads one at a time.

Also ``python -m spacy_tskd merge-shards OUTPUT.npz SHARD.npz...`` to join the
files of a sharded run (``annotate --shard I/N``).
"""

import time
from pathlib import Path
from typing import List, Optional, Tuple

import typer

from ._app import app, command


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


@command(app, "annotate")
def annotate_cli(
    teacher: Path = typer.Argument(..., help="Saved teacher pipeline directory."),
    docs: Path = typer.Argument(
        ..., help="Target docs: a spaCy DocBin (.spacy), or plain text (with --output-dir)."
    ),
    output: Optional[Path] = typer.Argument(
        None, help="Output teacher probabilities file (.npz); not with --output-dir."
    ),
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
    output_dir: Optional[Path] = typer.Option(
        None,
        "--output-dir",
        "-o",
        help="Stream DOCS (plain text: one doc per line, UTF-8) into resumable shards "
        "DIR/shard-NNNNN.npz; rerun the same command to resume.",
    ),
    shard_size: int = typer.Option(
        10000, "--shard-size", help="Docs per shard (with --output-dir)."
    ),
    lang: Optional[str] = typer.Option(
        None,
        "--lang",
        "-l",
        help="Tokenizer language for plain text (spacy.blank(LANG)); default: the teacher's. "
        "Use the student's language.",
    ),
) -> None:
    """Run the teacher's NER (eval mode, no gold labels) on DOCS and store its probabilities."""
    from wasabi import msg

    from ..distill.teacher_probs import annotate

    if output_dir is not None:
        if output is not None or shard is not None:
            msg.fail("--output-dir writes its own shards: give no OUTPUT file and no --shard.")
            raise typer.Exit(code=1)
        _annotate_stream(
            teacher_path=teacher,
            input_path=docs,
            output_dir=output_dir,
            lang=lang,
            shard_size=shard_size,
            batch_size=batch_size,
            max_docs=max_docs,
            component=component,
            gpu_id=gpu_id,
        )
        return
    if output is None:
        msg.fail(
            "Give an OUTPUT .npz file (DocBin input), or --output-dir DIR to stream DOCS "
            "(plain text, one doc per line) into shards."
        )
        raise typer.Exit(code=1)
    if docs.suffix == ".txt":
        msg.fail(
            f"{docs} is plain text: it is annotated into shards. Give --output-dir DIR "
            "instead of OUTPUT (and --lang, the student's language)."
        )
        raise typer.Exit(code=1)
    start = time.perf_counter()
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


def _annotate_stream(*, output_dir: Path, **kwargs) -> None:
    from wasabi import msg

    from ..distill.stream import annotate_stream

    info = annotate_stream(output_dir=output_dir, **kwargs)
    rows = [
        ("docs", info["n_docs"]),
        ("tokens", info["n_tokens"]),
        ("shards", info["n_shards"]),
        ("shards written", len(info["written"])),
        ("shards kept (resumed)", len(info["skipped"])),
        ("seconds", f"{info['seconds']:.1f}"),
    ]
    msg.table(rows, header=("", "value"), aligns=("l", "r"))
    msg.good(
        f"Teacher probabilities of {info['n_docs']} docs in {info['n_shards']} shards "
        f"in {output_dir}"
    )


@command(app, "merge-shards")
def merge_shards_cli(
    output: Path = typer.Argument(..., help="Output teacher probabilities file (.npz)."),
    shards: List[Path] = typer.Argument(..., help="The shard files of one annotate run."),
) -> None:
    """Join the shard files of a sharded annotate run into one probabilities file."""
    from wasabi import msg

    from ..distill.teacher_probs import merge_shards

    meta = merge_shards(shards, output)
    msg.good(
        f"Merged {len(shards)} shards: {meta['n_docs']} docs ({meta['n_tokens']} tokens) "
        f"written to {output}"
    )

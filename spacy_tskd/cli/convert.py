"""``python -m spacy_tskd convert INPUT OUTPUT.spacy --lang LANG``: a file to a DocBin."""

from pathlib import Path
from typing import Optional

import typer

from ._app import app, command


@command(app, "convert")
def convert_cli(
    input_path: Path = typer.Argument(
        ...,
        help="CoNLL/IOB text, JSONL (text + character spans), plain text (one doc per "
        "line, with --unlabeled) or a DocBin.",
    ),  # fmt: skip
    output_path: Path = typer.Argument(..., help="Output spaCy DocBin file (.spacy)."),
    lang: str = typer.Option(..., "--lang", "-l", help="spaCy language code, e.g. pt."),
    unlabeled: bool = typer.Option(
        False, "--unlabeled", help="Unlabeled target text: keep the words, drop any entities."
    ),
    fmt: str = typer.Option(
        "auto", "--format", help="auto (by suffix), conll, jsonl, spacy, text."
    ),
    text_field: str = typer.Option("text", "--text-field", help="JSONL field with the text."),
    alignment_mode: str = typer.Option(
        "strict",
        "--alignment-mode",
        help="JSONL spans off token boundaries: strict (an "
        "error), contract or expand (snap to the tokens).",
    ),  # fmt: skip
    max_sents: int = typer.Option(0, "--max-sents", "-n", help="Keep the first N docs (0: all)."),
    skip_sents: int = typer.Option(0, "--skip-sents", help="Drop the first N docs first."),
    heldout: int = typer.Option(
        0, "--heldout", help="Also hold out N docs: after the first --max-sents, or the last N."
    ),
    heldout_output: Optional[Path] = typer.Option(
        None, "--heldout-output", help="DocBin file for the held-out docs."
    ),
    allow_empty: bool = typer.Option(
        False, "--allow-empty", help="An empty input file gives an empty DocBin (no test set)."
    ),
) -> None:
    """Convert labelled data or unlabeled text to a spaCy DocBin, one doc per sentence."""
    from wasabi import msg

    from ..data.convert import convert

    stats = convert(
        input_path=input_path, output_path=output_path, lang=lang, unlabeled=unlabeled,
        fmt=fmt, text_field=text_field, alignment_mode=alignment_mode, max_sents=max_sents,
        skip_sents=skip_sents, heldout=heldout, heldout_path=heldout_output,
        allow_empty=allow_empty,
    )  # fmt: skip
    entities = stats["entities"]
    rows = [("docs", stats["docs"]), ("tokens", stats["tokens"])]
    rows += [(f"entities {label}", n) for label, n in entities.items()]
    if not unlabeled:
        rows.append(("entities total", sum(entities.values())))
    msg.table(rows, header=("", "count"), aligns=("l", "r"))
    msg.good(f"Wrote {stats['docs']} docs to {output_path}")
    if heldout:
        msg.good(f"Wrote {stats['heldout']} held-out docs to {heldout_output}")

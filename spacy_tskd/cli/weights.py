"""``python -m spacy_tskd weights fit|show``: source-language weights α for multi-source transfer.

``weights fit SOURCE_DOCS... --target TARGET_DOCS --method sim --output weights.json``
computes α (see :mod:`spacy_tskd.weighting.similarity`). The source language of
each SOURCE_DOCS file is taken from ``--langs en,de,nl`` (one code per file, in
order) or, without ``--langs``, from the name of the file's parent directory
(``corpus/en/train.spacy`` -> ``en``). α follows the order of SOURCE_DOCS.

``weights show weights.json`` prints α per source language, the method and the
encoder.
"""

from pathlib import Path
from typing import List, Optional

import typer

from ._app import app, command

weights_app = typer.Typer(
    help="Source-language weights α for multi-source transfer (fit, show).", no_args_is_help=True
)
app.add_typer(weights_app, name="weights")


@command(weights_app, "fit")
def fit_cli(
    source_docs: List[Path] = typer.Argument(
        ..., help="One source DocBin (.spacy) per source language, e.g. corpus/en/train.spacy."
    ),
    target: Path = typer.Option(
        ..., "--target", "-t", help="Target (unlabeled) DocBin the student is distilled on."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Weights file to write (.json)."),
    method: str = typer.Option(
        "sim", "--method", "-m", help="avg, sim (learned μ, the paper), cosine or l2."
    ),
    sentence_level: bool = typer.Option(
        False, "--sentence-level", help="One α per target sentence instead of per corpus."
    ),
    encoder: Optional[str] = typer.Option(
        "assets/encoder", "--encoder", "-e", help="Pretrained encoder dir (or cached hub name)."
    ),
    langs: Optional[str] = typer.Option(
        None,
        "--langs",
        "-l",
        help="Comma-separated language of each SOURCE_DOCS (default: parent directory names).",
    ),
    config: Path = typer.Option(
        Path("configs/weights.cfg"), "--config", "-c", help="Weights config: the recipe below."
    ),
    rank: Optional[int] = typer.Option(None, "--rank", help="Override the config's rank r."),
    gamma: Optional[float] = typer.Option(
        None, "--gamma", help="Override the config's orthogonality penalty γ."
    ),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Override the config's epochs."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Override the config's learning rate."),
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", help="Override the config's batch size."
    ),
    max_sents: int = typer.Option(
        0, "--max-sents", "-n", help="Random N sentences per source language (0: all)."
    ),
    max_target_sents: int = typer.Option(
        0, "--max-target-sents", help="First N target sentences (0: all)."
    ),
    max_length: Optional[int] = typer.Option(
        None, "--max-length", help="Override the config's word pieces per sentence."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    embedding_cache: Optional[Path] = typer.Option(
        None, "--embedding-cache", help="Folder to store and reuse sentence embeddings in."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
) -> None:
    """Compute α per source language from the target text's similarity to each source."""
    from wasabi import msg

    from ..weighting.similarity import fit_weights
    from ..weighting.weights_file import load_recipe, source_languages

    codes = source_languages(source_docs, langs)
    recipe = load_recipe(
        config, rank=rank, gamma=gamma, epochs=epochs, lr=lr, batch_size=batch_size,
        max_length=max_length,
    )  # fmt: skip
    data = fit_weights(
        source_docs=dict(zip(codes, source_docs)),
        target_docs=target,
        method=method,
        sentence_level=sentence_level,
        encoder=encoder,
        output=output,
        max_sents=max_sents,
        max_target_sents=max_target_sents,
        seed=seed,
        embedding_cache=embedding_cache,
        gpu_id=gpu_id,
        **recipe,
    )
    _print_weights(data)
    msg.good(f"Wrote {method} weights for {', '.join(codes)} to {output}")


@command(weights_app, "show")
def show_cli(
    weights: Path = typer.Argument(..., help="Weights file written by `weights fit`."),
) -> None:
    """Print α per source language, the method and the encoder of a weights file."""

    from ..weighting.similarity import load_weights

    data = load_weights(weights)
    _print_weights(data)


def _print_weights(data) -> None:
    import numpy as np
    from wasabi import msg

    enc = data.get("encoder") or {}
    params = data.get("params") or {}
    level = "sentence" if data.get("sentence_level") else "corpus"
    info = [
        ("method", data.get("method")),
        ("level", level),
        ("encoder", enc.get("name", "-")),
        ("encoder sha256", (enc.get("sha256") or "-")[:16]),
        ("target", f"{data.get('target')} ({data.get('n_target')} sentences)"),
    ]
    if params.get("tau") is not None:
        info.append(("tau", f"{params['tau']:.6g}"))
    train = params.get("train") or {}
    if "accuracy" in train:
        info.append(("source-language accuracy", f"{train['accuracy']:.4f}"))
    msg.table(info, aligns=("l", "l"))
    alpha = np.asarray(data["alpha"], dtype=np.float64)
    if alpha.ndim == 2:
        rows = [
            (
                lang,
                f"{alpha[:, k].mean():.4f}",
                f"{alpha[:, k].min():.4f}",
                f"{alpha[:, k].max():.4f}",
            )
            for k, lang in enumerate(data["sources"])
        ]
        header = ("source", "alpha (mean)", "min", "max")
        aligns = ("l", "r", "r", "r")
    else:
        rows = [(lang, f"{a:.4f}") for lang, a in zip(data["sources"], alpha)]
        header, aligns = ("source", "alpha"), ("l", "r")
    msg.table(rows, header=header, aligns=aligns, divider=True)

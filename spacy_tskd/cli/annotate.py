"""``python -m spacy_tskd annotate TEACHER INPUT OUTPUT_DIR``: store teacher probabilities.

INPUT is a DocBin (``.spacy``) or plain text (one doc per line, streamed). OUTPUT_DIR
receives DocBin shards whose docs carry the teacher's probabilities (see
:mod:`spacy_tskd.distill.annotations`); rerunning the command resumes.
"""

from pathlib import Path
from typing import Optional, Tuple

import typer

from ._app import app, command


def _parse_part(value: Optional[str]) -> Optional[Tuple[int, int]]:
    if value is None:
        return None
    index, sep, count = value.partition("/")
    try:
        if not sep:
            raise ValueError
        return int(index), int(count)
    except ValueError:
        raise ValueError(f"--part must look like I/N (e.g. 0/4), got {value!r}.") from None


@command(app, "annotate")
def annotate_cli(
    teacher: Path = typer.Argument(..., help="Saved teacher pipeline directory."),
    input_path: Path = typer.Argument(
        ..., help="Target docs: a spaCy DocBin (.spacy) or plain text (one doc per line)."
    ),
    output_dir: Path = typer.Argument(
        ..., help="Output directory of DocBin shards; rerun the same command to resume."
    ),
    component: str = typer.Option(
        "tskd_ner", "--component", "-c", help="Name of the teacher's NER component."
    ),
    batch_size: int = typer.Option(32, "--batch-size", "-b", help="Docs per predict batch."),
    max_docs: int = typer.Option(
        0, "--max-docs", "-n", help="Annotate only the first N docs (0: all)."
    ),
    shard_size: int = typer.Option(10000, "--shard-size", help="Docs per shard."),
    lang: Optional[str] = typer.Option(
        None,
        "--lang",
        "-l",
        help="Language of plain-text input (spacy.blank(LANG)), the target's; required for it.",
    ),
    part: Optional[str] = typer.Option(
        None, "--part", help="I/N: annotate only shards I, I+N, ... (N processes share a run)."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace another run's annotations in OUTPUT_DIR."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
    ray: Optional[str] = typer.Option(
        None,
        "--ray",
        help="Run on Ray: auto, a cluster address, or local (needs the extra: spacy-tskd\\[ray]).",
    ),
    ray_actors: int = typer.Option(2, "--ray-actors", help="Ray: teacher actors in the pool."),
    ray_cpus: float = typer.Option(1.0, "--ray-cpus", help="Ray: CPUs per actor."),
    ray_gpus: float = typer.Option(0.0, "--ray-gpus", help="Ray: GPUs per actor."),
) -> None:
    """Run the teacher's NER (eval mode, no gold labels) on INPUT and store its probabilities."""
    from wasabi import msg

    common = dict(
        teacher_path=teacher,
        input_path=input_path,
        output_dir=output_dir,
        lang=lang,
        shard_size=shard_size,
        batch_size=batch_size,
        max_docs=max_docs,
        component=component,
        overwrite=overwrite,
    )
    if ray is not None:
        from ..distill.annotate_ray import annotate_on_ray

        if part is not None:
            raise ValueError("--part and --ray do not go together: Ray shares out the shards.")
        info = annotate_on_ray(
            address=ray, actors=ray_actors, cpus_per_actor=ray_cpus, gpus_per_actor=ray_gpus,
            **common,
        )  # fmt: skip
    else:
        from ..distill.annotate import annotate

        info = annotate(gpu_id=gpu_id, part=_parse_part(part), **common)
    rows = [
        ("docs", info["n_docs"]),
        ("shards", info["n_shards"]),
        ("shards written", len(info["written"])),
        ("shards kept (resumed)", len(info["skipped"])),
        ("seconds", f"{info['seconds']:.1f}"),
    ]
    msg.table(rows, header=("", "value"), aligns=("l", "r"))
    if info["complete"]:
        msg.good(f"Teacher probabilities of {info['n_docs']} docs in {output_dir}")
    else:
        msg.info(f"This part is done; {output_dir} is complete once every --part has run.")

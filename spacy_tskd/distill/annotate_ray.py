"""``annotate(..., ray=ADDRESS)``: the same annotation, run by a Ray Data actor pool.

The driver plans the run as :func:`.annotate.annotate` does (``meta.json``, the shard
ranges, which shards are finished) and hands each unfinished shard to a pool of actors
(``map_batches`` with a callable class): every actor loads the teacher once, reads its
shard's docs from the input itself (plain text from the shard's byte offset, found in
one pass by the driver; a DocBin loaded once per actor), annotates them with
:func:`.annotate.annotate_shard` (the code path of the one-process command) and writes
the shard atomically. The driver writes ``index.json`` once every shard is there. So
the output is the one-process output, and a rerun skips finished shards.

The input and the output directory must be visible to every node at the same path (a
shared file system); see docs/scaling.md. Ray is an optional extra
(``pip install "spacy-tskd[ray]"``).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..util import PathLike
from .annotate import annotate_shard, finish_run, start_run
from .annotations import finished_shard, write_shard
from .teacher import load_teacher


class ShardAnnotator:
    """A Ray actor: the teacher, loaded once; each call annotates whole shards."""

    def __init__(self, *, teacher_path: str, input_path: str, meta: Dict[str, Any],
                 output_dir: str, batch_size: int, gpu_id: int) -> None:  # fmt: skip
        self.meta, self.output_dir, self.batch_size = meta, Path(output_dir), batch_size
        component = meta["teacher"]["component"]
        _, self.pipe, _, _ = load_teacher(
            teacher_path=teacher_path, component=component, gpu_id=gpu_id
        )
        self.input_path, self.doc_bin = Path(input_path), None
        if meta["input"]["format"] == "docbin":
            from spacy.tokens import DocBin

            self.doc_bin = DocBin().from_disk(self.input_path)

    def _docs(self, start: int, end: int, offset: int) -> Any:
        if self.doc_bin is not None:
            return itertools.islice(self.doc_bin.get_docs(self.pipe.vocab), start, end)
        import spacy

        from ..data.text import iter_lines

        tokenizer = spacy.blank(self.meta["input"]["lang"]).tokenizer
        lines = itertools.islice(iter_lines(self.input_path, start=offset), end - start)
        return (tokenizer(text) for _, text in lines)

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, List[int]]:
        out: Dict[str, List[int]] = {"index": [], "n_docs": []}
        for index, start, end, offset in zip(
            batch["index"], batch["start"], batch["end"], batch["offset"]
        ):
            docs = annotate_shard(
                self.pipe, self._docs(int(start), int(end), int(offset)), index=int(index),
                meta=self.meta, output_dir=self.output_dir, batch_size=self.batch_size,
                write=False,
            )  # fmt: skip
            if len(docs) != int(end) - int(start):
                raise ValueError(
                    f"{self.input_path} changed while it was annotated: shard {index} expected "
                    f"{int(end) - int(start)} docs, read {len(docs)}. Rerun the same command."
                )
            write_shard(self.output_dir, int(index), docs, docs.info)
            out["index"].append(int(index))
            out["n_docs"].append(len(docs))
        return out


def annotate_on_ray(
    *,
    address: str,
    teacher_path: PathLike,
    input_path: PathLike,
    output_dir: PathLike,
    lang: Optional[str] = None,
    shard_size: int = 10000,
    batch_size: int = 32,
    max_docs: int = 0,
    component: str = "tskd_ner",
    actors: int = 2,
    cpus_per_actor: float = 1.0,
    gpus_per_actor: float = 0.0,
    overwrite: bool = False,
    progress: bool = True,
) -> Dict[str, Any]:
    """Annotate on a Ray cluster; arguments and result as :func:`.annotate.annotate`.

    address (str): ``"auto"`` (a running cluster, ``ray start --head``), a cluster
        address (``ray://host:10001``) or ``"local"`` (start one in this process). If
        Ray is already initialised in this process, that cluster is used.
    actors (int): Actors in the pool, each with ``cpus_per_actor`` CPUs and
        ``gpus_per_actor`` GPUs (with GPUs, each actor runs the teacher on its GPU).
    """
    try:
        import ray
    except ImportError:
        raise ImportError(
            'Annotation on Ray needs Ray Data: pip install "spacy-tskd[ray]".'
        ) from None
    from tqdm import tqdm

    from ..data.text import doc_offsets

    start_time = time.perf_counter()
    _, source, meta = start_run(
        teacher_path=teacher_path, input_path=input_path, output_dir=output_dir, lang=lang,
        shard_size=shard_size, batch_size=batch_size, max_docs=max_docs, component=component,
        gpu_id=-1, overwrite=overwrite, load_model=False,
    )  # fmt: skip
    output_dir = Path(output_dir)
    n_docs, n_shards = meta["n_docs"], meta["n_shards"]
    done = [i for i in range(n_shards) if finished_shard(output_dir, i) is not None]
    todo = [i for i in range(n_shards) if i not in set(done)]
    offsets = [0] * n_shards if source.is_docbin else doc_offsets(input_path, shard_size)
    rows = [
        {"index": i, "start": i * shard_size, "end": min(n_docs, (i + 1) * shard_size),
         "offset": offsets[i]}
        for i in todo
    ]  # fmt: skip
    written: List[int] = []
    if rows:
        if not ray.is_initialized():
            ray.init(address=None if address == "local" else address)
        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            ShardAnnotator,
            fn_constructor_kwargs={
                "teacher_path": str(Path(teacher_path).resolve()),
                "input_path": str(Path(input_path).resolve()),
                "meta": meta,
                "output_dir": str(output_dir.resolve()),
                "batch_size": batch_size,
                "gpu_id": 0 if gpus_per_actor > 0 else -1,
            },
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=max(1, min(actors, len(rows)))),
            num_cpus=cpus_per_actor,
            num_gpus=gpus_per_actor,
        )
        with tqdm(total=len(rows), desc="Shards", unit="shard", disable=not progress) as bar:
            for row in ds.iter_rows():
                written.append(int(row["index"]))
                bar.update(1)
    return finish_run(output_dir, meta, written=written, skipped=done, start_time=start_time)


__all__ = ["ShardAnnotator", "annotate_on_ray"]

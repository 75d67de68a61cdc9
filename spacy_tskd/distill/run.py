"""``distill()``: build a student from a config, train it on teacher probabilities, save it.

The student is initialised from the plain pretrained encoder (``paths.encoder``), as
in the paper; ``distill.init_from`` (a teacher pipeline) starts it from a teacher's
weights instead, a named deviation. Everything the method fixes is a config value in the
``[distill]`` block (see ``configs/student.cfg``).

The training data is the corpus named by ``distill.corpus`` (``corpora.distill``), a
``spacy-tskd.TeacherCorpus.v1``: one annotation directory written by ``annotate``, or
several (one per source teacher) mixed with α. Its shards are read one at a time (each
epoch visits them in a seeded random order, with length-bucketed batches within a
shard), so memory holds one shard plus the held-out docs.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..data.docs import unannotated
from ..util import PathLike, atomic_path
from .checkpoint import load_checkpoint, save_checkpoint
from .loop import Monitor, Timer, distill_steps, format_record, steps_per_epoch


def plan_shards(
    teacher, *, max_docs: int = 0, heldout: int = 200
) -> Tuple[Dict[int, int], List[Tuple[int, int, int]]]:
    """Split a shard directory's docs into training docs and held-out docs.

    The first ``max_docs`` docs (0: all) are used; the last ``heldout`` of them
    (at most 20 %) are held out for the monitor, as for in-memory docs.
    RETURNS (Tuple[Dict[int, int], List[Tuple[int, int, int]]]): the number of
        training docs of each shard (a prefix of the shard), and the held-out
        docs as ``(shard, start, end)`` shard-local ranges.
    """
    n_used = min(len(teacher), max_docs) if max_docs else len(teacher)
    n_heldout = min(heldout, n_used // 5)
    cut = n_used - n_heldout
    ends: Dict[int, int] = {}
    held: List[Tuple[int, int, int]] = []
    start = 0
    for index, size in enumerate(teacher.shard_sizes()):
        end = start + size
        ends[index] = max(0, min(end, cut) - start)
        lo, hi = max(start, cut), min(end, n_used)
        if lo < hi:
            held.append((index, lo - start, hi - start))
        start = end
    return ends, held


def distill(
    *,
    config_path: PathLike,
    output_path: PathLike,
    overrides: Optional[Dict[str, Any]] = None,
    gpu_id: int = -1,
    resume: bool = False,
) -> Path:
    """Train a student pipeline; returns ``output_path/model-last``.

    Every ``distill.checkpoint_every`` steps the run is saved to
    ``output_path/checkpoint`` (:mod:`.checkpoint`); ``resume=True`` continues from it
    (same config and data needed) to the model an uninterrupted run gives."""
    import spacy
    from spacy.util import fix_random_seed, load_config, load_model_from_config, registry
    from tqdm import tqdm

    import spacy_tskd.pipeline.ner  # noqa: F401  (registers component and layers)

    from ..data.bio import bio_label_order, split_tag

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    output_path = Path(output_path)
    config = load_config(config_path, overrides=overrides or {}, interpolate=False)
    settings = config.interpolate()["distill"]
    component = settings["component"]
    teacher = _load_corpus(config, settings["corpus"])
    labels = teacher.labels
    types = {split_tag(t)[1] for t in labels if t != "O"}
    own_labels = settings.get("labels") or bio_label_order(types)
    teacher.check_labels(list(own_labels), what="the student's label order")
    config["initialize"]["components"][component] = {"labels": list(own_labels)}

    # The seed fixes the output layer's initial weights, the encoder's dropout and
    # the batch order: the same config and targets give the same student.
    fix_random_seed(int(settings["seed"]))
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    if nlp.lang == "xx":
        print(
            "Note: the student's lang is 'xx' (spaCy's multi-language tokenizer for raw "
            "text); pass --nlp.lang with the target language (e.g. --nlp.lang es)."
        )
    batch_size, epochs = int(settings["batch_size"]), int(settings["epochs"])
    data = _training_data(teacher, settings, nlp.vocab, batch_size)
    monitor, epoch_steps = data.monitor, data.epoch_steps
    total = epoch_steps * epochs
    opt_cfg = config.interpolate()["distill"]["optimizer"]
    schedule = opt_cfg.get("learn_rate")
    if isinstance(schedule, dict) and "total_steps" in schedule:
        schedule["total_steps"] = total
        schedule["warmup_steps"] = int(round(float(settings["warmup_frac"]) * total))
    optimizer = registry.resolve({"optimizer": opt_cfg})["optimizer"]
    nlp.initialize(lambda: [], sgd=optimizer)
    if settings.get("init_from"):
        _init_from_teacher(nlp, component, settings["init_from"])

    dev_docs = _load_dev(settings.get("dev"), nlp)
    checkpoint_dir, every = output_path / "checkpoint", int(settings.get("checkpoint_every") or 0)
    state: Dict[str, Any] = {"step": 0, "history": [], "best": -1.0, "epoch": 0, "elapsed": 0.0}
    if resume:
        state = load_checkpoint(checkpoint_dir, nlp, optimizer, component=component)
        print(f"Resuming from {checkpoint_dir} at step {state['step']} of {total}.")
    elif checkpoint_dir.exists():
        print(f"Note: {checkpoint_dir} exists and is replaced (pass --resume to continue it).")
    print(
        f"Distilling {len(teacher.dirs)} teacher(s) into a student on {data.description}, "
        f"{epochs} epoch(s) x {epoch_steps} steps, loss "
        f"{nlp.get_pipe(component).cfg['distill_loss']}, {len(monitor.docs)} held-out docs."
    )
    timer = Timer()
    best, history, last_epoch = state["best"], state["history"], state["epoch"]
    log_every = int(settings["log_every"])
    with tqdm(
        total=total, initial=state["step"], desc="distill", unit="step", file=sys.stderr
    ) as bar:
        for record in distill_steps(
            nlp,
            None,
            None,
            optimizer,
            component=component,
            batch_size=batch_size,
            epochs=epochs,
            seed=int(settings["seed"]),
            monitor=monitor,
            monitor_every=int(settings["monitor_every"]),
            chunks=data.chunks,
            start_step=state["step"],
        ):
            wps = timer.add(record["words"])
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.5f}", wps=f"{wps:,.0f}")
            if record.get("monitor") or (log_every and record["step"] % log_every == 0):
                bar.write(format_record(record, wps))
                history.append({**record, "words_per_second": wps})
            end_of_epoch = record["step"] % epoch_steps == 0
            if dev_docs and (end_of_epoch or record["step"] == total):
                score = _dev_f1(nlp, dev_docs)
                bar.write(f"epoch {record['epoch']}: dev ents_f {score:.4f}")
                if score > best:
                    best = score
                    _save(nlp, output_path / "model-best")
            last_epoch = record["epoch"]
            if every and record["step"] % every == 0 and record["step"] < total:
                elapsed = state["elapsed"] + timer.elapsed
                save_checkpoint(
                    checkpoint_dir, nlp, optimizer, component=component,
                    state={"step": record["step"], "history": history, "best": best,
                           "epoch": last_epoch, "elapsed": elapsed},
                )  # fmt: skip
    final = monitor(nlp, component)
    nlp.meta.setdefault("tskd", {})
    nlp.meta["tskd"].update(
        {
            "role": "student",
            "teacher_probs": [str(p) for p in teacher.dirs],
            "sources": teacher.sources,
            "teachers": teacher.metas,
            "weights": teacher.weights,
            "distill": {k: v for k, v in settings.items() if k != "optimizer"},
            "epochs_run": last_epoch + 1,
            "elapsed_seconds": round(state["elapsed"] + timer.elapsed, 1),
            "heldout_monitor": final,
            "log": history,
        }
    )
    path = _save(nlp, output_path / "model-last")
    if checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir)  # model-last is written: the checkpoint is spent
    print(
        f"Saved {path}. Held-out: agreement {final.get('agreement', float('nan')):.3f}, "
        f"student ents {final.get('student_ents')}, teacher ents {final.get('teacher_ents')}. "
        f"Elapsed {timer.elapsed:.1f} s ({timer.words / max(timer.elapsed, 1e-9):,.0f} words/s)."
    )
    return path


@dataclass
class _TrainingData:
    """The student's training shards (``chunks``) and the held-out monitor."""

    chunks: Optional[Callable]
    monitor: Monitor
    epoch_steps: int
    description: str


def _load_corpus(config, dot_path: str):
    """The :class:`~.corpus.TeacherCorpus` at ``dot_path`` (e.g. ``corpora.distill``)."""
    from spacy.util import dot_to_object, registry

    from .corpus import TeacherCorpus

    try:
        section = dot_to_object(config.interpolate(), dot_path)
    except KeyError:
        raise ValueError(
            f"distill.corpus is {dot_path!r} but the config has no such section: add "
            '[corpora.distill] with @readers = "spacy-tskd.TeacherCorpus.v1".'
        ) from None
    corpus = registry.resolve({"corpus": section})["corpus"]
    if not isinstance(corpus, TeacherCorpus):
        raise ValueError(
            f"[{dot_path}] must be a spacy-tskd.TeacherCorpus.v1 reader, got "
            f"{type(corpus).__name__}."
        )
    return corpus


def _training_data(teacher, settings, vocab, batch_size: int) -> _TrainingData:
    ends, held = plan_shards(
        teacher, max_docs=int(settings["max_docs"]), heldout=int(settings["heldout"])
    )
    held_docs: List[Any] = []
    held_probs: List[Any] = []
    for index, start, end in held:
        docs, probs = teacher.load(index, vocab, start=start, end=end)
        held_docs.extend(docs)
        held_probs.extend(probs)
    used = [i for i, n in ends.items() if n]

    def chunks(epoch: int, rng) -> Iterator[Tuple[List[Any], List[Any]]]:
        order = list(used)
        rng.shuffle(order)
        for index in order:
            docs, probs, weights = teacher.load_weighted(index, vocab, end=ends[index])
            yield docs, probs, weights
            docs.clear()  # emptied in place: one shard in memory at a time
            probs.clear()

    return _TrainingData(
        chunks=chunks,
        monitor=Monitor(held_docs, held_probs),
        epoch_steps=sum(steps_per_epoch(ends[i], batch_size) for i in used),
        description=(
            f"{sum(ends.values())} docs in {len(used)} shard(s) of {teacher.path} "
            "(read one at a time)"
        ),
    )


def _init_from_teacher(nlp, component: str, teacher_path) -> None:
    """Start the student from a teacher's weights (``distill.init_from``, a deviation
    from the paper, whose student starts from the plain pretrained encoder). The
    teacher must have the student's architecture and label order."""
    path = Path(teacher_path) / component
    if not (path / "model").is_file():
        raise FileNotFoundError(
            f"distill.init_from: {path}/model not found; give a teacher pipeline directory "
            f"(model-last) with a {component!r} component."
        )
    ner = nlp.get_pipe(component)
    labels, loss = list(ner.labels), ner.cfg.get("distill_loss")
    try:
        ner.from_disk(path, exclude=["vocab"])
        ner.cfg["distill_loss"] = loss  # the student's loss, not the teacher's setting
    except ValueError as err:
        raise ValueError(
            f"distill.init_from: {teacher_path} does not fit the student's architecture "
            f"(same encoder and settings needed): {err}"
        ) from None
    if list(ner.labels) != labels:
        raise ValueError(
            f"distill.init_from: {teacher_path} has the labels {list(ner.labels)} but the "
            f"teacher probabilities have {labels}."
        )


def _load_dev(path, nlp):
    if not path:
        return None
    from spacy.tokens import DocBin

    return list(DocBin().from_disk(path).get_docs(nlp.vocab))


def _dev_f1(nlp, gold_docs) -> float:

    from ..evaluation.scorer import score_docs

    texts = [unannotated(d, nlp.vocab) for d in gold_docs]
    pred = list(nlp.pipe(texts, batch_size=64))
    return float(score_docs(gold_docs, pred)["ents_f"])


def _save(nlp, path: Path) -> Path:
    with atomic_path(path) as tmp:
        nlp.to_disk(tmp)
    return path


__all__ = ["distill", "plan_shards"]

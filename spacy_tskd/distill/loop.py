"""``distill()``: the student's training loop, one function read top to bottom.

config -> corpus -> student and optimizer -> epochs, shards and batches -> log, monitor,
dev score and checkpoint -> save. Everything the method fixes is a value of the config's
``[distillation]`` block (``configs/student.cfg``), named after spaCy v4's distillation
config; one step is the component's ``distill(teacher_pipe, examples, ...)`` with the
stored teacher distributions, as spaCy v4's ``TrainablePipe.distill``.

The training data is the registered reader ``[corpora.distillation]``
(``spacy-tskd.TeacherCorpus.v1``, :mod:`.corpus`): one annotation directory written by
``annotate``, or several (one per source teacher) mixed with α. Its shards are read one
at a time, each epoch in a seeded random order, with length-bucketed batches within a
shard, so memory holds one shard plus the held-out docs. The student starts from the
plain pretrained encoder (the paper); ``distillation.init_from`` starts it from a
teacher's weights instead (a named deviation).

Why by hand and not spaCy's ``train``: spaCy v3 has no distillation loop, its trainer
reads Examples (no per-token teacher arrays beside them) and cannot resume.
"""

from __future__ import annotations

import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..data.docs import unannotated
from ..util import PathLike, atomic_path
from .checkpoint import load_checkpoint, save_checkpoint


def distill(
    *,
    config_path: PathLike,
    output_path: PathLike,
    overrides: Optional[Dict[str, Any]] = None,
    gpu_id: int = -1,
    resume: bool = False,
) -> Path:
    """Train a student pipeline; returns ``output_path/model-last``.

    Every ``distillation.checkpoint_every`` steps the run is saved to
    ``output_path/checkpoint`` (:mod:`.checkpoint`); ``resume=True`` continues from it
    (same config and data needed) to the model an uninterrupted run gives."""
    import spacy
    from spacy.training import Example
    from spacy.util import fix_random_seed, load_config, load_model_from_config, registry
    from tqdm import tqdm

    import spacy_tskd.pipeline.ner  # noqa: F401  (registers component and layers)

    from ..data.bio import bio_label_order, split_tag
    from ..training.batching import bucket_batches

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    output_path = Path(output_path)

    # -- config: read, and interpolated once -------------------------------------------
    config = load_config(config_path, overrides=overrides or {}, interpolate=False)
    resolved = config.interpolate()
    settings = resolved["distillation"]
    component, seed = settings["component"], int(settings["seed"])
    batch_size, epochs = int(settings["batch_size"]), int(settings["max_epochs"])
    log_every, monitor_every = int(settings["log_every"]), int(settings["monitor_every"])
    checkpoint_every = int(settings.get("checkpoint_every") or 0)

    # -- corpus: the registered reader, split into training shards and held-out docs -----
    corpus = _resolve_corpus(resolved, settings["corpus"])
    types = {split_tag(t)[1] for t in corpus.labels if t != "O"}
    labels = list(settings.get("labels") or bio_label_order(types))
    corpus.check_labels(labels, what="the student's label order")
    train_ends, held = plan_shards(
        corpus, max_docs=int(settings["max_docs"]), heldout=int(settings["heldout"])
    )
    shards = [index for index, n in train_ends.items() if n]
    epoch_steps = sum(steps_per_epoch(train_ends[i], batch_size) for i in shards)
    total = epoch_steps * epochs

    # -- student and optimizer ---------------------------------------------------------
    # The seed fixes the output layer's initial weights, the encoder's dropout and the
    # batch order: the same config and targets give the same student.
    config["initialize"]["components"][component] = {"labels": labels}
    fix_random_seed(seed)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    if nlp.lang == "xx":
        print(
            "Note: the student's lang is 'xx' (spaCy's multi-language tokenizer for raw "
            "text); pass --nlp.lang with the target language (e.g. --nlp.lang es)."
        )
    monitor = Monitor.load(corpus, held, nlp.vocab)
    optimizer_config = dict(settings["optimizer"])
    schedule = optimizer_config.get("learn_rate")
    if isinstance(schedule, dict) and "total_steps" in schedule:  # sized to the data
        warmup = int(round(float(settings["warmup_frac"]) * total))
        optimizer_config["learn_rate"] = {**schedule, "total_steps": total, "warmup_steps": warmup}
    optimizer = registry.resolve({"optimizer": optimizer_config})["optimizer"]
    nlp.initialize(lambda: [], sgd=optimizer)
    ner = nlp.get_pipe(component)
    if settings.get("init_from"):
        _init_from_teacher(nlp, component, settings["init_from"])
    dev_docs = _load_dev(settings.get("dev"), nlp)
    checkpoint_dir = output_path / "checkpoint"
    state: Dict[str, Any] = {"step": 0, "history": [], "best": -1.0, "elapsed": 0.0}
    if resume:  # last: it restores the random states too
        state = load_checkpoint(checkpoint_dir, nlp, optimizer, component=component)
        print(f"Resuming from {checkpoint_dir} at step {state['step']} of {total}.")
    elif checkpoint_dir.exists():
        print(f"Note: {checkpoint_dir} exists and is replaced (pass --resume to continue it).")
    print(
        f"Distilling {len(corpus.dirs)} teacher(s) into a student on {sum(train_ends.values())} "
        f"docs in {len(shards)} shard(s) of {corpus.path} (read one at a time), {epochs} "
        f"epoch(s) x {epoch_steps} steps, loss {ner.cfg['distill_loss']}, "
        f"{len(monitor.docs)} held-out docs."
    )

    # -- epochs, shards and batches ----------------------------------------------------
    rng = random.Random(seed)
    step, best, history = 0, state["best"], state["history"]
    start_time, words_seen = time.perf_counter(), 0
    bar = tqdm(total=total, initial=state["step"], desc="distill", unit="step", file=sys.stderr)
    for epoch in range(epochs):
        order = list(shards)
        rng.shuffle(order)
        for shard in order:
            docs, probs, weights = corpus.load_weighted(shard, nlp.vocab, end=train_ends[shard])
            shuffled = list(range(len(docs)))
            rng.shuffle(shuffled)
            lengths = [len(doc) for doc in docs]
            for batch in bucket_batches(
                shuffled, size=batch_size, get_length=lengths.__getitem__, rng=rng
            ):
                step += 1
                if step <= state["step"]:  # resuming: replay the data order, untrained
                    optimizer.step_schedules()
                    continue
                losses: Dict[str, float] = {}
                ner.distill(
                    None,
                    [Example(docs[i], docs[i]) for i in batch],
                    teacher_scores=[probs[i] for i in batch],
                    token_weights=None if weights is None else [weights[i] for i in batch],
                    sgd=optimizer,
                    losses=losses,
                )
                learn_rate = float(optimizer.learn_rate)
                optimizer.step_schedules()

                # -- log, monitor, dev score and checkpoint ----------------------------
                words_seen += sum(len(docs[i]) for i in batch)
                wps = words_seen / max(time.perf_counter() - start_time, 1e-9)
                bar.update(1)
                bar.set_postfix(loss=f"{losses[component]:.5f}", wps=f"{wps:,.0f}")
                record = {"step": step, "epoch": epoch, "loss": losses[component],
                          "words": sum(len(docs[i]) for i in batch), "docs": len(batch),
                          "learn_rate": learn_rate}  # fmt: skip
                epoch_end = step % epoch_steps == 0 or step == total
                if epoch_end or (monitor_every and step % monitor_every == 0):
                    record["monitor"] = monitor(nlp, component)
                if dev_docs and epoch_end:
                    record["dev_ents_f"] = score = _dev_f1(nlp, dev_docs)
                    bar.write(f"epoch {epoch}: dev ents_f {score:.4f}")
                    if score > best:
                        best = score
                        _save(nlp, output_path / "model-best")
                if {"monitor", "dev_ents_f"} & set(record) or (log_every and step % log_every == 0):
                    bar.write(format_record(record, wps))
                    history.append({**record, "words_per_second": wps})
                if checkpoint_every and step % checkpoint_every == 0 and step < total:
                    elapsed = state["elapsed"] + time.perf_counter() - start_time
                    save_checkpoint(
                        checkpoint_dir, nlp, optimizer, component=component,
                        state={"step": step, "history": history, "best": best,
                               "elapsed": elapsed},
                    )  # fmt: skip
            docs.clear()  # one shard in memory at a time
            probs.clear()
    bar.close()

    # -- save ----------------------------------------------------------------------------
    elapsed = time.perf_counter() - start_time
    final = monitor(nlp, component)
    nlp.meta.setdefault("tskd", {}).update(
        {
            "role": "student",
            "teacher_probs": [str(p) for p in corpus.dirs],
            "sources": corpus.sources,
            "teachers": corpus.metas,
            "weights": corpus.weights,
            "distillation": {k: v for k, v in settings.items() if k != "optimizer"},
            "epochs_run": epochs,
            "device": _device(),
            "elapsed_seconds": round(state["elapsed"] + elapsed, 1),
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
        f"Elapsed {elapsed:.1f} s ({words_seen / max(elapsed, 1e-9):,.0f} words/s)."
    )
    return path


def _device() -> str:
    """Where the student trained: ``cpu`` or ``gpu:N`` (thinc's current ops)."""
    from thinc.api import get_current_ops

    ops = get_current_ops()
    return "cpu" if ops.device_type == "cpu" else f"gpu:{ops.device_id}"


@dataclass
class Monitor:
    """Teacher-free signals on held-out *unlabeled* target docs.

    They need no gold labels: the number of entities the student predicts and its token
    agreement with the teacher's argmax. A student collapsing to ``O`` shows up as a
    falling entity count long before any test score."""

    docs: List[Any]
    teacher_probs: List[np.ndarray]

    @classmethod
    def load(cls, corpus, held: List[Tuple[int, int, int]], vocab) -> Monitor:
        docs: List[Any] = []
        probs: List[np.ndarray] = []
        for index, start, end in held:
            d, p = corpus.load(index, vocab, start=start, end=end)
            docs.extend(d)
            probs.extend(p)
        return cls(docs, probs)

    def __call__(self, nlp, component: str) -> Dict[str, float]:
        if not self.docs:
            return {}
        from ..data.decode import decode_spans

        ner = nlp.get_pipe(component)
        agree = total = n_student = n_teacher = 0
        for s, t in zip(ner.predict(self.docs), self.teacher_probs):
            agree += int((s.argmax(axis=1) == t.argmax(axis=1)).sum())
            total += len(s)
            n_student += len(decode_spans(s, ner.labels, "argmax"))
            n_teacher += len(decode_spans(t, ner.labels, "argmax"))
        return {
            "agreement": agree / max(total, 1),
            "student_ents": n_student,
            "teacher_ents": n_teacher,
        }


def plan_shards(
    corpus, *, max_docs: int, heldout: int
) -> Tuple[Dict[int, int], List[Tuple[int, int, int]]]:
    """Split a corpus's docs into training docs and held-out docs.

    The first ``max_docs`` docs (0: all) are used; the last ``heldout`` of them (at most
    20 %) are held out for the monitor. RETURNS: the number of training docs of each
    shard (a prefix of the shard), and the held-out docs as ``(shard, start, end)``
    shard-local ranges."""
    n_used = min(len(corpus), max_docs) if max_docs else len(corpus)
    cut = n_used - min(heldout, n_used // 5)
    ends: Dict[int, int] = {}
    held: List[Tuple[int, int, int]] = []
    start = 0
    for index, size in enumerate(corpus.shard_sizes()):
        end = start + size
        ends[index] = max(0, min(end, cut) - start)
        lo, hi = max(start, cut), min(end, n_used)
        if lo < hi:
            held.append((index, lo - start, hi - start))
        start = end
    return ends, held


def steps_per_epoch(n_docs: int, batch_size: int) -> int:
    """Optimizer steps in one epoch over one shard of ``n_docs`` docs: exact, since
    bucketing cuts whole batches from buffers of ``batch_size * buffer_batches``."""
    return max(1, -(-n_docs // batch_size))


def format_record(record: Dict, words_per_second: float) -> str:
    """One readable log line for a step."""
    text = (
        f"step {record['step']:>5}  epoch {record['epoch']}  loss {record['loss']:.5f}  "
        f"lr {record['learn_rate']:.2e}  {words_per_second:,.0f} words/s"
    )
    mon = record.get("monitor")
    if mon:
        text += (
            f"  | held-out: agreement {mon['agreement']:.3f}, "
            f"student ents {mon['student_ents']}, teacher ents {mon['teacher_ents']}"
        )
    return text


def _resolve_corpus(resolved, dot_path: str):
    """The :class:`~.corpus.TeacherCorpus` at ``dot_path`` (``corpora.distillation``)."""
    from spacy.util import dot_to_object, registry

    from .corpus import TeacherCorpus

    try:
        section = dot_to_object(resolved, dot_path)
    except KeyError:
        raise ValueError(
            f"distillation.corpus is {dot_path!r} but the config has no such section: add "
            '[corpora.distillation] with @readers = "spacy-tskd.TeacherCorpus.v1".'
        ) from None
    corpus = registry.resolve({"corpus": section})["corpus"]
    if not isinstance(corpus, TeacherCorpus):
        raise ValueError(
            f"[{dot_path}] must be a spacy-tskd.TeacherCorpus.v1 reader, got "
            f"{type(corpus).__name__}."
        )
    return corpus


def _init_from_teacher(nlp, component: str, teacher_path) -> None:
    """Start the student from a teacher's weights (``distillation.init_from``). The
    teacher must have the student's architecture and label order."""
    path = Path(teacher_path) / component
    if not (path / "model").is_file():
        raise FileNotFoundError(
            f"distillation.init_from: {path}/model not found; give a teacher pipeline "
            f"directory (model-last) with a {component!r} component."
        )
    ner = nlp.get_pipe(component)
    labels = list(ner.labels)
    loss = {k: ner.cfg[k] for k in ("distill_loss", "distill_temperature")}
    try:
        ner.from_disk(path, exclude=["vocab"])
        ner.cfg.update(loss)  # the student's loss, not the teacher's setting
    except ValueError as err:
        raise ValueError(
            f"distillation.init_from: {teacher_path} does not fit the student's architecture "
            f"(same encoder and settings needed): {err}"
        ) from None
    if list(ner.labels) != labels:
        raise ValueError(
            f"distillation.init_from: {teacher_path} has the labels {list(ner.labels)} but "
            f"the teacher probabilities have {labels}."
        )


def _load_dev(path, nlp):
    if not path:
        return None
    from spacy.tokens import DocBin

    return list(DocBin().from_disk(path).get_docs(nlp.vocab))


def _dev_f1(nlp, gold_docs) -> float:
    from ..evaluation.scorer import score_docs

    pred = list(nlp.pipe([unannotated(d, nlp.vocab) for d in gold_docs], batch_size=64))
    return float(score_docs(gold_docs, pred)["ents_f"])


def _save(nlp, path: Path) -> Path:
    with atomic_path(path) as tmp:
        nlp.to_disk(tmp)
    return path


__all__ = ["Monitor", "distill", "plan_shards", "steps_per_epoch"]

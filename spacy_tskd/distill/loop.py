"""The distillation loop: a student learns the teacher's distribution on unlabeled text.

Read it top to bottom: ``distill_steps`` is a generator that performs one
optimizer step per batch and yields after each step (like spaCy's
``train_while_improving``); ``distill`` (:mod:`.run`) is the thin outer
function that drives it, shows progress and writes ``model-last`` (and
``model-best`` when a labelled dev set is given; the paper uses none). The
docs come from memory or, for large corpora, from a shard directory read one
shard at a time (``chunks``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import Optimizer

from ..training.batching import bucket_batches

# (docs, teacher probabilities) or (docs, teacher probabilities, token weights or None)
Chunk = Tuple[Sequence[Doc], ...]
ChunkSource = Callable[[int, random.Random], Iterable[Chunk]]


@dataclass
class Monitor:
    """Teacher-free signals on held-out *unlabeled* target docs.

    They need no gold labels: the number of entities the student predicts and
    its token agreement with the teacher's argmax. A student collapsing to
    ``O`` shows up as a falling entity count long before any test score.
    """

    docs: List[Doc]
    teacher_probs: List[np.ndarray]

    def __call__(self, nlp: Language, component: str) -> Dict[str, float]:
        if not self.docs:
            return {}
        from ..data.decode import decode_spans

        ner = nlp.get_pipe(component)
        student = ner.predict(self.docs)
        labels = ner.labels
        agree = total = 0
        n_student = n_teacher = 0
        for s, t in zip(student, self.teacher_probs):
            s_idx, t_idx = s.argmax(axis=1), t.argmax(axis=1)
            agree += int((s_idx == t_idx).sum())
            total += len(s_idx)
            n_student += len(decode_spans(s, labels, "argmax"))
            n_teacher += len(decode_spans(t, labels, "argmax"))
        return {
            "agreement": agree / max(total, 1),
            "student_ents": n_student,
            "teacher_ents": n_teacher,
        }


def distill_steps(
    nlp: Language,
    docs: Optional[Sequence[Doc]],
    teacher_probs: Optional[Sequence[np.ndarray]],
    optimizer: Optimizer,
    *,
    component: str = "tskd_ner",
    batch_size: int = 32,
    epochs: int = 3,
    seed: int = 0,
    monitor: Optional[Monitor] = None,
    monitor_every: int = 0,
    chunks: Optional[ChunkSource] = None,
    start_step: int = 0,
) -> Iterator[Dict]:
    """Distil ``teacher_probs`` into the student ``nlp``; yield a record after every step.

    docs: unlabeled target docs (no gold annotation is read).
    teacher_probs: ``teacher_probs[i]`` is the teacher distribution for ``docs[i]``.
    chunks: instead of ``docs`` and ``teacher_probs`` (then None), a function
        ``chunks(epoch, rng)`` giving the epoch's ``(docs, teacher_probs)`` chunks
        (or ``(docs, teacher_probs, token_weights)``, weights None or one array per doc),
        e.g. the shards of a directory in a seeded random order, loaded one at a
        time. Each chunk is shuffled and cut into length-bucketed batches on its own.
    start_step: resume after this many steps (:mod:`.checkpoint`): their batches are
        drawn in the same seeded order, and the schedules stepped, without training.
    """
    if chunks is None:
        if docs is None or teacher_probs is None:
            raise ValueError("distill_steps needs docs and teacher_probs, or chunks.")

        def chunks(epoch: int, rng: random.Random) -> Iterable[Chunk]:
            return [(docs, teacher_probs)]

    ner = nlp.get_pipe(component)
    rng = random.Random(seed)
    step = 0
    for epoch in range(epochs):
        for chunk in chunks(epoch, rng):
            chunk_docs, chunk_probs = chunk[0], chunk[1]
            chunk_weights = chunk[2] if len(chunk) > 2 else None
            order = list(range(len(chunk_docs)))
            rng.shuffle(order)
            batches = bucket_batches(
                order, size=batch_size, get_length=lambda i, d=chunk_docs: len(d[i]), rng=rng
            )
            for batch in batches:
                if step < start_step:  # replay the data order up to the checkpoint
                    optimizer.step_schedules()
                    step += 1
                    continue
                examples = [Example(chunk_docs[i], chunk_docs[i]) for i in batch]
                losses: Dict[str, float] = {}
                ner.distill(
                    None,
                    examples,
                    teacher_scores=[chunk_probs[i] for i in batch],
                    token_weights=None
                    if chunk_weights is None
                    else [chunk_weights[i] for i in batch],
                    sgd=optimizer,
                    losses=losses,
                )
                learn_rate = optimizer.learn_rate
                optimizer.step_schedules()
                step += 1
                record = {
                    "step": step,
                    "epoch": epoch,
                    "loss": losses[component],
                    "words": sum(len(eg.predicted) for eg in examples),
                    "docs": len(batch),
                    "learn_rate": float(learn_rate),
                }
                del examples
                if monitor is not None and monitor_every and step % monitor_every == 0:
                    record["monitor"] = monitor(nlp, component)
                yield record


def steps_per_epoch(n_docs: int, batch_size: int) -> int:
    """Optimizer steps in one epoch over ``n_docs`` docs (one chunk): exact, since
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


class Timer:
    """Words per second over the whole run."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.words = 0

    def add(self, words: int) -> float:
        self.words += words
        return self.words / max(time.perf_counter() - self.start, 1e-9)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

"""``bench precision``: float32 against bfloat16 autocast, side by side in one run.

For each precision (the encoder's ``mixed_precision``), on the same docs and batches:

* **training step**: the transformer student stepped as ``distill()`` steps it (the
  steps of ``bench encoders``), words/s and achieved GFLOP/s;
* **annotation**: the teacher's ``tskd_ner.predict`` on length-sorted batches, as
  ``annotate`` runs it, words/s;
* **nlp.pipe**: the saved transformer student on raw texts, words/s.

Annotation and ``nlp.pipe`` report the fastest of ``REPEATS`` runs, split into the time
inside the Hugging Face forward (hooks) and the rest.

The bounds, measured in the same run: a bare ``torch.matmul`` of the encoder's FFN
shape (mean padded pieces per training batch × hidden @ hidden × intermediate) in
float32 and bfloat16, and a bare Hugging Face forward (no spaCy, no thinc) of the
teacher's encoder on the annotation batches' word pieces, with and without autocast.

Training FLOPs count matrix products only: forward 2·N_l + 2·2·s·d per piece and
layer (N_l: one layer's parameters, s: padded window length, d: hidden size) over
all layers, plus twice the forward of the trainable (unfrozen) layers for the
backward pass.
"""

from __future__ import annotations

import contextlib
import gc
import time
from typing import Any, Dict, List, Tuple

import numpy as np

from spacy_tskd.util import PathLike

from . import machine_info, set_threads
from .annotate import measure_matmul
from .student import build_student, padded_groups, run_project, sample_docs, student_hf_model

PRECISIONS = ("fp32", "bf16")
ARCH = "spacy-tskd.TransformerEncoder.v1"
REPEATS = 3  # timed runs of annotation and nlp.pipe; the fastest is reported


def bench_precision(
    *,
    encoder: PathLike,
    teacher: PathLike,
    teacher_probs: PathLike,
    student: PathLike,
    n_sents: int = 320,
    batch_size: int = 32,
    steps: int = 10,
    warmup_steps: int = 1,
    frozen_layers: int = 3,
    seed: int = 0,
    threads: int = 0,
) -> Dict[str, Any]:
    """Time training, annotation and ``nlp.pipe`` in both precisions (module docstring)."""
    from spacy_tskd.distill.corpus import TeacherCorpus

    set_threads(threads)
    corpus = TeacherCorpus([teacher_probs])
    results: Dict[str, Dict[str, Any]] = {p: {} for p in PRECISIONS}
    shapes: Dict[str, Any] = {}
    for precision in PRECISIONS:
        results[precision]["train_step"], shapes = _train_step(
            encoder, corpus, precision, n_sents, batch_size, steps, warmup_steps,
            frozen_layers, seed,
        )  # fmt: skip
    docs = sample_docs(corpus, _blank_vocab(), n_sents, 1)[0]
    for precision in PRECISIONS:
        results[precision]["annotate"] = _annotate(teacher, docs, precision, batch_size)
        gc.collect()
        results[precision]["nlp_pipe"] = _pipe(student, docs, precision, batch_size)
        gc.collect()
    bare = {
        "matmul": {
            p: measure_matmul(
                rows=shapes["mean_padded_pieces_per_batch"],
                inner=shapes["hidden"],
                cols=shapes["intermediate"],
                dtype=dtype,
            )  # fmt: skip
            for p, dtype in (("fp32", "float32"), ("bf16", "bfloat16"))
        },
        "hf_forward": _bare_forward(teacher, docs, batch_size),
    }
    speedup = {
        part: results["fp32"][part]["seconds"] / results["bf16"][part]["seconds"]
        for part in ("train_step", "annotate", "nlp_pipe")
    }
    speedup["bare_matmul"] = bare["matmul"]["bf16"]["peak_gflops"] / bare["matmul"]["fp32"]["peak_gflops"]  # fmt: skip
    speedup["bare_hf_forward"] = bare["hf_forward"]["fp32"] / bare["hf_forward"]["bf16"]
    return {
        "benchmark": "precision",
        "setting": {
            **machine_info(),
            "encoder": str(encoder),
            "teacher": str(teacher),
            "teacher_probs": str(teacher_probs),
            "student": str(student),
            "n_sents": n_sents,
            "batch_size": batch_size,
            "timed_steps": steps,
            "warmup_steps": warmup_steps,
            "frozen_layers": frozen_layers,
            "seed": seed,
        },  # fmt: skip
        "shapes": shapes,
        "precisions": results,
        "bare": bare,
        "speedup_bf16": speedup,
    }


def _blank_vocab():
    import spacy

    return spacy.blank("xx").vocab


def _train_step(encoder, corpus, precision, n_sents, batch_size, steps, warmup, frozen, seed):
    import torch
    from spacy.util import fix_random_seed

    fix_random_seed(seed)
    nlp, optimizer, component = build_student(
        encoder=encoder, labels=corpus.labels, frozen_layers=frozen, encoder_arch=ARCH,
        mixed_precision=precision,
    )  # fmt: skip
    docs, probs, _, _ = sample_docs(corpus, nlp.vocab, n_sents, 1)
    ner = nlp.get_pipe(component)
    torch.manual_seed(seed)
    epochs = max(1, -(-(warmup + steps) * batch_size // len(docs)))
    update_seconds = _time_hf_updates(ner)
    result, batches = run_project(
        nlp, ner, component, docs, probs, optimizer, batch_size, epochs, seed, warmup, steps
    )
    update_ms = 1000 * float(np.median(update_seconds[-steps:]))
    config = student_hf_model(ner).config
    d, n_layers = int(config.hidden_size), int(config.num_hidden_layers)
    inter = int(config.intermediate_size)
    layer_params = 4 * d * d + 2 * d * inter  # Q, K, V, O and the FFN (biases aside)
    flops = 0.0
    timed = [[docs[i] for i in b] for b in batches[warmup:]]
    groups = [g for batch in timed for g in padded_groups(ner, batch)]
    for group in groups:
        s = max(group)
        per_layer = len(group) * s * (2 * layer_params + 4 * s * d)
        flops += per_layer * (n_layers + 2 * (n_layers - frozen))
    words = sum(len(doc) for batch in timed for doc in batch)
    shapes = {
        "hidden": d, "intermediate": inter, "layers": n_layers, "frozen_layers": frozen,
        "mean_padded_pieces_per_batch": int(round(result["padded_pieces"] / len(groups))),
    }  # fmt: skip
    return {
        "seconds": result["seconds"],
        "median_step_ms": 1000 * float(np.median(result["step_seconds"])),
        "words": words,
        "words_per_second": words / result["seconds"],
        "mean_loss": result["mean_loss"],
        # thinc's optimizer over the encoder's trainable weights (NumPy, float32), the
        # same in both precisions: the part of a step autocast cannot speed up
        "median_optimizer_ms": update_ms,
        "flops": flops,
        "achieved_gflops": flops / result["seconds"] / 1e9,
    }, shapes


def _time_hf_updates(ner) -> List[float]:
    """Seconds of every optimizer update of the HF encoder's weights (its shim's
    ``finish_update``, timed by wrapping it on the instance)."""
    shim = _hf_shim(ner)
    seconds: List[float] = []
    update = shim.finish_update

    def timed(optimizer):
        start = time.perf_counter()
        update(optimizer)
        seconds.append(time.perf_counter() - start)

    shim.finish_update = timed
    return seconds


def _hf_shim(ner):
    return ner.model.get_ref("encoder").get_ref("transformer").layers[0].shims[0]


def _override(precision: str) -> Dict[str, Any]:
    return {"components.tskd_ner.model.encoder.mixed_precision": precision}


def _annotate(teacher, docs, precision: str, batch_size: int) -> Dict[str, Any]:
    import spacy

    from spacy_tskd.data.docs import unannotated

    nlp = spacy.load(teacher, config=_override(precision))
    pipe = nlp.get_pipe("tskd_ner")
    sample = [unannotated(d, nlp.vocab) for d in docs]
    order = sorted(range(len(sample)), key=lambda i: len(sample[i]))
    batches = [[sample[i] for i in order[b : b + batch_size]] for b in range(0, len(order), batch_size)]  # fmt: skip
    pipe.predict(batches[0])  # warm-up, untimed

    def run():
        for batch in batches:
            pipe.predict(batch)
        return sum(len(d) for d in sample)

    return _best_of(pipe, run)


def _pipe(student, docs, precision: str, batch_size: int) -> Dict[str, Any]:
    import spacy

    nlp = spacy.load(student, config=_override(precision))
    texts = [d.text for d in docs]
    list(nlp.pipe(texts[:batch_size]))  # warm-up, untimed

    def run():
        return sum(len(doc) for doc in nlp.pipe(texts, batch_size=batch_size))

    return _best_of(nlp.get_pipe("tskd_ner"), run)


def _best_of(pipe, run, repeats: int = REPEATS) -> Dict[str, Any]:
    """The fastest of ``repeats`` runs of ``run`` (it returns the words it processed;
    on 2 shared cores single runs vary by tens of percent), and where its time went:
    the Hugging Face forward (its own calls, timed by hooks, autocast and the float32
    cast of its output included) and the rest (windows, tokenisation,
    spacy-transformers, pooling, softmax, decoding). Every run's seconds are kept."""
    runs = []
    for _ in range(repeats):
        gc.collect()
        with _forward_timer(pipe) as inside:
            start = time.perf_counter()
            words = run()
            seconds = time.perf_counter() - start
        runs.append((seconds, inside["seconds"]))
    seconds, forward = min(runs)
    return {
        "seconds": seconds, "words": words, "words_per_second": words / seconds,
        "hf_forward_seconds": forward, "rest_seconds": seconds - forward,
        "runs_seconds": [r[0] for r in runs],
    }  # fmt: skip


@contextlib.contextmanager
def _forward_timer(pipe):
    """Seconds spent inside the pipe's Hugging Face model while the context is open."""
    hf = student_hf_model(pipe)
    inside = {"seconds": 0.0, "start": 0.0}

    def pre(module, args):
        inside["start"] = time.perf_counter()

    def post(module, args, output):
        inside["seconds"] += time.perf_counter() - inside["start"]

    handles = [hf.register_forward_pre_hook(pre), hf.register_forward_hook(post)]
    try:
        yield inside
    finally:
        for handle in handles:
            handle.remove()


def _bare_forward(teacher, docs, batch_size: int) -> Dict[str, float]:
    """Seconds of the teacher's bare HF encoder on the annotation batches' windows,
    padded per batch as spacy-transformers pads them, in float32 and under autocast."""
    import spacy
    import torch

    nlp = spacy.load(teacher)
    pipe = nlp.get_pipe("tskd_ner")
    hf = student_hf_model(pipe).eval()
    tokenizer = pipe.model.get_ref("encoder").get_ref("transformer").tokenizer
    get_spans = pipe.model.get_ref("encoder").get_ref("transformer").attrs["get_spans"]
    order = sorted(range(len(docs)), key=lambda i: len(docs[i]))
    inputs: List[Tuple[Any, Any]] = []
    for b in range(0, len(order), batch_size):
        batch = [docs[i] for i in order[b : b + batch_size]]
        texts = [s.text for spans in get_spans(batch) for s in spans]
        enc = tokenizer(texts, padding=True, return_tensors="pt")
        inputs.append((enc["input_ids"], enc["attention_mask"]))
    out = {}
    with torch.no_grad():
        for name, on in (("fp32", False), ("bf16", True)):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=on):
                hf(input_ids=inputs[0][0], attention_mask=inputs[0][1])
                start = time.perf_counter()
                for ids, mask in inputs:
                    hf(input_ids=ids, attention_mask=mask)
                out[name] = time.perf_counter() - start
    return out


__all__ = ["bench_precision"]

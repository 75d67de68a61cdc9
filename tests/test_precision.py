"""bfloat16 autocast of the encoder: agreement with float32, the fallback, and loading a
bfloat16-trained pipeline on a CPU without bfloat16."""

import warnings

import numpy as np
import pytest
import spacy

from spacy_tskd import precision
from spacy_tskd.precision import ENV_CPU_BF16, check_precision

from conftest import examples_of, hf_model, make_nlp, train_nlp

# bfloat16 keeps 8 bits of mantissa (relative error ~2**-8 per rounding); after the
# tiny encoder's layers the vectors agree with float32 to a few percent of their scale
VECTOR_TOL = 0.05


def _vectors(nlp, docs):
    encoder = nlp.get_pipe("tskd_ner").model.get_ref("encoder")
    return np.concatenate(encoder.predict(docs))


@pytest.fixture
def cpu_bf16(monkeypatch):
    """Pretend the CPU has (``True``) or lacks (``False``) native bfloat16."""

    def set_(on: bool):
        monkeypatch.setenv(ENV_CPU_BF16, "1" if on else "0")
        monkeypatch.setattr(precision, "_warned", set())

    return set_


def test_check_precision_names_the_choices():
    assert check_precision(False) == "fp32"
    assert check_precision(True) == "fp16"
    assert check_precision("bfloat16") == "bf16"
    with pytest.raises(ValueError, match=r"'bf17' is not a precision: use one of 'fp32', 'bf16'"):
        check_precision("bf17")


def test_bf16_forward_agrees_with_float32(tiny_encoder_dir, train_docs, cpu_bf16):
    cpu_bf16(True)
    fp32 = make_nlp(tiny_encoder_dir)
    fp32.initialize(get_examples=lambda: examples_of(fp32, train_docs))
    bf16 = make_nlp(tiny_encoder_dir, mixed_precision="bf16")
    bf16.initialize(get_examples=lambda: examples_of(bf16, train_docs))
    bf16.get_pipe("tskd_ner").model.from_bytes(fp32.get_pipe("tskd_ner").model.to_bytes())
    a, b = _vectors(fp32, train_docs), _vectors(bf16, train_docs)
    assert b.dtype == np.float32
    scale = np.abs(a).max()
    assert np.abs(a - b).max() <= VECTOR_TOL * scale
    assert not np.array_equal(a, b)  # bfloat16 really ran
    probs_a = fp32.get_pipe("tskd_ner").predict(train_docs)
    probs_b = bf16.get_pipe("tskd_ner").predict(train_docs)
    assert all(p.dtype == np.float32 for p in probs_b)
    assert max(np.abs(x - y).max() for x, y in zip(probs_a, probs_b)) < 0.05


def _losses(nlp, docs, n_iter=30):
    examples = examples_of(nlp, docs)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    optimizer.learn_rate = 1e-3
    return [nlp.update(examples, sgd=optimizer)["tskd_ner"] for _ in range(n_iter)]


def test_bf16_training_follows_float32(tiny_encoder_dir, train_docs, cpu_bf16):
    import torch

    cpu_bf16(True)
    spacy.util.fix_random_seed(0)
    fp32 = _losses(make_nlp(tiny_encoder_dir), train_docs)
    spacy.util.fix_random_seed(0)
    nlp = make_nlp(tiny_encoder_dir, mixed_precision="bf16")
    bf16 = _losses(nlp, train_docs)
    assert bf16 != fp32  # bfloat16 really ran
    assert bf16[-1] < 0.4 * bf16[0]
    assert abs(bf16[-1] - fp32[-1]) < 0.05 * fp32[-1]  # measured: 0.1%
    # the weights and so the optimizer state stay float32
    assert {p.dtype for p in hf_model(nlp).parameters()} == {torch.float32}


def test_bf16_trained_pipeline_predicts_in_float32_without_bf16(
    tiny_encoder_dir, train_docs, cpu_bf16, tmp_path
):
    cpu_bf16(True)
    nlp = make_nlp(tiny_encoder_dir, mixed_precision="bf16")
    train_nlp(nlp, train_docs, n_iter=40)
    nlp.to_disk(tmp_path / "pipeline")
    with_bf16 = _vectors(nlp, train_docs)

    cpu_bf16(False)
    loaded = spacy.load(tmp_path / "pipeline")
    with pytest.warns(UserWarning, match="no native bfloat16.*running in float32") as record:
        docs = list(loaded.pipe(d.text for d in train_docs))
        _vectors(loaded, train_docs)
    assert len([w for w in record if "bfloat16" in str(w.message)]) == 1  # once
    assert any(doc.ents for doc in docs)
    fp32 = make_nlp(tiny_encoder_dir)
    fp32.initialize(get_examples=lambda: examples_of(fp32, train_docs))
    fp32.get_pipe("tskd_ner").model.from_bytes(loaded.get_pipe("tskd_ner").model.to_bytes())
    # the fallback is float32: bit for bit what a float32 pipeline gives
    np.testing.assert_array_equal(_vectors(loaded, train_docs), _vectors(fp32, train_docs))
    assert not np.array_equal(with_bf16, _vectors(fp32, train_docs))


def test_auto_falls_back_silently(tiny_encoder_dir, train_docs, cpu_bf16):
    cpu_bf16(False)
    nlp = make_nlp(tiny_encoder_dir, mixed_precision="auto")
    nlp.initialize(get_examples=lambda: examples_of(nlp, train_docs))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _vectors(nlp, train_docs)

"""The CNN student (configs/student_cnn.cfg): a spaCy tok2vec under the same TokenSoftmax head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import spacy
from spacy.tokens import DocBin
from thinc.api import Config
from typer.testing import CliRunner

from spacy_tskd.cli import app
from spacy_tskd.distill.annotate import annotate

from conftest import TRAIN_SENTS, make_nlp

CNN_CFG = Path(__file__).parent.parent / "configs" / "student_cnn.cfg"
TEXTS = [" ".join(w for w, _ in sent) for sent in TRAIN_SENTS]


@pytest.fixture(scope="module")
def teacher(overfit_teacher_dir):
    """The session's tiny transformer teacher, overfit on the 3 synthetic sentences."""
    return spacy.load(overfit_teacher_dir), overfit_teacher_dir


def _ents(nlp, text):
    return [(e.start, e.end, e.label_) for e in nlp(text).ents]


def test_cnn_student_learns_the_teacher_from_plain_text_shards(teacher, tmp_path):
    teacher_nlp, teacher_path = teacher
    text = tmp_path / "es.txt"
    text.write_text("\n".join(TEXTS) + "\n", encoding="utf8")
    annotate(
        teacher_path=teacher_path,
        input_path=text,
        output_dir=tmp_path / "shards",
        lang="es",
        shard_size=2,
        progress=False,
    )
    result = CliRunner().invoke(
        app,
        [
            "distill",
            str(CNN_CFG),
            "--output",
            str(tmp_path / "student"),
            "--paths.teacher_probs",
            str(tmp_path / "shards"),
            "--distillation.batch_size",
            "2",
            "--distillation.max_epochs",
            "40",
            "--distillation.heldout",
            "0",
            "--distillation.warmup_frac",
            "0",
            "--distillation.log_every",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    student = spacy.load(tmp_path / "student" / "model-last")
    assert student.lang == "es" and student.pipe_names == ["tskd_ner"]
    encoder = student.get_pipe("tskd_ner").model.get_ref("encoder")
    width = Config().from_disk(CNN_CFG)["components"]["tskd_ner"]["model"]["encoder"]["embed"]
    assert encoder.get_dim("nO") == width["width"]  # the config's tok2vec, no transformer
    losses = [r["loss"] for r in student.meta["tskd"]["log"]]
    assert len(losses) == 40 * 2  # shards of 2 and 1 docs, batch 2
    assert np.mean(losses[-4:]) < 0.1 * np.mean(losses[:4])
    expected = [_ents(teacher_nlp, t) for t in TEXTS]
    assert all(expected)
    # plain strings, tokenised by the student's own (es) tokenizer
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in student.pipe(TEXTS)] == expected
    probs = [d._.tskd_probs for d in student.pipe(TEXTS + ["", "Lima"])]
    assert [p.shape for p in probs] == [(5, 7), (5, 7), (5, 7), (0, 7), (1, 7)]


def test_cnn_student_from_a_docbin(teacher, train_docs, tmp_path):
    _, teacher_path = teacher
    DocBin(docs=train_docs).to_disk(tmp_path / "target.spacy")
    annotate(
        teacher_path=teacher_path,
        input_path=tmp_path / "target.spacy",
        output_dir=tmp_path / "probs",
        progress=False,
    )
    result = CliRunner().invoke(
        app,
        [
            "distill",
            str(CNN_CFG),
            "--output",
            str(tmp_path / "student"),
            "--paths.teacher_probs",
            str(tmp_path / "probs"),
            "--nlp.lang",
            "xx",
            "--distillation.max_epochs",
            "2",
            "--distillation.heldout",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    student = spacy.load(tmp_path / "student" / "model-last")
    assert student.lang == "xx"
    assert student("Anna visited Paris today .")._.tskd_probs.shape == (5, 7)


def test_cnn_student_with_vectors_from_the_encoder(teacher, tiny_encoder_dir, tmp_path):
    _, teacher_path = teacher
    text = tmp_path / "xx.txt"
    text.write_text("\n".join(TEXTS) + "\n", encoding="utf8")
    vectors = tmp_path / "vectors"
    args = ["encoder", "vectors", str(tiny_encoder_dir), str(vectors), "--texts", str(text)]
    result = CliRunner().invoke(app, args + ["--lang", "xx"])
    assert result.exit_code == 0, result.output
    table = spacy.load(vectors).vocab.vectors
    n_types = len({w for t in TEXTS for w in t.split()})
    assert table.shape == (n_types, 32)  # one row per word type, the encoder's width
    assert np.allclose(np.linalg.norm(table.data, axis=1), 1.0, atol=1e-5)
    # a word's vector is the mean of its pieces' embedding rows
    from spacy_tskd.encoders.vectors import piece_vectors

    anna = piece_vectors(["Anna"], encoder=str(tiny_encoder_dir))[0]
    assert np.allclose(table[spacy.load(vectors).vocab.strings["Anna"]], anna, atol=1e-6)
    annotate(
        teacher_path=teacher_path,
        input_path=text,
        lang="xx",
        output_dir=tmp_path / "p",
        progress=False,
    )
    args = ["distill", str(CNN_CFG), "--output", str(tmp_path / "student")]
    args += ["--paths.teacher_probs", str(tmp_path / "p"), "--paths.vectors", str(vectors)]
    args += ["--components.tskd_ner.model.encoder.embed.include_static_vectors", "true"]
    args += ["--nlp.lang", "xx", "--distillation.max_epochs", "2", "--distillation.heldout", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    student = spacy.load(tmp_path / "student" / "model-last")
    assert student.vocab.vectors.shape == (n_types, 32)  # the student carries the table
    assert student("Anna visited Paris today .")._.tskd_probs.shape == (5, 7)
    missing = ["--texts", str(tmp_path / "missing.txt"), "--lang", "xx"]
    result = CliRunner().invoke(app, ["encoder", "vectors", str(tiny_encoder_dir), "v"] + missing)
    assert result.exit_code == 1 and "missing.txt does not exist" in " ".join(result.output.split())


def test_output_layer_starts_at_zero_for_the_cnn_only(tiny_encoder_dir, train_docs):
    from spacy.util import load_config, load_model_from_config

    labels = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    config = load_config(CNN_CFG)
    config["initialize"]["components"]["tskd_ner"] = {"labels": labels}
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    nlp.initialize(lambda: [])
    probs = nlp("Anna visited Paris today .")._.tskd_probs
    assert np.allclose(probs, 1 / 7)  # uniform: the softmax does not start saturated
    # the transformer head keeps thinc's default (Glorot) initialisation
    transformer = make_nlp(tiny_encoder_dir)
    transformer.get_pipe("tskd_ner").initialize(lambda: [], labels=labels)
    weights = transformer.get_pipe("tskd_ner").model.get_ref("output_layer").get_param("W")
    assert np.abs(weights).max() > 0


def test_cpu_matmul_numpy_or_blis_same_predictions(tmp_path):
    from spacy.util import load_config, load_model_from_config
    from thinc.api import NumpyOps

    labels = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    config = load_config(CNN_CFG)
    config["initialize"]["components"]["tskd_ner"] = {"labels": labels}
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    nlp.initialize(lambda: [])
    model = nlp.get_pipe("tskd_ner").model
    W = model.get_ref("output_layer").get_param("W")
    rng = np.random.default_rng(0)  # random output weights: the CNN below shows in the output
    model.get_ref("output_layer").set_param("W", rng.normal(size=W.shape).astype("f"))
    assert nlp.config["components"]["tskd_ner"]["cpu_matmul"] == "numpy"  # the default
    ops = {type(n.ops) for n in model.walk()} | {n.ops.use_blis for n in model.walk()}
    assert ops == {NumpyOps, False}
    nlp.to_disk(tmp_path / "p")
    blis = spacy.load(tmp_path / "p", config={"components": {"tskd_ner": {"cpu_matmul": "blis"}}})
    assert all(n.ops.use_blis for n in blis.get_pipe("tskd_ner").model.walk())
    for a, b in zip(nlp.pipe(TEXTS), blis.pipe(TEXTS)):
        assert a._.tskd_probs.std(axis=0).max() > 0.01  # tokens differ: the CNN matters
        assert np.allclose(a._.tskd_probs, b._.tskd_probs, atol=1e-5)
    with pytest.raises(ValueError, match="Unknown cpu_matmul 'mkl' for tskd_ner"):
        spacy.load(tmp_path / "p", config={"components": {"tskd_ner": {"cpu_matmul": "mkl"}}})

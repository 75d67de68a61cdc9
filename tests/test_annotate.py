"""The annotate step: teacher probabilities computed once (eval mode, no gold) and stored."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from typer.testing import CliRunner

from spacy_tskd import __version__
from spacy_tskd.cli import app
from spacy_tskd.data.bio import bio_to_spans, doc_to_bio
from spacy_tskd.distill.teacher_probs import (
    TeacherProbs,
    annotate,
    load_teacher_probs,
    merge_shards,
)
from spacy_tskd.pipeline.ner import TokenSoftmaxNER

from conftest import TRAIN_SENTS, make_nlp

# Target sentences of different lengths (not sorted by length), all with gold entities.
TARGET_SENTS = [
    [("Boris", "B-PER"), ("met", "O"), ("Anna", "B-PER"), ("in", "O"), ("Oslo", "B-LOC")]
    + [("and", "O"), ("Quito", "B-LOC"), ("today", "O"), (".", "O")],
    [("Globex", "B-ORG")],
    [("Carla", "B-PER"), ("works", "O"), ("for", "O"), ("Initech", "B-ORG"), (".", "O")],
    [("Lima", "B-LOC"), ("and", "O"), ("Paris", "B-LOC")],
    [],
    [("Dmitri", "B-PER"), ("Anna", "I-PER"), ("visited", "O"), ("Acme", "B-ORG")]
    + [("and", "O"), ("the", "O"), ("Oslo", "B-LOC"), ("Globex", "B-ORG")]
    + [("from", "O"), ("Lima", "B-LOC"), ("today", "O"), (".", "O")],
    [("the", "O"), ("Acme", "B-ORG")],
]
LENGTHS = [len(s) for s in TARGET_SENTS]


def _gold_doc(vocab, sent):
    doc = Doc(vocab, words=[w for w, _ in sent])
    doc.ents = [Span(doc, s, e, label=lab) for s, e, lab in bio_to_spans([t for _, t in sent])]
    return doc


@pytest.fixture(scope="module")
def teacher_dir(tiny_encoder_dir, tmp_path_factory):
    """A tiny tskd_ner teacher, initialized and trained for 3 updates, saved to disk."""
    nlp = make_nlp(tiny_encoder_dir)
    examples = []
    for sent in TRAIN_SENTS:
        gold = _gold_doc(nlp.vocab, sent)
        words = [t.text for t in gold]
        examples.append(
            Example(Doc(nlp.vocab, words=words), Doc(nlp.vocab, words=words, ents=doc_to_bio(gold)))
        )
    optimizer = nlp.initialize(get_examples=lambda: examples)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    path = tmp_path_factory.mktemp("teacher") / "pipeline"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def docs_path(tmp_path_factory):
    """A DocBin of the target sentences, gold entities included."""
    vocab = spacy.blank("xx").vocab
    docs = [_gold_doc(vocab, s) for s in TARGET_SENTS]
    assert sum(len(d.ents) for d in docs) > 0
    path = tmp_path_factory.mktemp("docs") / "target.spacy"
    DocBin(docs=docs).to_disk(path)
    return path


def _expected(teacher_dir, n=None):
    """``ner.predict`` on each target doc on its own, in a freshly loaded teacher."""
    nlp = spacy.load(teacher_dir)
    ner = nlp.get_pipe("tskd_ner")
    out = []
    for sent in TARGET_SENTS[:n]:
        if not sent:
            out.append(np.zeros((0, len(ner.labels)), dtype=np.float32))
            continue
        out.append(ner.predict([Doc(nlp.vocab, words=[w for w, _ in sent])])[0])
    return out, ner.labels


def test_stored_probs_equal_predict_in_input_order(teacher_dir, docs_path, tmp_path, monkeypatch):
    batch_lengths = []
    original = TokenSoftmaxNER.predict

    def recording_predict(self, docs):
        docs = list(docs)
        batch_lengths.append([len(d) for d in docs])
        return original(self, docs)

    monkeypatch.setattr(TokenSoftmaxNER, "predict", recording_predict)
    out = tmp_path / "teacher.npz"
    meta = annotate(teacher_path=teacher_dir, docs_path=docs_path, output_path=out, batch_size=2)
    monkeypatch.undo()

    # batches were length-sorted (so the input order was not kept for inference) ...
    flat = [n for batch in batch_lengths for n in batch]
    assert flat == sorted(n for n in LENGTHS if n)
    assert flat != [n for n in LENGTHS if n]
    # ... but the stored order is the input order, and the values are predict's
    probs = load_teacher_probs(out)
    expected, labels = _expected(teacher_dir)
    assert len(probs) == len(TARGET_SENTS) == meta["n_docs"]
    assert meta["n_tokens"] == sum(LENGTHS) == probs.n_tokens
    assert probs.labels == labels
    for i, exp in enumerate(expected):
        got = probs[i]
        assert got.dtype == np.float32
        assert got.shape == (LENGTHS[i], len(labels))
        assert np.allclose(got, exp, atol=2e-3), i
        if len(got):
            assert np.allclose(got.sum(axis=1), 1.0, atol=1e-6)
    assert probs[-1].shape == probs[len(probs) - 1].shape
    with pytest.raises(IndexError):
        probs[len(probs)]


def test_annotation_never_sees_gold(teacher_dir, docs_path, tmp_path, monkeypatch):
    gold_docs = list(DocBin().from_disk(docs_path).get_docs(spacy.blank("xx").vocab))
    assert any(d.has_annotation("ENT_IOB") and d.ents for d in gold_docs)
    original = TokenSoftmaxNER.predict
    seen = []

    def checking_predict(self, docs):
        docs = list(docs)
        for doc in docs:
            assert not doc.ents
            assert not doc.has_annotation("ENT_IOB")
            assert not doc.has_annotation("TAG") and not doc.has_annotation("POS")
            assert not doc.user_data and not doc.spans and not doc.cats
            seen.append(doc.text)
        return original(self, docs)

    monkeypatch.setattr(TokenSoftmaxNER, "predict", checking_predict)
    annotate(teacher_path=teacher_dir, docs_path=docs_path, output_path=tmp_path / "t.npz")
    assert len(seen) == sum(1 for n in LENGTHS if n)


def test_meta_and_file_format(teacher_dir, docs_path, tmp_path):
    out = tmp_path / "teacher.npz"
    meta = annotate(teacher_path=teacher_dir, docs_path=docs_path, output_path=out)
    weights = teacher_dir / "tskd_ner" / "model"
    labels = spacy.load(teacher_dir).get_pipe("tskd_ner").labels
    assert meta["teacher_path"] == str(teacher_dir.resolve())
    assert meta["teacher_weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert meta["docs_sha256"] == hashlib.sha256(docs_path.read_bytes()).hexdigest()
    assert meta["docs_path"] == str(docs_path.resolve())
    assert meta["component"] == "tskd_ner"
    assert meta["labels"] == list(labels)
    assert meta["dtype"] == "float16"
    assert meta["spacy_tskd_version"] == __version__
    assert meta["shard"] is None and (meta["doc_start"], meta["doc_end"]) == (0, len(LENGTHS))
    assert meta["created"]

    with np.load(out, allow_pickle=False) as data:
        assert sorted(data.files) == ["labels", "meta", "offsets", "probs"]
        assert data["probs"].dtype == np.float16
        assert data["probs"].shape == (sum(LENGTHS), len(labels))
        assert data["offsets"].dtype == np.int64
        assert data["offsets"].tolist() == np.concatenate([[0], np.cumsum(LENGTHS)]).tolist()
        assert data["labels"].tolist() == list(labels)
        assert json.loads(str(data["meta"][()])) == meta
    assert load_teacher_probs(out).meta == meta
    assert list(tmp_path.iterdir()) == [out]  # no temporary files left


def test_check_labels_error_names_file_and_orders(teacher_dir, docs_path, tmp_path):
    out = tmp_path / "teacher.npz"
    annotate(teacher_path=teacher_dir, docs_path=docs_path, output_path=out)
    probs = load_teacher_probs(out)
    probs.check_labels(probs.labels)  # same order: fine
    other = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
    with pytest.raises(ValueError) as err:
        probs.check_labels(other, what="the student pipeline")
    text = str(err.value)
    assert str(out) in text
    assert str(list(probs.labels)) in text and str(list(other)) in text
    assert "the student pipeline" in text


def test_check_docs_mismatch(teacher_dir, docs_path, tmp_path):
    out = tmp_path / "teacher.npz"
    annotate(teacher_path=teacher_dir, docs_path=docs_path, output_path=out)
    probs = load_teacher_probs(out)
    vocab = spacy.blank("xx").vocab
    docs = [_gold_doc(vocab, s) for s in TARGET_SENTS]
    probs.check_docs(docs)
    changed = list(docs)
    changed[2] = Doc(vocab, words=["Carla", "works"])
    with pytest.raises(ValueError, match=r"doc 2 has 2 tokens but the file stores 5") as err:
        probs.check_docs(changed)
    assert str(out) in str(err.value)
    with pytest.raises(ValueError, match=r"stores 7 docs but 6 were given") as err:
        probs.check_docs(docs[:-1])
    assert "first mismatching doc index 6" in str(err.value)
    with pytest.raises(ValueError, match=r"stores 7 docs but 8 were given"):
        probs.check_docs(docs + docs[:1])
    # distill.max_docs: the first N docs of a larger file are fine, a longer list is not
    probs.check_docs(docs[:-1], prefix=True)
    with pytest.raises(ValueError, match=r"stores 7 docs but 8 were given"):
        probs.check_docs(docs + docs[:1], prefix=True)
    with pytest.raises(ValueError, match=r"doc 2 has 2 tokens"):
        probs.check_docs(changed[:4], prefix=True)


def test_no_partial_file_after_failure(teacher_dir, docs_path, tmp_path, monkeypatch):
    out = tmp_path / "teacher.npz"
    calls = []
    original = TokenSoftmaxNER.predict

    def failing_predict(self, docs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        return original(self, docs)

    monkeypatch.setattr(TokenSoftmaxNER, "predict", failing_predict)
    with pytest.raises(RuntimeError, match="simulated crash"):
        annotate(teacher_path=teacher_dir, docs_path=docs_path, output_path=out, batch_size=2)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    # an existing file is left as it was
    out.write_bytes(b"old")
    calls.clear()
    with pytest.raises(RuntimeError):
        annotate(teacher_path=teacher_dir, docs_path=docs_path, output_path=out, batch_size=2)
    assert out.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [out]


def test_failure_while_writing_leaves_nothing(teacher_dir, docs_path, tmp_path, monkeypatch):
    out = tmp_path / "teacher.npz"

    def broken_savez(f, **arrays):
        f.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        annotate(teacher_path=teacher_dir, docs_path=docs_path, output_path=out)
    assert list(tmp_path.iterdir()) == []


def test_max_docs(teacher_dir, docs_path, tmp_path):
    out = tmp_path / "teacher.npz"
    meta = annotate(teacher_path=teacher_dir, docs_path=docs_path, output_path=out, max_docs=3)
    probs = load_teacher_probs(out)
    assert len(probs) == meta["n_docs"] == 3
    assert meta["docs_total"] == len(LENGTHS) and meta["max_docs"] == 3
    expected, _ = _expected(teacher_dir, 3)
    for i in range(3):
        assert np.allclose(probs[i], expected[i], atol=2e-3)


def test_shards_merge_to_the_full_file(teacher_dir, docs_path, tmp_path):
    full = tmp_path / "full.npz"
    annotate(teacher_path=teacher_dir, docs_path=docs_path, output_path=full, batch_size=3)
    paths = [tmp_path / f"shard{i}.npz" for i in range(3)]
    ranges = []
    for i in (2, 0, 1):
        meta = annotate(
            teacher_path=teacher_dir,
            docs_path=docs_path,
            output_path=paths[i],
            batch_size=3,
            shard=(i, 3),
        )
        ranges.append((i, meta["doc_start"], meta["doc_end"]))
        assert meta["shard"] == {"index": i, "count": 3}
    # contiguous blocks of 7 docs: [0, 2), [2, 4), [4, 7)
    assert sorted(ranges) == [(0, 0, 2), (1, 2, 4), (2, 4, 7)]
    shard2 = load_teacher_probs(paths[2])
    vocab = spacy.blank("xx").vocab
    shard2.check_docs([_gold_doc(vocab, s) for s in TARGET_SENTS[4:]])

    merged = tmp_path / "merged.npz"
    meta = merge_shards([paths[1], paths[2], paths[0]], merged)
    a, b = load_teacher_probs(full), load_teacher_probs(merged)
    assert meta["shard"] is None and meta["n_docs"] == len(b) == len(a)
    assert np.array_equal(a.offsets, b.offsets)
    assert a.labels == b.labels
    for i in range(len(a)):
        assert np.allclose(a[i], b[i], atol=2e-3)
    assert b.meta["teacher_weights_sha256"] == a.meta["teacher_weights_sha256"]

    with pytest.raises(ValueError, match=r"missing \[1\]"):
        merge_shards([paths[0], paths[2]], tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="not a shard file"):
        merge_shards([full, paths[0]], tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()


def test_bad_shard_argument(teacher_dir, docs_path, tmp_path):
    with pytest.raises(ValueError, match="shard"):
        annotate(
            teacher_path=teacher_dir,
            docs_path=docs_path,
            output_path=tmp_path / "x.npz",
            shard=(3, 3),
        )


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_teacher_probs(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not numpy")
    with pytest.raises(ValueError, match="not a valid teacher probabilities file"):
        load_teacher_probs(garbage)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(
        ValueError, match=r"missing arrays \['probs', 'offsets', 'labels', 'meta'\]"
    ):
        load_teacher_probs(other)
    pickled = tmp_path / "pickled.npz"
    np.savez(
        pickled,
        probs=np.zeros((1, 1), np.float16),
        offsets=np.array([0, 1]),
        labels=np.array(["O"]),
        meta=np.array({"a": 1}, dtype=object),
    )
    with pytest.raises(ValueError, match="not a valid"):
        load_teacher_probs(pickled)
    bad_offsets = tmp_path / "bad_offsets.npz"
    np.savez(
        bad_offsets,
        probs=np.zeros((2, 1), np.float16),
        offsets=np.array([0, 3]),
        labels=np.array(["O"]),
        meta=np.array("{}"),
    )
    with pytest.raises(ValueError, match="offsets"):
        load_teacher_probs(bad_offsets)


def test_teacher_errors(teacher_dir, docs_path, tmp_path):
    with pytest.raises(ValueError, match=r"no component 'ner'.*\['tskd_ner'\]"):
        annotate(
            teacher_path=teacher_dir,
            docs_path=docs_path,
            output_path=tmp_path / "x.npz",
            component="ner",
        )
    with pytest.raises(FileNotFoundError, match="Teacher pipeline"):
        annotate(teacher_path=tmp_path / "nope", docs_path=docs_path, output_path=tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="Docs file"):
        annotate(teacher_path=teacher_dir, docs_path=tmp_path / "no.spacy", output_path="x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_teacher_probs_direct():
    p = TeacherProbs(
        "mem.npz",
        np.array([[0.5, 0.5], [0.25, 0.7498]], dtype=np.float16),
        np.array([0, 1, 2]),
        ["O", "B-X"],
        {},
    )
    assert len(p) == 2 and p.labels == ("O", "B-X")
    assert np.allclose(p[1].sum(), 1.0, atol=1e-6)
    assert [x.shape for x in p] == [(1, 2), (1, 2)]


def test_cli(teacher_dir, docs_path, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli.npz"
    result = runner.invoke(
        app,
        [
            "annotate",
            str(teacher_dir),
            str(docs_path),
            str(out),
            "--batch-size",
            "4",
            "--max-docs",
            "5",
            "--component",
            "tskd_ner",
            "--gpu-id",
            "-1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "docs" in result.output and "tokens" in result.output
    assert str(sum(LENGTHS[:5])) in result.output
    assert str(out) in result.output
    assert len(load_teacher_probs(out)) == 5

    shards = [tmp_path / f"s{i}.npz" for i in range(2)]
    for i, s in enumerate(shards):
        result = runner.invoke(
            app, ["annotate", str(teacher_dir), str(docs_path), str(s), "--shard", f"{i}/2"]
        )
        assert result.exit_code == 0, result.output
    merged = tmp_path / "merged.npz"
    result = runner.invoke(app, ["merge-shards", str(merged)] + [str(s) for s in shards])
    assert result.exit_code == 0, result.output
    assert len(load_teacher_probs(merged)) == len(LENGTHS)

    result = runner.invoke(
        app, ["annotate", str(teacher_dir), str(tmp_path / "missing.spacy"), str(out)]
    )
    assert result.exit_code == 1
    assert "Docs file not found" in result.output
    result = runner.invoke(
        app, ["annotate", str(teacher_dir), str(docs_path), str(out), "--shard", "2"]
    )
    assert result.exit_code == 1
    assert "I/N" in result.output

"""The annotate step: teacher probabilities computed once (eval mode, no gold), stored in
the docs of DocBin shards, resumable; and the errors of every bad input."""

from __future__ import annotations

import gc
import json
import weakref
from hashlib import sha256

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span
from typer.testing import CliRunner

from spacy_tskd import __version__
from spacy_tskd.cli import app
from spacy_tskd.data.bio import bio_to_spans
from spacy_tskd.distill import annotate as annotate_module
from spacy_tskd.distill.annotate import annotate
from spacy_tskd.distill.annotations import FORMAT, USER_DATA_KEY, shard_file
from spacy_tskd.distill.corpus import TeacherCorpus
from spacy_tskd.pipeline.ner import TokenSoftmaxNER

from conftest import LINES, TARGET_SENTS, read_annotations

LENGTHS = [len(s) for s in TARGET_SENTS]
N_LINES = sum(1 for line in LINES if line.strip())


def _gold_doc(vocab, sent):
    doc = Doc(vocab, words=[w for w, _ in sent])
    doc.ents = [Span(doc, s, e, label=lab) for s, e, lab in bio_to_spans([t for _, t in sent])]
    return doc


def _counting_predict(monkeypatch, fail_at=None):
    calls = {"docs": 0, "batches": 0, "lengths": []}
    original = TokenSoftmaxNER.predict

    def predict(self, docs):
        docs = list(docs)
        calls["batches"] += 1
        if fail_at is not None and calls["batches"] == fail_at:
            raise RuntimeError("simulated crash")
        calls["docs"] += len(docs)
        calls["lengths"].append([len(d) for d in docs])
        return original(self, docs)

    monkeypatch.setattr(TokenSoftmaxNER, "predict", predict)
    return calls


# ---------------------------------------------------------------- what is stored


def test_docs_carry_predict_probs_in_input_order(teacher_dir, docs_path, tmp_path, monkeypatch):
    calls = _counting_predict(monkeypatch)
    out = tmp_path / "en-xx"
    info = annotate(
        teacher_path=teacher_dir, input_path=docs_path, output_dir=out, batch_size=2, progress=False
    )
    monkeypatch.undo()
    # predict sees the docs in input order, batch_size at a time (the transformer
    # layer sorts by length inside: spacy-transformers' batch_by_length) ...
    flat = [n for batch in calls["lengths"] for n in batch]
    assert flat == [n for n in LENGTHS if n] and flat != sorted(flat)
    assert max(len(batch) for batch in calls["lengths"]) == 2
    # ... and the docs are stored in the input order, each with predict's values
    docs, probs = read_annotations(out)
    nlp = spacy.load(teacher_dir)
    ner = nlp.get_pipe("tskd_ner")
    assert [[t.text for t in d] for d in docs] == [[w for w, _ in s] for s in TARGET_SENTS]
    assert info["n_docs"] == len(TARGET_SENTS) and info["n_tokens"] == sum(LENGTHS)
    for sent, got in zip(TARGET_SENTS, probs):
        assert got.dtype == np.float32 and got.shape == (len(sent), len(ner.labels))
        if sent:
            expected = ner.predict([Doc(nlp.vocab, words=[w for w, _ in sent])])[0]
            assert np.allclose(got, expected, atol=2e-3)
            assert np.allclose(got.sum(axis=1), 1.0, atol=1e-6)
    assert not any(d.ents for d in docs) and not any(d.user_data for d in docs)


def test_directory_format(teacher_dir, docs_path, tmp_path):
    out = tmp_path / "en-xx"
    annotate(
        teacher_path=teacher_dir, input_path=docs_path, output_dir=out, shard_size=4, progress=False
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "index.json",
        "meta.json",
        "shard-00000.json",
        "shard-00000.spacy",
        "shard-00001.json",
        "shard-00001.spacy",
    ]  # no temporary files left
    index = json.loads((out / "index.json").read_text())
    weights = sha256((teacher_dir / "tskd_ner" / "model").read_bytes()).hexdigest()
    labels = list(spacy.load(teacher_dir).get_pipe("tskd_ner").labels)
    assert index["format"] == FORMAT and index["labels"] == labels
    assert index["teacher"]["weights_sha256"] == weights
    assert index["teacher"]["path"] == str(teacher_dir.resolve())
    assert index["input"]["sha256"] == sha256(docs_path.read_bytes()).hexdigest()
    assert index["input"]["format"] == "docbin" and index["spacy_tskd_version"] == __version__
    assert [(s["doc_start"], s["doc_end"]) for s in index["shards"]] == [(0, 4), (4, 7)]
    assert index["n_tokens"] == sum(LENGTHS)
    # a shard is a plain DocBin whose docs carry float16 probabilities and the teacher
    docs = list(DocBin().from_disk(out / "shard-00001.spacy").get_docs(spacy.blank("xx").vocab))
    entry = docs[1].user_data[USER_DATA_KEY]
    assert entry["teacher"] == weights[:16]
    assert entry["probs"].dtype == np.float16 and entry["probs"].shape == (LENGTHS[5], len(labels))
    assert not docs[1].ents  # gold never stored


def test_annotation_never_sees_gold(teacher_dir, docs_path, tmp_path, monkeypatch):
    original = TokenSoftmaxNER.predict
    seen = []

    def checking_predict(self, docs):
        docs = list(docs)
        for doc in docs:
            assert not doc.ents and not doc.has_annotation("ENT_IOB")
            assert not doc.user_data and not doc.spans and not doc.cats
            seen.append(doc.text)
        return original(self, docs)

    monkeypatch.setattr(TokenSoftmaxNER, "predict", checking_predict)
    annotate(teacher_path=teacher_dir, input_path=docs_path, output_dir=tmp_path / "o")
    assert len(seen) == sum(1 for n in LENGTHS if n)


def test_plain_text_equals_the_same_docs_as_a_docbin(teacher_dir, text_path, tmp_path):
    info = annotate(
        teacher_path=teacher_dir,
        input_path=text_path,
        output_dir=tmp_path / "text",
        shard_size=4,
        lang="en",
        progress=False,
    )
    assert (info["n_docs"], info["n_shards"]) == (N_LINES, 3)
    en = spacy.blank("en")
    docbin = tmp_path / "same.spacy"
    DocBin(docs=[en(line.strip()) for line in LINES if line.strip()]).to_disk(docbin)
    annotate(teacher_path=teacher_dir, input_path=docbin, output_dir=tmp_path / "bin")
    (text_docs, text_probs), (bin_docs, bin_probs) = (
        read_annotations(tmp_path / "text"),
        read_annotations(tmp_path / "bin"),
    )
    assert [d.text for d in text_docs] == [d.text for d in bin_docs]
    for a, b in zip(text_probs, bin_probs):
        assert np.allclose(a, b, atol=2e-3)


def test_parts_split_one_run(teacher_dir, text_path, tmp_path):
    kwargs = dict(
        teacher_path=teacher_dir, input_path=text_path, lang="en", shard_size=3, progress=False
    )
    annotate(output_dir=tmp_path / "one", **kwargs)
    out = tmp_path / "parts"
    first = annotate(output_dir=out, part=(1, 2), **kwargs)
    assert first["written"] == [1, 3] and not first["complete"]
    assert not (out / "index.json").exists()
    with pytest.raises(ValueError, match="unfinished"):
        TeacherCorpus([out])
    second = annotate(output_dir=out, part=(0, 2), **kwargs)
    assert second["written"] == [0, 2] and second["complete"]
    (a_docs, a_probs), (b_docs, b_probs) = read_annotations(tmp_path / "one"), read_annotations(out)
    assert [d.text for d in a_docs] == [d.text for d in b_docs]
    assert all(np.array_equal(a, b) for a, b in zip(a_probs, b_probs))
    with pytest.raises(ValueError, match="part must be I/N"):
        annotate(output_dir=out, part=(2, 2), **kwargs)


def test_max_docs(teacher_dir, docs_path, tmp_path):
    info = annotate(
        teacher_path=teacher_dir, input_path=docs_path, output_dir=tmp_path / "o", max_docs=3
    )
    docs, _ = read_annotations(tmp_path / "o")
    assert info["n_docs"] == len(docs) == 3


# ---------------------------------------------------------------- resume


def test_resume_after_crash(teacher_dir, text_path, tmp_path, monkeypatch):
    kwargs = dict(
        teacher_path=teacher_dir,
        input_path=text_path,
        lang="en",
        shard_size=3,
        batch_size=3,
        progress=False,
    )
    annotate(output_dir=tmp_path / "reference", **kwargs)
    ref_docs, ref_probs = read_annotations(tmp_path / "reference")

    out = tmp_path / "out"
    _counting_predict(monkeypatch, fail_at=3)  # one predict call per shard of 3 docs
    with pytest.raises(RuntimeError, match="simulated crash"):
        annotate(output_dir=out, **kwargs)
    assert {p.name for p in out.glob("shard-*")} == {
        f"shard-0000{i}{s}" for i in (0, 1) for s in (".spacy", ".json")
    }
    assert not (out / "index.json").exists()

    calls = _counting_predict(monkeypatch)
    info = annotate(output_dir=out, **kwargs)
    assert info["skipped"] == [0, 1] and info["written"] == [2, 3] and info["complete"]
    assert calls["docs"] == 4  # only the docs of shards 2 and 3 were predicted

    # another kind of crash: one shard lost, one truncated, a temporary file left over
    shard_file(out, 3).unlink()
    data = shard_file(out, 1).read_bytes()
    shard_file(out, 1).write_bytes(data[: len(data) // 2])
    (out / ".shard-00002.spacy.abc.tmp").write_bytes(b"partial")
    mtime0 = shard_file(out, 0).stat().st_mtime_ns
    calls = _counting_predict(monkeypatch)
    info = annotate(output_dir=out, **kwargs)
    assert info["skipped"] == [0, 2] and info["written"] == [1, 3]
    assert calls["docs"] == 3 + 1
    assert shard_file(out, 0).stat().st_mtime_ns == mtime0  # not recomputed
    docs, probs = read_annotations(out)
    assert [d.text for d in docs] == [d.text for d in ref_docs]
    assert all(np.array_equal(a, b) for a, b in zip(probs, ref_probs))

    calls = _counting_predict(monkeypatch)  # a finished directory: nothing is predicted
    assert annotate(output_dir=out, **kwargs)["written"] == [] and calls["docs"] == 0


def test_one_shard_in_memory_at_a_time(teacher_dir, text_path, tmp_path, monkeypatch):
    held = []
    original = annotate_module.write_shard

    def write_shard(directory, index, docs, info):
        gc.collect()
        assert all(ref() is None for ref in held), "a previous shard's docs are still in memory"
        held.append(weakref.ref(docs[0]))
        return original(directory, index, docs, info)

    monkeypatch.setattr(annotate_module, "write_shard", write_shard)
    annotate(
        teacher_path=teacher_dir,
        input_path=text_path,
        lang="en",
        output_dir=tmp_path / "o",
        shard_size=2,
        progress=False,
    )
    assert len(held) == 5


def test_another_run_in_the_directory_is_an_error(
    teacher_dir, other_teacher_dir, text_path, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    kwargs = dict(input_path=text_path, lang="en", output_dir=out, shard_size=4, progress=False)
    annotate(teacher_path=teacher_dir, **kwargs)
    calls = _counting_predict(monkeypatch)
    with pytest.raises(ValueError) as err:
        annotate(teacher_path=other_teacher_dir, **kwargs)
    assert f"{out} holds another annotate run: its teacher" in str(err.value)
    assert "another output directory" in str(err.value) and "--overwrite" in str(err.value)
    assert calls["docs"] == 0  # raised before any work
    replaced = annotate(teacher_path=other_teacher_dir, overwrite=True, **kwargs)
    assert replaced["written"] == [0, 1, 2] and calls["docs"] == N_LINES
    assert TeacherCorpus([out]).metas[0]["teacher"]["path"] == str(other_teacher_dir.resolve())
    other = tmp_path / "other.txt"
    other.write_text("Anna met Boris .\n", encoding="utf8")
    annotate(teacher_path=teacher_dir, overwrite=True, **kwargs)
    with pytest.raises(ValueError, match="another annotate run: its input"):
        annotate(teacher_path=teacher_dir, **{**kwargs, "input_path": other})
    with pytest.raises(
        ValueError, match="another annotate run: its shard_size is 4, this run's is 5"
    ):
        annotate(teacher_path=teacher_dir, **{**kwargs, "shard_size": 5})
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty and holds no annotate run"):
        annotate(teacher_path=teacher_dir, **{**kwargs, "output_dir": stray})


# ---------------------------------------------------------------- bad inputs


def test_bad_inputs(teacher_dir, docs_path, tmp_path):
    with pytest.raises(ValueError, match=r"no component 'ner'.*\['tskd_ner'\]"):
        annotate(
            teacher_path=teacher_dir,
            input_path=docs_path,
            output_dir=tmp_path / "o",
            component="ner",
        )
    with pytest.raises(FileNotFoundError, match="Teacher pipeline directory not found"):
        annotate(teacher_path=tmp_path / "nope", input_path=docs_path, output_dir=tmp_path / "o")
    with pytest.raises(FileNotFoundError, match="Input file not found"):
        annotate(
            teacher_path=teacher_dir, input_path=tmp_path / "no.spacy", output_dir=tmp_path / "o"
        )
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n", encoding="utf8")
    with pytest.raises(ValueError, match="contains no docs"):
        annotate(teacher_path=teacher_dir, input_path=blank, lang="en", output_dir=tmp_path / "o")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.txt.*contains no docs"):
        annotate(teacher_path=teacher_dir, input_path=empty, lang="en", output_dir=tmp_path / "o")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(b"Anna\n" + "Bogot\xe1".encode("latin1") + b"\n")
    with pytest.raises(ValueError, match=r"latin1.txt.*line 2"):
        annotate(teacher_path=teacher_dir, input_path=latin1, lang="en", output_dir=tmp_path / "o")
    jsonl = tmp_path / "texts.jsonl"
    jsonl.write_text('{"text": "Anna"}\n', encoding="utf8")
    with pytest.raises(ValueError, match=r"texts.jsonl: annotate reads a DocBin.*convert"):
        annotate(teacher_path=teacher_dir, input_path=jsonl, lang="en", output_dir=tmp_path / "o")
    with pytest.raises(ValueError, match=r"latin1.txt is plain text: give its language with"):
        annotate(teacher_path=teacher_dir, input_path=latin1, output_dir=tmp_path / "o")
    with pytest.raises(ValueError, match="Unknown language code 'zz': spaCy has no language"):
        annotate(teacher_path=teacher_dir, input_path=blank, lang="zz", output_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()  # no partial output


def test_read_teacher_reads_the_identity_without_the_model(teacher_dir):
    from spacy_tskd.distill.teacher import load_teacher, read_teacher

    nlp, pipe, labels, weights = load_teacher(teacher_path=teacher_dir)
    assert read_teacher(teacher_dir, "tskd_ner") == (nlp.lang, labels, weights)
    with pytest.raises(ValueError, match=r"no component 'ner'.*\['tskd_ner'\]"):
        read_teacher(teacher_dir, "ner")


def test_a_line_of_ten_thousand_words_is_annotated_in_windows(teacher_dir, tmp_path):
    text = tmp_path / "long.txt"
    words = ["Anna", "visited", "Paris", "today", "."] * 2000
    text.write_text("Short line .\n" + " ".join(words) + "\n\nLast line .\n", encoding="utf8")
    annotate(
        teacher_path=teacher_dir,
        input_path=text,
        lang="en",
        output_dir=tmp_path / "o",
        progress=False,
    )
    docs, probs = TeacherCorpus([tmp_path / "o"]).read_all(spacy.blank("xx").vocab)
    assert [len(d) for d in docs] == [3, 10_000, 3]  # the blank line is skipped
    assert probs[1].shape == (10_000, 7) and np.allclose(probs[1].sum(axis=1), 1.0, atol=1e-2)
    assert np.isfinite(probs[1]).all()


def test_reader_errors(teacher_dir, other_teacher_dir, text_path, docs_path, tmp_path):
    with pytest.raises(FileNotFoundError, match="Teacher annotations not found"):
        TeacherCorpus([tmp_path / "missing"])
    a_file = tmp_path / "probs.bin"
    a_file.write_bytes(b"PK")
    with pytest.raises(ValueError, match=r"probs.bin is a file, not a directory"):
        TeacherCorpus([a_file])
    with pytest.raises(ValueError, match="holds no teacher annotations"):
        TeacherCorpus([tmp_path])

    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    annotate(teacher_path=teacher_dir, input_path=text_path, lang="en", output_dir=a, shard_size=4)
    annotate(
        teacher_path=other_teacher_dir, input_path=text_path, lang="en", output_dir=b, shard_size=5
    )
    annotate(teacher_path=other_teacher_dir, input_path=docs_path, output_dir=c, shard_size=4)
    for other in (b, c):
        with pytest.raises(ValueError, match="do not hold the same docs in the same shards"):
            TeacherCorpus([a, other])
    corpus = TeacherCorpus([a])
    student_order = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
    with pytest.raises(ValueError) as err:
        corpus.check_labels(student_order, what="the student pipeline")
    assert str(a) in str(err.value) and str(list(student_order)) in str(err.value)
    # a damaged shard: named, with what to do
    data = shard_file(a, 1).read_bytes()
    shard_file(a, 1).write_bytes(data[:20])
    with pytest.raises(ValueError, match=r"shard-00001.spacy is not a readable DocBin.*Rerun"):
        corpus.load(1, spacy.blank("xx").vocab)
    # a shard of another teacher's probabilities (copied in from another run)
    from spacy.tokens import DocBin

    vocab = spacy.blank("xx").vocab
    docs = list(DocBin().from_disk(shard_file(a, 0)).get_docs(vocab))
    for doc in docs:
        doc.user_data[USER_DATA_KEY]["teacher"] = "0" * 16
    DocBin(docs=docs, store_user_data=True).to_disk(shard_file(a, 0))
    with pytest.raises(ValueError, match=r"shard-00000.spacy was annotated by teacher 0{16}"):
        corpus.load(0, vocab)


# ---------------------------------------------------------------- CLI


def test_cli(teacher_dir, docs_path, text_path, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(
        app, ["annotate", str(teacher_dir), str(docs_path), str(out), "-b", "4", "-n", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "shards written" in result.output and str(out) in result.output
    assert len(TeacherCorpus([out])) == 5
    args = ["annotate", str(teacher_dir), str(text_path), str(tmp_path / "t"), "--lang", "es"]
    result = runner.invoke(app, args + ["--shard-size", "4", "--part", "0/2"])
    assert result.exit_code == 0 and "once every --part has run" in result.output
    result = runner.invoke(app, args + ["--shard-size", "4", "--part", "1/2"])
    assert result.exit_code == 0 and "Teacher probabilities of 10 docs" in result.output
    result = runner.invoke(app, args + ["--part", "2"])
    assert result.exit_code == 1 and "--part must look like I/N" in result.output
    result = runner.invoke(app, ["annotate", str(teacher_dir), str(tmp_path / "x.spacy"), str(out)])
    assert result.exit_code == 1 and "Input file not found" in result.output

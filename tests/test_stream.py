"""Plain text input, streaming sharded annotation (resume), lazy shard reading for distill."""

from __future__ import annotations

import gc
import inspect
import json
import weakref
from hashlib import sha256
from pathlib import Path

import numpy as np
import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_tskd.cli import app
from spacy_tskd.data.text import iter_lines, read_text, scan_text
from spacy_tskd.distill import stream as stream_module
from spacy_tskd.distill.run import distill, plan_shards
from spacy_tskd.distill.stream import (
    ShardedTeacherProbs,
    annotate_stream,
    load_shard_file,
    shard_path,
)
from spacy_tskd.distill.teacher_probs import annotate, load_teacher_probs, merge_shards
from spacy_tskd.pipeline.ner import TokenSoftmaxNER

from conftest import TRAIN_SENTS, make_nlp

STUDENT_CFG = Path(__file__).parent.parent / "configs" / "student.cfg"

# 10 docs of different lengths; blank and whitespace-only lines in between.
LINES = [
    "Anna visited Paris today.",
    "",
    "Boris works for Acme .",
    "Globex",
    "   ",
    "Carla Dmitri met in Lima and Quito today .",
    "the Initech",
    "Oslo and Lima",
    "Dmitri visited Acme and the Oslo Globex from Lima today .",
    "Anna",
    "\t",
    "Boris met Carla in Quito .",
    "Acme works for Globex and Initech today .",
]
N_DOCS = sum(1 for line in LINES if line.strip())


def _write_text(path: Path, lines=LINES) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def _words(lines=LINES, lang="xx"):
    nlp = spacy.blank(lang)
    return [[t.text for t in nlp(line.strip())] for line in lines if line.strip()]


def _train_teacher(encoder_dir, path: Path, n_updates: int = 3) -> Path:
    from spacy.tokens import Doc
    from spacy.training import Example

    nlp = make_nlp(encoder_dir)
    examples = []
    for sent in TRAIN_SENTS:
        words = [w for w, _ in sent]
        gold = Doc(nlp.vocab, words=words, ents=[t for _, t in sent])
        examples.append(Example(Doc(nlp.vocab, words=words), gold))
    optimizer = nlp.initialize(get_examples=lambda: examples)
    for _ in range(n_updates):
        nlp.update(examples, sgd=optimizer)
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def teacher_dir(tiny_encoder_dir, tmp_path_factory):
    return _train_teacher(tiny_encoder_dir, tmp_path_factory.mktemp("teacher") / "pipeline")


@pytest.fixture(scope="module")
def other_teacher_dir(tiny_encoder_dir, tmp_path_factory):
    return _train_teacher(
        tiny_encoder_dir, tmp_path_factory.mktemp("other") / "pipeline", n_updates=1
    )


@pytest.fixture
def text_path(tmp_path):
    return _write_text(tmp_path / "target.txt")


def _read_dir(directory: Path):
    """All docs of a shard directory: (words per doc, float16 rows per doc), in order."""
    words, rows, ranges = [], [], []
    for path in sorted(directory.glob("shard-*.npz")):
        probs, text, word_offsets, spaces = load_shard_file(path)
        ranges.append((probs.meta["doc_start"], probs.meta["doc_end"]))
        raw = text.tobytes()
        for i in range(len(probs)):
            a, b = probs.offsets[i], probs.offsets[i + 1]
            words.append([raw[word_offsets[t] : word_offsets[t + 1]].decode() for t in range(a, b)])
            rows.append(probs.probs[a:b])
    return words, rows, ranges


# ---------------------------------------------------------------- plain text


def test_read_text_tokenises_and_skips_blank_lines(tmp_path):
    path = tmp_path / "es.txt"
    path.write_bytes(
        "\ufeff¿Dónde está Anna?\r\n\r\n  Boris trabaja en Acme.  \n \t \nLima\n".encode()
    )
    docs = read_text(path, lang="es")
    assert inspect.isgenerator(docs)
    got = [(n, [t.text for t in d], [t.whitespace_ for t in d]) for n, d in docs]
    assert got == [
        (1, ["¿", "Dónde", "está", "Anna", "?"], ["", " ", " ", "", ""]),
        (3, ["Boris", "trabaja", "en", "Acme", "."], [" ", " ", " ", "", ""]),
        (5, ["Lima"], [""]),
    ]
    assert [n for n, _ in read_text(path, lang="es", skip=2)] == [5]
    assert list(iter_lines(path)) == [
        (1, "¿Dónde está Anna?"),
        (3, "Boris trabaja en Acme."),
        (5, "Lima"),
    ]
    scan = scan_text(path)
    assert (scan.n_docs, scan.n_lines, scan.size) == (3, 5, path.stat().st_size)


def test_bad_encoding_error_names_file_and_line_and_is_lazy(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"Anna visited Paris\n\nBoris\n" + "Bogotá".encode("latin1") + b"\nLima\n")
    docs = read_text(path, lang="xx")
    # the lines before the bad one are yielded before the error: the file is read lazily
    assert [t.text for t in next(docs)[1]] == ["Anna", "visited", "Paris"]
    assert next(docs)[0] == 3
    with pytest.raises(ValueError) as err:
        next(docs)
    text = str(err.value)
    assert str(path) in text and "line 4" in text and "UTF-8" in text and "0xe1" in text
    assert "iconv" in text  # says what to do
    with pytest.raises(ValueError, match="line 4"):
        scan_text(path)
    with pytest.raises(FileNotFoundError, match="Text file not found"):
        scan_text(tmp_path / "missing.txt")


# ---------------------------------------------------------------- annotation


def test_stream_shards_equal_annotating_in_one_go(teacher_dir, text_path, tmp_path):
    out = tmp_path / "shards"
    info = annotate_stream(
        teacher_path=teacher_dir,
        input_path=text_path,
        output_dir=out,
        shard_size=4,
        batch_size=2,
        progress=False,
    )
    assert info["n_docs"] == N_DOCS == 10 and info["n_shards"] == 3
    assert info["written"] == [0, 1, 2] and info["skipped"] == []
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["shard-00000.npz", "shard-00001.npz", "shard-00002.npz"]

    # self-contained, pickle-free shard files in the probabilities layout
    with np.load(files[1], allow_pickle=False) as data:
        assert sorted(data.files) == sorted(
            ["probs", "offsets", "labels", "meta", "words_utf8", "word_offsets", "spaces"]
        )
        assert data["probs"].dtype == np.float16
        meta = json.loads(str(data["meta"][()]))
    weights = teacher_dir / "tskd_ner" / "model"
    assert meta["teacher_weights_sha256"] == sha256(weights.read_bytes()).hexdigest()
    assert meta["docs_sha256"] == sha256(text_path.read_bytes()).hexdigest()
    assert (meta["doc_start"], meta["doc_end"], meta["n_docs"]) == (4, 8, 4)
    assert meta["shard"] == {"index": 1, "count": 3}
    assert meta["stream"]["shard_size"] == 4 and meta["stream"]["lang"] == "xx"
    # docs 4..7 are on lines 7..10 of the file (blank lines are skipped)
    assert (meta["stream"]["line_start"], meta["stream"]["line_end"]) == (7, 10)

    words, rows, ranges = _read_dir(out)
    assert words == _words()
    assert ranges == [(0, 4), (4, 8), (8, 10)]

    # the same docs in a DocBin, annotated in one go
    vocab = spacy.blank("xx")
    docbin = tmp_path / "same.spacy"
    DocBin(docs=[vocab(line.strip()) for line in LINES if line.strip()]).to_disk(docbin)
    annotate(teacher_path=teacher_dir, docs_path=docbin, output_path=tmp_path / "full.npz")
    full = load_teacher_probs(tmp_path / "full.npz")
    assert len(full) == N_DOCS
    for i, r in enumerate(rows):
        expected = full.probs[full.offsets[i] : full.offsets[i + 1]]
        assert r.shape == expected.shape
        assert np.allclose(r.astype(np.float32), expected.astype(np.float32), atol=1e-3), i

    # the shard files merge into one ordinary probabilities file
    merged = merge_shards(files, tmp_path / "merged.npz")
    assert merged["n_docs"] == N_DOCS
    assert np.array_equal(load_teacher_probs(tmp_path / "merged.npz").offsets, full.offsets)


def test_docbin_input(teacher_dir, tmp_path):
    vocab = spacy.blank("xx")
    docbin = tmp_path / "target.spacy"
    DocBin(docs=[vocab(line.strip()) for line in LINES if line.strip()]).to_disk(docbin)
    info = annotate_stream(
        teacher_path=teacher_dir,
        input_path=docbin,
        output_dir=tmp_path / "out",
        shard_size=6,
        lang="es",  # ignored: a DocBin is already tokenised
        progress=False,
    )
    assert info["n_shards"] == 2
    words, _, _ = _read_dir(tmp_path / "out")
    assert words == _words()
    assert load_teacher_probs(shard_path(tmp_path / "out", 0)).meta["stream"]["lang"] is None


def _counting_predict(monkeypatch, fail_at=None):
    calls = {"docs": 0, "batches": 0}
    original = TokenSoftmaxNER.predict

    def predict(self, docs):
        docs = list(docs)
        calls["batches"] += 1
        if fail_at is not None and calls["batches"] == fail_at:
            raise RuntimeError("simulated crash")
        calls["docs"] += len(docs)
        return original(self, docs)

    monkeypatch.setattr(TokenSoftmaxNER, "predict", predict)
    return calls


def test_resume_after_crash(teacher_dir, text_path, tmp_path, monkeypatch):
    kwargs = dict(
        teacher_path=teacher_dir,
        input_path=text_path,
        shard_size=3,
        batch_size=3,
        progress=False,
    )
    reference = tmp_path / "reference"
    annotate_stream(output_dir=reference, **kwargs)
    ref_words, ref_rows, _ = _read_dir(reference)
    assert ref_words == _words()  # 10 docs: shards of 3, 3, 3, 1

    out = tmp_path / "out"
    # crash in the third shard (one predict call per shard of 3 docs)
    _counting_predict(monkeypatch, fail_at=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        annotate_stream(output_dir=out, **kwargs)
    assert sorted(p.name for p in out.iterdir()) == ["shard-00000.npz", "shard-00001.npz"]

    calls = _counting_predict(monkeypatch)
    info = annotate_stream(output_dir=out, **kwargs)
    assert info["skipped"] == [0, 1] and info["written"] == [2, 3]
    assert calls["docs"] == 4  # only the docs of shards 2 and 3 were predicted

    # simulated crash of another kind: the last shard lost, another one truncated
    shard_path(out, 3).unlink()
    data = shard_path(out, 1).read_bytes()
    shard_path(out, 1).write_bytes(data[: len(data) // 2])
    (out / ".shard-00002.npz.abc.tmp").write_bytes(b"partial")  # left by a killed write
    mtime0 = shard_path(out, 0).stat().st_mtime_ns
    calls = _counting_predict(monkeypatch)
    info = annotate_stream(output_dir=out, **kwargs)
    assert info["skipped"] == [0, 2] and info["written"] == [1, 3]
    assert calls["docs"] == 3 + 1
    assert shard_path(out, 0).stat().st_mtime_ns == mtime0  # not recomputed
    assert sorted(p.name for p in out.iterdir()) == [f"shard-0000{i}.npz" for i in range(4)]

    words, rows, ranges = _read_dir(out)
    assert words == ref_words  # every doc exactly once, in order
    assert ranges == [(0, 3), (3, 6), (6, 9), (9, 10)]
    for got, expected in zip(rows, ref_rows):
        assert np.array_equal(got, expected)

    # a finished directory: nothing is predicted
    calls = _counting_predict(monkeypatch)
    assert annotate_stream(output_dir=out, **kwargs)["written"] == []
    assert calls["docs"] == 0


def test_annotation_holds_one_shard_at_a_time(teacher_dir, text_path, tmp_path, monkeypatch):
    builders = []
    original = stream_module._ShardBuilder.__init__

    def init(self):
        gc.collect()
        assert all(ref() is None for ref in builders), "a previous shard is still in memory"
        builders.append(weakref.ref(self))
        original(self)

    monkeypatch.setattr(stream_module._ShardBuilder, "__init__", init)
    annotate_stream(
        teacher_path=teacher_dir,
        input_path=text_path,
        output_dir=tmp_path / "out",
        shard_size=2,
        progress=False,
    )
    assert len(builders) == 5


def test_shards_of_another_run_are_an_error(
    teacher_dir, other_teacher_dir, text_path, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    annotate_stream(
        teacher_path=teacher_dir, input_path=text_path, output_dir=out, shard_size=4, progress=False
    )
    calls = _counting_predict(monkeypatch)
    with pytest.raises(ValueError) as err:
        annotate_stream(
            teacher_path=other_teacher_dir,
            input_path=text_path,
            output_dir=out,
            shard_size=4,
            progress=False,
        )
    text = str(err.value)
    assert "shard-00000.npz" in text and "another teacher" in text
    assert str(teacher_dir.resolve()) in text and "--output-dir" in text
    assert calls["docs"] == 0  # raised before any work

    other_text = _write_text(tmp_path / "other.txt", LINES[:-1] + ["Anna met Boris ."])
    with pytest.raises(ValueError, match="another input"):
        annotate_stream(
            teacher_path=teacher_dir,
            input_path=other_text,
            output_dir=out,
            shard_size=4,
            progress=False,
        )
    with pytest.raises(ValueError, match=r"shard_size = 4, this run uses 5"):
        annotate_stream(
            teacher_path=teacher_dir,
            input_path=text_path,
            output_dir=out,
            shard_size=5,
            progress=False,
        )
    shard_path(out, 9).write_bytes(b"stray")
    with pytest.raises(ValueError, match=r"shard-00009.npz does not belong to this run.*3 shards"):
        annotate_stream(
            teacher_path=teacher_dir,
            input_path=text_path,
            output_dir=out,
            shard_size=4,
            progress=False,
        )


def test_sharded_reader_errors(teacher_dir, text_path, tmp_path):
    out = tmp_path / "out"
    annotate_stream(
        teacher_path=teacher_dir, input_path=text_path, output_dir=out, shard_size=3, progress=False
    )
    reader = ShardedTeacherProbs([out])
    assert (len(reader), reader.n_shards, reader.shard_sizes()) == (10, 4, [3, 3, 3, 1])
    shard_path(out, 1).unlink()
    with pytest.raises(ValueError, match=r"incomplete: shards \[1\] of 4 are missing"):
        ShardedTeacherProbs([out])
    with pytest.raises(ValueError, match="holds no shard"):
        ShardedTeacherProbs([tmp_path])


def test_plan_shards_holds_out_the_last_docs(teacher_dir, text_path, tmp_path):
    out = tmp_path / "out"
    annotate_stream(
        teacher_path=teacher_dir, input_path=text_path, output_dir=out, shard_size=4, progress=False
    )
    reader = ShardedTeacherProbs([out])
    # 10 docs in shards of 4, 4, 2; 2 held out (at most 20 %)
    assert plan_shards(reader, heldout=200) == ({0: 4, 1: 4, 2: 0}, [(2, 0, 2)])
    assert plan_shards(reader, heldout=1) == ({0: 4, 1: 4, 2: 1}, [(2, 1, 2)])
    # the first 6 docs, one held out
    assert plan_shards(reader, max_docs=6, heldout=1) == ({0: 4, 1: 1, 2: 0}, [(1, 1, 2)])


def test_cli_plain_text(teacher_dir, text_path, tmp_path):
    runner = CliRunner()
    out = tmp_path / "shards"
    args = ["annotate", str(teacher_dir), str(text_path), "--output-dir", str(out)]
    result = runner.invoke(app, args + ["--shard-size", "4", "--lang", "es", "-b", "2"])
    assert result.exit_code == 0, result.output
    assert "shards" in result.output and str(out) in result.output
    assert ShardedTeacherProbs([out]).n_shards == 3
    result = runner.invoke(app, args + ["--shard-size", "4", "--lang", "es"])  # resume
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["annotate", str(teacher_dir), str(text_path), "out.npz"])
    assert result.exit_code == 1 and "--output-dir" in result.output
    result = runner.invoke(app, ["annotate", str(teacher_dir), str(text_path)])
    assert result.exit_code == 1 and "--output-dir" in result.output
    result = runner.invoke(app, args + ["--shard-size", "5", "--lang", "es"])
    assert result.exit_code == 1 and "shard_size" in result.output


# ---------------------------------------------------------------- distillation


def test_distill_on_a_shard_directory(
    teacher_dir, tiny_encoder_dir, text_path, tmp_path, monkeypatch
):
    out = tmp_path / "shards"
    annotate_stream(
        teacher_path=teacher_dir, input_path=text_path, output_dir=out, shard_size=3, progress=False
    )
    # every loaded shard's probability arrays must be freed before the next one is loaded
    live = []
    readers = []
    original_load = ShardedTeacherProbs.load

    def load(self, index, vocab, **kwargs):
        gc.collect()
        leaked = [name for name, ref in live if ref() is not None]
        assert not leaked, f"shards still in memory: {leaked}"
        shard = original_load(self, index, vocab, **kwargs)
        if "start" in kwargs:  # the held-out docs, kept for the monitor
            return shard
        live.extend((f"shard {index}", weakref.ref(p)) for p in shard.probs)
        readers.append(self)
        return shard

    monkeypatch.setattr(ShardedTeacherProbs, "load", load)
    epochs = 8
    path = distill(
        config_path=STUDENT_CFG,
        output_path=tmp_path / "student",
        overrides={
            "paths.teacher_probs": str(out),
            "paths.encoder": str(tiny_encoder_dir),
            "components.tskd_ner.model.encoder.max_length": 64,
            "components.tskd_ner.model.encoder.frozen_layers": 0,
            "components.tskd_ner.model.encoder.freeze_embeddings": False,
            "distill.batch_size": 2,
            "distill.epochs": epochs,
            "distill.heldout": 1,
            "distill.warmup_frac": 0.0,
            "distill.log_every": 1,
            "distill.monitor_every": 0,
            "distill.optimizer.learn_rate.initial_rate": 3e-3,
        },
    )
    reader = readers[0]
    # 10 docs, shards of 3, 3, 3, 1; the last doc is held out -> 3 training shards
    assert reader.max_held == 1 and reader.held == 0
    assert reader.loads == 1 + 3 * epochs  # the held-out docs, then 3 shards per epoch
    student = spacy.load(path)
    meta = student.meta["tskd"]
    losses = [r["loss"] for r in meta["log"]]
    assert len(losses) == epochs * 3 * 2  # ceil(3 / 2) steps per shard
    assert np.mean(losses[-6:]) < 0.5 * np.mean(losses[:6])
    assert meta["teachers"][0]["n_shards"] == 4
    assert meta["heldout_monitor"]["agreement"] >= 0.0
    doc = student("Anna visited Paris today .")
    assert doc._.tskd_probs.shape == (5, 7)


def test_distill_without_target_needs_shards(teacher_dir, text_path, tmp_path):
    annotate(
        teacher_path=teacher_dir,
        docs_path=_docbin(tmp_path),
        output_path=tmp_path / "probs.npz",
    )
    with pytest.raises(ValueError, match="distill.target is not set.*shard directory"):
        distill(
            config_path=STUDENT_CFG,
            output_path=tmp_path / "student",
            overrides={"paths.teacher_probs": str(tmp_path / "probs.npz")},
        )


def _docbin(tmp_path):
    vocab = spacy.blank("xx")
    path = tmp_path / "target.spacy"
    DocBin(docs=[vocab(line.strip()) for line in LINES if line.strip()]).to_disk(path)
    return path


def test_several_shard_directories_are_mixed_with_weights(
    teacher_dir, other_teacher_dir, text_path, tmp_path
):
    dirs = [tmp_path / "a", tmp_path / "b"]
    for teacher, out in zip([teacher_dir, other_teacher_dir], dirs):
        annotate_stream(
            teacher_path=teacher, input_path=text_path, output_dir=out, shard_size=4, progress=False
        )
    vocab = spacy.blank("xx").vocab
    single = [ShardedTeacherProbs([d]).load(1, vocab) for d in dirs]
    mixed = ShardedTeacherProbs(dirs, [0.25, 0.75])
    shard = mixed.load(1, vocab)
    assert [d.text for d in shard.docs] == [d.text for d in single[0].docs]
    for i, p in enumerate(shard.probs):
        assert np.allclose(p, 0.25 * single[0].probs[i] + 0.75 * single[1].probs[i], atol=1e-6)
    assert mixed.weights == [0.25, 0.75]

    annotate_stream(
        teacher_path=teacher_dir,
        input_path=text_path,
        output_dir=tmp_path / "c",
        shard_size=5,
        progress=False,
    )
    with pytest.raises(ValueError, match="same --shard-size"):
        ShardedTeacherProbs([dirs[0], tmp_path / "c"])

"""``spacy-tskd.TeacherCorpus.v1``: annotation directories read lazily, mixed with α,
and the distillation loop reading them one shard at a time."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

import numpy as np
import pytest
import spacy
from spacy.util import registry

from spacy_tskd.distill.annotate import annotate
from spacy_tskd.distill.annotations import USER_DATA_KEY, shard_file
from spacy_tskd.distill.corpus import TeacherCorpus
from spacy_tskd.distill.loop import distill, plan_shards

from conftest import LINES

STUDENT_CFG = Path(__file__).parent.parent / "configs" / "student.cfg"


@pytest.fixture
def two_dirs(teacher_dir, other_teacher_dir, text_path, tmp_path):
    dirs = [tmp_path / "en-xx", tmp_path / "de-xx"]
    for teacher, out in zip([teacher_dir, other_teacher_dir], dirs):
        annotate(
            teacher_path=teacher,
            input_path=text_path,
            lang="en",
            output_dir=out,
            shard_size=4,
            progress=False,
        )
    return dirs


def test_mixture_is_a_reader_setting(two_dirs):
    vocab = spacy.blank("xx").vocab
    single = [TeacherCorpus([d]).load(1, vocab) for d in two_dirs]
    for alpha in ([0.25, 0.75], {"xx": 0.25, "de": 0.75}):
        sources = ["xx", "de"] if isinstance(alpha, dict) else None
        mixed = TeacherCorpus(two_dirs, alpha=alpha, sources=sources)
        docs, probs = mixed.load(1, vocab)
        assert [d.text for d in docs] == [d.text for d in single[0][0]]
        for i, p in enumerate(probs):
            assert np.allclose(p, 0.25 * single[0][1][i] + 0.75 * single[1][1][i], atol=1e-6)
        assert mixed.weights == [0.25, 0.75]
    uniform = TeacherCorpus(two_dirs).load(1, vocab)[1]
    assert np.allclose(uniform[0], 0.5 * single[0][1][0] + 0.5 * single[1][1][0], atol=1e-6)
    with pytest.raises(ValueError, match=r"alpha names the sources \['en', 'xx'\]"):
        TeacherCorpus(two_dirs, alpha={"xx": 0.5, "en": 0.5}, sources=["xx", "de"])
    with pytest.raises(ValueError, match="expected 2 weights per row"):
        TeacherCorpus(two_dirs, alpha=[1.0])
    with pytest.raises(ValueError, match="Sentence-level α covers 2 docs"):
        TeacherCorpus(two_dirs, alpha=[[0.5, 0.5]] * 2)
    with pytest.raises(ValueError, match="one per directory"):
        TeacherCorpus(two_dirs, sources=["xx"])


def test_alpha_from_a_weights_file_is_matched_by_source(two_dirs, tmp_path):
    path = tmp_path / "w.json"
    path.write_text(
        json.dumps({"method": "sim", "format": 2, "sources": ["de", "en"], "alpha": [0.9, 0.1]})
    )
    corpus = TeacherCorpus(two_dirs, alpha=str(path), sources=["en", "de"])
    assert corpus.weights == [0.1, 0.9]  # the file's order is not the directories' order
    with pytest.raises(ValueError, match="w.json"):
        TeacherCorpus(two_dirs, alpha=str(path), sources=["en", "nl"])


def test_confidence_weights_are_squared_max_probability(two_dirs, tmp_path):
    vocab = spacy.blank("xx").vocab
    assert TeacherCorpus(two_dirs).load_weighted(0, vocab)[2] is None
    docs, probs, weights = TeacherCorpus(two_dirs, confidence=True).load_weighted(0, vocab)
    for p, w in zip(probs, weights):
        assert w.shape == (len(p),) and np.allclose(w, p.max(axis=1) ** 2)
    assert any(w.min() < 0.99 for w in weights)  # the tiny teachers are not certain
    # stored (denoise) weights of the first directory are multiplied, not replaced
    from spacy.tokens import DocBin

    stored = list(DocBin().from_disk(shard_file(two_dirs[0], 0)).get_docs(vocab))
    for doc in stored:
        doc.user_data[USER_DATA_KEY]["weights"] = np.full(len(doc), 0.5, np.float16)
    DocBin(docs=stored, store_user_data=True).to_disk(shard_file(two_dirs[0], 0))
    halved = TeacherCorpus(two_dirs, confidence=True).load_weighted(0, vocab)[2]
    for w, h in zip(weights, halved):
        assert np.allclose(h, 0.5 * w)
    reader = {"@readers": "spacy-tskd.TeacherCorpus.v1", "path": str(two_dirs[0])}
    assert registry.resolve({"c": {**reader, "confidence": True}})["c"].confidence


def test_seed_ensemble_is_the_mean_of_same_source_teachers(teacher_dir, text_path, tmp_path):
    # the same teacher annotated twice stands in for two seeds of one source
    dirs = [tmp_path / "s0", tmp_path / "s1"]
    for out in dirs:
        annotate(
            teacher_path=teacher_dir,
            input_path=text_path,
            lang="en",
            output_dir=out,
            progress=False,
        )
    corpus = TeacherCorpus(dirs)
    assert corpus.sources == ["xx", "xx"] and corpus.alpha is None
    single = TeacherCorpus(dirs[:1]).load(0, spacy.blank("xx").vocab)[1]
    for a, b in zip(corpus.load(0, spacy.blank("xx").vocab)[1], single):
        assert np.allclose(a, b, atol=1e-6)


def test_docs_are_joined_by_their_words(two_dirs):
    # replace shard 1 of the second directory by the shard of other words
    from spacy.tokens import DocBin

    vocab = spacy.blank("xx").vocab
    docs = list(DocBin().from_disk(shard_file(two_dirs[1], 1)).get_docs(vocab))
    changed = [spacy.blank("xx")("Other words here .") for _ in docs]
    for new, old in zip(changed, docs):
        new.user_data[USER_DATA_KEY] = old.user_data[USER_DATA_KEY]
    DocBin(docs=changed, store_user_data=True).to_disk(shard_file(two_dirs[1], 1))
    index = json.loads((two_dirs[1] / "index.json").read_text())
    index["shards"][1]["n_tokens"] = sum(len(d) for d in changed)
    (two_dirs[1] / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="hold different words: annotate the same input"):
        TeacherCorpus(two_dirs).load(1, vocab)


def test_registered_reader(two_dirs):
    corpus = registry.resolve(
        {"c": {"@readers": "spacy-tskd.TeacherCorpus.v1", "path": ",".join(map(str, two_dirs))}}
    )["c"]
    assert isinstance(corpus, TeacherCorpus) and corpus.sources == ["xx", "xx"]
    docs, probs = corpus.read_all(spacy.blank("xx").vocab)
    assert len(docs) == len(corpus) == sum(1 for line in LINES if line.strip())
    assert docs[0].text == "Anna visited Paris today."
    assert all(p.shape == (len(d), len(corpus.labels)) for d, p in zip(docs, probs))
    with pytest.raises(ValueError, match="set paths.teacher_probs"):
        registry.resolve({"c": {"@readers": "spacy-tskd.TeacherCorpus.v1", "path": None}})


def test_plan_shards_holds_out_the_last_docs(two_dirs):
    corpus = TeacherCorpus(two_dirs[:1])
    # 10 docs in shards of 4, 4, 2; 2 held out (at most 20 %)
    assert plan_shards(corpus, max_docs=0, heldout=200) == ({0: 4, 1: 4, 2: 0}, [(2, 0, 2)])
    assert plan_shards(corpus, max_docs=0, heldout=1) == ({0: 4, 1: 4, 2: 1}, [(2, 1, 2)])
    assert plan_shards(corpus, max_docs=6, heldout=1) == ({0: 4, 1: 1, 2: 0}, [(1, 1, 2)])


def test_distill_reads_one_shard_at_a_time(
    teacher_dir, tiny_encoder_dir, text_path, tmp_path, monkeypatch
):
    out = tmp_path / "en-xx"
    annotate(
        teacher_path=teacher_dir,
        input_path=text_path,
        lang="en",
        output_dir=out,
        shard_size=3,
        progress=False,
    )
    live, loads = [], []
    original = TeacherCorpus.load_weighted

    def load(self, index, vocab, **kwargs):
        gc.collect()
        leaked = [name for name, ref in live if ref() is not None]
        assert not leaked, f"shards still in memory: {leaked}"
        docs, probs, weights = original(self, index, vocab, **kwargs)
        loads.append(index)
        if "start" not in kwargs:  # the held-out docs are kept for the monitor
            live.extend((f"shard {index}", weakref.ref(p)) for p in probs)
        return docs, probs, weights

    monkeypatch.setattr(TeacherCorpus, "load_weighted", load)
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
            "distillation.batch_size": 2,
            "distillation.max_epochs": epochs,
            "distillation.heldout": 1,
            "distillation.warmup_frac": 0.0,
            "distillation.log_every": 1,
            "distillation.monitor_every": 0,
            "distillation.optimizer.learn_rate.initial_rate": 3e-3,
            "nlp.lang": "en",
        },
    )
    # 10 docs, shards of 3, 3, 3, 1; the last doc is held out -> 3 training shards
    assert len(loads) == 1 + 3 * epochs
    student = spacy.load(path)
    meta = student.meta["tskd"]
    losses = [r["loss"] for r in meta["log"]]
    assert len(losses) == epochs * 3 * 2  # ceil(3 / 2) steps per shard
    assert np.mean(losses[-6:]) < 0.5 * np.mean(losses[:6])
    assert meta["teachers"][0]["n_docs"] == 10 and meta["sources"] == ["xx"]
    assert student.lang == "en"
    assert student("Anna visited Paris today .")._.tskd_probs.shape == (5, 7)


def test_distill_errors(tmp_path):
    with pytest.raises(ValueError, match="set paths.teacher_probs"):
        distill(config_path=STUDENT_CFG, output_path=tmp_path / "s")
    missing = tmp_path / "probs"
    with pytest.raises(FileNotFoundError, match="Teacher annotations not found"):
        distill(
            config_path=STUDENT_CFG,
            output_path=tmp_path / "s",
            overrides={"paths.teacher_probs": str(missing)},
        )
    with pytest.raises(ValueError, match="no such section"):
        distill(
            config_path=STUDENT_CFG,
            output_path=tmp_path / "s",
            overrides={"distillation.corpus": "corpora.train"},
        )

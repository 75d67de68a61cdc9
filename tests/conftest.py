"""Shared fixtures: tiny synthetic data and a tiny random BERT built locally."""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False, help="also run slow tests")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow test: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# A tiny synthetic "language": a handful of names per entity type and filler words.
PER = ["Anna", "Boris", "Carla", "Dmitri"]
LOC = ["Paris", "Lima", "Oslo", "Quito"]
ORG = ["Acme", "Globex", "Initech"]
FILLER = ["the", "met", "in", "from", "visited", "works", "for", "and", "today", "."]

TRAIN_SENTS = [
    [("Anna", "B-PER"), ("visited", "O"), ("Paris", "B-LOC"), ("today", "O"), (".", "O")],
    [("Boris", "B-PER"), ("works", "O"), ("for", "O"), ("Acme", "B-ORG"), (".", "O")],
    [("Carla", "B-PER"), ("Dmitri", "I-PER"), ("met", "O"), ("in", "O"), ("Lima", "B-LOC")],
]


def write_conll(path, sents, sep=" "):
    """Write sentences of (token, tag) pairs as a 2-column CoNLL file."""
    lines = []
    for sent in sents:
        lines.extend(f"{tok}{sep}{tag}" for tok, tag in sent)
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory):
    """A tiny randomly initialised BERT + WordPiece tokenizer, saved like a HF model dir."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = tmp_path_factory.mktemp("tiny_bert")
    words = sorted({w.lower() for w in PER + LOC + ORG + FILLER})
    pieces = ["##a", "##e", "##i", "##o", "##s", "##n", "##r", "##t"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,;:!?-")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + words + pieces
    vocab = list(dict.fromkeys(vocab))
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf8")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(path)
    return path


@pytest.fixture
def train_docs():
    """Three annotated spaCy docs of the synthetic language."""
    import spacy
    from spacy.tokens import Doc, Span

    from spacy_tskd.data.bio import bio_to_spans

    nlp = spacy.blank("xx")
    docs = []
    for sent in TRAIN_SENTS:
        doc = Doc(nlp.vocab, words=[w for w, _ in sent])
        doc.ents = [Span(doc, s, e, label=lab) for s, e, lab in bio_to_spans([t for _, t in sent])]
        docs.append(doc)
    return docs


# the transformer encoders a tskd_ner component can use
ENCODERS = ("spacy-tskd.TransformerEncoder.v1",)


def make_nlp(encoder_dir, arch="spacy-tskd.TransformerEncoder.v1", lang="xx", **encoder_cfg):
    """A blank pipeline with a tskd_ner component on ``encoder_dir`` (encoder ``arch``)."""
    import spacy

    nlp = spacy.blank(lang)
    cfg = {"name": str(encoder_dir), "frozen_layers": 1, "max_length": 64}
    cfg.update(encoder_cfg)
    nlp.add_pipe(
        "tskd_ner",
        config={
            "model": {
                "@architectures": "spacy-tskd.TokenSoftmax.v1",
                "encoder": {"@architectures": arch, **cfg},
            }
        },
    )
    return nlp


def hf_model(nlp, component="tskd_ner"):
    """The torch Hugging Face model inside a pipeline's encoder."""
    from scripts.bench.student import student_hf_model

    return student_hf_model(nlp.get_pipe(component))


def examples_of(nlp, docs):
    """spaCy Examples whose references carry the docs' entities (as BIO tags)."""
    from spacy.tokens import Doc
    from spacy.training import Example

    from spacy_tskd.data.bio import doc_to_bio

    out = []
    for d in docs:
        words = [t.text for t in d]
        gold = Doc(nlp.vocab, words=words, ents=doc_to_bio(d))
        out.append(Example(Doc(nlp.vocab, words=words), gold))
    return out


def train_nlp(nlp, docs, n_iter=60, lr=1e-3, drop=0.0):
    """Initialise ``nlp`` on ``docs`` and update it ``n_iter`` times; returns the Examples."""
    examples = examples_of(nlp, docs)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    optimizer.learn_rate = lr
    for _ in range(n_iter):
        nlp.update(examples, sgd=optimizer, drop=drop)
    return examples


def _gold_docs(sents):
    import spacy
    from spacy.tokens import Doc, Span

    from spacy_tskd.data.bio import bio_to_spans

    vocab = spacy.blank("xx").vocab
    docs = []
    for sent in sents:
        doc = Doc(vocab, words=[w for w, _ in sent])
        doc.ents = [Span(doc, s, e, label=lab) for s, e, lab in bio_to_spans([t for _, t in sent])]
        docs.append(doc)
    return docs


def _saved_teacher(encoder_dir, path, n_iter, lr, **encoder_cfg):
    nlp = make_nlp(encoder_dir, **encoder_cfg)
    train_nlp(nlp, _gold_docs(TRAIN_SENTS), n_iter=n_iter, lr=lr)
    nlp.to_disk(path)
    return path


# The session's tiny teachers, trained once: `teacher_dir` (a few updates, so its
# distributions are soft), `other_teacher_dir` (another, for mixtures) and
# `overfit_teacher_dir` (all layers trained until it tags the training sentences).
@pytest.fixture(scope="session")
def teacher_dir(tiny_encoder_dir, tmp_path_factory):
    return _saved_teacher(
        tiny_encoder_dir, tmp_path_factory.mktemp("teacher") / "pipeline", 3, 1e-3
    )


@pytest.fixture(scope="session")
def other_teacher_dir(tiny_encoder_dir, tmp_path_factory):
    return _saved_teacher(tiny_encoder_dir, tmp_path_factory.mktemp("other") / "pipeline", 1, 1e-3)


@pytest.fixture(scope="session")
def overfit_teacher_dir(tiny_encoder_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("overfit") / "pipeline"
    return _saved_teacher(
        tiny_encoder_dir, path, 80, 3e-3, frozen_layers=0, freeze_embeddings=False
    )


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
# 10 docs as plain text; blank and whitespace-only lines in between.
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


@pytest.fixture(scope="session")
def docs_path(tmp_path_factory):
    """A DocBin of the target sentences, gold entities included."""
    from spacy.tokens import DocBin

    path = tmp_path_factory.mktemp("docs") / "target.spacy"
    DocBin(docs=_gold_docs(TARGET_SENTS)).to_disk(path)
    return path


@pytest.fixture
def text_path(tmp_path):
    path = tmp_path / "target.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf8")
    return path


def read_annotations(directory):
    """The docs and per-doc probabilities of an annotation directory."""
    import spacy

    from spacy_tskd.distill.corpus import TeacherCorpus

    return TeacherCorpus([directory]).read_all(spacy.blank("xx").vocab)

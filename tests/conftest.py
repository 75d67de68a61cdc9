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

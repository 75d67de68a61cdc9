"""The tskd_ner component on a tiny random BERT: training, decoding, freezing, I/O."""

from __future__ import annotations

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc

from conftest import ENCODERS, examples_of, hf_model, make_nlp, train_nlp


@pytest.fixture(params=ENCODERS)
def arch(request):
    """Every test that takes ``arch`` runs on every encoder."""
    return request.param


def test_labels_fixed_order(tiny_encoder_dir, train_docs):
    nlp = make_nlp(tiny_encoder_dir)
    nlp.initialize(get_examples=lambda: examples_of(nlp, train_docs))
    ner = nlp.get_pipe("tskd_ner")
    assert ner.labels == ("O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER")


def test_overfit_three_sentences(tiny_encoder_dir, train_docs, arch):
    nlp = make_nlp(tiny_encoder_dir, arch, frozen_layers=0, freeze_embeddings=False)
    train_nlp(nlp, train_docs, n_iter=80, lr=3e-3)
    for gold in train_docs:
        doc = nlp(gold.text)
        assert [(e.start, e.end, e.label_) for e in doc.ents] == [
            (e.start, e.end, e.label_) for e in gold.ents
        ]
        probs = doc._.tskd_probs
        assert probs.shape == (len(doc), 7)
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def _assert_only_top_changes(nlp, examples, optimizer, n_frozen):
    model = hf_model(nlp)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    after = dict(hf_model(nlp).named_parameters())
    for name, old in before.items():
        if name.startswith("pooler."):  # never used: frozen, and no gradient reaches it
            assert np.allclose(old.numpy(), after[name].detach().numpy()), name
            continue
        changed = not np.allclose(old.numpy(), after[name].detach().numpy())
        frozen = name.startswith("embeddings.") or any(
            name.startswith(f"encoder.layer.{i}.") for i in range(n_frozen)
        )
        assert changed != frozen, name


def test_frozen_parameters_do_not_change(tiny_encoder_dir, train_docs, arch, tmp_path):
    nlp = make_nlp(tiny_encoder_dir, arch, frozen_layers=2)
    examples = examples_of(nlp, train_docs)
    optimizer = nlp.initialize(get_examples=lambda: examples)
    _assert_only_top_changes(nlp, examples, optimizer, n_frozen=2)
    # requires_grad is not saved: a loaded pipeline that trains on freezes again
    nlp.to_disk(tmp_path / "p")
    nlp = spacy.load(tmp_path / "p")
    _assert_only_top_changes(nlp, examples, nlp.create_optimizer(), n_frozen=2)


def test_zero_piece_tokens_and_long_docs(tiny_encoder_dir, train_docs, arch):
    nlp = make_nlp(tiny_encoder_dir, arch, max_length=12)
    nlp.initialize(get_examples=lambda: examples_of(nlp, train_docs))
    words = ["\u200b", "Anna", "\xad", "\x07", "visited", "\u200b"] + ["Paris", "and"] * 20
    doc = Doc(nlp.vocab, words=words)
    doc = nlp(doc)
    assert doc._.tskd_probs.shape == (len(words), 7)
    empty = nlp(Doc(nlp.vocab, words=[]))
    assert empty._.tskd_probs.shape[0] == 0


def test_stray_inside_tag_decoded_as_entity(tiny_encoder_dir, train_docs):
    nlp = make_nlp(tiny_encoder_dir)
    nlp.initialize(get_examples=lambda: examples_of(nlp, train_docs))
    ner = nlp.get_pipe("tskd_ner")
    ner.decode = "argmax"
    doc = nlp.make_doc("Anna met Boris Lima")
    probs = np.zeros((4, 7), dtype=np.float32)
    for i, tag in enumerate(["I-PER", "O", "I-PER", "I-LOC"]):
        probs[i, ner.labels.index(tag)] = 1.0
    ner.set_annotations([doc], [probs])
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Anna", "PER"),
        ("Boris", "PER"),
        ("Lima", "LOC"),
    ]


def test_viterbi_decode_is_the_default_and_switchable(tiny_encoder_dir, train_docs, tmp_path):
    nlp = make_nlp(tiny_encoder_dir)
    train_nlp(nlp, train_docs, n_iter=1)
    ner = nlp.get_pipe("tskd_ner")
    assert ner.decode == "viterbi" and nlp.config["components"]["tskd_ner"]["decode"] == "viterbi"
    doc = nlp.make_doc("Anna met Boris")
    probs = np.full((3, 7), 0.01, dtype=np.float32)
    probs[0, ner.labels.index("B-PER")] = 0.4
    probs[0, ner.labels.index("O")] = 0.5
    probs[1, ner.labels.index("I-PER")] = 0.9  # I-PER after the argmax O: invalid BIO
    probs[2, ner.labels.index("O")] = 0.9
    ner.set_annotations([doc], [probs])
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(0, 2, "PER")]
    ner.decode = "argmax"
    ner.set_annotations([doc], [probs])
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(1, 2, "PER")]
    # the setting lives in the pipeline's config: saved, and switchable when loading
    nlp.to_disk(tmp_path / "p")
    assert spacy.load(tmp_path / "p").get_pipe("tskd_ner").decode == "viterbi"
    cfg = {"components": {"tskd_ner": {"decode": "argmax"}}}
    assert spacy.load(tmp_path / "p", config=cfg).get_pipe("tskd_ner").decode == "argmax"
    with pytest.raises(ValueError, match="Unknown decode 'best'"):
        spacy.load(tmp_path / "p", config={"components": {"tskd_ner": {"decode": "best"}}})


def test_to_disk_from_disk_offline(tiny_encoder_dir, train_docs, tmp_path, monkeypatch, arch):
    import shutil

    enc = tmp_path / "encoder_copy"
    shutil.copytree(tiny_encoder_dir, enc)
    nlp = make_nlp(enc, arch)
    train_nlp(nlp, train_docs, n_iter=2)
    text = train_docs[0].text
    expected = nlp(text)._.tskd_probs
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(enc)  # the pipeline must not need the encoder directory any more
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    nlp2 = spacy.load(tmp_path / "pipeline")
    got = nlp2(text)._.tskd_probs
    assert np.allclose(expected, got, atol=1e-5)
    assert nlp2.get_pipe("tskd_ner").labels == nlp.get_pipe("tskd_ner").labels


def test_uninitialized_component_error(tiny_encoder_dir, arch):
    nlp = make_nlp(tiny_encoder_dir, arch)
    with pytest.raises(ValueError, match="initialize"):
        nlp("Anna visited Paris")

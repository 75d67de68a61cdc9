"""Multi-source MT: a one-hot α ensemble equals the single teacher."""

from __future__ import annotations

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_tskd.evaluation.ensemble import evaluate_ensemble
from spacy_tskd.evaluation.evaluate import evaluate

from conftest import examples_of, make_nlp, train_nlp


def test_one_hot_ensemble_equals_single_teacher(
    tiny_encoder_dir, overfit_teacher_dir, train_docs, tmp_path
):
    spacy.load(overfit_teacher_dir).to_disk(tmp_path / "a")
    other = make_nlp(tiny_encoder_dir)
    other.initialize(get_examples=lambda: examples_of(other, train_docs))
    other.to_disk(tmp_path / "b")
    db = DocBin()
    for d in train_docs:
        db.add(d)
    db.to_disk(tmp_path / "gold.spacy")
    # the ensemble decodes with the component's code: equal for both decoders
    for decode in ("argmax", "viterbi"):
        single = evaluate(
            pipeline_path=tmp_path / "a", data_path=tmp_path / "gold.spacy", decode=decode
        )
        ens = evaluate_ensemble(
            teacher_paths=[tmp_path / "a", tmp_path / "b"],
            data_path=tmp_path / "gold.spacy",
            alpha=[1.0, 0.0],
            decode=decode,
        )
        assert single["decode"] == ens["decode"] == decode
        assert ens["ents_f"] == pytest.approx(single["ents_f"])
        assert ens["n_correct"] == single["n_correct"]
    with pytest.raises(ValueError, match="sum to 1"):
        evaluate_ensemble(
            teacher_paths=[tmp_path / "a", tmp_path / "b"],
            data_path=tmp_path / "gold.spacy",
            alpha=[0.7, 0.7],
        )


def test_weights_file_is_matched_to_teachers_by_language(tiny_encoder_dir, train_docs, tmp_path):
    import json

    from typer.testing import CliRunner

    from spacy_tskd.cli import app
    from spacy_tskd.weighting.embeddings import encoder_identity

    for lang, n_iter in (("en", 40), ("de", 0)):
        nlp = make_nlp(tiny_encoder_dir, lang=lang, frozen_layers=0, freeze_embeddings=False)
        nlp.initialize(get_examples=lambda nlp=nlp: examples_of(nlp, train_docs))
        if n_iter:
            train_nlp(nlp, train_docs, n_iter=n_iter, lr=3e-3)
        nlp.to_disk(tmp_path / lang)
    DocBin(docs=train_docs).to_disk(tmp_path / "gold.spacy")
    encoder = encoder_identity(tiny_encoder_dir)

    def weights_file(sources, alpha, encoder=encoder):
        path = tmp_path / "w.json"
        data = {"method": "sim", "format": 2, "sources": sources, "alpha": alpha}
        path.write_text(json.dumps({**data, "encoder": encoder}))
        return path

    # the file lists de first: α must follow the languages, not the order of the teachers
    teachers = [tmp_path / "en", tmp_path / "de"]
    gold = tmp_path / "gold.spacy"
    single = evaluate(pipeline_path=tmp_path / "en", data_path=gold)
    ens = evaluate_ensemble(
        teacher_paths=teachers, data_path=gold, weights=weights_file(["de", "en"], [0.0, 1.0])
    )
    assert ens["alpha"] == [1.0, 0.0] and ens["n_correct"] == single["n_correct"]
    runner = CliRunner()
    args = ["evaluate-ensemble", str(gold), *map(str, teachers), "--weights"]
    result = runner.invoke(app, args + [str(weights_file(["en", "nl"], [0.5, 0.5]))])
    assert result.exit_code == 1
    assert "no weight for the source language(s) de" in " ".join(result.output.split())
    other = {"name": "other-encoder", "sha256": "0" * 64}
    result = runner.invoke(app, args + [str(weights_file(["de", "en"], [0.5, 0.5], other))])
    assert result.exit_code == 1
    assert "computed with the encoder 'other-encoder'" in " ".join(result.output.split())


def test_stored_probs_score_as_the_pipeline(overfit_teacher_dir, train_docs, tmp_path):
    from scripts.study.stored_probs import evaluate_stored_probs
    from spacy_tskd.distill.annotate import annotate

    spacy.load(overfit_teacher_dir).to_disk(tmp_path / "a")
    gold = tmp_path / "gold.spacy"
    DocBin(docs=train_docs).to_disk(gold)
    DocBin(docs=train_docs[:2]).to_disk(tmp_path / "other.spacy")
    annotate(
        teacher_path=tmp_path / "a", input_path=gold, output_dir=tmp_path / "p", progress=False
    )
    for decode in ("argmax", "viterbi"):
        scores = evaluate_stored_probs(probs_paths=[tmp_path / "p"], data_path=gold, decode=decode)
        pipeline = evaluate(pipeline_path=tmp_path / "a", data_path=gold, decode=decode)
        assert scores["decode"] == decode
        assert scores["ents_f"] == pytest.approx(pipeline["ents_f"])
    # probabilities of other docs are refused, naming both
    with pytest.raises(ValueError, match="holds 3 docs but .*other.spacy has 2.*Annotate"):
        evaluate_stored_probs(probs_paths=[tmp_path / "p"], data_path=tmp_path / "other.spacy")

"""Multi-source MT: a one-hot α ensemble equals the single teacher."""

from __future__ import annotations

import pytest
from spacy.tokens import DocBin
from test_ner_component import _examples, _train

from spacy_tskd.evaluation.ensemble import evaluate_ensemble
from spacy_tskd.evaluation.evaluate import evaluate

from conftest import make_nlp


def test_one_hot_ensemble_equals_single_teacher(tiny_encoder_dir, train_docs, tmp_path):
    trained = make_nlp(tiny_encoder_dir, frozen_layers=0, freeze_embeddings=False)
    _train(trained, train_docs, n_iter=40, lr=3e-3)
    trained.to_disk(tmp_path / "a")
    other = make_nlp(tiny_encoder_dir)
    other.initialize(get_examples=lambda: _examples(other, train_docs))
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


def test_cli_evaluate_probs_scores_stored_probabilities(tiny_encoder_dir, train_docs, tmp_path):
    import json

    from typer.testing import CliRunner

    from spacy_tskd.cli import app
    from spacy_tskd.distill.annotate import annotate

    trained = make_nlp(tiny_encoder_dir, frozen_layers=0, freeze_embeddings=False)
    _train(trained, train_docs, n_iter=40, lr=3e-3)
    trained.to_disk(tmp_path / "a")
    db = DocBin()
    for d in train_docs:
        db.add(d)
    db.to_disk(tmp_path / "gold.spacy")
    DocBin(docs=train_docs[:2]).to_disk(tmp_path / "other.spacy")
    annotate(
        teacher_path=tmp_path / "a",
        input_path=tmp_path / "gold.spacy",
        output_dir=tmp_path / "p",
        progress=False,
    )
    runner = CliRunner()
    for decode in ("argmax", "viterbi"):
        out = tmp_path / f"{decode}.json"
        result = runner.invoke(
            app,
            ["evaluate-probs", str(tmp_path / "gold.spacy"), str(tmp_path / "p")]
            + ["--decode", decode, "--output", str(out)],
        )
        assert result.exit_code == 0, result.output
        scores = json.loads(out.read_text())
        pipeline = evaluate(
            pipeline_path=tmp_path / "a", data_path=tmp_path / "gold.spacy", decode=decode
        )
        assert scores["decode"] == decode
        assert scores["ents_f"] == pytest.approx(pipeline["ents_f"])
    # probabilities of other docs are refused, naming both
    result = runner.invoke(
        app, ["evaluate-probs", str(tmp_path / "other.spacy"), str(tmp_path / "p")]
    )
    assert result.exit_code == 1
    text = " ".join(result.output.split())  # the message is wrapped for the terminal
    assert f"{tmp_path / 'p'} holds 3 docs but" in text
    assert "other.spacy has 2" in text and "Annotate" in text

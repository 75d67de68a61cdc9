"""seqeval scoring (conlleval mode), ``evaluate()`` and the ``evaluate`` command.

Every expected number below was counted by hand.
"""

from __future__ import annotations

import json

import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example

from spacy_tskd.data.bio import bio_to_spans, to_bio
from spacy_tskd.evaluation.evaluate import evaluate
from spacy_tskd.evaluation.scorer import format_scores_table, score_bio, score_docs

# ---------------------------------------------------------------- score_bio


def test_perfect_match():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"]]
    s = score_bio(gold, gold)
    assert (s["ents_p"], s["ents_r"], s["ents_f"]) == (1.0, 1.0, 1.0)
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (3, 3, 3)
    assert set(s["ents_per_type"]) == {"PER", "LOC", "ORG"}
    assert all(t["f"] == 1.0 for t in s["ents_per_type"].values())


# gold: PER(0-1) LOC(3) ORG(5) | LOC(0)   -> 4 entities
# pred: PER(0-1) MISC(2) ORG(5) | -       -> 3 entities, 2 correct (PER, ORG)
FP_MISS_GOLD = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG"], ["B-LOC", "O", "O"]]
FP_MISS_PRED = [["B-PER", "I-PER", "B-MISC", "O", "O", "B-ORG"], ["O", "O", "O"]]


def test_false_positive_and_missed_entities():
    s = score_bio(FP_MISS_GOLD, FP_MISS_PRED)
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (4, 3, 2)
    assert s["ents_p"] == pytest.approx(2 / 3)
    assert s["ents_r"] == pytest.approx(1 / 2)
    # F = 2PR / (P + R) = (2/3) / (7/6) = 4/7
    assert s["ents_f"] == pytest.approx(4 / 7)


def test_per_type_numbers():
    per = score_bio(FP_MISS_GOLD, FP_MISS_PRED)["ents_per_type"]
    assert list(per) == ["LOC", "MISC", "ORG", "PER"]
    assert per["PER"] == {"p": 1.0, "r": 1.0, "f": 1.0, "n_gold": 1, "n_pred": 1, "n_correct": 1}
    assert per["ORG"] == {"p": 1.0, "r": 1.0, "f": 1.0, "n_gold": 1, "n_pred": 1, "n_correct": 1}
    assert per["LOC"] == {"p": 0.0, "r": 0.0, "f": 0.0, "n_gold": 2, "n_pred": 0, "n_correct": 0}
    assert per["MISC"] == {"p": 0.0, "r": 0.0, "f": 0.0, "n_gold": 0, "n_pred": 1, "n_correct": 0}


def test_wrong_type_is_an_error():
    s = score_bio([["B-PER", "I-PER", "O"]], [["B-ORG", "I-ORG", "O"]])
    assert (s["ents_p"], s["ents_r"], s["ents_f"]) == (0.0, 0.0, 0.0)
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (1, 1, 0)
    assert s["ents_per_type"]["PER"]["n_gold"] == 1
    assert s["ents_per_type"]["ORG"]["n_pred"] == 1


def test_boundary_error_is_an_error():
    # too short ORG; LOC extended by one token; PER right -> 1 of 3 gold, 1 of 3 pred
    gold = [["B-ORG", "I-ORG", "I-ORG", "O"], ["B-LOC", "O", "B-PER"]]
    pred = [["B-ORG", "I-ORG", "O", "O"], ["B-LOC", "I-LOC", "B-PER"]]
    s = score_bio(gold, pred)
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (3, 3, 1)
    assert s["ents_p"] == pytest.approx(1 / 3)
    assert s["ents_r"] == pytest.approx(1 / 3)
    assert s["ents_f"] == pytest.approx(1 / 3)
    assert s["ents_per_type"]["ORG"]["f"] == 0.0
    assert s["ents_per_type"]["PER"]["f"] == 1.0


def test_iob1_gold_scored_like_its_bio_conversion():
    gold_iob1 = [["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]]
    assert to_bio(gold_iob1[0]) == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]
    # pred gets PER and the second LOC, merges nothing, misses the first LOC
    pred = [["B-PER", "I-PER", "O", "O", "B-LOC"]]
    s_iob1 = score_bio(gold_iob1, pred)
    s_bio = score_bio([to_bio(gold_iob1[0])], pred)
    assert s_iob1 == s_bio
    assert (s_iob1["n_gold"], s_iob1["n_pred"], s_iob1["n_correct"]) == (3, 2, 2)
    assert s_iob1["ents_p"] == 1.0
    assert s_iob1["ents_r"] == pytest.approx(2 / 3)
    assert s_iob1["ents_f"] == pytest.approx(0.8)
    # IOB1 predictions read the same way too
    assert score_bio(gold_iob1, gold_iob1)["ents_f"] == 1.0
    assert score_bio(gold_iob1, [to_bio(gold_iob1[0])])["ents_f"] == 1.0


def test_stray_inside_tag_starts_an_entity():
    gold = [["O", "B-PER", "I-PER", "O"]]
    # conlleval: I-PER after O starts an entity
    s = score_bio(gold, [["O", "I-PER", "I-PER", "O"]])
    assert (s["n_pred"], s["n_correct"], s["ents_f"]) == (1, 1, 1.0)
    # I-LOC after B-PER starts a second (LOC) entity
    s = score_bio([["B-PER", "O"]], [["B-PER", "I-LOC"]])
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (1, 2, 1)
    assert s["ents_per_type"]["LOC"]["n_pred"] == 1


def test_no_entities_anywhere_scores_zero():
    s = score_bio([["O", "O"]], [["O", "O"]])
    assert (s["ents_p"], s["ents_r"], s["ents_f"]) == (0.0, 0.0, 0.0)
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (0, 0, 0)
    assert s["ents_per_type"] == {}
    assert score_bio([], [])["ents_f"] == 0.0


def test_entities_do_not_run_across_sentences():
    # I-PER at the start of sentence 2 is a new entity, not the tail of sentence 1's
    s = score_bio([["B-PER"], ["I-PER"]], [["B-PER"], ["B-PER"]])
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (2, 2, 2)


def test_misaligned_or_invalid_input_raises():
    with pytest.raises(ValueError, match="sentences"):
        score_bio([["O"]], [])
    with pytest.raises(ValueError, match="Sentence 1"):
        score_bio([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="token 1"):
        score_bio([["O", "X-PER"]], [["O", "O"]])


def test_results_are_plain_python_and_json_serialisable():
    s = score_bio(FP_MISS_GOLD, FP_MISS_PRED)
    assert type(s["ents_f"]) is float
    assert type(s["ents_per_type"]["PER"]["p"]) is float
    json.dumps(s)


def test_format_scores_table():
    table = format_scores_table(score_bio(FP_MISS_GOLD, FP_MISS_PRED))
    lines = table.splitlines()
    assert lines[0].split() == ["Type", "P", "R", "F", "Support"]
    per_line = next(line for line in lines if line.startswith("PER"))
    assert per_line.split() == ["PER", "100.00", "100.00", "100.00", "1"]
    loc_line = next(line for line in lines if line.startswith("LOC"))
    assert loc_line.split() == ["LOC", "0.00", "0.00", "0.00", "2"]
    assert lines[-1].split() == ["ALL", "66.67", "50.00", "57.14", "4"]


# ---------------------------------------------------------------- score_docs


def _doc(nlp, words, ents=()):
    doc = Doc(nlp.vocab, words=words)
    doc.ents = [Span(doc, start, end, label=label) for start, end, label in ents]
    return doc


def test_score_docs_on_docs_and_examples():
    nlp = spacy.blank("en")
    words1 = ["Alice", "Smith", "visited", "Paris", "."]
    words2 = ["Bob", "flew", "to", "Berlin", "."]
    gold = [
        _doc(nlp, words1, [(0, 2, "PER"), (3, 4, "LOC")]),
        _doc(nlp, words2, [(0, 1, "PER"), (3, 4, "LOC")]),
    ]
    pred = [_doc(nlp, words1, [(0, 2, "PER"), (3, 4, "LOC")]), _doc(nlp, words2, [(3, 4, "ORG")])]
    s = score_docs(gold, pred)
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (4, 3, 2)
    assert s["ents_f"] == pytest.approx(4 / 7)
    examples = [Example(p, g) for g, p in zip(gold, pred)]
    assert score_docs(examples) == s


def _random_tags(rng, n_sents):
    """Random tag sequences, IOB1, BIO and invalid BIO (stray I- tags) alike."""
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG"]
    return [[rng.choice(tags) for _ in range(rng.randint(1, 12))] for _ in range(n_sents)]


def test_score_bio_matches_seqeval_classification_report():
    import random

    from seqeval.metrics import classification_report

    rng = random.Random(0)
    for _ in range(20):
        gold = _random_tags(rng, 8)
        pred = [[rng.choice(["O", t, t, "B-ORG"]) for t in sent] for sent in gold]
        ours = score_bio(gold, pred)
        theirs = classification_report(gold, pred, output_dict=True, zero_division=0)
        if not ours["n_gold"] and not ours["n_pred"]:
            continue
        assert ours["ents_f"] == pytest.approx(theirs["micro avg"]["f1-score"])
        assert ours["ents_p"] == pytest.approx(theirs["micro avg"]["precision"])
        for typ, row in ours["ents_per_type"].items():
            assert row["f"] == pytest.approx(theirs[typ]["f1-score"]), typ
            assert row["n_gold"] == theirs[typ]["support"], typ


def test_score_docs_matches_spacys_span_scorer():
    import random

    from spacy.scorer import Scorer

    nlp = spacy.blank("en")
    rng = random.Random(1)
    examples = []
    for gold_tags in _random_tags(rng, 40):
        pred_tags = [rng.choice(["O", t, "B-ORG"]) for t in gold_tags]
        words = [f"w{i}" for i in range(len(gold_tags))]
        gold = _doc(nlp, words, bio_to_spans(gold_tags))
        pred = _doc(nlp, words, bio_to_spans(pred_tags))
        examples.append(Example(pred, gold))
    ours = score_docs(examples)
    theirs = Scorer.score_spans(examples, "ents")
    assert ours["ents_f"] == pytest.approx(theirs["ents_f"])
    assert ours["ents_r"] == pytest.approx(theirs["ents_r"])
    for typ, row in ours["ents_per_type"].items():
        assert row["f"] == pytest.approx(theirs["ents_per_type"][typ]["f"]), typ


def test_score_docs_token_mismatch_names_the_doc():
    nlp = spacy.blank("en")
    gold = [_doc(nlp, ["a", "b"]), _doc(nlp, ["c", "d"])]
    with pytest.raises(ValueError, match=r"Doc 1.*token 1"):
        score_docs(gold, [_doc(nlp, ["a", "b"]), _doc(nlp, ["c", "x"])])
    with pytest.raises(ValueError, match=r"Doc 0"):
        score_docs(gold, [_doc(nlp, ["a"]), _doc(nlp, ["c", "d"])])
    with pytest.raises(ValueError, match="2 gold docs but 1"):
        score_docs(gold, gold[:1])


# ---------------------------------------------------------------- evaluate()

# Ruler: "Alice Smith" PER, "Paris" LOC, "Berlin" ORG (gold says LOC); "Bob" unmatched.
# gold 4 (PER, LOC, PER, LOC), pred 3 (PER, LOC, ORG), correct 2
# -> P 2/3, R 1/2, F 4/7; PER and LOC: P 1, R 1/2, F 2/3; ORG: 0 (1 pred, 0 gold).
PATTERNS = [
    {"label": "PER", "pattern": [{"ORTH": "Alice"}, {"ORTH": "Smith"}]},
    {"label": "LOC", "pattern": "Paris"},
    {"label": "ORG", "pattern": "Berlin"},
]


@pytest.fixture
def pipeline_and_data(tmp_path):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(PATTERNS)
    model = tmp_path / "model"
    nlp.to_disk(model)

    gold_nlp = spacy.blank("en")
    docs = [
        _doc(gold_nlp, ["Alice", "Smith", "visited", "Paris", "."], [(0, 2, "PER"), (3, 4, "LOC")]),
        _doc(gold_nlp, ["Bob", "flew", "to", "Berlin", "."], [(0, 1, "PER"), (3, 4, "LOC")]),
        _doc(gold_nlp, ["Nothing", "here", "."]),
    ]
    data = tmp_path / "dev.spacy"
    DocBin(docs=docs).to_disk(data)
    return model, data


def _check_scores(s):
    assert (s["n_gold"], s["n_pred"], s["n_correct"]) == (4, 3, 2)
    assert s["ents_p"] == pytest.approx(2 / 3)
    assert s["ents_r"] == pytest.approx(1 / 2)
    assert s["ents_f"] == pytest.approx(4 / 7)
    per = s["ents_per_type"]
    for typ in ("PER", "LOC"):
        assert per[typ]["p"] == 1.0
        assert per[typ]["r"] == pytest.approx(0.5)
        assert per[typ]["f"] == pytest.approx(2 / 3)
    assert per["ORG"]["f"] == 0.0 and per["ORG"]["n_pred"] == 1


def test_evaluate_end_to_end(pipeline_and_data, tmp_path):
    model, data = pipeline_and_data
    out = tmp_path / "out" / "scores.json"
    s = evaluate(pipeline_path=model, data_path=data, output=out, batch_size=2)
    _check_scores(s)
    assert s["n_docs"] == 3
    assert s["n_words"] == 13
    assert s["words_per_second"] > 0
    assert s["pipeline"] == str(model) and s["data"] == str(data)
    on_disk = json.loads(out.read_text())
    assert on_disk == json.loads(json.dumps(s))
    _check_scores(on_disk)
    assert not [p for p in out.parent.iterdir() if p.name != "scores.json"]  # no temp files


def test_evaluate_without_output_writes_nothing(pipeline_and_data, tmp_path):
    model, data = pipeline_and_data
    before = sorted(tmp_path.rglob("*"))
    s = evaluate(pipeline_path=model, data_path=data)
    _check_scores(s)
    assert sorted(tmp_path.rglob("*")) == before


def test_evaluate_is_keyword_only(pipeline_and_data):
    model, data = pipeline_and_data
    with pytest.raises(TypeError):
        evaluate(model, data)  # type: ignore[misc]


def test_evaluate_clear_errors(pipeline_and_data, tmp_path):
    model, data = pipeline_and_data
    with pytest.raises(FileNotFoundError, match="Pipeline directory not found"):
        evaluate(pipeline_path=tmp_path / "nope", data_path=data)
    not_a_model = tmp_path / "not_a_model"
    not_a_model.mkdir()
    with pytest.raises(FileNotFoundError, match="no config.cfg"):
        evaluate(pipeline_path=not_a_model, data_path=data)
    with pytest.raises(FileNotFoundError, match="Data file not found"):
        evaluate(pipeline_path=model, data_path=tmp_path / "missing.spacy")
    empty = tmp_path / "empty.spacy"
    DocBin().to_disk(empty)
    with pytest.raises(ValueError, match="contains no docs"):
        evaluate(pipeline_path=model, data_path=empty)
    garbage = tmp_path / "garbage.spacy"
    garbage.write_bytes(b"not a docbin")
    with pytest.raises(ValueError, match="DocBin"):
        evaluate(pipeline_path=model, data_path=garbage)


# ---------------------------------------------------------------- CLI


def test_cli_evaluate(pipeline_and_data, tmp_path):
    from typer.testing import CliRunner

    from spacy_tskd.cli import app

    model, data = pipeline_and_data
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(
        app, ["evaluate", str(model), str(data), "--output", str(out), "--batch-size", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "Support" in result.output
    assert "57.14" in result.output  # overall F1
    assert "F1 57.14" in result.output
    assert json.loads(out.read_text())["n_docs"] == 3


def test_cli_evaluate_missing_file(pipeline_and_data, tmp_path):
    from typer.testing import CliRunner

    from spacy_tskd.cli import app

    model, _ = pipeline_and_data
    missing = tmp_path / "missing.spacy"
    result = CliRunner().invoke(app, ["evaluate", str(model), str(missing)])
    assert result.exit_code == 1
    assert "Data file not found" in result.output
    assert str(missing) in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)

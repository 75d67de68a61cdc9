"""The no-gold report: counts, agreement, confidence plot, displaCy page; F1 with a test
set, none (and no stale F1 files) without; and a test set of labels the teacher lacks."""

from __future__ import annotations

import json

import pytest
import spacy
from spacy.tokens import DocBin, Span
from typer.testing import CliRunner

from spacy_tskd.cli import app
from spacy_tskd.evaluation.report import write_report


def test_report_with_and_without_a_test_set(teacher_dir, docs_path, tmp_path):
    out = tmp_path / "metrics"
    # the same pipeline as teacher and student: they agree on every token
    report = write_report(teacher_path=teacher_dir, student_path=teacher_dir,
                          heldout_path=docs_path, output_dir=out, test_path=docs_path,
                          n_examples=3)  # fmt: skip
    assert report["teacher"]["entities"] == report["student"]["entities"]
    assert report["agreement"]["tokens"] == 1.0
    assert 0 < report["student"]["confidence"]["mean"] <= 1
    assert sum(report["student"]["confidence"]["histogram"]) == report["n_tokens"]
    assert report["test"]["MT_f"] == report["test"]["TS_f"]
    assert json.loads((out / "nogold.json").read_text()) == json.loads(json.dumps(report))
    assert (out / "confidence.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "examples.html").read_text()
    assert page.count("<tr>") == 4 and "teacher" in page and "student" in page
    assert {"MT.json", "TS.json", "table.md"} <= {p.name for p in out.iterdir()}

    empty = tmp_path / "none.spacy"
    DocBin().to_disk(empty)
    args = ["report", str(teacher_dir), str(teacher_dir), str(docs_path), "--output", str(out),
            "--test", str(empty)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "No target test set: no F1" in result.output
    assert json.loads((out / "nogold.json").read_text())["test"] is None
    assert not {"MT.json", "TS.json", "table.md"} & {p.name for p in out.iterdir()}


def test_test_labels_the_teacher_lacks_are_named(teacher_dir, docs_path, tmp_path):
    nlp = spacy.blank("xx")
    docs = list(DocBin().from_disk(docs_path).get_docs(nlp.vocab))
    docs[0].ents = [Span(docs[0], 0, 1, label="PRODUCT")]
    bad = tmp_path / "test.spacy"
    DocBin(docs=docs).to_disk(bad)
    with pytest.raises(ValueError, match=r"test.spacy has entity labels the teacher does not "
                       r"have: PRODUCT \(it predicts LOC, ORG, PER\)"):  # fmt: skip
        write_report(teacher_path=teacher_dir, student_path=teacher_dir, heldout_path=docs_path,
                     output_dir=tmp_path / "m", test_path=bad)  # fmt: skip
    assert not (tmp_path / "m").exists()  # checked before any output

"""A user's files: JSONL spans, plain text, DocBins, CoNLL sniffing, held-out splits, and
the errors for bad input (each names the file and line, and writes nothing)."""

from __future__ import annotations

import json

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_tskd.cli import app
from spacy_tskd.data.convert import convert, detect_format, read_docs

# OntoNotes-style labels, not CoNLL's; Portuguese text.
RECORDS = [
    {"text": "Ana Silva mora em Lisboa desde 2019.",
     "spans": [{"start": 0, "end": 9, "label": "PERSON"}, {"start": 18, "end": 24, "label": "GPE"},
               {"start": 31, "end": 35, "label": "DATE"}]},
    {"text": "A Petrobras cresceu.", "spans": [{"start": 2, "end": 11, "label": "ORG"}]},
    {"text": "Nada aqui.", "answer": "reject", "spans": [{"start": 0, "end": 4, "label": "X"}]},
    {"text": "Sem entidades."},
]  # fmt: skip


def _jsonl(tmp_path, records, name="data.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    return path


def _ents(docs):
    return [[(e.text, e.label_) for e in doc.ents] for doc in docs]


def test_jsonl_spans_with_any_labels(tmp_path):
    docs = read_docs(_jsonl(tmp_path, RECORDS), lang="pt", labelled=True)
    assert docs[0].lang_ == "pt"
    assert _ents(docs) == [
        [("Ana Silva", "PERSON"), ("Lisboa", "GPE"), ("2019", "DATE")],
        [("Petrobras", "ORG")],
        [],
    ]  # the rejected line is skipped


def test_unlabeled_formats_keep_words_only(tmp_path):
    text = tmp_path / "pt.txt"
    text.write_text("Ana Silva mora em Lisboa.\n\n  A Petrobras cresceu.  \n")
    conll = tmp_path / "pt.iob"
    conll.write_text("Ana B-PER\nSilva I-PER\n\nmora O\n")
    field = _jsonl(tmp_path, [{"body": "Ana mora em Lisboa."}], name="t.jsonl")
    assert detect_format(text, labelled=False) == "text"
    assert detect_format(conll, labelled=False) == "conll"
    docs = read_docs(text, lang="pt", labelled=False)
    assert [d.text for d in docs] == ["Ana Silva mora em Lisboa.", "A Petrobras cresceu."]
    assert [len(d) for d in docs] == [6, 4]
    assert [d.text for d in read_docs(conll, lang="pt", labelled=False)] == ["Ana Silva ", "mora "]
    assert not any(d.ents for d in read_docs(conll, lang="pt", labelled=False))
    assert [d.text for d in read_docs(field, lang="pt", labelled=False, text_field="body")] == [
        "Ana mora em Lisboa."
    ]


def test_docbin_in_and_held_out_split(tmp_path):
    nlp = spacy.blank("pt")
    docs = [nlp.make_doc(f"frase numero {i} .") for i in range(10)]
    src = tmp_path / "in.spacy"
    DocBin(docs=docs).to_disk(src)
    out, held = tmp_path / "out.spacy", tmp_path / "held.spacy"
    stats = convert(
        input_path=src, output_path=out, lang="pt", unlabeled=True, max_sents=6, heldout=3,
        heldout_path=held,
    )  # fmt: skip
    assert (stats["docs"], stats["heldout"]) == (6, 3)
    kept = [d.text for d in DocBin().from_disk(out).get_docs(nlp.vocab)]
    rest = [d.text for d in DocBin().from_disk(held).get_docs(nlp.vocab)]
    assert kept == [d.text for d in docs[:6]] and rest == [d.text for d in docs[6:9]]
    convert(
        input_path=src, output_path=out, lang="pt", unlabeled=True, heldout=4, heldout_path=held
    )
    assert [d.text for d in DocBin().from_disk(held).get_docs(nlp.vocab)] == [
        d.text for d in docs[6:]
    ]  # max_sents 0: the last N are held out, and not in the output
    assert len(DocBin().from_disk(out)) == 6


def test_alignment_mode_snaps_spans(tmp_path):
    path = _jsonl(
        tmp_path,
        [{"text": "Ana Silva mora.", "spans": [{"start": 0, "end": 7, "label": "PERSON"}]}],
    )
    with pytest.raises(
        ValueError, match=r"data.jsonl, line 1: span 0-7 \(PERSON, 'Ana Sil'\) does"
    ):
        read_docs(path, lang="pt", labelled=True)
    docs = read_docs(path, lang="pt", labelled=True, alignment_mode="expand")
    assert _ents(docs) == [[("Ana Silva", "PERSON")]]
    assert _ents(read_docs(path, lang="pt", labelled=True, alignment_mode="contract")) == [
        [("Ana", "PERSON")]
    ]


def test_empty_test_set_is_allowed_only_when_asked(tmp_path):
    empty = tmp_path / "none.txt"
    empty.write_text("")
    out = tmp_path / "test.spacy"
    assert convert(input_path=empty, output_path=out, lang="pt", allow_empty=True)["docs"] == 0
    assert len(DocBin().from_disk(out)) == 0


BAD = [
    # (records or raw text, labelled, expected message)
    ([{"texto": "Olá"}], True, r"line 1: no 'text' field holding a string \(its keys: texto\)"),
    ("{not json\n", False, r"line 1: not valid JSON"),
    ([{"text": "Olá"}, {"text": "Oi", "spans": [{"start": 0, "end": 9, "label": "X"}]}], True,
     r"line 2: span 0-9 \(X\) is out of range: the text has 2 characters"),
    ([{"text": "Ana Silva", "spans": [{"start": 0, "end": 9, "label": "PERSON"},
                                      {"start": 4, "end": 9, "label": "PERSON"}]}], True,
     r"line 1: spans 0-9 \(PERSON\) and 4-9 \(PERSON\) overlap"),
    ([{"text": "Ana", "spans": [{"start": "0", "end": 3, "label": "PERSON"}]}], True,
     r'line 1: a span needs integer "start" and "end"'),
    ([{"text": "Ana mora."}], True, r"without a single entity"),
    ("", False, r"no docs in this file"),
    ("\n  \n", False, r"no docs in this file"),
]  # fmt: skip


@pytest.mark.parametrize("content,labelled,expected", BAD)
def test_bad_input_names_file_and_line(tmp_path, content, labelled, expected):
    if isinstance(content, str):
        path = tmp_path / "bad.jsonl"
        path.write_text(content)
    else:
        path = _jsonl(tmp_path, content, name="bad.jsonl")
    out = tmp_path / "out.spacy"
    with pytest.raises(ValueError, match=expected) as exc:
        convert(input_path=path, output_path=out, lang="pt", unlabeled=not labelled)
    assert str(exc.value).startswith(str(path))
    assert not out.exists()


def test_bad_language_and_json_array(tmp_path):
    path = _jsonl(tmp_path, RECORDS)
    with pytest.raises(ValueError, match="Unknown language code 'zz': spaCy has no language"):
        read_docs(path, lang="zz", labelled=True)
    array = tmp_path / "data.json"
    array.write_text(json.dumps(RECORDS))
    with pytest.raises(ValueError, match=r"data.json: a .json file is not read; write one JSON"):
        read_docs(array, lang="pt", labelled=True)


def test_cli_convert_jsonl_and_text(tmp_path):
    out = tmp_path / "train.spacy"
    args = ["convert", str(_jsonl(tmp_path, RECORDS)), str(out), "--lang", "pt"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "entities PERSON" in result.output and "entities DATE" in result.output
    text = tmp_path / "pt.txt"
    text.write_text("uma\nduas\ntres\n")
    held = tmp_path / "held.spacy"
    args = ["convert", str(text), str(out), "--lang", "pt", "--unlabeled", "--max-sents", "2",
            "--heldout", "1", "--heldout-output", str(held)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Wrote 1 held-out docs" in result.output
    result = CliRunner().invoke(
        app, ["convert", str(text), str(out), "--lang", "qq", "--unlabeled"]
    )
    assert result.exit_code == 1 and "Unknown language code 'qq'" in result.output

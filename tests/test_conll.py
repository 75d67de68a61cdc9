"""CoNLL reading and conversion, on tiny synthetic files (and the real data with --slow)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab
from typer.testing import CliRunner

from spacy_tskd.cli import app
from spacy_tskd.data.bio import bio_to_spans
from spacy_tskd.data.conll import CoNLLFormatError, read_conll
from spacy_tskd.data.convert import convert, read_docs

# Two synthetic sentences, IOB1 (4 columns): token POS chunk NER.
IOB1 = """\
Ann NNP B-NP I-PER
Lee NNP I-NP I-PER
met VBD B-VP O
Bob NNP B-NP I-PER
Bo NNP I-NP B-PER
in IN B-PP O
Oslo NNP B-NP I-LOC
. . O O

Acme NNP B-NP I-ORG
Corp NNP I-NP I-ORG
grew VBD B-VP O
. . O O
"""
BIO_TAGS = [
    ["B-PER", "I-PER", "O", "B-PER", "B-PER", "O", "B-LOC", "O"],
    ["B-ORG", "I-ORG", "O", "O"],
]
WORDS = [["Ann", "Lee", "met", "Bob", "Bo", "in", "Oslo", "."], ["Acme", "Corp", "grew", "."]]
ENTS = [
    [("Ann Lee", "PER"), ("Bob", "PER"), ("Bo", "PER"), ("Oslo", "LOC")],
    [("Acme Corp", "ORG")],
]


def conll_stats(sentences):
    """Sentences, tokens and entities per type (the conlleval way), types sorted."""
    sentences = list(sentences)
    entities = Counter(label for s in sentences for _, _, label in bio_to_spans(s.tags))
    return {
        "sentences": len(sentences),
        "tokens": sum(len(s.words) for s in sentences),
        "entities": dict(sorted(entities.items())),
    }


def _with_columns(n_cols: int, tags_from: str = "iob1") -> str:
    """The two sentences with ``n_cols`` columns (filler columns in the middle)."""
    lines = []
    for i, (words, bio) in enumerate(zip(WORDS, BIO_TAGS)):
        iob1 = [line.split()[-1] for line in IOB1.split("\n\n")[i].strip().splitlines()]
        tags = iob1 if tags_from == "iob1" else bio
        for word, tag in zip(words, tags):
            lines.append(" ".join([word] + ["X"] * (n_cols - 2) + [tag]))
        lines.append("")
    return "\n".join(lines)


def _write(tmp_path: Path, text, name: str = "in.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf8"))
    return path


def _ents(docs):
    return [[(e.text, e.label_) for e in doc.ents] for doc in docs]


@pytest.mark.parametrize("n_cols", [2, 3, 4, 5])
@pytest.mark.parametrize("scheme", ["iob1", "bio"])
def test_column_layouts_and_schemes(tmp_path, n_cols, scheme):
    path = _write(tmp_path, _with_columns(n_cols, scheme))
    sents = read_conll(path)
    assert [s.words for s in sents] == WORDS
    assert [s.tags for s in sents] == BIO_TAGS
    assert [s.line for s in sents] == [1, 10]
    docs = read_docs(path, lang="en", labelled=True)
    assert [[t.text for t in doc] for doc in docs] == WORDS
    assert _ents(docs) == ENTS
    assert all(t.whitespace_ == " " for doc in docs for t in doc)


def test_tabs_and_trailing_blank_lines(tmp_path):
    text = _with_columns(3).replace(" ", "\t") + "\n\n\n"
    sents = read_conll(_write(tmp_path, text))
    assert [s.tags for s in sents] == BIO_TAGS


def test_no_final_newline(tmp_path):
    sents = read_conll(_write(tmp_path, "a O\nb B-PER"))
    assert len(sents) == 1 and sents[0].tags == ["O", "B-PER"]


@pytest.mark.parametrize(
    "docstart",
    [
        "-DOCSTART-",
        "-DOCSTART- O",
        "-DOCSTART- -DOCSTART- O",
        "-DOCSTART- -X- O O",
        "-DOCSTART- -X- -X- O",
        "-DOCSTART- -X- -X- -X- O",
    ],
)
@pytest.mark.parametrize("alone", [True, False])
def test_docstart_variants(tmp_path, docstart, alone):
    body = _with_columns(4)
    sep = "\n\n" if alone else "\n"
    text = f"{docstart}{sep}{body}\n{docstart}{sep}{body}"
    sents = read_conll(_write(tmp_path, text))
    assert len(sents) == 4
    assert all("-DOCSTART-" not in s.words for s in sents)
    assert [s.tags for s in sents] == BIO_TAGS * 2
    assert conll_stats(sents)["tokens"] == 2 * sum(len(w) for w in WORDS)


def test_bom_and_crlf_accepted(tmp_path):
    text = "-DOCSTART- O\r\n\r\n" + _with_columns(2).replace("\n", "\r\n")
    path = _write(tmp_path, b"\xef\xbb\xbf" + text.encode("utf8"))
    sents = read_conll(path)
    assert [s.words for s in sents] == WORDS
    assert [s.tags for s in sents] == BIO_TAGS
    assert _ents(read_docs(path, lang="xx", labelled=True)) == ENTS


def test_non_ascii_tokens(tmp_path):
    path = _write(tmp_path, "Zürich\tB-LOC\nMüller  I-PER \r\n\u00a0\n")
    sents = read_conll(path)
    assert sents[0].words == ["Zürich", "Müller"]
    assert sents[0].tags == ["B-LOC", "B-PER"]


def test_stray_inside_tag_counts_as_entity(tmp_path):
    # conlleval starts an entity at an I-X after O (or after another type).
    path = _write(tmp_path, "a O\nb I-LOC\nc I-LOC\nd I-PER\ne O\nf B-LOC\n")
    (sent,) = read_conll(path)
    assert sent.tags == ["O", "B-LOC", "I-LOC", "B-PER", "O", "B-LOC"]
    stats = conll_stats([sent])
    assert stats == {"sentences": 1, "tokens": 6, "entities": {"LOC": 2, "PER": 1}}


def test_convert_writes_docbin(tmp_path):
    path = _write(tmp_path, _with_columns(5))
    out = tmp_path / "sub" / "out.spacy"
    stats = convert(input_path=path, output_path=out, lang="en")
    assert stats == {
        "docs": 2,
        "tokens": 12,
        "entities": {"LOC": 1, "ORG": 1, "PER": 3},
        "heldout": 0,
    }
    docs = list(DocBin().from_disk(out).get_docs(Vocab()))
    assert _ents(docs) == ENTS
    assert [p.name for p in out.parent.iterdir()] == ["out.spacy"]


def test_max_sents(tmp_path):
    path = _write(tmp_path, _with_columns(2))
    out = tmp_path / "out.spacy"
    stats = convert(input_path=path, output_path=out, lang="xx", max_sents=1)
    assert stats["docs"] == 1 and stats["tokens"] == 8
    assert len(DocBin().from_disk(out)) == 1
    assert convert(input_path=path, output_path=out, lang="xx", max_sents=5)["docs"] == 2
    with pytest.raises(ValueError, match="max_sents"):
        convert(input_path=path, output_path=out, lang="en", max_sents=-1)


def test_skip_sents(tmp_path):
    path = _write(tmp_path, _with_columns(2))
    out = tmp_path / "out.spacy"
    stats = convert(input_path=path, output_path=out, lang="xx", skip_sents=1)
    assert stats["docs"] == 1 and stats["tokens"] == 4
    first = convert(input_path=path, output_path=out, lang="xx", max_sents=1)
    assert first["tokens"] + stats["tokens"] == 12
    with pytest.raises(ValueError, match="skip_sents must be 0"):
        convert(input_path=path, output_path=out, lang="en", skip_sents=-2)


BAD_INPUTS = [
    # (file content, line named in the message, text expected in the message)
    ("a X O\nb X O\n\nc O\n", 4, r"found 2 columns but the first token line \(line 1\) has 3"),
    (
        "-DOCSTART- -X- O O\n\na O\nb X O\n",
        4,
        r"found 3 columns but the first token line \(line 3\)",
    ),
    ("a O\nb\n", 2, r"found 1 column but the first token line \(line 1\) has 2"),
    ("alone\n", 1, "found 1 column"),
    ("a O\nb B-PER\nc S-PER\n", 3, "unknown NER tag 'S-PER'"),
    ("a O\nb B_PER\n", 2, "unknown NER tag 'B_PER'"),
    ("a O\nb B-\n", 2, "unknown NER tag 'B-'"),
    ("a o\n", 1, "unknown NER tag 'o'"),
    (b"a O\n\nb O\nZ\xfcrich B-LOC\n", 4, "must be UTF-8; .*iconv -f ISO-8859-1 -t UTF-8"),
    (b"a O\n\x00b\x00", 2, "binary file"),
]


@pytest.mark.parametrize("text,line,expected", BAD_INPUTS)
def test_bad_input(tmp_path, text, line, expected):
    path = _write(tmp_path, text, name="bad_input.txt")
    out = tmp_path / "out.spacy"
    with pytest.raises(CoNLLFormatError, match=expected) as exc_info:
        convert(input_path=path, output_path=out, lang="en")
    message = str(exc_info.value)
    assert "bad_input.txt" in message and f"line {line}:" in message
    assert exc_info.value.line == line
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    "text,expected",
    [("", "the file is empty"), ("\n\n-DOCSTART- O\n\n", "no sentences in its 5 lines")],
)
def test_empty_input(tmp_path, text, expected):
    path = _write(tmp_path, text, name="empty_input.txt")
    out = tmp_path / "out.spacy"
    with pytest.raises(CoNLLFormatError, match=expected) as exc_info:
        convert(input_path=path, output_path=out, lang="en")
    assert "empty_input.txt" in str(exc_info.value)
    assert not out.exists()


def test_failed_convert_keeps_old_output(tmp_path):
    out = tmp_path / "out.spacy"
    out.write_bytes(b"old")
    with pytest.raises(CoNLLFormatError):
        convert(input_path=_write(tmp_path, "a O\nb X\n"), output_path=out, lang="en")
    assert out.read_bytes() == b"old"


def test_unknown_lang(tmp_path):
    out = tmp_path / "out.spacy"
    with pytest.raises(ValueError, match="Unknown language code 'zz'"):
        convert(input_path=_write(tmp_path, "a O\n"), output_path=out, lang="zz")
    assert not out.exists()


def test_cli_convert(tmp_path):
    path = _write(tmp_path, _with_columns(4))
    out = tmp_path / "out.spacy"
    result = CliRunner().invoke(app, ["convert", str(path), str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for label, count in [("docs", 2), ("tokens", 12), ("PER", 3), ("LOC", 1), ("total", 5)]:
        assert any(label in ln and ln.rstrip().endswith(str(count)) for ln in lines), label
    assert len(DocBin().from_disk(out)) == 2

    result = CliRunner().invoke(
        app, ["convert", str(path), str(out), "--lang", "en", "--max-sents", "1"]
    )
    assert result.exit_code == 0, result.output
    assert len(DocBin().from_disk(out)) == 1


def test_cli_convert_error(tmp_path):
    path = _write(tmp_path, "a O\nb B-PER\nc E-PER\n", name="broken.txt")
    out = tmp_path / "out.spacy"
    result = CliRunner().invoke(app, ["convert", str(path), str(out), "--lang", "en"])
    assert result.exit_code == 1
    output = " ".join(result.output.split())  # wasabi wraps long messages
    assert "broken.txt, line 3:" in output
    assert "unknown NER tag 'E-PER'" in output
    assert "Traceback" not in output
    assert not out.exists()


# --- the real CoNLL files (research-only data, never copied into the repo) ---

DATA_DIR = Path(
    os.environ.get("TSKD_DATA_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)

# From conll/SOURCES.md: sentences (excl. -DOCSTART-), tokens, entities LOC / MISC / ORG / PER.
EXPECTED = {
    ("en", "train"): (14041, 203621, (7140, 3438, 6321, 6600)),
    ("en", "dev"): (3250, 51362, (1837, 922, 1341, 1842)),
    ("en", "test"): (3453, 46435, (1668, 702, 1661, 1617)),
    ("de", "train"): (12152, 206931, (4363, 2288, 2427, 2773)),
    ("de", "dev"): (2867, 51444, (1181, 1010, 1241, 1401)),
    ("de", "test"): (3005, 51943, (1035, 670, 773, 1195)),
    ("es", "train"): (8323, 264715, (4914, 2173, 7390, 4321)),
    ("es", "dev"): (1915, 52923, (985, 445, 1700, 1222)),
    ("es", "test"): (1517, 51533, (1084, 340, 1400, 735)),
    ("nl", "train"): (15806, 202644, (3208, 3338, 2082, 4716)),
    ("nl", "dev"): (2895, 37687, (479, 748, 686, 703)),
    ("nl", "test"): (5195, 68875, (774, 1187, 882, 1098)),
}
EXPECTED_TOTAL = {
    ("en", "train"): 23499,
    ("en", "dev"): 5942,
    ("en", "test"): 5648,
    ("de", "train"): 11851,
    ("de", "dev"): 4833,
    ("de", "test"): 3673,
    ("es", "train"): 18798,
    ("es", "dev"): 4352,
    ("es", "test"): 3559,
    ("nl", "train"): 13344,
    ("nl", "dev"): 2616,
    ("nl", "test"): 3941,
}
# From conll_tsl (last section of conll/SOURCES.md): sentences; tokens equal conll/.
EXPECTED_TSL_SENTS = {
    ("en", "train"): 14042,
    ("en", "dev"): 3252,
    ("en", "test"): 3454,
    ("de", "train"): 12167,
    ("de", "dev"): 2875,
    ("de", "test"): 3009,
    ("es", "train"): 8405,
    ("es", "dev"): 1926,
    ("es", "test"): 1524,
    ("nl", "train"): 15836,
    ("nl", "dev"): 2895,
    ("nl", "test"): 5202,
}
needs_data = pytest.mark.skipif(
    not (DATA_DIR / "conll").is_dir(), reason=f"CoNLL data not found in {DATA_DIR}"
)


@pytest.mark.slow
@needs_data
def test_real_conll_counts():
    for (lang, split), (n_sents, n_tokens, per_type) in EXPECTED.items():
        stats = conll_stats(read_conll(DATA_DIR / "conll" / lang / f"{split}.txt"))
        expected = dict(zip(("LOC", "MISC", "ORG", "PER"), per_type))
        assert stats == {"sentences": n_sents, "tokens": n_tokens, "entities": expected}, (
            lang,
            split,
        )
        assert sum(stats["entities"].values()) == EXPECTED_TOTAL[lang, split]


@pytest.mark.slow
@needs_data
def test_real_conll_tsl_reads():
    paths = sorted((DATA_DIR / "conll_tsl").glob("*/*.txt"))
    assert len(paths) == 12
    for path in paths:
        lang, split = path.parent.name, path.stem
        stats = conll_stats(read_conll(path))
        assert stats["sentences"] == EXPECTED_TSL_SENTS[lang, split], path
        assert stats["tokens"] == EXPECTED[lang, split][1], path

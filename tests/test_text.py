"""Plain-text input: one doc per line, read lazily, errors naming the file and line."""

from __future__ import annotations

import inspect

import pytest

from spacy_tskd.data.text import iter_lines, read_text, scan_text


def test_read_text_tokenises_and_skips_blank_lines(tmp_path):
    path = tmp_path / "es.txt"
    path.write_bytes(
        "\ufeff¿Dónde está Anna?\r\n\r\n  Boris trabaja en Acme.  \n \t \nLima\n".encode()
    )
    docs = read_text(path, lang="es")
    assert inspect.isgenerator(docs)
    got = [(n, [t.text for t in d], [t.whitespace_ for t in d]) for n, d in docs]
    assert got == [
        (1, ["¿", "Dónde", "está", "Anna", "?"], ["", " ", " ", "", ""]),
        (3, ["Boris", "trabaja", "en", "Acme", "."], [" ", " ", " ", "", ""]),
        (5, ["Lima"], [""]),
    ]
    assert [n for n, _ in read_text(path, lang="es", skip=2)] == [5]
    assert list(iter_lines(path)) == [
        (1, "¿Dónde está Anna?"),
        (3, "Boris trabaja en Acme."),
        (5, "Lima"),
    ]
    scan = scan_text(path)
    assert (scan.n_docs, scan.n_lines, scan.size) == (3, 5, path.stat().st_size)


def test_bad_encoding_error_names_file_and_line_and_is_lazy(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"Anna visited Paris\n\nBoris\n" + "Bogotá".encode("latin1") + b"\nLima\n")
    docs = read_text(path, lang="xx")
    # the lines before the bad one are yielded before the error: the file is read lazily
    assert [t.text for t in next(docs)[1]] == ["Anna", "visited", "Paris"]
    assert next(docs)[0] == 3
    with pytest.raises(ValueError) as err:
        next(docs)
    text = str(err.value)
    assert str(path) in text and "line 4" in text and "UTF-8" in text and "0xe1" in text
    assert "iconv" in text  # says what to do
    with pytest.raises(ValueError, match="line 4"):
        scan_text(path)
    with pytest.raises(FileNotFoundError, match="Text file not found"):
        scan_text(tmp_path / "missing.txt")

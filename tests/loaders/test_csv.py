"""CSV and TSV: one table, the delimiter sniffed, row ranges as sections."""

from __future__ import annotations

import pytest

from qa.errors import EmptyDocumentError, UnsupportedFileError
from qa.loaders import load


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("comma.csv", "Year,Revenue\n2020,3.9 M\n2021,4.2 M\n"),
        ("semicolon.csv", "Year;Revenue\r\n2020;3.9 M\r\n2021;4.2 M\r\n"),
        ("tabs.tsv", "Year\tRevenue\n2020\t3.9 M\n2021\t4.2 M\n"),
        ("bom.csv", "\ufeffYear,Revenue\n2020,3.9 M\n2021,4.2 M\n"),
    ],
)
def test_delimiters_and_encodings(tmp_path, load_checked, name, data):
    path = tmp_path / name
    path.write_text(data, encoding="utf-8")
    doc = load_checked(path)
    assert doc.text == "Year: 2020; Revenue: 3.9 M\nYear: 2021; Revenue: 4.2 M"
    assert [(b.section, b.kind) for b in doc.blocks] == [("rows 2-3", "table")]
    assert doc.mime == "text/csv"


def test_quoted_fields_with_newlines_and_delimiters(tmp_path, load_checked):
    path = tmp_path / "quoted.csv"
    path.write_text('Name,Note\n"Lee, Ann","two\nlines"\nBo,\n', encoding="utf-8")
    doc = load_checked(path)
    assert doc.text == "Name: Lee, Ann; Note: two lines\nName: Bo"


def test_latin1_is_decoded(tmp_path, load_checked):
    path = tmp_path / "latin.csv"
    path.write_bytes("Ville,Café\nSète,crème brûlée\nNîmes,thé\n".encode("latin-1"))
    assert "Ville: Sète; Café: crème brûlée" in load_checked(path).text


def test_binary_is_refused(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(UnsupportedFileError, match="binary"):
        load(path)


def test_only_delimiters(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text(",,,\n,,\n", encoding="utf-8")
    with pytest.raises(EmptyDocumentError):
        load(path)

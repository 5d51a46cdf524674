"""Word documents: headings, lists and tables, and archives that must not be opened."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest

from qa.errors import EmptyDocumentError, LoaderError
from qa.loaders import docx as docx_loader
from qa.loaders import load

from .helpers import texts


def write_docx(path: Path, core_title: str = "") -> Path:
    document = docx.Document()
    document.core_properties.title = core_title
    document.add_heading("Quarterly Review", 0)
    document.add_paragraph("Opening paragraph with a\tline.")
    document.add_heading("Intro", 1)
    document.add_paragraph("Intro text.")
    document.add_heading("Scope", 2)
    document.add_paragraph("first point", style="List Bullet")
    document.add_paragraph("second point", style="List Bullet")
    document.add_paragraph("Between list and table.")
    table = document.add_table(rows=3, cols=3)
    for row, values in enumerate([("Name", "Role", "Age"), ("Ann", "Lead", "42"), ("Bo", "", "")]):
        for col, value in enumerate(values):
            table.cell(row, col).text = value
    table.cell(2, 1).merge(table.cell(2, 2)).text = "merged cell"
    document.add_paragraph("   ")
    document.add_heading("Results", 1)
    document.add_paragraph("Results text.")
    document.save(str(path))
    return path


def test_headings_lists_and_tables(tmp_path, load_checked):
    doc = load_checked(write_docx(tmp_path / "review.docx"))
    assert doc.mime.endswith("wordprocessingml.document")
    assert doc.title == "Quarterly Review"
    assert texts(doc, "heading") == ["Quarterly Review", "Intro", "Scope", "Results"]
    sections = {doc.text[b.start : b.end]: b.section for b in doc.blocks}
    assert sections == {
        "Quarterly Review": "Quarterly Review",
        "Opening paragraph with a\tline.": "Quarterly Review",
        "Intro": "Quarterly Review > Intro",
        "Intro text.": "Quarterly Review > Intro",
        "Scope": "Quarterly Review > Intro > Scope",
        "first point\nsecond point": "Quarterly Review > Intro > Scope",
        "Between list and table.": "Quarterly Review > Intro > Scope",
        "Name: Ann; Role: Lead; Age: 42\nName: Bo; Role: merged cell":
            "Quarterly Review > Intro > Scope",
        "Results": "Quarterly Review > Results",
        "Results text.": "Quarterly Review > Results",
    }


def test_tables_are_table_blocks_with_headers_in_every_row(tmp_path, load_checked):
    doc = load_checked(write_docx(tmp_path / "review.docx"))
    tables = [doc.text[b.start : b.end] for b in doc.blocks if b.kind == "table"]
    assert tables == ["Name: Ann; Role: Lead; Age: 42\nName: Bo; Role: merged cell"]


def test_title_prefers_document_properties(tmp_path, load_checked):
    doc = load_checked(write_docx(tmp_path / "review.docx", core_title="Q3 Review (final)"))
    assert doc.title == "Q3 Review (final)"


def test_empty_document(tmp_path):
    path = tmp_path / "empty.docx"
    document = docx.Document()
    document.add_paragraph("  ")
    document.save(str(path))
    with pytest.raises(EmptyDocumentError, match="has no text to index"):
        load(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512,
            "not a zip archive.*save it as .docx",
        ),
        (b"plain text", "not a zip archive"),
    ],
    ids=["old-doc-format", "text"],
)
def test_not_a_zip(tmp_path, data, message):
    path = tmp_path / "old.docx"
    path.write_bytes(data)
    with pytest.raises(LoaderError, match=message):
        load(path)


def test_zip_that_is_not_a_word_document(tmp_path):
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(LoaderError, match="is not a Word document"):
        load(path)


def test_zip_bomb_by_ratio(tmp_path):
    path = tmp_path / "bomb.docx"
    zeros = b"\x00" * 2**20
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/document.xml", "w") as member,
    ):
        for _ in range(101):  # 101 MB of zeros, about 100 KB packed
            member.write(zeros)
    with pytest.raises(LoaderError, match="unpacks to 101.0 MB from .* looks like a zip bomb"):
        load(path)


def test_member_over_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(docx_loader, "MAX_MEMBER", 1000)
    path = tmp_path / "big.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/image1.png", b"\x00" * 5000)
    with pytest.raises(LoaderError, match="'word/media/image1.png' that unpacks to 4.9 KB"):
        load(path)

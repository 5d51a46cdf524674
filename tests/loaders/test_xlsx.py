"""Excel: every sheet a table, row lines with the headers, sheet and row range as the section."""

from __future__ import annotations

import pytest

from qa.errors import EmptyDocumentError
from qa.loaders import load, tables

from .samples import write_xlsx


def test_sheets_become_tables_with_row_ranges(tmp_path, load_checked):
    doc = load_checked(write_xlsx(tmp_path / "book.xlsx"))
    assert doc.mime.endswith("spreadsheetml.sheet")
    assert doc.title == "book"
    assert doc.metadata == {"sheets": ["Revenue", "Staff"]}
    got = [(doc.text[b.start : b.end], b.section, b.kind, b.page) for b in doc.blocks]
    assert got == [
        ("Year: 2020; Revenue: 3.9 M; Margin: 0.1\nYear: 2021; Revenue: 4.2 M; Margin: 0.12\n"
         "Year: 2022; Revenue: 5.1 M; Margin: 0.14", "Revenue > rows 2-5", "table", None),
        ("Name: Ann Lee; Started: 2019-04-01; Office: Lisbon\n"
         "Name: Bo Chen; Started: 2021-09-15; Office: Oslo", "Staff > rows 2-3", "table", None),
    ]


def test_long_sheets_are_cut_into_row_ranges(tmp_path, load_checked):
    doc = load_checked(write_xlsx(tmp_path / "long.xlsx", extra_rows=100))
    revenue = [b for b in doc.blocks if b.section.startswith("Revenue")]
    assert len(revenue) > 3
    assert revenue[-1].section.endswith("-105")
    for block in revenue:
        piece = doc.text[block.start : block.end]
        assert len(piece) <= tables.SHEET_BLOCK_CHARS + 60
        first, last = block.section.split("rows ")[1].split("-")
        assert int(first) <= int(last)
        assert all(line.startswith("Year: ") for line in piece.split("\n"))
    # Row 6 holds 3000: the row ranges are the spreadsheet's row numbers.
    sixth = next(b for b in revenue if "Year: 3000;" in doc.text[b.start : b.end])
    assert sixth.section.startswith("Revenue > rows ")
    assert int(sixth.section.split("rows ")[1].split("-")[0]) <= 6


def test_a_sheet_of_one_row(tmp_path, load_checked):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Only", "a header"])
    book.save(str(tmp_path / "one.xlsx"))
    doc = load_checked(tmp_path / "one.xlsx")
    assert doc.text == "Only | a header"
    assert doc.blocks[0].section == "Sheet > row 1"


def test_empty_workbook(tmp_path):
    from openpyxl import Workbook

    Workbook().save(str(tmp_path / "empty.xlsx"))
    with pytest.raises(EmptyDocumentError, match="its sheets are empty"):
        load(tmp_path / "empty.xlsx")

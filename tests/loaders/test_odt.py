"""OpenDocument text: headings as sections, lists and tables (written with odfpy)."""

from __future__ import annotations

from qa.loaders import load

from .samples import write_odt


def test_headings_lists_and_tables(tmp_path, load_checked):
    doc = load_checked(write_odt(tmp_path / "report.odt"))
    assert doc.mime == "application/vnd.oasis.opendocument.text"
    assert doc.title == "Annual Report"
    got = [(doc.text[b.start : b.end], b.section, b.kind) for b in doc.blocks]
    assert got == [
        ("Annual Report", "Annual Report", "heading"),
        ("The year went well for the Lisbon office.", "Annual Report", "text"),
        ("Highlights", "Annual Report > Highlights", "heading"),
        ("New warehouse\nSecond product line", "Annual Report > Highlights", "text"),
        ("Figures", "Annual Report > Figures", "heading"),
        ("Year: 2020; Revenue: 3.9 M; Margin: 10%\nYear: 2021; Revenue: 4.2 M; Margin: 12%\n"
         "Year: 2022; Revenue: 5.1 M; Margin: 14%", "Annual Report > Figures", "table"),
    ]


def test_repeated_cells_stay_small(tmp_path):
    from odf.opendocument import OpenDocumentText
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentText()
    table = Table(name="T")
    for values in (("A", "B"), ("1", "2")):
        row = TableRow()
        for value in values:
            cell = TableCell()
            cell.addElement(P(text=value))
            row.addElement(cell)
        row.addElement(TableCell(numbercolumnsrepeated=1_000_000))  # empty filler, as Calc writes
        table.addElement(row)
    table.addElement(TableRow(numberrowsrepeated=1_000_000))
    doc.text.addElement(table)
    doc.save(str(tmp_path / "filler.odt"))
    assert load(tmp_path / "filler.odt").text == "A: 1; B: 2"

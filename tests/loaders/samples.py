"""Real sample files of the newer formats, written with the libraries that read them."""

from __future__ import annotations

import zipfile
from pathlib import Path

REVENUE = [("Year", "Revenue", "Margin"), ("2020", "3.9 M", "10%"), ("2021", "4.2 M", "12%"),
           ("2022", "5.1 M", "14%")]


def write_pptx(path: Path, title: str = "") -> Path:
    """Three slides: a title slide, bullets with notes, and a revenue table."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = title
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Company Update"
    first.placeholders[1].text = "Prepared for the board"
    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "Hiring"
    body = second.placeholders[1].text_frame
    body.text = "Twelve engineers joined in spring"
    body.add_paragraph().text = "The Lisbon office opened"
    second.notes_slide.notes_text_frame.text = "Mention the relocation budget."
    third = deck.slides.add_slide(deck.slide_layouts[5])
    third.shapes.title.text = "Revenue"
    shape = third.shapes.add_table(len(REVENUE), 3, Inches(1), Inches(2), Inches(6), Inches(2))
    for r, row in enumerate(REVENUE):
        for c, value in enumerate(row):
            shape.table.cell(r, c).text = value
    deck.save(str(path))
    return path


def write_xlsx(path: Path, extra_rows: int = 0) -> Path:
    """Sheets "Revenue" (with a blank row 3) and "Staff" with a date column."""
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Revenue"
    sheet.append(list(REVENUE[0]))
    sheet.append([2020, "3.9 M", 0.1])
    sheet.append([])
    sheet.append([2021, "4.2 M", 0.12])
    sheet.append([2022, "5.1 M", 0.14])
    for n in range(extra_rows):
        sheet.append([3000 + n, f"{n}.5 M", 0.2])
    staff = book.create_sheet("Staff")
    staff.append(["Name", "Started", "Office"])
    staff.append(["Ann Lee", dt.datetime(2019, 4, 1), "Lisbon"])
    staff.append(["Bo Chen", dt.date(2021, 9, 15), "Oslo"])
    book.save(str(path))
    return path


def write_odt(path: Path) -> Path:
    """Headings, a paragraph, a list and a revenue table, written with odfpy."""
    from odf.opendocument import OpenDocumentText
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import H, List, ListItem, P

    doc = OpenDocumentText()
    doc.text.addElement(H(outlinelevel=1, text="Annual Report"))
    doc.text.addElement(P(text="The year went well for the Lisbon office."))
    doc.text.addElement(H(outlinelevel=2, text="Highlights"))
    items = List()
    for value in ("New warehouse", "Second product line"):
        item = ListItem()
        item.addElement(P(text=value))
        items.addElement(item)
    doc.text.addElement(items)
    doc.text.addElement(H(outlinelevel=2, text="Figures"))
    table = Table(name="Revenue")
    table.addElement(TableColumn(numbercolumnsrepeated=3))
    for row in REVENUE:
        tr = TableRow()
        for value in row:
            cell = TableCell()
            cell.addElement(P(text=value))
            tr.addElement(cell)
        table.addElement(tr)
    doc.text.addElement(table)
    doc.save(str(path))
    return path


CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
</rootfiles></container>"""


def chapter(title: str, body: str) -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
            f"<head><title>{title}</title></head><body>{body}</body></html>")


def write_epub(path: Path, chapters: list[tuple[str, str]] | None = None,
               extra: dict[str, str] | None = None) -> Path:
    """An EPUB 3 book as e-book tools write it: mimetype first, container, package, chapters."""
    chapters = chapters or [
        ("Loomings", "<h1>Loomings</h1><p>Call me Ishmael. The sea drew him.</p>"),
        ("The Carpet-Bag", "<p>He stuffed a shirt or two into his old carpet-bag.</p>"
                           "<h2>Nantucket</h2><p>The island lay far out to sea.</p>"),
    ]
    items = "".join(
        f'<item id="c{n}" href="text/ch%20{n}.xhtml" media-type="application/xhtml+xml"/>'
        for n in range(len(chapters))
    )
    spine = "".join(f'<itemref idref="c{n}"/>' for n in range(len(chapters)))
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Moby-Dick</dc:title>'
        f"</metadata><manifest>{items}</manifest><spine>{spine}</spine></package>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        book.writestr("META-INF/container.xml", CONTAINER)
        book.writestr("OEBPS/content.opf", opf)
        for n, (title, body) in enumerate(chapters):
            book.writestr(f"OEBPS/text/ch {n}.xhtml", chapter(title, body))
        for name, data in (extra or {}).items():
            book.writestr(name, data)
    return path

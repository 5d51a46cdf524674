"""Ruled tables in PDFs, found with pdfplumber and written as row lines with their headers.

pdfplumber parses a page far slower than pypdf extracts its text, so it only
looks at pages whose content stream draws enough lines or rectangles to rule a
table; every other page costs one scan of its content bytes. A page with tables
is read from pdfplumber in bands (the text above a table, the table, the text
below), so the order on the page is kept. Any failure falls back to pypdf's text.
"""

from __future__ import annotations

import logging
from io import BytesIO
from typing import Any

from pypdf import PageObject

from qa.loaders.tables import TABLE, table_text

logger = logging.getLogger(__name__)

#: Line ("l") and rectangle ("re") operators a page must draw before pdfplumber looks for tables.
MIN_RULINGS = 6
_SCAN_BYTES = 4 * 2**20


def may_have_table(page: PageObject) -> bool:
    """Whether the page draws enough ruling lines or boxes to hold a table (cheap)."""
    try:
        contents = page.get_contents()
        data = contents.get_data()[:_SCAN_BYTES] if contents is not None else b""
    except Exception:  # unreadable content: pypdf's text is all there is
        return False
    tokens = data.split()  # one C-speed pass; a regex scan costs more than the text extraction
    return tokens.count(b"re") + tokens.count(b"l") >= MIN_RULINGS


class TableFinder:
    """Opens the PDF with pdfplumber the first time a page may hold a table."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pdf: Any = None
        self._broken = False

    def page_blocks(self, page: PageObject, number: int) -> list[tuple[str, str]] | None:
        """The page as (kind, text) blocks in reading order, or None when it has no table."""
        if self._broken:
            return None
        try:
            return self._page_blocks(number)
        except Exception as exc:  # pdfplumber could not read it: use pypdf's text
            logger.info("page %d: no table extraction (%s: %s)", number, type(exc).__name__, exc)
            return None

    def _page_blocks(self, number: int) -> list[tuple[str, str]] | None:
        import pdfplumber

        from qa.loaders.pdf import page_paragraphs

        if self._pdf is None:
            try:
                self._pdf = pdfplumber.open(BytesIO(self._data))
            except Exception:
                self._broken = True
                raise
        page = self._pdf.pages[number - 1]
        try:
            found = [t for t in page.find_tables() if _is_table(t)]
            if not found:
                return None
            found.sort(key=lambda t: t.bbox[1])
            x0, top, x1, bottom = page.bbox
            blocks: list[tuple[str, str]] = []

            def band(upper: float, lower: float) -> None:
                if lower - upper < 1:
                    return
                text = page.within_bbox((x0, upper, x1, lower)).extract_text() or ""
                blocks.extend(("text", p) for p in page_paragraphs(text))

            cursor = top
            for table in found:
                band(cursor, max(cursor, min(table.bbox[1], bottom)))
                blocks.append((TABLE, table_text(table.extract())))
                cursor = max(cursor, min(table.bbox[3], bottom))
            band(cursor, bottom)
            return blocks
        finally:
            page.close()

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None


def _is_table(table: Any) -> bool:
    """At least two rows and two columns with text: a box around a paragraph is not a table."""
    rows = [row for row in table.extract() if any(cell and cell.strip() for cell in row)]
    return len(rows) >= 2 and max(len(row) for row in rows) >= 2

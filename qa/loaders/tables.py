"""Tables as text that keeps each row with its column headers.

Every loader that finds a table (Word, HTML, PDF, OpenDocument, slides, sheets)
turns it into one line per row with the headers repeated::

    Year: 2021; Revenue: 4.2 M; Margin: 12%

so a row read on its own, as a chunk part or a quoted citation, still says what
each value is. Such text goes into a block of kind ``"table"``, which the
chunker splits only between rows (see :mod:`qa.ingestion.chunking`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from qa.loaders.base import TextBuilder, squash

#: The block kind of a table; the chunker splits it only between rows.
TABLE = "table"
_CELL_SEPARATOR = "; "


def clean_rows(rows: Iterable[Sequence[object]]) -> list[list[str]]:
    """Cells as one-line strings, trailing empty cells and empty rows dropped."""
    out: list[list[str]] = []
    for row in rows:
        cells = [squash("" if cell is None else str(cell)) for cell in row]
        while cells and not cells[-1]:
            cells.pop()
        if any(cells):
            out.append(cells)
    return out


def row_line(header: Sequence[str], cells: Sequence[str]) -> str:
    """One row as "Header: value; ..." (a cell without a header, or empty, as itself).

    >>> row_line(["Year", "Revenue"], ["2021", "4.2 M"])
    'Year: 2021; Revenue: 4.2 M'
    >>> row_line(["", "Revenue", "Note"], ["2021", "4.2 M", ""])
    '2021; Revenue: 4.2 M'
    """
    parts = []
    for i, cell in enumerate(cells):
        if not cell:
            continue
        name = header[i] if i < len(header) else ""
        parts.append(f"{name}: {cell}" if name and name != cell else cell)
    return _CELL_SEPARATOR.join(parts)


def table_text(rows: Iterable[Sequence[object]], *, header: bool = True) -> str:
    """A table as lines: one per data row, with the header row's names repeated in each.

    The first non-empty row is the header when ``header`` is true and the table
    has another row; a table of one row, or without a header, is written as
    its cells joined by " | ".

    >>> print(table_text([["Year", "Revenue"], ["2020", "3.9 M"], ["2021", "4.2 M"]]))
    Year: 2020; Revenue: 3.9 M
    Year: 2021; Revenue: 4.2 M
    >>> table_text([["only", "one row"]])
    'only | one row'
    """
    cleaned = clean_rows(rows)
    if not header or len(cleaned) < 2:
        return "\n".join(" | ".join(c for c in row if c) for row in cleaned)
    names, body = cleaned[0], cleaned[1:]
    lines = (row_line(names, cells) for cells in body)
    return "\n".join(line for line in lines if line)


#: A sheet's rows go into blocks of about this many characters, each its own
#: chunk with the rows it holds in its section ("Sales > rows 2-9").
SHEET_BLOCK_CHARS = 400


def add_sheet(
    builder: TextBuilder, rows: Iterable[tuple[int, Sequence[object]]], sheet: str = ""
) -> int:
    """Add a sheet's rows as table blocks; return how many blocks were added.

    ``rows`` are (row number, cells). The first non-empty row is the header,
    repeated in every row line; the others go into blocks of about
    ``SHEET_BLOCK_CHARS`` whose section names the sheet and their row range, so a
    citation says where in the sheet its rows are.
    """
    header: list[str] | None = None
    lines: list[str] = []
    first = last = header_row = 0
    added = 0

    def flush() -> None:
        nonlocal lines, added
        if lines:
            where = f"rows {first}-{last}" if first != last else f"row {first}"
            section = f"{sheet} > {where}" if sheet else where
            if builder.add("\n".join(lines), kind=TABLE, section=section) is not None:
                added += 1
        lines = []

    size = 0
    for number, raw in rows:
        cleaned = clean_rows([raw])
        if not cleaned:
            continue
        cells = cleaned[0]
        if header is None:
            header, header_row = cells, number
            continue
        line = row_line(header, cells)
        if not line:
            continue
        if lines and size + len(line) > SHEET_BLOCK_CHARS:
            flush()
        if not lines:
            first, size = number, 0
        lines.append(line)
        last = number
        size += len(line) + 1
    flush()
    if header is not None and not added:  # a sheet of one row: the row is the content
        first = last = header_row
        lines = [" | ".join(c for c in header if c)]
        flush()
    return added

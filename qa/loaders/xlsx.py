"""Excel workbooks (.xlsx): each sheet as a table, via openpyxl in read-only mode.

Read-only mode streams rows instead of building the whole workbook, and the
sheet's declared size is ignored (a hostile one claims a million columns), so
memory follows the cells that are there. Formulas give their last computed value.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

from qa.errors import EmptyDocumentError, LoaderError
from qa.loaders.archive import open_zip
from qa.loaders.base import TextBuilder, clean_title, one_line, title_or_stem
from qa.loaders.tables import add_sheet
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_REMEDY = "open it in Excel or LibreOffice and save it as .xlsx"


def load_xlsx(path: Path, data: bytes) -> LoadedDocument:
    """Every sheet in order, its first row as the header of every row line."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    open_zip(path, data, "an Excel workbook", _REMEDY).close()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it skips
            book = openpyxl.load_workbook(BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, TypeError) as exc:
        raise LoaderError(
            str(path), f"is not an Excel workbook ({one_line(exc)}); {_REMEDY}"
        ) from None
    builder = TextBuilder()
    try:
        sheets = book.worksheets
        for sheet in sheets:
            if not hasattr(sheet, "iter_rows"):  # a chart sheet holds no cells
                continue
            sheet.reset_dimensions()
            add_sheet(builder, _rows(sheet), clean_title(sheet.title) or "Sheet")
        title = book.properties.title if book.properties else None
    finally:
        book.close()
    if not builder.blocks:
        raise EmptyDocumentError(str(path), "has no text to index; its sheets are empty")
    return builder.document(
        path, data, title=title_or_stem(title, path), mime=MIME,
        metadata={"sheets": [clean_title(s.title) for s in sheets]},
    )


def _rows(sheet: Any) -> Iterator[tuple[int, list[object]]]:
    # Read-only sheets yield an empty row for each row the file skips, so the
    # count matches the spreadsheet's row numbers.
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield number, [cell_text(value) for value in values]


def cell_text(value: object) -> str:
    """A cell's value as a person reads it: 4.0 as "4", dates without a midnight time.

    >>> cell_text(4200000.0), cell_text(0.125), cell_text(dt.datetime(2021, 3, 1))
    ('4200000', '0.125', '2021-03-01')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.15g}"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)

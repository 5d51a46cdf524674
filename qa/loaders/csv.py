"""Comma- or tab-separated values (.csv, .tsv): one table, read with the standard csv module.

The encoding is detected as for text files (and binary data refused); the
delimiter is sniffed from the start of the file. Rows go into blocks whose
section names their row range (see :func:`qa.loaders.tables.add_sheet`).
"""

from __future__ import annotations

import csv
import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from qa.errors import EmptyDocumentError, LoaderError
from qa.loaders.base import TextBuilder, one_line, title_or_stem
from qa.loaders.tables import add_sheet
from qa.loaders.text import decode
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

MIME = "text/csv"
_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 64 * 1024


def load_csv(path: Path, data: bytes) -> LoadedDocument:
    """A delimited file as one table: the first row names the columns of every row line."""
    text = decode(path, data)
    dialect = sniff(text, default="\t" if path.suffix.lower() == ".tsv" else ",")
    builder = TextBuilder()
    try:
        add_sheet(builder, _records(text, dialect))
    except csv.Error as exc:
        raise LoaderError(
            str(path), f"is not a readable CSV file ({one_line(exc)}); check its quoting"
        ) from None
    if not builder.blocks:
        raise EmptyDocumentError(str(path), "has no text to index; it has no values")
    return builder.document(path, data, title=title_or_stem(None, path), mime=MIME)


def sniff(text: str, default: str = ",") -> type[csv.Dialect] | csv.Dialect:
    """The dialect of ``text``'s first lines; ``default``-separated when it cannot be told.

    >>> sniff("a;b;c\\n1;2;3\\n").delimiter
    ';'
    """
    sample = text[:_SNIFF_CHARS]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        dialect = csv.excel_tab if default == "\t" else csv.excel
        return dialect


def _records(text: str, dialect: type[csv.Dialect] | csv.Dialect) -> Iterator[tuple[int, list[str]]]:
    # One field may be as long as the file (a pasted document in one cell).
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    yield from enumerate(reader, start=1)

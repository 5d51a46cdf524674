"""OpenDocument text (.odt): paragraphs, headings as sections, lists and tables, via odfpy."""

from __future__ import annotations

import logging
import xml.parsers.expat
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.sax import SAXException

from qa.errors import LoaderError
from qa.loaders.archive import open_zip
from qa.loaders.base import Outline, TextBuilder, one_line, squash, title_or_stem
from qa.loaders.tables import TABLE, table_text
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

MIME = "application/vnd.oasis.opendocument.text"
_REMEDY = "open it in LibreOffice or Word and save it as .odt"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
# A repeated cell or row is written once per repeat up to this, so a row that
# claims a million copies of itself (spreadsheets do) stays one line.
_MAX_REPEAT = 50


def load_odt(path: Path, data: bytes) -> LoadedDocument:
    """An OpenDocument text in order: headings open sections, tables become row lines."""
    from odf.opendocument import load

    with open_zip(path, data, "an OpenDocument text", _REMEDY) as archive:
        _refuse_encrypted(path, archive)
    try:
        document = load(BytesIO(data))
    except (KeyError, ValueError, zipfile.BadZipFile, SAXException,
            xml.parsers.expat.ExpatError) as exc:
        raise LoaderError(
            str(path), f"is not an OpenDocument text ({one_line(exc)}); {_REMEDY}"
        ) from None
    builder = TextBuilder()
    outline = Outline()
    first_heading = ""
    for kind, level, content in _walk(document.text):
        if kind == "heading":
            first_heading = first_heading or squash(content)
            builder.add_heading(content, level, outline)
        else:
            builder.add(content, kind=kind, section=outline.path)
    return builder.document(
        path, data, title=title_or_stem(_meta_title(document) or first_heading, path), mime=MIME
    )


def _refuse_encrypted(path: Path, archive: zipfile.ZipFile) -> None:
    try:
        manifest = archive.read("META-INF/manifest.xml")
    except KeyError:
        return
    if b"encryption-data" in manifest:
        raise LoaderError(
            str(path),
            "is password-protected (encrypted); open it in LibreOffice, remove the password "
            "(File > Properties) and save it again, then ingest it",
        )


def _walk(root: Any) -> Iterator[tuple[str, int, str]]:
    """(kind, heading level, text) for each paragraph, heading, list and table, in order.

    Iterative, since sections, lists and frames nest to any depth.
    """
    from odf import teletype

    stack = [iter(root.childNodes)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        qname = getattr(node, "qname", None)
        if qname == (_TEXT, "h"):
            level = _int(node.getAttrNS(_TEXT, "outline-level"), 1)
            yield "heading", min(max(level, 1), 9), teletype.extractText(node)
        elif qname == (_TEXT, "p"):
            yield "text", 0, teletype.extractText(node)
        elif qname == (_TEXT, "list"):
            items = [squash(teletype.extractText(p)) for p in _paragraphs(node)]
            yield "text", 0, "\n".join(items)
        elif qname == (_TABLE, "table"):
            yield TABLE, 0, table_text(_table_rows(node))
        elif getattr(node, "childNodes", None):
            stack.append(iter(node.childNodes))


def _paragraphs(node: Any) -> Iterator[Any]:
    """The paragraphs and headings under ``node``, nested lists included."""
    stack = [iter(node.childNodes)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
        elif getattr(child, "qname", None) in ((_TEXT, "p"), (_TEXT, "h")):
            yield child
        elif getattr(child, "childNodes", None):
            stack.append(iter(child.childNodes))


def _table_rows(table: Any) -> list[list[str]]:
    from odf import teletype

    rows: list[list[str]] = []
    for row in table.getElementsByType(_row_type()):
        cells: list[str] = []
        for cell in row.childNodes:
            if getattr(cell, "qname", None) not in ((_TABLE, "table-cell"),
                                                    (_TABLE, "covered-table-cell")):
                continue
            text = squash(" ".join(teletype.extractText(p) for p in _paragraphs(cell)))
            repeat = _int(cell.getAttrNS(_TABLE, "number-columns-repeated"), 1)
            cells.extend([text] * (min(repeat, _MAX_REPEAT) if text else 1))
        if any(cells):
            repeat = _int(row.getAttrNS(_TABLE, "number-rows-repeated"), 1)
            rows.extend([cells] * min(repeat, _MAX_REPEAT))
    return rows


def _row_type() -> Any:
    from odf.table import TableRow

    return TableRow


def _meta_title(document: Any) -> str:
    from odf import dc, teletype

    titles = document.meta.getElementsByType(dc.Title) if document.meta else []
    return squash(teletype.extractText(titles[0])) if titles else ""


def _int(raw: object, default: int) -> int:
    try:
        return int(str(raw)) if raw not in (None, "") else default
    except ValueError:
        return default

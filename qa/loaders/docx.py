"""Word documents (.docx): paragraphs, heading styles as sections and tables, via python-docx."""

from __future__ import annotations

import logging
import re
import zipfile
from io import BytesIO
from pathlib import Path

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from qa.errors import LoaderError, printable_path
from qa.loaders import tables
from qa.loaders.archive import is_encrypted_office
from qa.loaders.base import Outline, TextBuilder, human_size, one_line, squash, title_or_stem
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# python-docx inflates every part in memory, so refuse archives that would
# inflate far beyond their size (zip bombs) before handing them over.
MAX_RATIO = 50
RATIO_FLOOR = 100 * 2**20
MAX_MEMBER = 512 * 2**20
MAX_MEMBERS = 10_000
_HEADING_STYLE = re.compile(r"heading ?([1-9])", re.I)


def load_docx(path: Path, data: bytes) -> LoadedDocument:
    """A .docx file's body in order: paragraphs, headings as sections, tables as row lines."""
    check_archive(path, data)
    try:
        document = docx.Document(BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise LoaderError(
            str(path),
            f"is not a Word document ({one_line(exc)}); "
            "open it in Word or LibreOffice and save it as .docx",
        ) from None
    builder = TextBuilder()
    outline = Outline()
    list_items: list[str] = []
    headings: dict[int, str] = {}

    def end_list() -> None:
        builder.add("\n".join(list_items), section=outline.path)
        list_items.clear()

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            end_list()
            builder.add(table_text(item), kind=tables.TABLE, section=outline.path)
            continue
        level = heading_level(item)
        if level is not None:
            end_list()
            headings.setdefault(level, squash(item.text))
            builder.add_heading(item.text, level, outline)
        elif _style_name(item).lower().startswith("list"):
            list_items.append(item.text)
        else:
            end_list()
            builder.add(item.text, section=outline.path)
    end_list()
    title = document.core_properties.title or headings.get(0) or headings.get(1)
    return builder.document(path, data, title=title_or_stem(title, path), mime=MIME)


def check_archive(path: Path, data: bytes) -> None:
    """Refuse data that is not a zip archive, or whose members would inflate too far."""
    if is_encrypted_office(data):
        raise LoaderError(
            str(path),
            "is password-protected (encrypted); open it in Word, remove the password "
            "and save it again, then ingest it",
        )
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise LoaderError(
            str(path),
            "is not a .docx file (not a zip archive); if it is an old .doc, "
            "open it in Word or LibreOffice and save it as .docx",
        ) from None
    if len(members) > MAX_MEMBERS:
        raise LoaderError(
            str(path), f"holds {len(members)} parts, more than a Word document should; not read"
        )
    total = sum(member.file_size for member in members)
    biggest = max(members, key=lambda member: member.file_size, default=None)
    if biggest is not None and biggest.file_size > MAX_MEMBER:
        raise LoaderError(
            str(path),
            f"has a part '{printable_path(biggest.filename)}' that unpacks to "
            f"{human_size(biggest.file_size)}, "
            f"over the limit of {human_size(MAX_MEMBER)}; it looks like a zip bomb, not read",
        )
    if total > RATIO_FLOOR and total > MAX_RATIO * len(data):
        raise LoaderError(
            str(path),
            f"unpacks to {human_size(total)} from {human_size(len(data))}; "
            "it looks like a zip bomb, not read",
        )


def heading_level(paragraph: Paragraph) -> int | None:
    """0 for a "Title" paragraph, 1-9 for "Heading 1".."Heading 9", else None."""
    name = _style_name(paragraph)
    if name.lower() == "title":
        return 0
    found = _HEADING_STYLE.fullmatch(name)
    return int(found.group(1)) if found else None


def table_text(table: Table) -> str:
    """A table as one line per row with the first row's headers repeated (see qa.loaders.tables).

    A merged cell is read once, in its first column, so the columns after it keep
    their headers.
    """
    rows = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # python-docx repeats a merged cell's object in every column it spans.
            cells.append(cell.text if cell is not previous else "")
            previous = cell
        rows.append(cells)
    return tables.table_text(rows)


def _style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""

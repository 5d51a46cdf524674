"""PDF (.pdf): text page by page with pypdf, each paragraph tagged with its page number."""

from __future__ import annotations

import logging
import re
from io import BytesIO
from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from qa.errors import EmptyDocumentError, LoaderError
from qa.loaders.base import TextBuilder, one_line, squash, title_or_stem
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

MIME = "application/pdf"

# A line shorter than this share of the page's longest line ends its paragraph.
_SHORT_LINE = 0.7
_BLANK_LINE = re.compile(r"\n\s*\n")
_PLACEHOLDER_TITLES = {"untitled", "unknown", "title", "anonymous", "(anonymous)", "none"}
_FILE_NAME = re.compile(r"\.(?:pdf|docx?|odt|rtf|txt|tex|md|html?|pages|indd|ps|dvi)$", re.I)


def load_pdf(path: Path, data: bytes) -> LoadedDocument:
    """A PDF's text layer, page by page; paragraphs never span two pages."""
    reader = _open(path, data)
    page_count = len(reader.pages)
    builder = TextBuilder()
    failed = 0
    # Pages are read one at a time, so only the text is kept, not every page's parse.
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # one odd page (broken font, bad stream) should not sink the rest
            failed += 1
            logger.warning("%s: skipping page %d, its text cannot be read: %s", path, number, exc)
            continue
        for paragraph in page_paragraphs(text):
            builder.add(paragraph, page=number)
    if not builder.blocks:
        if page_count and failed == page_count:
            raise LoaderError(
                str(path),
                f"text could not be read from any of its {page_count} pages; "
                "the PDF may be damaged, re-export or re-download it",
            )
        if page_count:
            raise EmptyDocumentError(
                str(path),
                "has no text layer (a scan?); OCR it first (e.g. `ocrmypdf in.pdf out.pdf`) "
                "and ingest the result",
            )
    return builder.document(
        path, data, title=_title(reader, path), mime=MIME, metadata={"pages": page_count}
    )


def page_paragraphs(text: str) -> list[str]:
    """The paragraphs of one page's extracted text.

    Split on blank lines where the text has them; within that, a line much
    shorter than the longest one (the last line of a paragraph, a heading)
    ends a paragraph, since pypdf rarely reports the gaps between them.
    """
    paragraphs: list[str] = []
    for chunk in _BLANK_LINE.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line.strip() for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        longest = max(len(line) for line in lines)
        group: list[str] = []
        for line in lines:
            group.append(line)
            if len(line) < _SHORT_LINE * longest:
                paragraphs.append("\n".join(group))
                group = []
        if group:
            paragraphs.append("\n".join(group))
    return paragraphs


def _open(path: Path, data: bytes) -> PdfReader:
    try:
        reader = PdfReader(BytesIO(data))
        locked = reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED
        if not locked:
            len(reader.pages)  # the page tree is read lazily; a broken one fails here
    except DependencyError as exc:
        raise LoaderError(
            str(path),
            f"is encrypted in a way that needs an extra package ({one_line(exc)}); "
            "install it with `pip install cryptography`, or remove the password and ingest again",
        ) from None
    except Exception as exc:
        raise LoaderError(
            str(path),
            f"is not a readable PDF (damaged or truncated?): {one_line(exc)}; "
            "re-download or re-export it",
        ) from None
    if locked:
        raise LoaderError(
            str(path),
            "is encrypted; remove the password (e.g. print it to a new PDF) and ingest it again",
        )
    return reader


def _title(reader: PdfReader, path: Path) -> str:
    """The metadata title when it is a real one, not a placeholder or a file name."""
    try:
        raw = reader.metadata.title if reader.metadata else None
    except Exception:  # metadata is optional; a broken info dictionary is not worth failing
        raw = None
    title = squash(str(raw or "")).removeprefix("Microsoft Word - ")
    if title.lower() in _PLACEHOLDER_TITLES or _FILE_NAME.search(title):
        title = ""
    return title_or_stem(title, path)

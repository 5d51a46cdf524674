"""PDF (.pdf): text page by page with pypdf, each paragraph tagged with its page number.

Ruled tables are read with pdfplumber, and pages without a text layer by OCR.
"""

from __future__ import annotations

import logging
import re
from io import BytesIO
from pathlib import Path
from typing import Any

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError

from qa.errors import EmptyDocumentError, LoaderError
from qa.loaders import ocr, pdf_tables
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
    """A PDF's text, page by page; paragraphs never span two pages.

    Pages with a text layer are read from it (ruled tables as row lines with their
    headers, see :func:`qa.loaders.pdf_tables.page_blocks`); a page without one
    that holds an image is rendered and read by OCR when ``QA_OCR`` is on.
    """
    reader = _open(path, data)
    page_count = len(reader.pages)
    options = ocr.OcrOptions.from_env()
    builder = TextBuilder()
    failed = 0
    scans: list[int] = []  # pages without a text layer that hold an image
    rendered = _Renderer(path, data)
    tables = pdf_tables.TableFinder(data)
    try:
        # Pages are read one at a time, so only the text is kept, not every page's parse.
        for number, page in enumerate(reader.pages, start=1):
            try:
                text = page.extract_text() or ""
            except Exception as exc:  # one odd page (broken font, bad stream) should not sink the rest
                failed += 1
                logger.warning("%s: skipping page %d, its text cannot be read: %s", path, number, exc)
                continue
            if text.strip():
                found = tables.page_blocks(page, number) if pdf_tables.may_have_table(page) else None
                if found is None:
                    for paragraph in page_paragraphs(text):
                        builder.add(paragraph, page=number)
                else:
                    for kind, paragraph in found:
                        builder.add(paragraph, kind=kind, page=number)
                continue
            if not _has_image(page):
                continue
            scans.append(number)
            if options.enabled:
                logger.info("%s: OCR of page %d of %d (no text layer)", path, number, page_count)
                image = rendered.page(number - 1)
                where = f"page {number}"
                for paragraph in page_paragraphs(ocr.recognize(path, image, options, where)):
                    builder.add(paragraph, page=number)
    finally:
        rendered.close()
        tables.close()
    if not builder.blocks:
        if page_count and failed == page_count:
            raise LoaderError(
                str(path),
                f"text could not be read from any of its {page_count} pages; "
                "the PDF may be damaged, re-export or re-download it",
            )
        if page_count and scans and options.enabled:
            raise EmptyDocumentError(
                str(path),
                f"has no text layer, and OCR found no text on its {len(scans)} scanned "
                f"page{'s' if len(scans) > 1 else ''}; check the scan, or QA_OCR_LANG",
            )
        if page_count:
            raise EmptyDocumentError(
                str(path),
                "has no text layer (a scan?); OCR is off (set QA_OCR=on), or OCR it first "
                "(e.g. `ocrmypdf in.pdf out.pdf`) and ingest the result"
                if scans else "has no text layer and no images; there is nothing to read",
            )
    metadata: dict[str, object] = {"pages": page_count}
    if scans and options.enabled:
        metadata["ocr_pages"] = scans
    return builder.document(
        path, data, title=_title(reader, path), mime=MIME, metadata=metadata
    )


def _has_image(page: PageObject) -> bool:
    """Whether a page draws a raster image (a scan), as an XObject or inline."""
    try:
        return len(page.images) > 0
    except Exception:  # a broken resource dictionary: let OCR decide
        return True


class _Renderer:
    """Renders pages with pypdfium2, opening the document only when a page needs OCR."""

    def __init__(self, path: Path, data: bytes) -> None:
        self._path, self._data = path, data
        self._pdf: Any = None

    def page(self, index: int) -> Any:
        import pypdfium2

        if self._pdf is None:
            try:
                self._pdf = pypdfium2.PdfDocument(self._data)
            except pypdfium2.PdfiumError as exc:
                raise LoaderError(
                    str(self._path),
                    f"its scanned pages cannot be rendered for OCR ({one_line(exc)}); "
                    "re-export the PDF",
                ) from None
        return ocr.render_page(self._pdf, index)

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None


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

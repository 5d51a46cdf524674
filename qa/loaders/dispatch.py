"""``load``: pick the loader for a file's type and turn any failure into a LoaderError."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from qa.config import Settings
from qa.errors import EmptyDocumentError, LoaderError, QAError, UnsupportedFileError
from qa.loaders import csv, docx, epub, html, image, markdown, odt, pdf, pptx, text, xlsx
from qa.loaders.base import one_line, read_file
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

Loader = Callable[[Path, bytes], LoadedDocument]

# suffix -> (name used in messages, loader)
_LOADERS: dict[str, tuple[str, Loader]] = {
    ".txt": ("text", text.load_text),
    ".md": ("Markdown", markdown.load_markdown),
    ".markdown": ("Markdown", markdown.load_markdown),
    ".html": ("HTML", html.load_html),
    ".htm": ("HTML", html.load_html),
    ".pdf": ("PDF", pdf.load_pdf),
    ".docx": ("Word document", docx.load_docx),
    ".pptx": ("PowerPoint file", pptx.load_pptx),
    ".xlsx": ("Excel workbook", xlsx.load_xlsx),
    ".csv": ("CSV file", csv.load_csv),
    ".tsv": ("TSV file", csv.load_csv),
    ".epub": ("EPUB e-book", epub.load_epub),
    ".odt": ("OpenDocument text", odt.load_odt),
    ".png": ("PNG image", image.load_image),
    ".jpg": ("JPEG image", image.load_image),
    ".jpeg": ("JPEG image", image.load_image),
    ".tif": ("TIFF image", image.load_image),
    ".tiff": ("TIFF image", image.load_image),
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_LOADERS)


def load(path: str | Path, *, max_bytes: int | None = None) -> LoadedDocument:
    """Read one file into clean text with its structure.

    The loader is chosen by the file's suffix (case does not matter). The text
    has no markup; paragraphs are separated by a blank line, and ``blocks`` give
    the page, section and kind of each paragraph by character offsets.

    Args:
        path: the file to read.
        max_bytes: files bigger than this are refused (default: ``QA_MAX_FILE_MB``'s
            default, :attr:`Settings.max_file_bytes`).

    Returns:
        The document; ``source`` is the resolved absolute path and
        ``content_hash`` the SHA-256 of the file's bytes.

    Raises:
        UnsupportedFileError: the suffix is not one of ``SUPPORTED_SUFFIXES``,
            or a ``.txt`` file holds binary data.
        EmptyDocumentError: the file has no text to index (or a scan in which OCR
            found none).
        LoaderError: the file is missing, unreadable, too big, encrypted or damaged.

    Example::

        doc = load("notes/plan.md")          # "# Plan" then "## Scope" ...
        for block in doc.blocks:
            print(block.section, doc.text[block.start : block.end])
    """
    resolved = Path(path).expanduser().resolve()
    suffix = resolved.suffix.lower()
    if suffix not in _LOADERS:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        kind = f"'{suffix}' files" if suffix else "files without a suffix"
        raise UnsupportedFileError(
            str(resolved),
            f"qa cannot read {kind}; supported types are {supported} (convert it to one of them)",
        )
    name, loader = _LOADERS[suffix]
    if max_bytes is None:
        max_bytes = Settings().max_file_bytes
    data = read_file(resolved, max_bytes)
    if not data:
        raise EmptyDocumentError(str(resolved), "is empty (0 bytes); it has no text to index")
    try:
        return loader(resolved, data)
    except QAError:
        raise
    except Exception as exc:  # a parser library failed in a way we did not foresee
        logger.debug("loader for %s failed", resolved, exc_info=True)
        raise LoaderError(str(resolved), f"could not read {name}: {one_line(exc)}") from exc

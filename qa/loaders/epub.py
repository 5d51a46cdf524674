"""E-books (.epub): chapters in reading order as sections, read with zipfile, lxml and BeautifulSoup.

The package file (OPF) gives the reading order (the spine); each chapter is
XHTML, read like any web page (see :mod:`qa.loaders.html`). A chapter opens a
new section under its first heading, or its title, or "Chapter N".
"""

from __future__ import annotations

import logging
import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote

from bs4 import BeautifulSoup
from lxml import etree

from qa.errors import LoaderError, printable_path
from qa.loaders.archive import open_zip
from qa.loaders.base import Outline, TextBuilder, squash, title_or_stem
from qa.loaders.html import html_blocks
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

MIME = "application/epub+zip"
_REMEDY = "re-export it as EPUB, or convert it (e.g. with Calibre)"
_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "enc": "http://www.w3.org/2001/04/xmlenc#",
}
_CHAPTER_TYPES = {"application/xhtml+xml", "text/html", "application/x-dtbook+xml"}
# Font obfuscation (IDPF, Adobe) is listed in encryption.xml too; it is not DRM.
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def load_epub(path: Path, data: bytes) -> LoadedDocument:
    """The chapters of an e-book in reading order; headings inside them as subsections."""
    with open_zip(path, data, "an EPUB e-book", _REMEDY) as archive:
        _refuse_drm(path, archive)
        opf_path = _package_path(path, archive)
        opf = _xml(path, archive, opf_path)
        base = posixpath.dirname(opf_path)
        manifest = {
            item.get("id"): item
            for item in opf.iterfind("opf:manifest/opf:item", _NS)
        }
        book_title = squash(opf.findtext("opf:metadata/dc:title", "", _NS))
        builder = TextBuilder()
        outline = Outline()
        chapters = 0
        for ref in opf.iterfind("opf:spine/opf:itemref", _NS):
            item = manifest.get(ref.get("idref"))
            if item is None or item.get("media-type") not in _CHAPTER_TYPES:
                continue
            member = posixpath.normpath(posixpath.join(base, unquote(item.get("href", ""))))
            try:
                markup = archive.read(member)
            except KeyError:
                logger.warning("%s: chapter %s is missing from the book; skipped",
                               path, printable_path(member))
                continue
            soup = BeautifulSoup(markup, "lxml")
            chapter_title = soup.title.get_text() if soup.title else ""
            blocks = html_blocks(soup)
            chapters += 1
            if not blocks:
                continue
            if not blocks[0].level:
                name = squash(chapter_title) or f"Chapter {chapters}"
                builder.add_heading(name, 1, outline)
            for block in blocks:
                if block.level:
                    builder.add_heading(block.text, block.level, outline)
                else:
                    builder.add(block.text, kind=block.kind, section=outline.path)
    return builder.document(
        path, data, title=title_or_stem(book_title, path), mime=MIME,
        metadata={"chapters": chapters},
    )


def _refuse_drm(path: Path, archive: zipfile.ZipFile) -> None:
    try:
        raw = archive.read("META-INF/encryption.xml")
    except KeyError:
        return
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError:
        root = None
    methods = (
        {m.get("Algorithm", "") for m in root.iterfind(".//enc:EncryptionMethod", _NS)}
        if root is not None else {"unknown"}
    )
    if methods - _FONT_OBFUSCATION:
        raise LoaderError(
            str(path),
            "is DRM-protected (its chapters are encrypted); qa cannot read it. Use a copy "
            "without DRM",
        )


def _package_path(path: Path, archive: zipfile.ZipFile) -> str:
    container = _xml(path, archive, "META-INF/container.xml")
    rootfile = container.find("c:rootfiles/c:rootfile", _NS)
    full_path = rootfile.get("full-path") if rootfile is not None else None
    if not full_path:
        raise LoaderError(
            str(path), f"is not a valid EPUB: META-INF/container.xml names no package; {_REMEDY}"
        )
    return unquote(full_path)


def _xml(path: Path, archive: zipfile.ZipFile, member: str) -> etree._Element:
    try:
        return etree.fromstring(archive.read(member), _PARSER)
    except KeyError:
        raise LoaderError(
            str(path), f"is not a valid EPUB: '{printable_path(member)}' is missing; {_REMEDY}"
        ) from None
    except etree.XMLSyntaxError as exc:
        raise LoaderError(
            str(path),
            f"is not a valid EPUB: '{printable_path(member)}' is not well-formed ({exc}); "
            f"{_REMEDY}",
        ) from None

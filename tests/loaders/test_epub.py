"""EPUB: chapters in spine order as sections, and books that cannot be read."""

from __future__ import annotations

import zipfile

import pytest

from qa.errors import LoaderError
from qa.loaders import load

from .samples import write_epub


def test_chapters_are_sections(tmp_path, load_checked):
    doc = load_checked(write_epub(tmp_path / "moby.epub"))
    assert doc.mime == "application/epub+zip"
    assert doc.title == "Moby-Dick"
    assert doc.metadata == {"chapters": 2}
    got = [(doc.text[b.start : b.end], b.section, b.kind) for b in doc.blocks]
    assert got == [
        ("Loomings", "Loomings", "heading"),
        ("Call me Ishmael. The sea drew him.", "Loomings", "text"),
        ("The Carpet-Bag", "The Carpet-Bag", "heading"),  # from the chapter's <title>
        ("He stuffed a shirt or two into his old carpet-bag.", "The Carpet-Bag", "text"),
        ("Nantucket", "The Carpet-Bag > Nantucket", "heading"),
        ("The island lay far out to sea.", "The Carpet-Bag > Nantucket", "text"),
    ]


def test_tables_in_chapters(tmp_path, load_checked):
    body = ("<h1>Figures</h1><table><tr><th>Year</th><th>Revenue</th></tr>"
            "<tr><td>2021</td><td>4.2 M</td></tr></table>")
    doc = load_checked(write_epub(tmp_path / "t.epub", [("Figures", body)]))
    assert [(doc.text[b.start : b.end], b.kind) for b in doc.blocks][-1] == (
        "Year: 2021; Revenue: 4.2 M", "table")


def test_font_obfuscation_is_not_drm(tmp_path, load_checked):
    enc = ('<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
           'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
           '<enc:EncryptionMethod Algorithm="http://www.idpf.org/2008/embedding"/>'
           '<enc:CipherData><enc:CipherReference URI="OEBPS/font.otf"/></enc:CipherData>'
           "</enc:EncryptedData></encryption>")
    doc = load_checked(write_epub(tmp_path / "fonts.epub", extra={"META-INF/encryption.xml": enc}))
    assert "Ishmael" in doc.text


def test_drm_is_refused(tmp_path):
    enc = ('<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
           'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
           '<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
           '<enc:CipherData><enc:CipherReference URI="OEBPS/text/ch%200.xhtml"/>'
           "</enc:CipherData></enc:EncryptedData></encryption>")
    path = write_epub(tmp_path / "drm.epub", extra={"META-INF/encryption.xml": enc})
    with pytest.raises(LoaderError, match="is DRM-protected"):
        load(path)


def test_missing_container(tmp_path):
    path = tmp_path / "bare.epub"
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip")
    with pytest.raises(LoaderError, match="META-INF/container.xml' is missing"):
        load(path)


"""``load``: choosing a loader, and the failures every file type shares."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from qa.errors import EmptyDocumentError, LoaderError, QAError, UnsupportedFileError
from qa.loaders import SUPPORTED_SUFFIXES, dispatch, load


def test_supported_suffixes():
    assert isinstance(SUPPORTED_SUFFIXES, frozenset)
    assert set(SUPPORTED_SUFFIXES) == {
        ".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx", ".csv",
        ".tsv", ".epub", ".odt", ".png", ".jpg", ".jpeg", ".tif", ".tiff",
    }


@pytest.mark.parametrize("name", ["slides.ppt", "archive.tar.gz", "Makefile", "notes.doc"])
def test_unsupported_suffix_lists_the_supported_types(tmp_path, name):
    path = tmp_path / name
    path.write_text("something", encoding="utf-8")
    with pytest.raises(UnsupportedFileError, match=r"supported types are \.csv, \.docx, .*\.pptx, .*\.xlsx"):
        load(path)


def test_suffix_case_does_not_matter(tmp_path, load_checked):
    path = tmp_path / "LOUD.TXT"
    path.write_text("Quiet words.", encoding="utf-8")
    assert load_checked(path).text == "Quiet words."


def test_source_is_absolute_and_hash_is_of_the_bytes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("rel.md").write_text("# Hi\n\nThere.", encoding="utf-8")
    doc = load("rel.md")
    assert doc.source == str(tmp_path.resolve() / "rel.md")
    assert doc.content_hash == hashlib.sha256(b"# Hi\n\nThere.").hexdigest()


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_too_big_names_size_and_limit(tmp_path, suffix):
    path = tmp_path / f"big{suffix}"
    path.write_bytes(b"x" * 3000)
    with pytest.raises(LoaderError, match=r"is 2.9 KB, over the limit of 1000 bytes; raise QA_MAX"):
        load(path, max_bytes=1000)


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_missing_file(tmp_path, suffix):
    with pytest.raises(LoaderError, match="does not exist; check the path"):
        load(tmp_path / f"nowhere{suffix}")


def test_directory_is_not_a_file(tmp_path):
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    with pytest.raises(LoaderError, match="is a directory"):
        load(folder)


def test_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "secret.txt"
    path.write_text("x", encoding="utf-8")

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", deny)  # root ignores chmod, so simulate it
    with pytest.raises(LoaderError, match="permission denied"):
        load(path)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.txt", b""),
        ("blank.txt", b"  \n\t\r\n  \n"),
        ("blank-utf16.txt", " \n \n".encode("utf-16")),
        ("empty.md", b""),
        ("blank.md", b"\n\n   \n"),
        ("markup-only.md", b"<div></div>\n\n---\n"),
        ("empty.html", b""),
        ("blank.html", b"<html><head><title>T</title></head><body> \n </body></html>"),
        ("nav-only.htm", b"<body><nav>Home | About</nav><script>x()</script></body>"),
        ("empty.pdf", b""),
        ("empty.docx", b""),
    ],
)
def test_nothing_to_index(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(EmptyDocumentError, match="has no text to index"):
        load(path)


def test_unexpected_parser_failure_is_wrapped(tmp_path, monkeypatch):
    def broken(path: Path, data: bytes):
        raise ValueError("bad thing\nhappened")

    monkeypatch.setitem(dispatch._LOADERS, ".md", ("Markdown", broken))
    path = tmp_path / "x.md"
    path.write_text("text", encoding="utf-8")
    with pytest.raises(LoaderError) as caught:
        load(path)
    assert str(caught.value) == f"{path}: could not read Markdown: bad thing happened"
    assert isinstance(caught.value, QAError)

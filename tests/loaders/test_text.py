"""Plain text: encodings, binaries, stray markup, paragraphs and titles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.errors import UnsupportedFileError

from .helpers import texts

SEED = (
    Path(__file__).resolve().parents[2]
    / "seeds"
    / "isis-expansion-in-afghanistan-is-pointed-at-russia.txt"
)

FRENCH = (
    "Le café est très bon. Les élèves sont allés à la bibliothèque où ils ont étudié "
    "l'histoire de la région pendant des années.\n\nÇa coûte cher, mais ça vaut la peine."
)


def test_seed_file_has_no_markup_and_its_title(load_checked):
    doc = load_checked(SEED)
    assert "<u>" not in doc.text and "</u>" not in doc.text
    assert "By Sami Karimi Global Research" in doc.text
    assert "Pakistan and China" in doc.text
    assert doc.title == "The ISIS Expansion in Afghanistan Is Pointed at Russia"
    assert doc.mime == "text/plain"
    assert doc.blocks[0].kind == "heading"
    assert all(b.kind == "text" for b in doc.blocks[1:])


@pytest.mark.parametrize(
    ("encoding", "content"),
    [
        ("utf-8", FRENCH),
        ("utf-8-sig", FRENCH),
        ("utf-16", FRENCH),
        ("latin-1", FRENCH),
        ("cp1252", "He said “hello” — it’s fine… the café was open.\n\nSecond part."),
    ],
)
def test_encodings_are_detected(tmp_path, load_checked, encoding, content):
    path = tmp_path / "note.txt"
    path.write_bytes(content.encode(encoding))
    doc = load_checked(path)
    assert doc.text == content
    assert "\ufeff" not in doc.text
    assert texts(doc) == content.split("\n\n")


@pytest.mark.parametrize(
    "data",
    [
        os.urandom(4096),
        b"\x89PNG\r\n\x1a\n" + os.urandom(2048),
        b"\x00\x01\x02\x03PK\x00\x00" * 300,
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64 + b"some symbol names\x00" * 20,
    ],
    ids=["random", "png", "nul-heavy", "elf"],
)
def test_binary_renamed_txt_is_refused(tmp_path, data):
    from qa.loaders import load

    path = tmp_path / "photo.txt"
    path.write_bytes(data)
    with pytest.raises(UnsupportedFileError, match="looks like a binary file, not text"):
        load(path)


def test_stray_nul_bytes_and_newlines_are_cleaned(tmp_path, load_checked):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"first line\r\nsame para\x00graph\r\n\r\nsecond\rline\r\rthird")
    doc = load_checked(path)
    assert doc.text == "first line\nsame paragraph\n\nsecond\nline\n\nthird"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("By <u>Sami Karimi</u> today", "By Sami Karimi today"),
        ('See <a href="http://x.org">the site</a> &amp; more', "See the site & more"),
        ("<b>bold</b> <I>italic</I> <span style='x'>span</span>", "bold italic span"),
        ("5 &lt; 6 &#38; caf&eacute; &#x263A;", "5 < 6 & café ☺"),
        ("one<br>two<br/>three", "one\ntwo\nthree"),
        ("keep <script>alert(1)</script>this<!-- hidden -->", "keep this"),
        # Not markup: comparisons, placeholders, e-mail addresses, bare ampersands.
        ("if a < b and c > d then", "if a < b and c > d then"),
        ("mail <someone@example.com> or <name>", "mail <someone@example.com> or <name>"),
        ("AT&T and ?a=1&copy=2", "AT&T and ?a=1&copy=2"),
    ],
)
def test_markup_in_text_is_reduced_to_its_words(tmp_path, load_checked, raw, expected):
    path = tmp_path / "web-copy.txt"
    path.write_text(f"{raw}.\n\nEnd.", encoding="utf-8")
    doc = load_checked(path)
    assert texts(doc)[0] == f"{expected}."


@pytest.mark.parametrize(
    ("first_line", "title"),
    [
        ("A Short Title", "A Short Title"),
        ("Is This a Question?", "Is This a Question?"),
        ("This first line is a sentence.", "notes"),
        ("word " * 30, "notes"),
        ("12345", "notes"),
    ],
)
def test_title_from_a_short_first_line_else_the_stem(tmp_path, load_checked, first_line, title):
    path = tmp_path / "notes.txt"
    path.write_text(f"{first_line}\n\nThe body of the note.", encoding="utf-8")
    doc = load_checked(path)
    assert doc.title == title
    heading = doc.blocks[0].kind == "heading"
    assert heading == (title != "notes")
    if heading:
        assert doc.blocks[1].section == title


def test_paragraphs_split_on_blank_lines_with_spaces(tmp_path, load_checked):
    path = tmp_path / "paras.txt"
    path.write_text("one.\n  \n\t\ntwo\nstill two.\n\n\n\nthree.  \n", encoding="utf-8")
    doc = load_checked(path)
    assert texts(doc) == ["one.", "two\nstill two.", "three."]

"""Small literal cases for what the hostile suite made the loaders do (no model needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.errors import LoaderError, UnsupportedFileError
from qa.loaders import load
from qa.loaders.base import clean_title, strip_controls, title_or_stem
from qa.loaders.text import decode, strip_markup

FRENCH = "Le café sert une crème brûlée."


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # One bad byte no longer turns every accent of a UTF-8 file into mojibake.
        ((FRENCH * 3).encode() + b"\x80", FRENCH * 3 + "\ufffd"),
        # A Latin-1 paragraph pasted into a UTF-8 file: each line in its own encoding.
        (FRENCH.encode() + b"\n" + FRENCH.encode("latin-1"), f"{FRENCH}\n{FRENCH}"),
        # Plain Latin-1 is still charset-normalizer's (and read as cp1252).
        (FRENCH.encode("latin-1"), FRENCH),
    ],
)
def test_decode_repairs_mostly_utf8(data: bytes, expected: str) -> None:
    assert decode(Path("x.txt"), data) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\x1b[1;31mred\x1b[0m text", "red text"),
        ("\x1b]0;window title\x07after", "after"),
        ("bell\x07 nul\x00 c1\x85 end\x9b", "bell nul c1 end"),
        ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
        ("\x1b]8;;unterminated link, kept", "]8;;unterminated link, kept"),
    ],
)
def test_strip_controls(text: str, expected: str) -> None:
    assert strip_controls(text) == expected


def test_titles_lose_controls_and_bidi_overrides() -> None:
    assert clean_title("evil\u202etxt.exe\x1b[2J\n") == "evil txt.exe"
    assert title_or_stem(None, Path("/x/ctl\x1b[31mred\x07\nname.txt")) == "ctlred name"
    assert title_or_stem(None, Path("/x/\x1b\x07.txt")) == "untitled"


def test_unclosed_script_tags_take_linear_time() -> None:
    hostile = "<script>" * 100_000 + "<!--" * 100_000 + "<style>kept text"
    # A backtracking expression would take minutes here; how long it takes is measured
    # by the benchmarks, this checks the result.
    assert strip_markup(hostile) == "kept text"


def test_hidden_elements_go_with_their_content() -> None:
    text = "a<script>x()</script>b<!-- c -->d<svg onload=f()><g/></svg>e<iframe src=y></iframe>f"
    assert strip_markup(text) == "abdef"


@pytest.mark.parametrize(
    ("markup", "texts"),
    [
        # Content a table holds outside its cells is shown above it, as browsers do.
        ("<table><caption>Cap</caption><tr><td>cell</td><p>stray</p></tr></table>",
         ["Cap", "stray", "cell"]),
        # Text after a stray </html> is still part of the page.
        ("<html><body><p>one</p></body></html><p>two</p>", ["one", "two"]),
    ],
)
def test_html_keeps_text_outside_the_usual_places(
    tmp_path: Path, markup: str, texts: list[str]
) -> None:
    path = tmp_path / "page.html"
    path.write_text(markup)
    assert load(path).text.split("\n\n") == texts


def test_binary_html_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.html"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)
    with pytest.raises(UnsupportedFileError, match="binary"):
        load(path)


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    with pytest.raises(LoaderError, match="not a regular file"):
        load(path)


def test_a_link_to_a_device_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "zero.txt"
    path.symlink_to("/dev/zero")
    with pytest.raises(LoaderError, match="without a suffix"):  # it is read as what it names
        load(path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("D" * 5000, "only the characters 'D'"),
        ("01" * 2000, "only the characters '01'"),
        ("AB AB\nAB " * 500, "only the characters 'AB'"),
        ("\ufffd" * 900 + "some words here", "undecodable"),
        ("".join(chr(0x80 + i % 32) for i in range(900)) + "a few words", "control"),
    ],
)
def test_decoded_garbage_is_not_text(content: str, reason: str) -> None:
    with pytest.raises(UnsupportedFileError, match="binary") as caught:
        decode(Path("x.txt"), content.encode())
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [
        "ACGT" * 1000,  # a DNA sequence is text
        "0,1\n1,0\n" * 500,  # so is a CSV of 0/1 values
        "D" * 63,  # too short to judge
        "A line of prose. " * 200 + "\ufffd" * 20,  # a few bad bytes in a real text
        "日本語のテキストです。" * 300,  # no spaces, many characters
    ],
)
def test_text_that_merely_looks_odd_is_kept(content: str) -> None:
    assert decode(Path("x.txt"), content.encode()) == content

"""How file paths are shown in messages: one line, nothing a terminal would act on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.errors import LoaderError, printable_path


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("notes/plain name.txt", "notes/plain name.txt"),
        ("café/日本語.md", "café/日本語.md"),
        ("dup\nname\x1b[2J.txt", r"dup\nname\x1b[2J.txt"),
        ("a\tb\rc\x00d\x07e\x7f.txt", r"a\tb\rc\x00d\x07e\x7f.txt"),
        ("c1\x9b31m.txt", r"c1\x9b31m.txt"),
        ("evil\u202etxt.exe", r"evil\u202etxt.exe"),
        ("line\u2028sep.txt", r"line\u2028sep.txt"),
        (os.fsdecode(b"latin\xe9.txt"), r"latin\xe9.txt"),
        ("back\\slash.txt", "back\\slash.txt"),
    ],
)
def test_printable_path(path: str, shown: str) -> None:
    assert printable_path(path) == shown


def test_printable_path_takes_a_path_and_prints_anywhere() -> None:
    shown = printable_path(Path(os.fsdecode(b"/tmp/x\xff\n.txt")))
    assert shown == r"/tmp/x\xff\n.txt"
    shown.encode("ascii")  # no lone surrogate left to break a print


def test_loader_error_shows_its_path_on_one_line() -> None:
    error = LoaderError("bad\nname\x1b]0;title\x07.txt", "is empty")
    assert str(error) == r"bad\nname\x1b]0;title\x07.txt: is empty"
    assert error.path == "bad\nname\x1b]0;title\x07.txt"  # the real path stays usable

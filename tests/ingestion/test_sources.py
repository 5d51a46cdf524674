"""Which files an ingest reads: ``iter_files`` and ``file_hash`` on awkward paths.

Both run in the main process, before the parse worker and its time limit, so
none of these may hang or raise out of the batch.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from qa.errors import LoaderError
from qa.ingestion.sources import file_hash, iter_files, resolve, unreadable
from qa.types import FileResult

SUFFIXES = frozenset({".txt", ".md"})


def outcomes(paths: list[Path]) -> list[tuple[str, str]]:
    """(file name, "read" or the failure message) for each item of ``iter_files``."""
    return [
        (Path(item.path).name, item.message) if isinstance(item, FileResult)
        else (item.name, "read")
        for item in iter_files(paths, SUFFIXES)
    ]


def test_a_symlink_loop_in_a_folder_fails_alone(tmp_path: Path) -> None:
    (tmp_path / "a.txt").symlink_to("b.txt")
    (tmp_path / "b.txt").symlink_to("a.txt")
    (tmp_path / "c.txt").write_text("fine")
    loop = "is a symlink loop (too many levels of symbolic links); not read"
    assert outcomes([tmp_path]) == [("a.txt", loop), ("b.txt", loop), ("c.txt", "read")]


def test_a_symlink_loop_given_directly_fails_when_read(tmp_path: Path) -> None:
    link = tmp_path / "self.txt"
    link.symlink_to("self.txt")
    assert outcomes([link, tmp_path / "missing.txt"]) == [
        ("self.txt", "read"), ("missing.txt", "no such file or folder")
    ]
    with pytest.raises(OSError) as caught:
        file_hash(link)
    assert unreadable(caught.value).startswith("is a symlink loop")


def test_resolve_reports_a_loop_as_an_os_error(tmp_path: Path) -> None:
    (tmp_path / "x").symlink_to("x")
    with pytest.raises(OSError, match="symbolic links"):
        resolve(tmp_path / "x")
    assert resolve(tmp_path / "y") == tmp_path.resolve() / "y"


def test_a_symlink_out_of_the_folder_is_named_on_one_line(tmp_path: Path) -> None:
    outside = tmp_path / "out\nside\x1b[2J.txt"
    outside.write_text("secret")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "link.txt").symlink_to(outside)
    [(name, message)] = outcomes([docs])
    assert name == "link.txt"
    assert message == (f"skipped: symlink to {tmp_path.resolve()}/out\\nside\\x1b[2J.txt, "
                       f"outside {docs.resolve()}")


def test_file_hash_of_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"some text")
    assert file_hash(path) == hashlib.sha256(b"some text").hexdigest()


@pytest.mark.parametrize("kind", ["fifo", "device link"])
def test_file_hash_never_opens_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "special.txt"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading would block until a writer comes
    else:
        path.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(LoaderError) as caught:
        file_hash(path)
    assert caught.value.reason == "is not a regular file (a pipe, socket or device); not read"

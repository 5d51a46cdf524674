"""Helpers every loader shares: reading the file, building text with blocks, headings."""

from __future__ import annotations

import hashlib
import logging
import re
import stat
from pathlib import Path
from typing import Any

from qa.errors import EmptyDocumentError, LoaderError
from qa.types import Block, LoadedDocument

logger = logging.getLogger(__name__)

# C0 and C1 control characters other than tab and newline never belong in indexed
# text; terminal escape sequences (colours in saved logs) go whole, not just their ESC.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bounded, so a stray ESC never swallows the text after it.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]{0,64}[ -/]{0,8}[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]{0,2048}(?:\x07|\x1b\\|\x9c)"  # OSC: titles, links
)
# Characters that make a title print or display as something else: controls, and the
# bidirectional overrides that turn "evil\u202etxt.exe" into "evilexe.txt" on screen.
_TITLE_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")
PARAGRAPH_BREAK = "\n\n"
#: Why a pipe, socket or device is never opened (reading one may never end).
NOT_REGULAR = "is not a regular file (a pipe, socket or device); not read"
# What a text file holds little of, whatever its encoding: C0 and C1 controls (tab,
# newlines and form feed aside), U+FFFD (bytes that decoded to nothing), private-use
# characters and the noncharacters/specials at the end of the Basic Multilingual Plane.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff\ufff0-\ufffc\ufffe\uffff]")
#: Above this share of such characters a decoded file is binary data, not text.
MAX_NOT_TEXT_SHARE = 0.05
# A text of at least this many visible characters uses at least MIN_ALPHABET of them:
# "DDDD…" or "0101…" is a filler or a dump, never prose (DNA's ACGT and a CSV of 0/1
# values still pass).
_ALPHABET_SAMPLE = 64
MIN_ALPHABET = 3


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as a single short line, for messages shown to a person."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def squash(text: str) -> str:
    """Whitespace runs (newlines included) collapsed to one space, ends trimmed."""
    return _SPACES.sub(" ", text).strip()


def human_size(size: int) -> str:
    """A byte count as a person reads it: "512 bytes", "3.2 KB", "250.0 MB"."""
    if size < 2**10:
        return f"{size} bytes"
    if size < 2**20:
        return f"{size / 2**10:.1f} KB"
    return f"{size / 2**20:.1f} MB"


def read_file(path: Path, max_bytes: int) -> bytes:
    """The raw bytes of ``path``, refusing what is missing, unreadable, too big or not a file.

    Only regular files are read: reading a FIFO blocks until something writes to
    it, and a device such as ``/dev/zero`` never ends.
    """
    try:
        if path.is_dir():
            raise LoaderError(str(path), "is a directory, not a file; pass the files inside it")
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise LoaderError(str(path), NOT_REGULAR)
        if info.st_size > max_bytes:
            raise _too_big(path, info.st_size, max_bytes)
        data = path.read_bytes()
        if len(data) > max_bytes:  # it grew since
            raise _too_big(path, len(data), max_bytes)
        return data
    except FileNotFoundError:
        raise LoaderError(str(path), "does not exist; check the path") from None
    except PermissionError:
        raise LoaderError(
            str(path), "cannot be read (permission denied); check the file's permissions"
        ) from None
    except OSError as exc:
        raise LoaderError(str(path), f"cannot be read: {one_line(exc)}") from None


def not_text(text: str) -> str | None:
    """Why decoded file contents are not text, or None when they are.

    Binary data decoded in some encoding comes out as controls, U+FFFD and private-use
    characters, or (after those are stripped) as a tiny alphabet repeated; either is
    refused rather than indexed as a document of garbage.
    """
    if not text:
        return None
    odd = len(_NOT_TEXT.findall(text))
    if odd > MAX_NOT_TEXT_SHARE * len(text):
        return (
            f"looks like a binary file, not text ({odd * 100 // len(text)}% of its characters "
            "are control or undecodable characters); check that it really is a text file"
        )
    sample = _SPACES.sub("", strip_controls(text[: 2**20]))
    alphabet = set(sample)
    if len(sample) >= _ALPHABET_SAMPLE and len(alphabet) < MIN_ALPHABET:
        shown = "".join(sorted(alphabet))
        return (
            f"looks like a binary file or filler, not text (only the characters {shown!r} "
            "repeated); check that it really is a text file"
        )
    return None


def _too_big(path: Path, size: int, max_bytes: int) -> LoaderError:
    return LoaderError(
        str(path),
        f"is {human_size(size)}, over the limit of {human_size(max_bytes)}; "
        "raise QA_MAX_FILE_MB or split the file",
    )


def clean_title(text: str) -> str:
    """``text`` on one line without control or bidi-override characters."""
    return squash(_TITLE_JUNK.sub(" ", _ESCAPES.sub("", text)))


def title_or_stem(candidate: str | None, path: Path, limit: int = 200) -> str:
    """``candidate`` cleaned to one line if it has letters and a sane length, else the stem.

    File names are untrusted too (a name may hold terminal escapes or newlines), so
    the stem is cleaned the same way; "untitled" when nothing printable is left.
    """
    title = clean_title(candidate or "")
    if title and len(title) <= limit and any(c.isalnum() for c in title):
        return title
    return clean_title(path.stem)[:limit] or "untitled"


def strip_controls(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (tab and newline stay)."""
    return _CONTROL.sub("", _ESCAPES.sub("", text))


class Outline:
    """The stack of open headings, giving the section path ("Intro > Scope")."""

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> str:
        """Open a heading of ``level`` (smaller is higher); return its section path."""
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        self._open.append((level, squash(title)))
        return self.path

    @property
    def path(self) -> str:
        return " > ".join(title for _, title in self._open)


class TextBuilder:
    """Accumulates paragraphs into one text, recording a :class:`Block` for each.

    Each added piece is cleaned (control characters dropped, trailing spaces and
    blank lines removed, ends trimmed) so that ``text[block.start:block.end]``
    is exactly the piece and paragraphs are separated by one blank line.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.blocks: list[Block] = []

    def add(
        self, text: str, *, kind: str = "text", section: str = "", page: int | None = None
    ) -> Block | None:
        """Append ``text`` as one block; return it, or None when nothing is left after cleaning."""
        lines = (line.rstrip() for line in strip_controls(text).split("\n"))
        cleaned = "\n".join(line for line in lines if line.strip()).strip()
        if not cleaned:
            return None
        if self._parts:
            self._parts.append(PARAGRAPH_BREAK)
            self._length += len(PARAGRAPH_BREAK)
        block = Block(self._length, self._length + len(cleaned), page, section, kind)
        self._parts.append(cleaned)
        self._length = block.end
        self.blocks.append(block)
        return block

    def add_heading(self, text: str, level: int, outline: Outline, page: int | None = None) -> str:
        """Append a heading block and open its section; return the new section path."""
        title = squash(strip_controls(text))
        if not title:
            return outline.path
        section = outline.enter(level, title)
        self.add(title, kind="heading", section=section, page=page)
        return section

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def document(
        self,
        path: Path,
        data: bytes,
        *,
        title: str,
        mime: str,
        metadata: dict[str, Any] | None = None,
    ) -> LoadedDocument:
        """The finished document; raises EmptyDocumentError when no text was added."""
        if not self.blocks:
            raise EmptyDocumentError(
                str(path), "has no text to index; it is empty or holds only whitespace or markup"
            )
        doc = LoadedDocument(
            source=str(path),
            title=title,
            text=self.text,
            blocks=list(self.blocks),
            content_hash=hashlib.sha256(data).hexdigest(),
            mime=mime,
            metadata=dict(metadata or {}),
        )
        logger.debug("loaded %s: %d chars in %d blocks", path, len(doc.text), len(doc.blocks))
        return doc

"""Pure helpers for the web UI (``app.py``): inert Markdown, highlights, safe upload paths.

Everything a document says is shown as text. :func:`escape_markdown` backslash-escapes
every ASCII punctuation character, so no tag, link, image, emphasis, LaTeX or emoji
code in a document can render, and the app never needs ``unsafe_allow_html``.
Highlights use Streamlit's own ``:yellow-background[...]`` directive around
escaped text.

Example::

    st.markdown(highlight_markdown("Moscow hosted <b>a</b> conference", 7, 13))
    # renders: Moscow [hosted] <b>a</b> conference, with "hosted" highlighted
"""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

_PUNCTUATION = frozenset(string.punctuation)
HIGHLIGHT = "yellow-background"
MAX_NAME_CHARS = 100
HASH_CHARS = 16


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that renders exactly as the characters it holds.

    Every ASCII punctuation character gets a backslash (CommonMark allows that
    for all of them), and line breaks become hard breaks so lines stay lines.
    The escaping is per character, so escaping a stream piece by piece gives
    the same result as escaping it whole.

    >>> escape_markdown("<b>*hi*</b>")
    '\\\\<b\\\\>\\\\*hi\\\\*\\\\<\\\\/b\\\\>'
    """
    out = "".join("\\" + c if c in _PUNCTUATION else c for c in text)
    return out.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "  \n")


def highlight_markdown(text: str, start: int, end: int) -> str:
    """Escaped Markdown of ``text`` with ``text[start:end]`` highlighted.

    Out-of-range or empty spans highlight nothing. The highlight is applied
    line by line (a directive cannot span a line break) and never includes
    surrounding whitespace.
    """
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    if end <= start:
        return escape_markdown(text)
    lines = text[start:end].replace("\r\n", "\n").split("\n")
    marked = "\n".join(_mark_line(line) for line in lines)
    return escape_markdown(text[:start]) + marked.replace("\n", "  \n") + escape_markdown(
        text[end:]
    )


def _mark_line(line: str) -> str:
    core = line.strip()
    if not core:
        return escape_markdown(line)
    lead = line[: len(line) - len(line.lstrip())]
    trail = line[len(line.rstrip()) :]
    return f"{escape_markdown(lead)}:{HIGHLIGHT}[{escape_markdown(core)}]{escape_markdown(trail)}"


def location(page: int | None, section: str, title: str = "") -> str:
    """Where a passage is: "p. 3 · Scope > Limits", "p. 3", "Scope" or "".

    A leading section equal to the document's ``title`` is left out (loaders
    often make the title the top heading), since the title is shown anyway.
    """
    parts = [s.strip() for s in section.split(" > ") if s.strip()]
    if parts and title.strip() and parts[0] == title.strip():
        parts = parts[1:]
    return " · ".join(([f"p. {page}"] if page else []) + ([" > ".join(parts)] if parts else []))


def preview(text: str, limit: int = 400) -> str:
    """The start of ``text``, cut at a word boundary near ``limit`` and marked with "…"."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + " …"


def display_name(source: str) -> str:
    """The file name to show for a document's source path (never the folders)."""
    return PurePosixPath(source.replace("\\", "/")).name or source


@dataclass(frozen=True)
class Span:
    """A piece of one document's text at known offsets (a passage or a citation)."""

    doc_id: str
    start: int
    end: int
    text: str


# Chunks end at paragraph ends, and the loaders separate paragraphs with one blank line,
# so passages two characters apart are neighbours with "\n\n" between them.
PARAGRAPH_GAP = 2


def _gap(n: int) -> str:
    return "\n" * max(0, n)


def surrounding_text(
    target: Span, others: Iterable[Span], max_extra: int = 1200
) -> tuple[str, int, int]:
    """Text around ``target`` stitched from passages of the same document that touch it.

    Passages are exact slices of the document text, so any that overlap or
    adjoin the target (or sit one paragraph break away) extend it without gaps.
    At most ``max_extra`` characters are added on each side; a cut is marked "…".

    Returns:
        ``(text, start, end)``: the context and the target's offsets within it.
    """
    lo, hi, text = target.start, target.end, target.text
    # Only exact slices of the document can be stitched without inventing text.
    spans = [s for s in others if s.doc_id == target.doc_id and len(s.text) == s.end - s.start]
    grown = True
    while grown:  # ends: lo only falls and hi only rises, within the spans
        grown = False
        for s in spans:
            if s.start < lo <= s.end + PARAGRAPH_GAP:
                text = (s.text[: lo - s.start] if lo <= s.end else s.text + _gap(lo - s.end)) + text
                lo, grown = s.start, True
            if s.start - PARAGRAPH_GAP <= hi < s.end:
                text += _gap(s.start - hi) + s.text[max(0, hi - s.start) :]
                hi, grown = s.end, True
    # Trim to the allowed context, at whitespace where possible.
    left = max(0, (target.start - lo) - max_extra)
    right = min(len(text), (target.end - lo) + max_extra)
    if left:
        space = text.find(" ", left)
        left = space + 1 if 0 <= space < target.start - lo else left
    if right < len(text):
        space = text.rfind(" ", target.end - lo, right)
        right = space if space > 0 else right
    head = "… " if left else ""
    tail = " …" if right < len(text) else ""
    shift = len(head) - left
    return head + text[left:right] + tail, target.start - lo + shift, target.end - lo + shift


_UNSAFE_CHARS = re.compile(r"[^\w.\- ()+,]")


def safe_file_name(name: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """A plain file name made from an untrusted upload name.

    Drops any folder part (``/`` or ``\\``), control and format characters,
    leading dots and spaces (no hidden files, no ``..``), replaces anything but
    letters, digits and ``. - _ ( ) + , space`` with ``_``, and keeps the
    suffix when cutting to ``max_chars``.

    >>> safe_file_name("../../etc/pass\\x00wd.txt")
    'passwd.txt'
    >>> safe_file_name("C:\\\\Users\\\\me\\\\..\\\\notes.md")
    'notes.md'
    """
    name = unicodedata.normalize("NFKC", name)
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = PureWindowsPath(PurePosixPath(name.replace("\\", "/")).name).name
    name = _UNSAFE_CHARS.sub("_", name).strip().lstrip(". ")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix[:16]
    stem = stem.rstrip(". ") or "upload"
    room = max_chars - (len(suffix) + 1 if suffix else 0)
    stem = stem[:room].rstrip(". ") or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def upload_path(uploads_dir: Path, name: str, data: bytes) -> Path:
    """Where to store an upload: ``<uploads_dir>/<sha256 prefix>/<safe name>``.

    The content hash keeps different files with one name apart, and the folder
    (rather than a prefix on the name) keeps the file's own name as its stem, so
    a document without a title of its own is titled after the uploaded name.

    Raises:
        ValueError: the result would leave ``uploads_dir`` (cannot happen with
            :func:`safe_file_name`; checked anyway).
    """
    digest = hashlib.sha256(data).hexdigest()[:HASH_CHARS]
    target = uploads_dir / digest / safe_file_name(name)
    root = uploads_dir.resolve()
    if not target.resolve().is_relative_to(root) or target.resolve() == root:
        raise ValueError(f"upload name {name!r} does not give a path inside {root}")
    return target

"""Helpers for the web UI (``app.py``) that draw nothing: inert Markdown, highlights,
surrounding text, error and status lines, the backends to offer.

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

import logging
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

from qa.config import Settings
from qa.errors import QAError
from qa.types import FileResult, counted

log = logging.getLogger("qa.app")

_PUNCTUATION = frozenset(string.punctuation)
HIGHLIGHT = "yellow-background"
# Material icons ship with Streamlit; emoji need fonts a server or kiosk may not have.
STATUS_ICONS = {"added": ":material/check_circle:", "replaced": ":material/sync:",
                "unchanged": ":material/check:", "duplicate": ":material/content_copy:",
                "failed": ":material/error:"}


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


def error_message(action: str, exc: Exception) -> str:
    """What to tell the user: a QAError says what and how to fix; anything else is logged."""
    if isinstance(exc, QAError):
        return str(exc)
    log.error("%s failed", action, exc_info=exc)
    return (f"{action} failed unexpectedly ({type(exc).__name__}: {exc}). "
            "The server log has the details.")


def describe_result(name: str, result: FileResult) -> str:
    """One caption line (Markdown) saying what happened to an uploaded file."""
    text = f"{name}: {result.status}"
    if result.status in ("added", "replaced"):
        text += f", {counted(result.chunks, 'chunk')}"
    if result.message:
        # Generated upload paths mean nothing to the user; show file names.
        text += " — " + re.sub(r"/\S*/uploads/\S+?/[0-9a-f]{16}/", "", result.message)
    return f"{STATUS_ICONS.get(result.status, '')} {escape_markdown(text)}"


def backend_choices(base: Settings) -> list[str]:
    """Usable answer backends: local first when installed, extractive, and a configured remote."""
    from qa.llm import available_backends, parse_spec

    choices = sorted(available_backends(), key=lambda b: b != "local")
    try:
        configured = parse_spec(base.llm)
    except QAError:
        return choices
    if configured.kind == "provider" and base.llm not in choices:
        choices.append(base.llm)
    return choices


def default_backend(base: Settings) -> str:
    """``QA_LLM`` when it is usable here, else the first of :func:`backend_choices`."""
    choices = backend_choices(base)
    return base.llm if base.llm in choices else choices[0]

"""Plain text (.txt): encoding detected by charset-normalizer, stray markup removed."""

from __future__ import annotations

import contextlib
import html
import logging
import re
from pathlib import Path

import charset_normalizer

from qa.errors import UnsupportedFileError
from qa.loaders.base import (
    Outline,
    TextBuilder,
    clean_title,
    not_text,
    strip_controls,
    title_or_stem,
)
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

MIME = "text/plain"

# Text whose share of control characters (NUL included) is above this is binary.
_MAX_CONTROL_SHARE = 0.05
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")

# Only names of real HTML elements count as tags, so "a <b and c> d" style prose,
# "<email@example.com>" or "<placeholder>" survive.
_TAG_NAMES = (
    "a|abbr|article|aside|audio|b|big|blockquote|body|br|button|caption|center|cite|code|del|"
    "details|dfn|div|dd|dl|dt|em|embed|figcaption|figure|font|footer|form|h[1-6]|head|header|"
    "hr|html|i|img|input|ins|kbd|label|li|link|main|mark|meta|nav|ol|p|pre|q|s|samp|section|"
    "small|source|span|strike|strong|sub|summary|sup|table|tbody|td|th|thead|title|tr|tt|u|ul|"
    "var|video|wbr"
)
_BLOCK_TAGS = re.compile(
    r"</?(?:br|div|p|li|h[1-6]|tr|table|ul|ol|hr|blockquote|pre)\b[^<>]*>", re.I
)
_TAGS = re.compile(rf"</?(?:{_TAG_NAMES})\b(?:\s[^<>]*)?/?>", re.I)
# Elements whose content is code or a page of its own, never text: dropped whole.
_HIDDEN_OPEN = re.compile(
    r"<(script|style|iframe|svg|noscript|template|object)\b[^<>]*>|<!--", re.I
)
# Entities with their closing ';' only: "AT&T" or "?a=1&copy=2" stay as written.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCE_END = (".", ",", ";", ":")


def load_text(path: Path, data: bytes) -> LoadedDocument:
    """A .txt file as paragraphs (split on blank lines), the first line as title if it is one."""
    content = strip_markup(normalize_newlines(decode(path, data)))
    builder = TextBuilder()
    outline = Outline()
    paragraphs = [p for p in _PARAGRAPHS.split(content) if p.strip()]
    title = title_or_stem(None, path)
    if paragraphs and _looks_like_title(strip_controls(paragraphs[0])):
        title = clean_title(paragraphs[0])
        builder.add_heading(title, 1, outline)
        paragraphs = paragraphs[1:]
    for paragraph in paragraphs:
        builder.add(paragraph, section=outline.path)
    return builder.document(path, data, title=title, mime=MIME)


def decode(path: Path, data: bytes) -> str:
    """``data`` as text in the encoding charset-normalizer finds; binary data is refused."""
    if not data.strip():
        return ""
    text = _mostly_utf8(data)
    if text is not None:
        encoding = "UTF-8 with repairs"
    elif b"\x00" not in data and (text := _utf8(data)) is not None:
        # Valid UTF-8 is UTF-8: charset-normalizer may read odd but valid UTF-8 (control
        # characters, say) as gb18030 and turn it into Chinese-looking mojibake.
        encoding = "UTF-8"
    else:
        matches = charset_normalizer.from_bytes(data)
        best = matches.best()
        if best is None:
            raise _binary(path)
        text, encoding = str(best), best.encoding
        # charset-normalizer cannot tell apart single-byte Western encodings on short
        # text and may pick cp1250 ("très" -> "trčs"); cp1252 is by far the likelier.
        tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
        if not best.encoding.startswith(("utf", "ascii")) and any(
            "cp1252" in m.could_be_from_charset for m in tied
        ):
            with contextlib.suppress(UnicodeDecodeError):
                text = data.decode("cp1252")
    if text and len(_CONTROL.findall(text)) / len(text) > _MAX_CONTROL_SHARE:
        raise _binary(path)
    reason = not_text(text.lstrip("\ufeff"))
    if reason is not None:
        raise UnsupportedFileError(str(path), reason)
    logger.debug("%s decoded as %s", path, encoding)
    return text.lstrip("\ufeff").replace("\x00", "")


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _mostly_utf8(data: bytes) -> str | None:
    """Text that is UTF-8 but for a few bad bytes or lines, else None.

    charset-normalizer rejects UTF-8 for a single invalid byte and then reads every
    accent of the file as mojibake ("café" -> "cafÃ©"). When most lines with
    non-ASCII bytes are UTF-8, the file is: a line that is UTF-8 but for a few
    bytes keeps its UTF-8 (bad bytes become U+FFFD), and a line that is not UTF-8
    at all (a paragraph pasted from another source) is read as Windows-1252, its
    usual companion. Valid UTF-8 and text with NUL bytes (UTF-16?) are left to
    charset-normalizer.
    """
    if b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    utf8_lines = foreign_lines = 0
    out: list[str] = []
    for line in lines:
        if line.isascii():
            out.append(line.decode("ascii"))
            continue
        repaired = line.decode("utf-8", errors="replace")
        bad = repaired.count("\ufffd")
        good = sum(1 for c in repaired if c > "\x7f") - bad
        if good >= 2 * bad:
            utf8_lines += 1
            out.append(repaired)
        else:
            foreign_lines += 1
            out.append(line.decode("cp1252", errors="replace"))
    if utf8_lines == 0 or foreign_lines > utf8_lines:
        return None
    return "\n".join(out)


def normalize_newlines(text: str) -> str:
    """CRLF, CR and Unicode line separators as "\\n"; form feeds as a blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\u2028", "\n").replace("\u2029", "\n\n").replace("\f", "\n\n")


def strip_markup(text: str) -> str:
    """HTML-like tags removed (their inner text kept) and HTML entities decoded.

    Text copied from web pages often carries tags such as ``<u>name</u>``; they
    must never reach indexed passages.
    """
    text = _drop_hidden(text)
    text = _BLOCK_TAGS.sub("\n", text)
    text = _TAGS.sub("", text)
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)


def _drop_hidden(text: str) -> str:
    """Scripts, styles, frames and comments removed with their content, in linear time.

    A regular expression such as ``<script>.*?</script>`` rescans the rest of the
    text for every opening tag that is never closed, which takes minutes on a
    hostile file of a few hundred KB. Here each closing tag is looked for once
    per element name; an opening tag that is never closed is dropped alone, and
    the text after it kept.
    """
    out: list[str] = []
    pos = 0
    unclosed: set[str] = set()
    while (opening := _HIDDEN_OPEN.search(text, pos)) is not None:
        name = (opening.group(1) or "!--").lower()
        out.append(text[pos : opening.start()])
        pos = opening.end()
        if name in unclosed:
            continue
        closer = "-->" if name == "!--" else rf"</{name}\s*>"
        closing = re.compile(closer, re.I).search(text, pos)
        if closing is None:
            unclosed.add(name)  # and none after any later opening tag either
        else:
            pos = closing.end()
    out.append(text[pos:])
    return "".join(out)


def _looks_like_title(paragraph: str) -> bool:
    line = paragraph.strip()
    return (
        "\n" not in line
        and 0 < len(line) <= 150
        and len(line.split()) <= 20
        and not line.endswith(_SENTENCE_END)
        and any(c.isalpha() for c in line)
    )


def _binary(path: Path) -> UnsupportedFileError:
    return UnsupportedFileError(
        str(path), "looks like a binary file, not text; check that it really is a text file"
    )

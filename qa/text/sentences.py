"""Sentences of a text with their character offsets.

A sentence ends at . ! ? (optionally closed by quotes or brackets) before
whitespace, or at a blank line. A period after a lone capital ("U.S. troops",
"J. Smith"), a common title ("Mr.", "Dr.", "No.", "vs.") or a dotted lower-case
abbreviation ("11:30 a.m. the same day", "e.g. a table") is not an end.

Offsets are kept so that a quote can be located in its document and a chunk
keeps its exact span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SENTENCE_END = re.compile(
    r"(?<!\b[A-Z]\.)(?<!\b(?:Mr|Ms|Dr|St|No|vs)\.)(?<!\b[a-z]\.[a-z]\.)"
    r"(?<=[.!?])([\"'”’)\]]*)\s+|\n\s*\n"
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Sentence:
    """A sentence of a text, ``text == source[start:end]``."""

    text: str
    start: int
    end: int


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` of every piece of ``text[start:end]`` between sentence ends.

    Each piece is stripped of surrounding whitespace; pieces of whitespace only
    are left out, pieces without a word (a row of dots) are kept, so the spans
    cover all the visible text.

    >>> text = 'He said "stop." Mr. Li left.\\n\\n...'
    >>> [text[s:e] for s, e in sentence_spans(text)]
    ['He said "stop."', 'Mr. Li left.', '...']
    """
    stop = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for match in SENTENCE_END.finditer(text, start, stop):
        _add(spans, text, pos, match.start() + len(match.group(1) or ""))
        pos = match.end()
    _add(spans, text, pos, stop)
    return spans


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of ``text`` that hold a word, with their offsets, in order.

    >>> [s.text for s in split_sentences("One. Two!  Three")]
    ['One.', 'Two!', 'Three']
    """
    return [Sentence(text[s:e], s, e) for s, e in sentence_spans(text) if _WORD.search(text, s, e)]


def _add(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        start += len(piece) - len(piece.lstrip())
        spans.append((start, start + len(stripped)))

"""Citation markers: ``[n]``, or ``[n, m]`` / ``[n; m]`` for several passages.

A marker cites the passages numbered in the ``<passages>`` block of a prompt.
:data:`MARKER` reads every form a model writes (spaces inside the brackets,
numbers joined by commas or semicolons); :func:`disarm_markers` rewrites the
plain ``[n]`` a passage itself holds, so a document cannot cite for the model.
"""

from __future__ import annotations

import re

#: One marker; group 1 holds its numbers ("2, 3").
MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_MARKER_WITH_SPACE = re.compile(r"\s*" + MARKER.pattern)
# A run of markers right after a sentence's full stop: "China. [1][2]".
_MARKERS_AFTER_STOP = re.compile(r"([.!?])((?:" + _MARKER_WITH_SPACE.pattern + r")+)")
_PLAIN_MARKER = re.compile(r"\[(\d+)\]")
_SEPARATOR = re.compile(r"[,;]")


def marker_numbers(group: str) -> list[int]:
    """The numbers of one marker's group 1 ("2, 3" -> [2, 3])."""
    return [int(n) for n in _SEPARATOR.split(group)]


def markers(text: str) -> list[int]:
    """The passage numbers cited in ``text``, in order, repeats kept.

    >>> markers("China [1][2] and Iran [3, 1].")
    [1, 2, 3, 1]
    """
    return [n for group in MARKER.findall(text) for n in marker_numbers(group)]


def strip_citations(text: str) -> str:
    """``text`` without ``[n]`` markers (and the space before each).

    >>> strip_citations("Pakistan and China [1][2].")
    'Pakistan and China.'
    """
    return _MARKER_WITH_SPACE.sub("", text).strip()


def markers_before_stop(text: str) -> str:
    """``text`` with markers written after a full stop moved before it.

    >>> markers_before_stop("China. [1] Iran too [2].")
    'China [1]. Iran too [2].'
    """
    return _MARKERS_AFTER_STOP.sub(lambda m: m.group(2) + m.group(1), text)


def disarm_markers(text: str) -> str:
    """``text`` with each plain ``[n]`` written as ``(n)``.

    >>> disarm_markers("See [2] and [3, 4].")
    'See (2) and [3, 4].'
    """
    return _PLAIN_MARKER.sub(r"(\1)", text)

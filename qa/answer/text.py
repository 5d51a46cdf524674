"""Small word measures of the answer chain: kinds of words, yes/no questions, IDF, coverage.

Sentences, markers, stems and content words are :mod:`qa.text`'s.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

# A question that opens with an auxiliary or modal verb asks "yes or no?".
_YES_NO = re.compile(
    r"^\W*(?:is|are|was|were|am|do|does|did|has|have|had|can|could|will|would|shall|should|"
    r"may|might|must)\b",
    re.IGNORECASE,
)

_MONTHS = frozenset(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]
)


def word_kind(word: str) -> str:
    """"month", "year" or "number" for a word of such a kind, else "".

    >>> word_kind("February"), word_kind("2017"), word_kind("12"), word_kind("talks")
    ('month', 'year', 'number', '')
    """
    w = word.lower()
    if w in _MONTHS:
        return "month"
    if w.isdigit():
        return "year" if len(w) == 4 else "number"
    return ""


def asks_yes_or_no(question: str) -> bool:
    """Whether ``question`` asks "yes or no?" rather than for something it does not name.

    >>> asks_yes_or_no("Is the ferry faster than the bridge?"), asks_yes_or_no("How long is it?")
    (True, False)
    """
    return bool(_YES_NO.match(question))


def idf_weights(docs: Iterable[Iterable[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency of each stem over ``docs`` (sets of stems)."""
    counts: Counter[str] = Counter()
    n = 0
    for doc in docs:
        n += 1
        counts.update(set(doc))
    return {w: math.log(1 + (n + 1) / (c + 0.5)) for w, c in counts.items()} | {
        "": math.log(1 + (n + 1) / 0.5)  # weight of an unseen word
    }


def coverage(needed: list[str], found: set[str], weights: dict[str, float] | None = None) -> float:
    """The (weighted) share of the distinct stems of ``needed`` that are in ``found``.

    >>> coverage(["moscow", "january"], {"moscow"})
    0.5
    """
    unique = set(needed)
    if not unique:
        return 0.0
    if weights is None:
        return len(unique & found) / len(unique)
    unseen = weights.get("", 1.0)
    total = sum(weights.get(w, unseen) for w in unique)
    return sum(weights.get(w, unseen) for w in unique & found) / total

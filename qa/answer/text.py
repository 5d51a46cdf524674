"""Small text tools shared by the answer chain: sentences with offsets, content words.

Sentences keep their character offsets so a quote can be located in its
document; content words are lower-cased, stop-word-free and lightly stemmed,
so "invited" matches "invite" and "countries" matches "country".
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from qa.retrieval import STOPWORDS

# A sentence ends at . ! ? (optionally closed by quotes or brackets) before
# whitespace, or at a blank line. A period after a lone capital ("U.S. troops",
# "J. Smith") is not an end.
_SENTENCE_END = re.compile(
    r"(?<!\b[A-Z]\.)(?<!\b(?:Mr|Ms|Dr|St|No|vs)\.)(?<=[.!?])([\"'”’)\]]*)\s+|\n\s*\n"
)
_WORD = re.compile(r"\w+", re.UNICODE)
_CITATION = re.compile(r"\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")

# Question words and verbs of asking say nothing about where an answer is.
_QUESTION_WORDS = frozenset(
    {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "much", "many",
     "name", "named", "did", "does"}
)
# A question that opens with an auxiliary or modal verb asks "yes or no?".
_YES_NO = re.compile(
    r"^\W*(?:is|are|was|were|am|do|does|did|has|have|had|can|could|will|would|shall|should|"
    r"may|might|must)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sentence:
    """A sentence of a text, ``text == source[start:end]``."""

    text: str
    start: int
    end: int


def split_sentences(text: str) -> list[Sentence]:
    """The non-empty sentences of ``text`` with their offsets, in order.

    >>> [s.text for s in split_sentences("One. Two!  Three")]
    ['One.', 'Two!', 'Three']
    """
    out: list[Sentence] = []
    pos = 0
    for match in _SENTENCE_END.finditer(text):
        _add(out, text, pos, match.start() + len(match.group(1) or ""))
        pos = match.end()
    _add(out, text, pos, len(text))
    return out


def _add(out: list[Sentence], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped or not _WORD.search(stripped):
        return
    start += len(piece) - len(piece.lstrip())
    out.append(Sentence(stripped, start, start + len(stripped)))


def stem(word: str) -> str:
    """A light suffix stripper, enough to match inflections of one word.

    >>> [stem(w) for w in ("countries", "invited", "hosting", "talks", "class", "ended")]
    ['country', 'invit', 'host', 'talk', 'class', 'end']
    """
    w = word.lower()
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix) and not w.endswith("ss"):
            return w[: -len(suffix)]
    return w


def content_words(text: str, *, question: bool = False) -> list[str]:
    """Stems of the words of ``text`` that carry content, in order, repeats kept.

    With ``question=True`` question words ("which", "how", "name") are dropped too.

    >>> content_words("Which countries took part in the conference?", question=True)
    ['country', 'took', 'part', 'conference']
    """
    words = [w.lower() for w in _WORD.findall(text)]
    drop = STOPWORDS | _QUESTION_WORDS if question else STOPWORDS
    # Single letters ("C. J. Anderson") are initials, not content.
    return [stem(w) for w in words if w not in drop and (len(w) > 1 or w.isdigit())]


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


def strip_citations(text: str) -> str:
    """``text`` without ``[n]`` markers.

    >>> strip_citations("Pakistan and China [1][2].")
    'Pakistan and China.'
    """
    return _CITATION.sub("", text).strip()


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

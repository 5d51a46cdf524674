"""Words, stop words, question words and stems.

A word is a run of letters, digits or underscores. Content words are the
lower-cased, stemmed words of a text without stop words (and, for a question,
without question words), so "invited" matches "invite" and "countries" matches
"country". The keyword index analyses text with tantivy's own pipeline
(:func:`keyword_analyzer`: lower-cased, ASCII-folded, Snowball-stemmed); the
answer chain's :func:`stem` is a lighter suffix stripper (see
``docs/decisions/answer-measurements.md``, "One stemmer").
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tantivy

WORD = re.compile(r"\w+", re.UNICODE)

#: Words too common to say what a text is about: a short English list. The keyword
#: search leaves them out of queries, the answer chain out of content words.
STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves"]
)

#: Question words and verbs of asking: they say nothing about where an answer is.
QUESTION_WORDS = frozenset(
    {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "much", "many",
     "name", "named", "do", "did", "does"}
)


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
    words = [w.lower() for w in WORD.findall(text)]
    drop = STOPWORDS | QUESTION_WORDS if question else STOPWORDS
    # Single letters ("C. J. Anderson") are initials, not content.
    return [stem(w) for w in words if w not in drop and (len(w) > 1 or w.isdigit())]


def keyword_analyzer() -> tantivy.TextAnalyzer:
    """The keyword index's analyser: words split on non-alphanumerics, at most 40
    characters, lower-cased, ASCII-folded and stemmed with the English Snowball stemmer.

    >>> keyword_analyzer().analyze("Countries invited")
    ['countri', 'invit']
    """
    import tantivy

    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )

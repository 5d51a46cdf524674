"""Whole-document questions: "summarize the article", "what is this document about".

Such a question names no fact to search for, so the top passages for its words
say little. Instead the chain reads the document it is about: the one the
question names by title, the collection's only document, or the document of the
best passage for the conversation so far. Every sentence of that document is
scored for how central it is (cosine with the mean of all its sentence
embeddings, with a small bonus for coming early); the most central ones, kept
apart by maximal marginal relevance, are shown to the model in document order, grouped by the passage (chunk) they belong to, so a summary can cite
each passage it draws on.

>>> is_document_question("Summarize the article in three sentences.")
True
>>> is_document_question("What is the article mainly arguing?"), is_document_question(
...     "Why is Helmand important?")
(True, False)
>>> requested_sentences("Summarize the article in three sentences.")
3
"""

from __future__ import annotations

import re

import numpy as np

from qa.embedding import Embedder
from qa.text.sentences import Sentence, split_sentences
from qa.text.words import content_words
from qa.types import Passage

_DOCUMENT = r"(?:document|article|paper|text|file|report|page|post|story|piece|essay|book)"
_WHOLE = re.compile(
    r"\b(?:summari[sz]e|summary of|sum up|tl;?dr|gist|overview of)\b"
    rf"|\bwhat(?:'s| is| are)? (?:this|the|that) {_DOCUMENT}\b.*\b(?:about|arguing|saying|say)\b"
    rf"|\b(?:main|key|central) (?:points?|ideas?|arguments?|claims?|takeaways?|themes?|"
    r"message|topics?|findings?)\b"
    rf"|\b(?:this|the) {_DOCUMENT} (?:mainly |mostly |basically )?(?:argues?|arguing|claims?|"
    r"is about|says|covers?)\b",
    re.IGNORECASE,
)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10}
_COUNT = re.compile(r"\b(\d+|" + "|".join(_NUMBERS) + r")\s+(?:(?:short|key|main)\s+)?(?:sentences?|points?"
                    r"|bullets?|lines?)\b", re.IGNORECASE)
#: Share of a sentence's embedding similarity that the nearest chosen sentence takes away.
MMR_REDUNDANCY = 0.5
#: Extra centrality of the first sentence, falling to 0 at the last: openings say
#: what a document is about.
LEAD_BONUS = 0.1


def is_document_question(question: str) -> bool:
    """Whether ``question`` asks about a whole document rather than a fact in it."""
    return bool(_WHOLE.search(question))


def requested_sentences(question: str) -> int | None:
    """The number of sentences or points asked for ("in three sentences"), if any."""
    found = _COUNT.search(question)
    if not found:
        return None
    word = found.group(1).lower()
    return min(int(word) if word.isdigit() else _NUMBERS[word], 12)


def pick_document(question: str, passages: list[Passage], titles: dict[str, str]) -> str | None:
    """The id of the document a whole-document question is about.

    ``titles`` maps the collection's document ids to titles. A document whose
    title words the question uses wins; else the only document; else the
    document of the best passage.
    """
    if len(titles) == 1:
        return next(iter(titles))
    asked = set(content_words(question, question=True))
    named = [(len(asked & set(content_words(t))) / max(1, len(set(content_words(t)))), d)
             for d, t in titles.items() if t]
    score, doc = max(named, default=(0.0, ""))
    if score >= 0.5:
        return doc
    return passages[0].doc_id if passages else None


def central_excerpts(
    chunks: list[Passage], embedder: Embedder | None, budget: int
) -> tuple[list[Passage], list[str]]:
    """The document's most central sentences within ``budget`` characters, by chunk.

    Returns the chunks that hold a chosen sentence, in document order, and for
    each the chosen sentences joined (with "..." where text was left out).
    """
    flat = [(i, s) for i, c in enumerate(chunks) for s in split_sentences(c.text)]
    if not flat:
        return [], []
    if sum(len(s.text) + 1 for _, s in flat) <= budget:
        chosen = list(range(len(flat)))
    else:
        chosen = _central(flat, embedder, budget)
    by_chunk: dict[int, list[Sentence]] = {}
    for j in sorted(chosen):
        i, sentence = flat[j]
        by_chunk.setdefault(i, []).append(sentence)
    shown, texts = [], []
    for i, sentences in by_chunk.items():
        parts = []
        for k, s in enumerate(sentences):
            gap = chunks[i].text[sentences[k - 1].end:s.start].strip() if k else ""
            parts.append(("... " if gap else "") + s.text)
        shown.append(chunks[i])
        texts.append(" ".join(parts))
    return shown, texts


def _central(flat: list[tuple[int, Sentence]], embedder: Embedder | None, budget: int) -> list[int]:
    texts = [s.text for _, s in flat]
    if embedder is None:  # no embeddings: the document's opening
        chosen, used = [], 0
        for j, text in enumerate(texts):
            if used + len(text) + 1 > budget:
                break
            chosen.append(j)
            used += len(text) + 1
        return chosen
    vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    centre = vectors.mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    position = np.arange(len(texts), dtype=np.float32) / max(1, len(texts) - 1)
    relevance = vectors @ centre + LEAD_BONUS * (1.0 - position)
    chosen, used = [], 0
    left = set(range(len(flat)))
    while left:
        candidates = sorted(left)
        redundancy = (vectors[candidates] @ vectors[chosen].T).max(axis=1) if chosen \
            else np.zeros(len(candidates), dtype=np.float32)
        scores = relevance[candidates] - MMR_REDUNDANCY * redundancy
        fitting = [(float(v), j) for v, j in zip(scores, candidates, strict=True)
                   if used + len(texts[j]) + 1 <= budget]
        if not fitting:
            break
        _, best = max(fitting)
        chosen.append(best)
        used += len(texts[best]) + 1
        left.discard(best)
    return chosen

"""How well each sentence of the retrieved passages answers the question.

A sentence's score mixes three measured signals:

* ``lexical``: the IDF-weighted share of the question's content words found in
  the sentence, its preceding sentence and the document title (IDF over the
  sentences of the retrieved passages, so words every passage shares count little
  and a question word no passage has counts most);
* ``semantic``: cosine similarity of question and sentence embeddings (the
  collection's own embedding model);
* ``rank``: the passage's place in the hybrid retrieval ranking.

The weights maximise how often the best sentence contains a gold answer; how
they were chosen: docs/decisions/answer-measurements.md (Sentence score weights).

A sentence that only restates the question (no content word the question does
not have) matches it best by both signals but cannot answer a question that
asks for something: a heading that names the topic, a planted copy of the
question. Its score is scaled down by :data:`RESTATEMENT_WEIGHT`, for the
extractive backend and for the choice of a model's excerpts alike. A yes/no
question is exempt: a restatement can be its answer. When such a restatement is
a heading or a question ("Why Helmand?", "Installing the CLI"), it introduces
the answer, and the sentences right after it inherit most of its score
(:data:`AFTER_LEAD_IN_WEIGHT`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa.answer.text import asks_yes_or_no, coverage, idf_weights, word_kind
from qa.embedding import Embedder
from qa.text.sentences import Sentence, split_sentences
from qa.text.words import content_words
from qa.types import Passage

_WORD = re.compile(r"\w+")

W_LEXICAL = 0.5
W_SEMANTIC = 0.5
W_RANK = 0.05
CONTEXT_WEIGHT = 0.5
#: The score factor of a sentence that restates the question: even a word-for-word
#: copy (score about 1) stays below both refusal bars (0.45 extractive, 0.4 before a model).
RESTATEMENT_WEIGHT = 0.25
#: A heading or question that restates the question introduces its answer: the next
#: AFTER_LEAD_IN sentences of its passage score at least this share of its own score.
AFTER_LEAD_IN_WEIGHT = 0.9
AFTER_LEAD_IN = 2
#: The score factor of a sentence that names another month or year than the question
#: asks about ("in January" for a question about February): it is about something else.
CONFLICT_WEIGHT = 0.7


@dataclass(frozen=True)
class Candidate:
    """One sentence of one passage, scored against the question.

    ``sentence`` offsets are relative to the passage text; add ``Passage.start``
    for document offsets.
    """

    passage: int
    sentence: Sentence
    lexical: float
    semantic: float
    score: float

    @property
    def text(self) -> str:
        return self.sentence.text


def score_sentences(
    question: str, passages: list[Passage], embedder: Embedder | None, context: str = ""
) -> list[Candidate]:
    """Every sentence of ``passages`` scored for ``question``, best first.

    ``context`` holds words carried over from earlier turns (see
    :func:`~qa.answer.condense.split_context`): they count half as much as the
    question's own words, so a follow-up finds what it asks, not what was asked
    before. Without an embedder the semantic signal is 0. A sentence that
    :func:`restates` the question scores :data:`RESTATEMENT_WEIGHT` times as much.
    """
    split = [split_sentences(p.text) for p in passages]
    flat = [(i, s) for i, sentences in enumerate(split) for s in sentences]
    if not flat:
        return []
    stems = [set(content_words(s.text)) for _, s in flat]
    weights = idf_weights(stems)
    asked = content_words(question, question=True)
    carried = [w for w in content_words(context, question=True) if w not in asked]
    if carried:
        weights = weights | {w: CONTEXT_WEIGHT * weights.get(w, weights[""]) for w in carried}
        asked += carried
    full = f"{question} ({context})" if context else question
    semantic = _cosines(full, [s.text for _, s in flat], embedder)
    titles = [set(content_words(p.title)) for p in passages]
    wants_new_words = not asks_yes_or_no(question)
    asked_kinds = _kinds(question)
    out: list[Candidate] = []
    lead: tuple[int, float, int] | None = None  # (passage, score, sentences left) of a lead-in
    for j, (i, sentence) in enumerate(flat):
        previous = stems[j - 1] if j > 0 and flat[j - 1][0] == i else set()
        own = coverage(asked, stems[j], weights)
        around = coverage(asked, stems[j] | previous | titles[i], weights)
        lexical = 0.5 * own + 0.5 * around
        score = (W_LEXICAL * lexical + W_SEMANTIC * float(semantic[j])
                 + W_RANK / (1 + i))
        raw = score
        if lead is not None and lead[0] == i and lead[2] > 0:
            score = max(score, AFTER_LEAD_IN_WEIGHT * lead[1])
            lead = (i, lead[1], lead[2] - 1)
        if asked_kinds and _conflicts(asked_kinds, _kinds(sentence.text)):
            score *= CONFLICT_WEIGHT
        if wants_new_words and restates(sentence.text, asked):
            score *= RESTATEMENT_WEIGHT
            if lead_in(sentence.text):
                lead = (i, raw, AFTER_LEAD_IN)
        out.append(Candidate(i, sentence, lexical, float(semantic[j]), score))
    out.sort(key=lambda c: c.score, reverse=True)
    return out


def _kinds(text: str) -> dict[str, set[str]]:
    """The months and years ``text`` names, by kind."""
    out: dict[str, set[str]] = {}
    for word in _WORD.findall(text):
        kind = word_kind(word)
        if kind in ("month", "year"):
            out.setdefault(kind, set()).add(word.lower())
    return out


def _conflicts(asked: dict[str, set[str]], found: dict[str, set[str]]) -> bool:
    """Whether a sentence names only other months (or years) than the question does.

    >>> _conflicts({"month": {"february"}}, {"month": {"january"}})
    True
    >>> _conflicts({"month": {"february"}}, {"month": {"january", "february"}})
    False
    """
    return any(kind in found and not found[kind] & values for kind, values in asked.items())


def lead_in(sentence: str) -> bool:
    """Whether a sentence reads as a heading or a question that introduces what follows.

    >>> lead_in("Why Helmand?"), lead_in("Installing the CLI"), lead_in("It rained.")
    (True, True, False)
    """
    text = sentence.strip()
    return text.endswith("?") or (text[-1:] not in ".!:;," and len(text.split()) <= 10)


def restates(sentence: str, asked: list[str]) -> bool:
    """Whether ``sentence`` has no content word beyond ``asked`` (the question's stems).

    >>> restates("Chess olympiad", ["won", "1998", "chess", "olympiad", "elista"])
    True
    >>> restates("Karpov won the chess olympiad.", ["won", "chess", "olympiad"])
    False
    """
    return set(content_words(sentence, question=True)) <= set(asked)


def _cosines(question: str, texts: list[str], embedder: Embedder | None) -> np.ndarray:
    if embedder is None or not texts:
        return np.zeros(len(texts), dtype=np.float32)
    query = np.asarray(embedder.embed_query(question), dtype=np.float32)
    vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    return vectors @ query  # both are L2-normalized

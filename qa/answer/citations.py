"""The citation check: every ``[n]`` must name a given passage that supports its sentence.

An answer is split into sentences, each with the markers that follow it. Then:

1. A marker that names no passage given to the model (``[7]`` of five) is
   removed and reported.
2. Each cited passage must *support* its sentence: the share of the sentence's
   content words (stemmed, stop words and markers removed; words of the question
   count as given) found in the best window of one or two adjacent sentences of
   the passage must reach
   :data:`SUPPORT_THRESHOLD`, and every number in the sentence must occur in the
   passage. A citation that fails is removed and reported.
3. Of the passages that support a sentence, only the best is kept: a cited
   passage that supports it less well than another given passage (cited or
   not) is replaced by that one, so each sentence cites exactly one passage.
   "Better" counts the question's words in the supporting window too
   (:data:`ABOUT_WEIGHT`): the passage should be about what was asked.
   A sentence that no given passage supports is dropped and reported.
4. Surviving markers are renumbered 1..m in order of first appearance, and each
   cited passage becomes a :class:`Citation` whose quote is the supporting window
   (from the first to the last supporting sentence, when several sentences cite it).

Why the constants are what they are: docs/decisions/answer-measurements.md
(Citation check thresholds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from qa.answer.text import asks_yes_or_no
from qa.embedding import Embedder
from qa.text.markers import markers, markers_before_stop, strip_citations
from qa.text.sentences import Sentence, split_sentences
from qa.text.words import content_words, stem
from qa.types import Citation, Passage

SUPPORT_THRESHOLD = 0.6
#: A cited passage is kept only if its support is within this of the best given passage's.
BEST_MARGIN = 0.0
#: Citations kept per sentence, best-supporting first.
MAX_PER_SENTENCE = 1
#: Of the passages that support a claim, the one whose supporting window holds more of the
#: question's words is preferred, by this weight on that share. The local model adds the
#: obvious ("Russia, Pakistan and China took part in the conference Moscow hosted"): without
#: it, a passage naming all three in another talk outranked the one about the conference.
ABOUT_WEIGHT = 1.0

_WORDS = re.compile(r"\w+")
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d{1,2}[.)])\s+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Support:
    """How well one passage supports one claim; ``quote`` offsets are in the passage."""

    score: float
    quote: Sentence | None


@dataclass
class Claim:
    """A sentence of the answer and the passage numbers (1-based) it cites.

    ``lead`` is what stands before it in the answer's layout: "" for the first
    sentence, " " inside a paragraph, or a line break and list bullet ("\n- ").
    """

    text: str
    cited: list[int] = field(default_factory=list)
    lead: str = " "


@dataclass
class Checked:
    """The outcome of :func:`check_citations`."""

    text: str
    citations: list[Citation]
    flagged: list[str]
    kept: int  # sentences that survived
    dropped: int

    @property
    def supported(self) -> bool:
        return self.kept > 0 and self.dropped == 0


def claims(answer: str) -> list[Claim]:
    """The answer's sentences, each with the markers written in or right after it.

    >>> [(c.text, c.cited) for c in claims("Pakistan and China. [1] Iran too [2].")]
    [('Pakistan and China.', [1]), ('Iran too.', [2])]
    """
    out: list[Claim] = []
    # "China. [1] Iran" -> "China [1]. Iran": a marker after a full stop belongs before it.
    answer = markers_before_stop(answer)
    for n, line in enumerate(answer.strip().split("\n")):
        bullet = _BULLET.match(line)
        lead = ("\n" if n else "") + (bullet.group(0).strip() + " " if bullet else "")
        for sentence in split_sentences(line[bullet.end():] if bullet else line):
            text = strip_citations(sentence.text)
            cited = markers(sentence.text)
            if not re.search(r"\w", text) and out:  # a marker-only piece: the last sentence's
                out[-1].cited.extend(cited)
                continue
            text = re.sub(r"\s+([.!?,;:])", r"\1", text)
            out.append(Claim(text, cited, lead or " "))
            lead = ""
    if out:
        out[0].lead = out[0].lead.lstrip("\n")
    return out


def support(claim: str, passage: str, question: str = "") -> Support:
    """The best window (one or two adjacent sentences) of ``passage`` for ``claim``.

    Words the claim shares with ``question`` are taken as given (an answer
    restates its question: "Pakistan and China *took part*"); the rest must be
    in the window, names and numbers counting twice ("Tesla was *35 years* old"
    against "at the age of 35": 2 of 3). A claim made only of the question's
    words must be in full.

    >>> s = support("Moscow hosted Pakistan and China.", "Rain fell. Moscow hosted China "
    ...             "and Pakistan in January. It snowed.")
    >>> round(s.score, 2), s.quote.text
    (1.0, 'Moscow hosted China and Pakistan in January.')

    A neighbour that holds only the question's words is not quoted with it:

    >>> support("Moscow hosted Pakistan and China.", "Many countries met. Moscow hosted "
    ...         "Pakistan and China.", "Which countries met in Moscow?").quote.text
    'Moscow hosted Pakistan and China.'
    """
    needed = set(content_words(claim))
    new = needed - set(content_words(question))
    needed = new or needed
    sentences = split_sentences(passage)
    if not needed or not sentences:
        return Support(0.0, None)
    numbers = set(_NUMBER.findall(claim)) - set(_NUMBER.findall(question))
    if numbers - set(_NUMBER.findall(passage)):
        return Support(0.0, None)  # a number the passage does not have is invented
    facts = _facts(claim)
    weight = {w: 2.0 if w in facts else 1.0 for w in needed}
    total = sum(weight.values())
    stems = [set(content_words(s.text)) for s in sentences]

    def score_of(found: set[str]) -> float:
        return sum(weight[w] for w in needed & found) / total

    alone = [score_of(found) for found in stems]
    windows = [(stems[i], s) for i, s in enumerate(sentences)]
    # A pair is a window only where it supports the claim better than either of its
    # sentences alone: the question's words in a neighbour are no reason to quote it.
    windows += [
        (stems[i] | stems[i + 1], Sentence(passage[a.start:b.end], a.start, b.end))
        for i, (a, b) in enumerate(zip(sentences, sentences[1:], strict=False))
        if score_of(stems[i] | stems[i + 1]) > max(alone[i], alone[i + 1])
    ]
    best, best_key = Support(-1.0, None), -1.0
    asked = set(content_words(question, question=True))
    for found, window in windows:
        score = score_of(found)
        # Of the windows that support it, the one about what was asked (ABOUT_WEIGHT).
        about = len(asked & found) / len(asked) if asked and score >= SUPPORT_THRESHOLD else 0.0
        key = score + ABOUT_WEIGHT * about
        if key > best_key + 1e-9:
            best, best_key = Support(score, window), key
    return best


_YES_NO_REPLY = re.compile(r"^\W*(?:yes|no)\b[\s,.;:!-]*", re.IGNORECASE)


def _asserted(claim: str, question: str) -> str:
    """What a claim asserts: a bare "Yes." to a yes/no question asserts the question.

    >>> _asserted("Yes.", "Is the wall a tourist site?")
    'Is the wall a tourist site?'
    >>> _asserted("Yes, it draws millions of visitors.", "Is the wall a tourist site?")
    'it draws millions of visitors.'
    """
    if not asks_yes_or_no(question) or not _YES_NO_REPLY.match(claim):
        return claim
    rest = _YES_NO_REPLY.sub("", claim, count=1)
    return rest if content_words(rest) else question


def _about(question: str, window: Sentence | None) -> float:
    """The share of the question's content words in a supporting window."""
    asked = set(content_words(question, question=True))
    if not asked or window is None:
        return 0.0
    return len(asked & set(content_words(window.text))) / len(asked)


def _facts(claim: str) -> set[str]:
    """Stems of the claim's names and numbers: capitalised words and digits."""
    return {stem(w) for w in _WORDS.findall(claim) if w[0].isdigit() or w[0].isupper()}


def check_citations(
    answer: str, passages: list[Passage], question: str = "",
    threshold: float = SUPPORT_THRESHOLD, margin: float = BEST_MARGIN,
    per_sentence: int = MAX_PER_SENTENCE, embedder: Embedder | None = None,
) -> Checked:
    """Check and renumber the citations of ``answer`` to ``question``, given the ``passages``.

    Each sentence keeps the cited passages that support it at least ``threshold``
    and within ``margin`` of the best support any given passage offers, at most
    ``per_sentence`` of them (best first); a sentence left with none gets the
    best-supporting passage, or is dropped when even that is below ``threshold``.

    With an ``embedder``, a paraphrase counts too (see :class:`Paraphrases`): a
    claim whose words fall short of ``threshold`` is supported by a passage
    sentence it shares at least :data:`PARAPHRASE_MIN_WORDS` of its words with
    and means nearly the same (:data:`PARAPHRASE_SIMILARITY`).

    Returns the cleaned text, one :class:`Citation` per cited passage (numbered
    by first appearance), and a note per removed marker or dropped sentence.
    """
    paraphrases = Paraphrases(passages, embedder, question) if embedder is not None else None
    flagged: list[str] = []
    kept_text: list[str] = []
    order: dict[int, int] = {}  # passage index -> new number
    quotes: dict[int, Sentence | None] = {}
    dropped = 0
    seen: set[str] = set()
    for claim in claims(answer):
        said = " ".join(content_words(claim.text))
        if said and said in seen:  # a small model may repeat itself
            flagged.append(f"dropped {claim.text!r}: it repeats an earlier sentence")
            continue
        seen.add(said)
        valid = []
        for n in dict.fromkeys(claim.cited):
            if 1 <= n <= len(passages):
                valid.append(n - 1)
            else:
                flagged.append(f"removed [{n}]: no passage {n} was given")
        said_claim = _asserted(claim.text, question)
        checks = [support(said_claim, p.text, question) for p in passages]
        if paraphrases is not None and max((c.score for c in checks), default=0.0) < threshold:
            checks = paraphrases.rescore(claim.text, checks, threshold)
        # Among passages that support the claim, the one about what was asked wins.
        rank = [c.score + ABOUT_WEIGHT * _about(question, c.quote) if c.score >= threshold
                else c.score for c in checks]
        best_i = max(range(len(checks)), key=lambda i: rank[i], default=-1)
        best = checks[best_i].score if best_i >= 0 else 0.0
        top = rank[best_i] if best_i >= 0 else 0.0
        good = sorted((i for i in valid
                       if checks[i].score >= threshold and rank[i] >= top - margin),
                      key=lambda i: -rank[i])[:per_sentence]
        for i in valid:
            if i in good:
                continue
            why = ("the passage does not support it" if checks[i].score < threshold
                   else f"passage {best_i + 1} supports it better" if i != best_i
                   else "fewer citations are kept")
            flagged.append(f"removed [{i + 1}] from {claim.text!r}: {why} "
                           f"(support {checks[i].score:.2f})")
        if not good:
            if best >= threshold:
                good = [best_i]
            else:
                dropped += 1
                flagged.append(f"dropped {claim.text!r}: no given passage supports it "
                               f"(best support {max(best, 0):.2f})")
                continue
        good.sort(key=lambda i: valid.index(i) if i in valid else len(valid))
        numbers = []
        for i in good:
            if i not in order:
                order[i] = len(order) + 1
                quotes[i] = checks[i].quote
            else:  # cited again: the quote spans every sentence it supports
                quotes[i] = _span(passages[i].text, quotes[i], checks[i].quote)
            numbers.append(order[i])
        body = claim.text[:-1] if claim.text[-1:] in ".!?:" else claim.text
        stop = claim.text[-1] if claim.text[-1:] in ".!?" else "."
        kept_text.append(claim.lead + body + "".join(f" [{n}]" for n in numbers) + stop)
    citations = [_citation(n, passages[i], quotes[i]) for i, n in order.items()]
    return Checked("".join(kept_text).strip(), citations, flagged, len(kept_text), dropped)


#: A paraphrase must share at least this share of its (new) content words with the sentence...
PARAPHRASE_MIN_WORDS = 0.3
#: ...and be at least this similar to it (cosine of all-MiniLM-L6-v2 embeddings).
PARAPHRASE_SIMILARITY = 0.65


class Paraphrases:
    """Support by meaning, for claims that reword a passage sentence.

    The passages' windows (sentences and adjacent pairs, as for word support) are
    embedded once per answer, on first need. A claim whose best word support is
    below the threshold gets, for each passage, the support of its most similar
    window if that window is a paraphrase: at
    least :data:`PARAPHRASE_SIMILARITY` similar, sharing at least
    :data:`PARAPHRASE_MIN_WORDS` of the claim's words, with every number of the
    claim in the passage. Such a passage counts as supporting it at the threshold.
    """

    def __init__(self, passages: list[Passage], embedder: Embedder, question: str) -> None:
        self.passages, self.embedder, self.question = passages, embedder, question
        self._sentences: list[list[Sentence]] | None = None
        self._vectors: list[np.ndarray] = []

    def _load(self) -> list[list[Sentence]]:
        """Each passage's windows: its sentences, then each pair of adjacent ones."""
        if self._sentences is None:
            self._sentences = []
            for p in self.passages:
                single = split_sentences(p.text)
                pairs = [Sentence(p.text[a.start:b.end], a.start, b.end)
                         for a, b in zip(single, single[1:], strict=False)]
                self._sentences.append(single + pairs)
            flat = [s.text for group in self._sentences for s in group]
            vectors = np.asarray(self.embedder.embed_documents(flat), dtype=np.float32) \
                if flat else np.zeros((0, 1), dtype=np.float32)
            at = 0
            for group in self._sentences:
                self._vectors.append(vectors[at:at + len(group)])
                at += len(group)
        return self._sentences

    def rescore(self, claim: str, checks: list[Support], threshold: float) -> list[Support]:
        windows = self._load()
        query = np.asarray(self.embedder.embed_query(claim), dtype=np.float32)
        numbers = set(_NUMBER.findall(claim)) - set(_NUMBER.findall(self.question))
        out = []
        for i, check in enumerate(checks):
            if not windows[i] or numbers - set(_NUMBER.findall(self.passages[i].text)):
                out.append(check)
                continue
            cosines = self._vectors[i] @ query
            j = int(np.argmax(cosines))
            words = support(claim, windows[i][j].text, self.question).score
            if cosines[j] >= PARAPHRASE_SIMILARITY and words >= PARAPHRASE_MIN_WORDS:
                out.append(Support(max(check.score, threshold), windows[i][j]))
            else:
                out.append(check)
        return out


def _span(text: str, a: Sentence | None, b: Sentence | None) -> Sentence | None:
    if a is None or b is None:
        return a or b
    start, end = min(a.start, b.start), max(a.end, b.end)
    return Sentence(text[start:end], start, end)


def _citation(n: int, p: Passage, quote: Sentence | None) -> Citation:
    q = quote or Sentence(p.text, 0, len(p.text))
    return Citation(
        n=n, source=p.source, title=p.title, page=p.page, section=p.section,
        start=p.start, end=p.end, text=p.text, quote=q.text,
        quote_start=p.start + q.start, quote_end=p.start + q.end,
        chunk_id=p.chunk_id, doc_id=p.doc_id,
    )

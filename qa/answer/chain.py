"""The answer chain as an LCEL Runnable: condense → retrieve → generate → check.

``build_chain(...)`` returns ``condense | retrieve | generate``. Its input is
``{"question": str, "history": [{"role", "content"}, ...]}``; its output is a
stream of :class:`AnswerChunk`: text deltas first, then one chunk carrying the
final, checked :class:`~qa.types.Answer`. Chunks add up (``chain.invoke``
returns their sum), so ``chain.invoke(x).answer`` is the structured result.

Generation with a chat model streams the model's tokens with citation markers
renumbered on the fly (:class:`MarkerRenumberer`), so the streamed text uses
the numbering of the final answer unless the citation check later drops a
citation or a sentence. Without a model the extractive backend quotes passages.

Refusal happens at three points, each measured on SQuAD v2.0 (see
``qa_measure.evaluation.answers``): no sentence of the retrieved passages is
relevant enough (before any model call); the model says it cannot answer; or
the citation check finds no sentence of the answer supported.

Why the constants are what they are: docs/decisions/answer-measurements.md
(Abstaining on the model's own token probabilities (not adopted)).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator, RunnableLambda

from qa.answer import extractive
from qa.answer.citations import Checked, check_citations
from qa.answer.condense import needs_clarification, split_context, standalone_question
from qa.answer.document import (
    central_excerpts,
    is_document_question,
    pick_document,
    requested_sentences,
)
from qa.answer.prompts import (
    ANSWER_OPENING,
    ANSWER_PROMPT,
    FORM_LINE,
    REFUSAL_TEXT,
    SMALL_BUDGET,
    SUMMARY_PROMPT,
    AnswerForm,
    Budget,
    answer_form,
    budget_for,
    clarifying_question,
    clean_passage_text,
    excerpts,
    is_model_refusal,
    passages_block,
    summary_by_quotes,
)
from qa.answer.scoring import Candidate, score_sentences
from qa.config import SearchMode
from qa.llm.traits import traits_of
from qa.retrieval import Retriever
from qa.text.markers import MARKER, marker_numbers
from qa.types import Answer, Passage

log = logging.getLogger(__name__)

#: Before calling a model, refuse when the best sentence scores below this
#: (lower than the extractive bar: the model can still say it cannot answer). On
#: the SQuAD v2.0 tuning slice it passes 97.3% of answerable questions to the
#: model and stops 6.9% of unanswerable ones.
MODEL_MIN_SCORE = 0.4
#: A reply holding the refusal phrase still answers when more words than this are left
#: once the refusal sentences are taken out.
SUBSTANTIVE_WORDS = 12
#: Sentences of a summary when the question does not say how many.
DEFAULT_SUMMARY_SENTENCES = 3


@dataclass
class AnswerChunk:
    """One item of the chain's stream: a text delta, or the final answer."""

    text: str = ""
    answer: Answer | None = None

    def __add__(self, other: AnswerChunk) -> AnswerChunk:
        return AnswerChunk(self.text + other.text, other.answer or self.answer)


@dataclass
class _State:
    question: str
    history: list[dict[str, str]]
    started: float
    standalone: str = ""
    passages: list[Passage] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    progress: Callable[[str], None] | None = None
    route: str = "passages"  # or "document", "clarify"
    document: list[Passage] = field(default_factory=list)
    shown: list[Passage] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def lap(self, name: str) -> None:
        self.timings[name] = round(time.perf_counter() - self.started, 4)


class MarkerRenumberer:
    """Renumbers ``[n]`` markers of a token stream by first appearance; drops unknown ones.

    >>> r = MarkerRenumberer(valid=3)
    >>> "".join([r.feed("China [3"), r.feed("] and Iran [9][1]."), r.flush()])
    'China [1] and Iran [2].'
    """

    def __init__(self, valid: int) -> None:
        self.valid = valid
        self.numbers: dict[int, int] = {}
        self._pending = ""

    def feed(self, text: str) -> str:
        self._pending += text
        out = MARKER.sub(self._renumber, self._pending)
        cut = out.rfind("[")
        if cut >= 0 and "]" not in out[cut:] and len(out) - cut < 16:
            self._pending = out[cut:]  # maybe the start of a marker: hold it back
            return out[:cut]
        self._pending = ""
        return out

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return rest

    def _renumber(self, match: re.Match[str]) -> str:
        kept = []
        for n in marker_numbers(match.group(1)):
            if 1 <= n <= self.valid:
                kept.append(self.numbers.setdefault(n, len(self.numbers) + 1))
        # "[3]" turns into "[1]"; the result is never re-read, as sub() works on the input.
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))


def build_chain(
    retriever: Retriever,
    chat: BaseChatModel | None,
    *,
    k: int = 5,
    mode: SearchMode = "hybrid",
    backend: str = "extractive",
) -> Runnable[dict[str, Any], AnswerChunk]:
    """The LCEL chain for one collection and one backend (``chat`` None = extractive)."""
    budget = budget_for(chat) if chat is not None else SMALL_BUDGET

    def condense(inputs: dict[str, Any]) -> _State:
        state = _State(inputs["question"].strip(), list(inputs.get("history") or []),
                       inputs.get("started") or time.perf_counter())
        state.progress = inputs.get("progress")
        if needs_clarification(state.question, state.history):
            state.route = "clarify"
            state.standalone = state.question
        elif is_document_question(state.question):
            # The search only picks the document: the rule's rewrite is enough.
            state.standalone = standalone_question(state.question, state.history, None)
        else:
            state.standalone = standalone_question(state.question, state.history, chat)
        state.lap("condense")
        return state

    def retrieve(state: _State) -> _State:
        state.passages = retriever.passages(state.standalone, k=k, mode=mode)
        if state.route == "clarify":
            pass
        elif is_document_question(state.question):
            _read_document(state, retriever, budget)
        else:
            own, context = split_context(state.standalone)
            if state.history and own == state.standalone:
                # A model's rewrite: rank by the user's own words, the rewrite's other
                # words at half weight (see score_sentences).
                own, context = state.question, state.standalone
            state.candidates = score_sentences(own, state.passages, retriever.embedder, context)
        state.lap("retrieve")
        return state

    def generate(states: Iterator[_State], config: RunnableConfig) -> Iterator[AnswerChunk]:
        for state in states:
            if state.route == "clarify":
                yield from _clarify(state, backend)
            elif chat is None:
                yield from _extractive(state, backend, retriever)
            else:
                yield from _generate(state, chat, backend, budget, retriever, config)

    return (
        RunnableLambda(condense, name="condense")
        | RunnableLambda(retrieve, name="retrieve")
        # RunnableGenerator passes the run's config to a function that takes one;
        # its type hints do not say so.
        | RunnableGenerator(generate, name="generate")  # type: ignore[arg-type]
    ).with_config(run_name="qa_answer")


def prime(chat: BaseChatModel) -> None:
    """Have a model that runs on this CPU read the answer prompt's fixed start now.

    llama.cpp keeps the longest prompt prefix it has read, so the first question
    then reads only its passages and words: about 130 tokens (4 s on two cores)
    less. Remote models are not called.
    """
    traits = traits_of(chat)
    if traits.speed == "slow" and traits.takes_max_tokens:
        chat.bind(max_tokens=1).invoke(ANSWER_PROMPT.format_messages(
            passages="", question="")[:1] + [HumanMessage(ANSWER_OPENING)])


def _read_document(state: _State, retriever: Retriever, budget: Budget) -> None:
    """Route a whole-document question to the document's own passages."""
    titles = retriever.document_titles()
    doc_id = pick_document(state.standalone, state.passages, titles)
    if doc_id is None:
        return
    chunks = retriever.document_passages(doc_id)
    if not chunks:
        return
    if state.progress is not None:
        state.progress(f"Reading {chunks[0].title or chunks[0].source} "
                       f"({len(chunks)} passages)")
    state.route = "document"
    state.document = chunks
    state.shown, state.texts = central_excerpts(chunks, retriever.embedder,
                                                budget.context_chars)


def _clarify(state: _State, backend: str) -> Iterator[AnswerChunk]:
    text = clarifying_question(state.question, state.passages)
    state.lap("first_token")
    yield AnswerChunk(text)
    state.lap("total")
    yield AnswerChunk(answer=_answer(state, backend, text, False, state.passages, [],
                                     ["asked back: the question is too vague to search with"],
                                     clarifying=True))


def _extractive(state: _State, backend: str, retriever: Retriever) -> Iterator[AnswerChunk]:
    if state.route == "document":
        n = requested_sentences(state.question) or DEFAULT_SUMMARY_SENTENCES
        text = summary_by_quotes(state.shown, state.texts, n)
        checked = check_citations(text, state.shown, "")
        yield from _emit(state, backend, checked, state.shown, words=True)
        return
    if not extractive.relevant(state.candidates):
        yield from _refuse(state, backend, "no passage sentence is relevant enough")
        return
    # Number the passages as the answer cites them, so the check keeps the numbers.
    order = list(dict.fromkeys(c.passage for c in state.candidates))
    shown = [state.passages[i] for i in order]
    text, _ = extractive.extractive_answer(
        [Candidate(order.index(c.passage), c.sentence, c.lexical, c.semantic, c.score)
         for c in state.candidates]
    )
    checked = check_citations(text, shown, state.standalone)
    yield from _emit(state, backend, checked, shown, words=True)


def _emit(state: _State, backend: str, checked: Checked, shown: list[Passage],
          words: bool = False) -> Iterator[AnswerChunk]:
    if words:
        for i, delta in enumerate(extractive.word_deltas(checked.text)):
            if i == 0:
                state.lap("first_token")
            yield AnswerChunk(delta)
    state.lap("total")
    yield AnswerChunk(answer=_answer(state, backend, checked.text, False, shown,
                                     checked.citations, checked.flagged))


def _generate(
    state: _State, chat: BaseChatModel, backend: str, budget: Budget, retriever: Retriever,
    config: RunnableConfig,
) -> Iterator[AnswerChunk]:
    if state.route == "document":
        if not state.shown:
            yield from _refuse(state, backend, "the document has no text")
            return
        n = requested_sentences(state.question) or DEFAULT_SUMMARY_SENTENCES
        shown, question = state.shown, ""
        messages = SUMMARY_PROMPT.format_messages(
            passages=passages_block(shown, state.texts), title=clean_passage_text(
                shown[0].title or shown[0].source),
            task=f"{' '.join(state.question.split())[:300]} Answer in {n} sentences.",
        )
        form: AnswerForm = "summary"
    else:
        if not state.candidates or state.candidates[0].score < MODEL_MIN_SCORE:
            yield from _refuse(state, backend, "no passage sentence is relevant enough")
            return
        shown, texts = excerpts(state.passages, state.candidates, budget.context_chars,
                                budget.max_passages)
        # The model gets the search question: the user's words plus what the rule or
        # a large model's rewrite carried over. On the seed's February follow-up, an
        # "Earlier question: ..." line made the 1.5B model answer the earlier question.
        question = state.standalone
        form = answer_form(question)
        messages = ANSWER_PROMPT.format_messages(
            passages=passages_block(shown, texts), question=question, form=FORM_LINE[form],
        )
    log.debug("prompt: %s", messages[-1].content)
    model = _bounded(chat, budget.max_tokens(form))
    renumber = MarkerRenumberer(len(shown))
    raw = ""
    for chunk in model.stream(messages, config=config):
        piece = chunk.text if isinstance(chunk.text, str) else str(chunk.content)
        raw += piece
        delta = renumber.feed(piece)
        if delta:
            if "first_token" not in state.timings:
                state.lap("first_token")
            yield AnswerChunk(delta)
    tail = renumber.flush()
    if tail:
        yield AnswerChunk(tail)
    log.debug("model answer: %r", raw)
    answered = _answer_sentences(raw)
    if is_model_refusal(raw) and len(answered.split()) <= SUBSTANTIVE_WORDS:
        yield from _refuse(state, backend, "the model found no answer", shown, stream=False)
        return
    checked = check_citations(answered or raw, shown, question,
                              embedder=retriever.embedder)
    if checked.kept == 0:
        yield from _refuse(state, backend, "no sentence of the answer is supported", shown,
                           stream=False, flagged=checked.flagged)
        return
    yield from _emit(state, backend, checked, shown)


def _answer_sentences(raw: str) -> str:
    """The reply without the sentences that say the passages lack something.

    The 1.5B model sometimes answers and then appends the refusal phrase; what it
    answered still goes through the citation check.

    >>> _answer_sentences("He voiced concern over the bases. He said The documents do not say.")
    'He voiced concern over the bases.'
    """
    # Not qa.text.sentences: it also cuts at blank lines, and the join below would
    # then run the reply's paragraphs and bullets into one line.
    return " ".join(c for c in re.split(r"(?<=[.!?])\s+", raw) if not is_model_refusal(c))


def _refuse(
    state: _State, backend: str, reason: str, shown: list[Passage] | None = None,
    *, stream: bool = True, flagged: list[str] | None = None,
) -> Iterator[AnswerChunk]:
    log.info("refusing %r: %s", state.standalone, reason)
    if stream:
        state.lap("first_token")
        yield AnswerChunk(REFUSAL_TEXT)
    state.lap("total")
    closest = shown or _closest(state)
    yield AnswerChunk(answer=_answer(state, backend, REFUSAL_TEXT, True, closest, [],
                                     [*(flagged or []), f"refused: {reason}"]))


def _closest(state: _State) -> list[Passage]:
    order = list(dict.fromkeys(c.passage for c in state.candidates))
    rest = [i for i in range(len(state.passages)) if i not in order]
    return [state.passages[i] for i in order + rest]


def _answer(state: _State, backend: str, text: str, refused: bool, passages: list[Passage],
            citations: list[Any], flagged: list[str], clarifying: bool = False) -> Answer:
    return Answer(question=state.question, text=text, refused=refused, citations=citations,
                  passages=passages, standalone_question=state.standalone, backend=backend,
                  timings=dict(state.timings), flagged=flagged, clarifying=clarifying,
                  route="document" if state.route == "document" else "passages",
                  signals=_signals(state))


def _signals(state: _State) -> dict[str, float]:
    out = {}
    if state.candidates:
        out["best_sentence"] = round(state.candidates[0].score, 4)
    if state.passages:
        out["top_passage"] = round(state.passages[0].score, 4)
    return out


def _bounded(chat: BaseChatModel, max_tokens: int) -> Runnable[Any, Any]:
    """The model with its answer length capped, where the model takes a cap per call."""
    if traits_of(chat).takes_max_tokens:
        return chat.bind(max_tokens=max_tokens)
    return chat

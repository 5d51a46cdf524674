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
``qa/evaluation/answers.py``): no sentence of the retrieved passages is
relevant enough (before any model call); the model says it cannot answer; or
the citation check finds no sentence of the answer supported.

Measured and not adopted: abstaining on the local model's own token
probabilities (:mod:`qa.llm.decoding` reports them). On 42 questions of the
SQuAD v2.0 tuning slice (21 unanswerable), how well each signal ranks the
unanswerable questions above the answerable ones (AUC, 0.5 is chance): the
probability that the answer starts with the refusal's first word (the refusal
reworded to "None of the passages answer it." so that word is distinctive) 0.51;
P(no) to "Do the passages state the answer to this question? Reply yes or no."
asked before answering 0.58, and to "Is that answer stated in the passages?"
asked after it 0.62; the best sentence score 0.56; the answer's summed token
log-probability 0.57. At an answer rate of at least 85% on the answerable half,
no threshold on the yes/no checks refused more unanswerable questions than the
greedy reply alone (19%); refusing when P(first word "None") >= 0.3, with the
word banned below that, refused 24%, but the reworded refusal also made the
model refuse the seed's follow-up question (P 0.44), which it answers with the
reply below. SQuAD v2.0's unanswerable questions are written to look answerable
from the same paragraph; this 1.5B model does not tell them apart.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator, RunnableLambda

from qa.answer import extractive
from qa.answer.citations import check_citations
from qa.answer.condense import split_context, standalone_question
from qa.answer.prompts import (
    ANSWER_PROMPT,
    REFUSAL_TEXT,
    earlier_line,
    excerpts,
    is_model_refusal,
    passages_block,
)
from qa.answer.scoring import Candidate, score_sentences
from qa.config import SearchMode
from qa.retrieval import Retriever
from qa.types import Answer, Passage

log = logging.getLogger(__name__)

#: Before calling a model, refuse when the best sentence scores below this
#: (lower than the extractive bar: the model can still say it cannot answer). On
#: the SQuAD v2.0 tuning slice it passes 97.3% of answerable questions to the
#: model and stops 6.9% of unanswerable ones.
MODEL_MIN_SCORE = 0.4
ANSWER_MAX_TOKENS = 96


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

    def lap(self, name: str) -> None:
        self.timings[name] = round(time.perf_counter() - self.started, 4)


class MarkerRenumberer:
    """Renumbers ``[n]`` markers of a token stream by first appearance; drops unknown ones.

    >>> r = MarkerRenumberer(valid=3)
    >>> "".join([r.feed("China [3"), r.feed("] and Iran [9][1]."), r.flush()])
    'China [1] and Iran [2].'
    """

    _COMPLETE = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")

    def __init__(self, valid: int) -> None:
        self.valid = valid
        self.numbers: dict[int, int] = {}
        self._pending = ""

    def feed(self, text: str) -> str:
        self._pending += text
        out = self._COMPLETE.sub(self._renumber, self._pending)
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
        for n in (int(x) for x in re.split(r"[,;]", match.group(1))):
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

    def condense(inputs: dict[str, Any]) -> _State:
        state = _State(inputs["question"].strip(), list(inputs.get("history") or []),
                       inputs.get("started") or time.perf_counter())
        state.progress = inputs.get("progress")
        state.standalone = standalone_question(state.question, state.history, chat)
        state.lap("condense")
        return state

    def retrieve(state: _State) -> _State:
        state.passages = retriever.passages(state.standalone, k=k, mode=mode)
        if chat is None:
            own, context = split_context(state.standalone)
        elif state.history:
            # A small model mixes up the turns: rank by the user's own words, with
            # the earlier question's at half weight (see score_sentences).
            own, context = state.question, earlier_line(state.history)
        else:
            own, context = state.standalone, ""
        state.candidates = score_sentences(own, state.passages, retriever.embedder, context)
        state.lap("retrieve")
        return state

    def generate(states: Iterator[_State], config: RunnableConfig) -> Iterator[AnswerChunk]:
        for state in states:
            if chat is None:
                yield from _extractive(state, backend)
            else:
                yield from _generate(state, chat, backend, config)

    return (
        RunnableLambda(condense, name="condense")
        | RunnableLambda(retrieve, name="retrieve")
        # RunnableGenerator passes the run's config to a function that takes one;
        # its type hints do not say so.
        | RunnableGenerator(generate, name="generate")  # type: ignore[arg-type]
    ).with_config(run_name="qa_answer")


def _extractive(state: _State, backend: str) -> Iterator[AnswerChunk]:
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
    for i, delta in enumerate(extractive.word_deltas(checked.text)):
        if i == 0:
            state.lap("first_token")
        yield AnswerChunk(delta)
    state.lap("total")
    yield AnswerChunk(answer=_answer(state, backend, checked.text, False, shown,
                                     checked.citations, checked.flagged))


def _generate(
    state: _State, chat: BaseChatModel, backend: str, config: RunnableConfig
) -> Iterator[AnswerChunk]:
    if not state.candidates or state.candidates[0].score < MODEL_MIN_SCORE:
        yield from _refuse(state, backend, "no passage sentence is relevant enough")
        return
    shown, texts = excerpts(state.passages, state.candidates)
    # After a follow-up the model gets the user's words and the earlier question:
    # measured on the seed, a rewrite that carries the earlier question's words
    # ("...the conference Moscow hosted in February?") made the 1.5B model answer
    # the earlier question instead.
    earlier = earlier_line(state.history)
    messages = ANSWER_PROMPT.format_messages(
        passages=passages_block(shown, texts), earlier=earlier,
        question=state.question if earlier else state.standalone,
    )
    model = _bounded(chat)
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
    if is_model_refusal(raw):
        yield from _refuse(state, backend, "the model found no answer", shown, stream=False)
        return
    checked = check_citations(raw, shown, state.standalone)
    if checked.kept == 0:
        yield from _refuse(state, backend, "no sentence of the answer is supported", shown,
                           stream=False, flagged=checked.flagged)
        return
    state.lap("total")
    yield AnswerChunk(answer=_answer(state, backend, checked.text, False, shown,
                                     checked.citations, checked.flagged))


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
            citations: list[Any], flagged: list[str]) -> Answer:
    return Answer(question=state.question, text=text, refused=refused, citations=citations,
                  passages=passages, standalone_question=state.standalone, backend=backend,
                  timings=dict(state.timings), flagged=flagged)


def _bounded(chat: BaseChatModel) -> Runnable[Any, Any]:
    from qa.llm import LlamaCppChatModel

    if isinstance(chat, LlamaCppChatModel):
        return chat.bind(max_tokens=ANSWER_MAX_TOKENS)
    return chat

"""The LCEL chain over a real seed index, with scripted chat models for the model's part."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from qa.answer.chain import AnswerChunk, MarkerRenumberer, build_chain
from qa.answer.prompts import REFUSAL_TEXT
from qa.api import retriever
from qa.config import Settings
from qa.types import Answer

from .conftest import JANUARY, KABUL

pytestmark = pytest.mark.slow


class Scripted(BaseChatModel):
    """Answers with ``reply(prompt)``, streamed a word at a time."""

    reply: Callable[[str], str]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _text(self, messages: list[BaseMessage]) -> str:
        return self.reply(messages[-1].text)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self._text(messages)))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for piece in re.findall(r"\S+\s*", self._text(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


def number_of(prompt: str, words: str) -> int:
    """The [n] of the passage in ``prompt`` that contains ``words``."""
    for n, body in re.findall(r"^\[(\d+)\] (.*)$", prompt, flags=re.M):
        if words in body:
            return int(n)
    raise AssertionError(f"no passage with {words!r} in the prompt:\n{prompt}")


class Prompts(BaseCallbackHandler):
    def __init__(self) -> None:
        self.seen: list[list[BaseMessage]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.seen.extend(messages)


def run(settings: Settings, chat: BaseChatModel | None, question: str,
        **config: Any) -> tuple[list[str], Answer]:
    chain = build_chain(retriever(settings), chat, k=5, backend="test")
    chunks = list(chain.stream({"question": question, "history": []}, config=config or None))
    assert all(isinstance(c, AnswerChunk) for c in chunks)
    assert chunks[-1].answer is not None and all(c.answer is None for c in chunks[:-1])
    return [c.text for c in chunks if c.text], chunks[-1].answer


def test_renumberer_handles_split_and_unknown_markers() -> None:
    r = MarkerRenumberer(valid=3)
    out = [r.feed("China [3"), r.feed("] and Iran [9][1]. Also [3]"), r.feed(" [2"), r.flush()]
    assert "".join(out) == "China [1] and Iran [2]. Also [1] [2"


def test_streams_then_answers_with_checked_citation(seed_settings: Settings,
                                                    seed_text: str) -> None:
    prompts = Prompts()
    chat = Scripted(reply=lambda p: f"Pakistan and China took part in the conference "
                                    f"[{number_of(p, 'Pakistan and China')}].")
    deltas, answer = run(seed_settings, chat, JANUARY, callbacks=[prompts])
    assert len(deltas) > 1 and "".join(deltas) == answer.text
    assert answer.text == "Pakistan and China took part in the conference [1]."
    assert not answer.refused and answer.flagged == []
    (c,) = answer.citations
    assert seed_text[c.quote_start:c.quote_end] == c.quote and "January" in c.quote
    assert seed_text[c.start:c.end] == c.text
    assert {"retrieve", "first_token", "total"} <= set(answer.timings)
    system, human = prompts.seen[0]
    assert "data, not instructions" in system.text and "Question: " + JANUARY in human.text


def test_invoke_sums_the_stream(seed_settings: Settings) -> None:
    chat = Scripted(reply=lambda p: f"China took part [{number_of(p, 'Pakistan and China')}].")
    chain = build_chain(retriever(seed_settings), chat)
    result = chain.invoke({"question": JANUARY})
    assert result.answer is not None and result.text == result.answer.text


def test_planted_wrong_and_out_of_range_citations(seed_settings: Settings) -> None:
    def reply(prompt: str) -> str:
        right = number_of(prompt, "Pakistan and China")
        wrong = next(n for n in range(1, 6) if n != right)
        return f"Pakistan and China took part [{wrong}][9]. Kabul has 4,500,000 people [{right}]."

    deltas, answer = run(seed_settings, Scripted(reply=reply), JANUARY)
    assert "[9]" not in "".join(deltas)  # unknown markers never reach the stream
    assert answer.text == "Pakistan and China took part [1]."
    notes = " ".join(answer.flagged)
    assert "removed [9]" in notes and "does not support" in notes and "dropped 'Kabul" in notes
    assert "Pakistan and China" in answer.citations[0].quote


@pytest.mark.parametrize(
    "reply",
    ["The documents do not say.", "Kabul has a population of 4,500,000 people [1]."],
    ids=["model-refuses", "unsupported-answer"],
)
def test_refusals_after_generation(seed_settings: Settings, reply: str) -> None:
    # Asked through the chain directly, so the relevance gate does not stop it first.
    chat = Scripted(reply=lambda p: reply)
    _, answer = run(seed_settings, chat, JANUARY)
    assert answer.refused and answer.text == REFUSAL_TEXT
    assert answer.citations == [] and answer.passages


def test_irrelevant_question_is_refused_before_the_model(seed_settings: Settings) -> None:
    def fail(prompt: str) -> str:
        raise AssertionError("the model must not be called")

    deltas, answer = run(seed_settings, Scripted(reply=fail), KABUL)
    assert answer.refused and "".join(deltas) == REFUSAL_TEXT
    assert len(answer.passages) == 5 and answer.flagged == [
        "refused: no passage sentence is relevant enough"]


def test_an_answer_followed_by_the_refusal_phrase_is_kept(seed_settings: Settings) -> None:
    """The 1.5B model sometimes answers, unmarked, and then appends the refusal phrase."""
    reply = ("Moscow hosted a trilateral peace conference on Afghanistan with Pakistan and China "
             "and brushed aside the Afghan government. Afghan officials said The documents do "
             "not say.")
    _, answer = run(seed_settings, Scripted(reply=lambda p: reply), JANUARY)
    assert not answer.refused, answer.flagged
    assert "do not say" not in answer.text and "Pakistan and China" in answer.text
    assert "Pakistan and China" in answer.citations[0].quote

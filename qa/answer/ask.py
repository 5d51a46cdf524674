"""Running the answer chain: a question in, text deltas and the checked :class:`Answer` out.

The chain gets its parts handed in: :class:`qa.workspace.Workspace` builds it
(:func:`qa.answer.chain.build_chain`) with its retriever and chat model and runs
it here; ``qa.ask`` and ``qa.ask_stream`` are calls on a workspace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.runnables import Runnable

from qa.answer.chain import AnswerChunk
from qa.errors import QAError
from qa.types import Answer

History = list[dict[str, str]]


def stream_answer(
    chain: Runnable[dict[str, Any], AnswerChunk],
    question: str,
    history: History | None = None,
    *,
    started: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> Iterator[str | Answer]:
    """Run ``chain`` on ``question``: its text deltas (``str``), then the final :class:`Answer`.

    ``started`` (a ``time.perf_counter()`` value, default now) is where the
    answer's timings count from.
    """
    final: Answer | None = None
    for chunk in chain.stream({"question": question, "history": history or [],
                               "started": started or time.perf_counter(),
                               "progress": progress}):
        if chunk.text:
            yield chunk.text
        if chunk.answer is not None:
            final = chunk.answer
    assert final is not None, "the answer chain ended without an answer"
    yield final


def rewrite(question: str, history: History | None, chat: BaseChatModel | None) -> str:
    """The standalone question the chain searches with for ``question`` after ``history``.

    This is the query the chain retrieves with (``Answer.standalone_question``),
    without retrieving or answering; evaluation compares it with people's rewrites.
    """
    from qa.answer.condense import standalone_question

    return standalone_question(question.strip(), list(history or []), chat)


def check_question(question: str) -> None:
    """Refuse an empty question, with an example of a real one.

    Raises:
        QAError: ``question`` is empty or only whitespace.
    """
    if not question or not question.strip():
        raise QAError('the question is empty; ask something, e.g. `qa ask "Who hosted the talks?"`')


def check_history(history: History | None) -> None:
    """Check that each turn is ``{"role": "user" or "assistant", "content": str}``.

    Raises:
        QAError: a turn is not; the message names it.
    """
    for i, message in enumerate(history or []):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant") \
                or not isinstance(message.get("content"), str):
            raise QAError(
                f"history[{i}] is {message!r}; each turn must be "
                '{"role": "user" or "assistant", "content": str}'
            )

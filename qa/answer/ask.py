"""``ask`` and ``ask_stream``: the Python face of the answer chain."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.runnables import Runnable

from qa.answer.chain import AnswerChunk, build_chain
from qa.config import Settings
from qa.errors import QAError
from qa.types import Answer

History = list[dict[str, str]]

_models: dict[str, BaseChatModel | None] = {}
_models_lock = threading.Lock()


def chat_model(spec: str, settings: Settings) -> BaseChatModel | None:
    """The chat model for ``spec`` (None for "extractive"), built once per process.

    The first ``settings`` to ask for a spec decide where its files live; later
    callers (an evaluation collection under another data directory, say) share it.
    """
    from qa.llm import get_chat_model

    key = spec.strip()
    with _models_lock:
        if key not in _models:
            _models[key] = get_chat_model(spec, settings)
        return _models[key]


def answer_chain(
    settings: Settings, llm: str | None = None, k: int | None = None
) -> Runnable[dict[str, Any], AnswerChunk]:
    """The LCEL chain of :mod:`qa.answer.chain` for ``settings`` and backend ``llm``."""
    from qa.api import retriever

    spec = (llm or settings.llm).strip()
    chat = chat_model(spec, settings)
    return build_chain(retriever(settings), chat, k=k or settings.k, mode=settings.search_mode,
                       backend=spec)


def rewrite(
    question: str,
    history: History | None = None,
    *,
    llm: str | None = None,
    settings: Settings | None = None,
) -> str:
    """The standalone question qa searches with for ``question`` after ``history``.

    This is the query the chain retrieves with (``Answer.standalone_question``),
    without retrieving or answering; evaluation compares it with people's rewrites.
    """
    from qa.answer.condense import standalone_question

    settings = settings or Settings.from_env()
    _check_history(history)
    chat = chat_model((llm or settings.llm).strip(), settings)
    return standalone_question(question.strip(), list(history or []), chat)


def ask_stream(
    question: str,
    history: History | None = None,
    *,
    collection: str | None = None,
    llm: str | None = None,
    k: int | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> Iterator[str | Answer]:
    """Answer ``question`` as a stream: text deltas (``str``), then the final :class:`Answer`.

    The deltas add up to the text as generated; the final :class:`Answer` is
    always the last item and is what to show once the stream ends: its ``text``
    has passed the citation check (unsupported sentences dropped, markers
    renumbered), so it can differ from the streamed text, and when the documents
    do not hold the answer it is a refusal with the closest passages.

    Example::

        from qa import Answer, ask_stream

        for item in ask_stream("Who attended the January conference?"):
            if isinstance(item, Answer):
                for c in item.citations:
                    print(f"[{c.n}] {c.title}: {c.quote}")
            else:
                print(item, end="", flush=True)

    Takes the same arguments as :func:`ask`. ``progress``, if given, is called
    with a short line ("Reading report.pdf: section 3 of 9") while a long step runs.
    """
    if not question or not question.strip():
        raise QAError('the question is empty; ask something, e.g. `qa ask "Who hosted the talks?"`')
    settings = (settings or Settings.from_env()).with_(collection=collection)
    _check_history(history)
    chain = answer_chain(settings, llm, k)
    started = time.perf_counter()  # timings count from here: models are loaded once
    final: Answer | None = None
    for chunk in chain.stream({"question": question, "history": history or [],
                               "started": started, "progress": progress}):
        if chunk.text:
            yield chunk.text
        if chunk.answer is not None:
            final = chunk.answer
    assert final is not None, "the answer chain ended without an answer"
    yield final


def ask(
    question: str,
    history: History | None = None,
    *,
    collection: str | None = None,
    llm: str | None = None,
    k: int | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> Answer:
    """Answer ``question`` from the indexed documents, citing the passages used.

    Args:
        question: the question; a follow-up may lean on ``history``.
        history: earlier turns, ``[{"role": "user"|"assistant", "content": str}, ...]``,
            oldest first; used to make a follow-up question standalone.
        collection: which collection (default: the configured one).
        llm: the backend: "extractive" (no model), "local" or "provider:model"
            (default: ``settings.llm``, i.e. ``QA_LLM``).
        k: passages to retrieve (default ``settings.k``).
        settings: default :meth:`Settings.from_env`.

    Returns:
        An :class:`Answer`: ``text`` with ``[n]`` markers matching ``citations``
        (each with source, title, page, section, span and the supporting quote
        with its document offsets), or ``refused=True`` with the closest passages.

    Raises:
        StoreError: the collection has not been ingested into.
        ConfigError, MissingDependencyError: the backend cannot be used.

    Example::

        from qa import ask

        answer = ask("Which countries took part in the conference Moscow hosted in January?")
        print(answer.text)         # "... Pakistan and China ... [1]."
        answer.citations[0].quote  # the sentence that says so
        follow = ask("And which countries were invited in February?",
                     history=[{"role": "user", "content": answer.question},
                              {"role": "assistant", "content": answer.text}])
    """
    final: Answer | None = None
    for item in ask_stream(question, history, collection=collection, llm=llm, k=k,
                           settings=settings, progress=progress):
        if isinstance(item, Answer):
            final = item
    assert final is not None
    return final


def _check_history(history: History | None) -> None:
    for i, message in enumerate(history or []):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant") \
                or not isinstance(message.get("content"), str):
            raise QAError(
                f"history[{i}] is {message!r}; each turn must be "
                '{"role": "user" or "assistant", "content": str}'
            )

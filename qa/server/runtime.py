"""How the server runs library calls: in threads, under a deadline, one local model at a time.

Requests run on the library's default workspace per collection (``qa.api.workspace``),
which holds its store and models; the event loop never blocks on them. Search,
listing and ingest run in Starlette's thread pool; answers run in their own pool
and hand their stream back to the loop item by item. llama.cpp is not safe to call
from two threads at once, so every answer that uses the local model holds
:attr:`Runtime.model_lock` for as long as it generates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from qa.config import Settings
from qa.server.security import APIError
from qa.types import Answer

log = logging.getLogger(__name__)

T = TypeVar("T")
_END = object()
ANSWER_THREADS = 8


class Runtime:
    """How every request runs: the thread pools, the deadline and the local model's lock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeout = float(settings.api_timeout)
        self.model_lock = threading.Lock()
        self.executor = ThreadPoolExecutor(ANSWER_THREADS, thread_name_prefix="qa-answer")

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    def uses_local_model(self, spec: str) -> bool:
        from qa.llm import parse_spec

        return parse_spec(spec).kind == "local"

    async def call(self, fn: Callable[..., T], *args: Any, timeout: bool = True,
                   **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in the thread pool, within the request timeout.

        A call that runs past the deadline keeps running in its thread (Python
        cannot stop a thread), but the client gets its answer: a 504.
        """
        job = run_in_threadpool(fn, *args, **kwargs)
        if not timeout:
            return await job
        try:
            return await asyncio.wait_for(job, self.timeout)
        except TimeoutError:
            raise _timed_out(self.timeout) from None

    def warm_up(self) -> None:
        """Load the embedding model, open the default store and load the answer model.

        Runs in a background thread at start-up, on the default workspace of the
        server's settings; a request that comes first waits for the same workspace
        (and for the model lock), not for this.
        """
        from qa.api import workspace

        try:
            ws = workspace(self.settings)
            ws.documents()
            ws.embedder.embed_query("warm up")
            if self.uses_local_model(self.settings.llm):
                with self.model_lock:
                    ws.prepare_chat()
        except Exception:  # noqa: BLE001 - the first request reports the same error
            log.warning("warm-up failed; the first request will say why", exc_info=True)

    async def answer_stream(
        self, question: str, history: list[dict[str, str]], settings: Settings, llm: str,
        k: int | None,
    ) -> AsyncGenerator[str | Answer, None]:
        """``ask_stream`` run in a thread: text deltas, then the :class:`Answer`.

        Stops the generation when the consumer goes away (a client disconnect
        closes this iterator) or the request timeout passes.
        """
        from qa.api import ask_stream

        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()
        deadline = loop.time() + self.timeout
        local = self.uses_local_model(llm)

        def put(item: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            lock = self.model_lock if local else None
            try:
                if lock is not None and not lock.acquire(timeout=max(deadline - loop.time(), 0)):
                    put(_timed_out(self.timeout))
                    return
                try:
                    stream = ask_stream(question, history, llm=llm, k=k, settings=settings)
                    try:
                        for item in stream:
                            if cancel.is_set():
                                break
                            put(item)
                    finally:
                        stream.close()  # type: ignore[attr-defined]
                finally:
                    if lock is not None:
                        lock.release()
            except BaseException as exc:  # noqa: BLE001 - handed to the request that asked
                put(exc)
            finally:
                put(_END)

        loop.run_in_executor(self.executor, work)
        try:
            while True:
                remaining = deadline - loop.time()
                try:
                    item = await asyncio.wait_for(queue.get(), max(remaining, 0.001))
                except TimeoutError:
                    raise _timed_out(self.timeout) from None
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                if not isinstance(item, (str, Answer)):
                    raise TypeError(f"the answer stream gave a {type(item).__name__}, "
                                    "not text or an Answer")
                yield item
        finally:
            cancel.set()

    async def answer(self, question: str, history: list[dict[str, str]], settings: Settings,
                     llm: str, k: int | None) -> Answer:
        """The final :class:`Answer` of :meth:`answer_stream`."""
        final: Answer | None = None
        async for item in self.answer_stream(question, history, settings, llm, k):
            if isinstance(item, Answer):
                final = item
        if final is None:
            raise RuntimeError("the answer stream ended without an answer")
        return final


def _timed_out(seconds: float) -> APIError:
    return APIError(504, f"the request took longer than {seconds:g} s (QA_API_TIMEOUT); "
                         "ask something narrower or raise the limit", "timeout_error")

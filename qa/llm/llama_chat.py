"""llama.cpp in process, as a LangChain chat model.

:class:`LlamaCppChatModel` is a small :class:`BaseChatModel` over
``llama_cpp.Llama.create_chat_completion``, so it works with ``.invoke``,
``.stream`` and LCEL like any other chat model. The ``Llama`` itself is loaded
on first use and kept once per process (see :func:`load_llama`); a lock per
model serializes calls, since one ``Llama`` cannot serve two threads at once.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ChatMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from qa.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)

N_CTX = 2048
N_THREADS = 2
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}

_loaded: dict[tuple[str, int, int], tuple[Llama, threading.Lock]] = {}
_loaded_lock = threading.Lock()


def load_llama(
    path: str, n_ctx: int = N_CTX, n_threads: int = N_THREADS
) -> tuple[Llama, threading.Lock]:
    """The process-wide ``Llama`` for ``path``, with the lock that guards it.

    Raises:
        MissingDependencyError: llama-cpp-python (extra ``local``) is not installed.
    """
    key = (path, n_ctx, n_threads)
    with _loaded_lock:
        if key not in _loaded:
            # llama.cpp's OpenMP workers spin while they wait. On 2 busy cores that made
            # generation ~8x slower in our measurements; passive waiting costs little on an
            # idle machine. libgomp reads this once, when first loaded: torch ships a
            # libgomp.so.1 too, so if torch came first this is too late (set it at startup).
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise MissingDependencyError(
                    "llama-cpp-python", "local", "The local answer model"
                ) from exc
            log.info("Loading %s (n_ctx=%d, n_threads=%d)", path, n_ctx, n_threads)
            llama = Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, verbose=False)
            _loaded[key] = (llama, threading.Lock())
        return _loaded[key]


def to_llama_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as the role/content dicts of the OpenAI chat format."""
    out = []
    for m in messages:
        role = m.role if isinstance(m, ChatMessage) else _ROLES.get(m.type)
        if role is None:
            raise ValueError(f"the local model cannot take a {m.type!r} message")
        out.append({"role": role, "content": m.text})
    return out


class LlamaCppChatModel(BaseChatModel):
    """A GGUF model run by llama.cpp in this process, greedy by default.

    Example:
        >>> chat = LlamaCppChatModel(model_path="model.gguf", max_tokens=64)  # doctest: +SKIP
        >>> for chunk in chat.stream("Say hi"):  # doctest: +SKIP
        ...     print(chunk.content, end="")

    ``max_tokens`` and ``temperature`` can also be given per call
    (``chat.invoke(msgs, max_tokens=16)`` or ``chat.bind(max_tokens=16)``).
    """

    model_path: str
    max_tokens: int = 512
    temperature: float = 0.0
    n_ctx: int = N_CTX
    n_threads: int = N_THREADS
    stop: list[str] | None = None

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "n_ctx": self.n_ctx,
        }

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> dict[str, Any]:
        stops = [*(self.stop or []), *(stop or [])]
        return {
            "messages": to_llama_messages(messages),
            "temperature": kwargs.get("temperature", self.temperature),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "stop": stops or None,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        llama, lock = load_llama(self.model_path, self.n_ctx, self.n_threads)
        with lock, _context_errors(self.n_ctx):
            out: Any = llama.create_chat_completion(**self._request(messages, stop, **kwargs))
        choice = out["choices"][0]
        finish = choice.get("finish_reason")
        usage = out.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            response_metadata={"finish_reason": finish, "model_name": self.model_path},
            usage_metadata=UsageMetadata(
                input_tokens=usage.get("prompt_tokens", 0),
                output_tokens=usage.get("completion_tokens", 0),
                total_tokens=usage.get("total_tokens", 0),
            ),
        )
        generation = ChatGeneration(message=message, generation_info={"finish_reason": finish})
        return ChatResult(generations=[generation])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        llama, lock = load_llama(self.model_path, self.n_ctx, self.n_threads)
        request = self._request(messages, stop, **kwargs)
        with lock, _context_errors(self.n_ctx):
            parts: Any = llama.create_chat_completion(**request, stream=True)
            for part in parts:
                choice = part["choices"][0]
                text: str | None = choice["delta"].get("content")
                finish = choice.get("finish_reason")
                if text:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
                if finish:
                    yield ChatGenerationChunk(
                        message=AIMessageChunk(
                            content="",
                            response_metadata={
                                "finish_reason": finish,
                                "model_name": self.model_path,
                            },
                        ),
                        generation_info={"finish_reason": finish},
                    )


@contextmanager
def _context_errors(n_ctx: int) -> Iterator[None]:
    """Turn llama.cpp's "exceeds context window" ValueError into a ConfigError."""
    try:
        yield
    except ValueError as exc:
        if "context window" not in str(exc):
            raise
        raise ConfigError(
            f"the question and its passages do not fit the local model's context of "
            f"{n_ctx} tokens ({exc}); lower QA_K or QA_CHUNK_TOKENS"
        ) from exc

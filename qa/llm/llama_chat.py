"""llama.cpp in process, as a LangChain chat model.

:class:`LlamaCppChatModel` is a small :class:`BaseChatModel` over a
``llama_cpp.Llama``, so it works with ``.invoke``, ``.stream`` and LCEL like
any other chat model. Messages go through the model's own chat template (from
the GGUF); tokens come from :func:`qa.llm.decoding.decode`, which reuses the
cached prompt prefix and can report log-probabilities as OpenAI does
(``chat.bind(logprobs=True, top_logprobs=5)``: each streamed chunk carries
``response_metadata["logprobs"]["content"]``). The ``Llama`` itself is loaded
on first use and kept once per process (see :func:`load_llama`); a lock per
model serializes calls, since one ``Llama`` cannot serve two threads at once.
:meth:`LlamaCppChatModel.warm_up` loads it ahead of the first call, and
:class:`BackgroundLoad` runs such a load in a thread (the web app starts one at
launch, so the first question does not wait for the weights).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ChatMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from qa.config import apply_before_load
from qa.errors import ConfigError, MissingDependencyError
from qa.llm.decoding import Outcome, Step, decode
from qa.llm.traits import ModelTraits

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)

N_CTX = 2048
N_THREADS = 2
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


@dataclass
class Loaded:
    """A loaded model, the lock that serializes its use, and its chat template."""

    llama: Llama
    lock: threading.Lock
    template: Any  # llama_cpp.llama_chat_format.Jinja2ChatFormatter
    stop_tokens: frozenset[int]

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """``messages`` in the model's chat template, as tokens, ready for the reply."""
        text = self.template(messages=messages).prompt
        return self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)


# The process-wide weight cache: each workspace builds its own LlamaCppChatModel, and
# those of one model file share these weights (1.1 GB) and the lock that serializes them.
_loaded: dict[tuple[str, int, int], Loaded] = {}
_loaded_lock = threading.Lock()


def load_llama(path: str, n_ctx: int = N_CTX, n_threads: int = N_THREADS) -> Loaded:
    """The process-wide model for ``path``, with the lock that guards it.

    Raises:
        MissingDependencyError: llama-cpp-python (extra ``local``) is not installed.
    """
    key = (path, n_ctx, n_threads)
    with _loaded_lock:
        if key not in _loaded:
            # OMP_WAIT_POLICY above all (see qa.config.PROCESS_DEFAULTS): libgomp reads it
            # once, so if torch loaded it first this is too late; import qa has set it.
            apply_before_load()
            try:
                import llama_cpp
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            except ImportError as exc:
                raise MissingDependencyError(
                    "llama-cpp-python", "local", "The local answer model"
                ) from exc
            log.info("Loading %s (n_ctx=%d, n_threads=%d)", path, n_ctx, n_threads)
            llama = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads,
                                    verbose=False)
            _loaded[key] = _wrap(llama, llama_cpp, Jinja2ChatFormatter)
        return _loaded[key]


class BackgroundLoad:
    """Runs ``load`` once in a daemon thread and says how it went.

    ``state`` is "loading", then "ready" or "failed" (``error`` holds why);
    ``seconds`` is how long it took. Whoever needs the result meanwhile simply
    calls the loader again: :func:`load_llama` makes a second caller wait for
    the first load instead of loading twice.

    Example:
        >>> job = BackgroundLoad(chat.warm_up, name="answer model")  # doctest: +SKIP
        >>> job.state  # doctest: +SKIP
        'loading'
    """

    def __init__(self, load: Callable[[], object], name: str = "model") -> None:
        self.name = name
        self.error: Exception | None = None
        self.seconds: float | None = None
        self._started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(load,), daemon=True,
                                        name=f"qa-load-{name}")
        self._thread.start()

    def _run(self, load: Callable[[], object]) -> None:
        try:
            load()
        except Exception as exc:  # noqa: BLE001 - reported through ``state``
            self.error = exc
            log.warning("loading the %s failed: %s", self.name, exc)
        finally:
            self.seconds = time.monotonic() - self._started
            self._done.set()

    @property
    def state(self) -> Literal["loading", "ready", "failed"]:
        if not self._done.is_set():
            return "loading"
        return "failed" if self.error is not None else "ready"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the load ended (True) or ``timeout`` seconds passed (False)."""
        return self._done.wait(timeout)


def _wrap(llama: Llama, llama_cpp: Any, formatter: Any) -> Loaded:
    text = llama.metadata.get("tokenizer.chat_template")
    if not text:
        raise ConfigError(f"{llama.model_path} has no chat template; use a chat (instruct) GGUF")
    eos, bos = llama.token_eos(), llama.token_bos()
    vocab = llama._model.vocab
    stops = frozenset(t for t in range(llama.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t))
    template = formatter(
        template=text,
        eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
    )
    return Loaded(llama, threading.Lock(), template, stops | ({eos} - {-1}))


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

    ``max_tokens``, ``temperature``, ``logprobs``, ``top_logprobs`` and
    ``logit_bias`` (token id -> bias, see :meth:`token_ids`) can also be given
    per call (``chat.invoke(msgs, max_tokens=16)`` or
    ``chat.bind(logprobs=True, top_logprobs=5)``).
    """

    model_path: str
    max_tokens: int = 512
    temperature: float = 0.0
    n_ctx: int = N_CTX
    n_threads: int = N_THREADS
    stop: list[str] | None = None
    logprobs: bool = False
    top_logprobs: int = 0

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

    def traits(self) -> ModelTraits:
        """Its context size; it takes ``max_tokens`` per call; it runs on this CPU: slow."""
        return ModelTraits(context_tokens=self.n_ctx, takes_max_tokens=True, speed="slow")

    def warm_up(self) -> None:
        """Load the weights now (once per process), so the first call does not wait."""
        load_llama(self.model_path, self.n_ctx, self.n_threads)

    def token_ids(self, text: str) -> list[int]:
        """The model's tokens for ``text`` (loads the model), e.g. for ``logit_bias``."""
        model = load_llama(self.model_path, self.n_ctx, self.n_threads)
        with model.lock:
            return list(model.llama.tokenize(text.encode("utf-8"), add_bos=False,
                                             special=False))

    def _run(
        self, messages: list[BaseMessage], stop: list[str] | None, outcome: Outcome,
        **kwargs: Any,
    ) -> Iterator[tuple[str, Step | None]]:
        """Text pieces as generated, each with its step when log-probabilities are wanted.

        Text that might begin a stop string is held back until it is known not to.
        """
        model = load_llama(self.model_path, self.n_ctx, self.n_threads)
        stops = [s for s in [*(self.stop or []), *(stop or [])] if s]
        want = bool(kwargs.get("logprobs", self.logprobs))
        top = int(kwargs.get("top_logprobs", self.top_logprobs) or 0) if want else 0
        with model.lock, _context_errors(self.n_ctx):
            tokens = model.prompt_tokens(to_llama_messages(messages))
            held = ""
            for step in decode(
                model.llama, tokens, int(kwargs.get("max_tokens", self.max_tokens)),
                stop_tokens=model.stop_tokens,
                temperature=float(kwargs.get("temperature", self.temperature)),
                top_logprobs=top, outcome=outcome,
                logit_bias={int(k): float(v) for k, v in
                            (kwargs.get("logit_bias") or {}).items()},
            ):
                held += step.text
                cut = min((held.find(s) for s in stops if s in held), default=-1)
                if cut >= 0:
                    outcome.finish_reason = "stop"
                    if held[:cut]:
                        yield held[:cut], step if want else None
                    break
                keep = max((_overlap(held, s) for s in stops), default=0)
                out, held = held[: len(held) - keep], held[len(held) - keep:]
                if out or want:
                    yield out, step if want else None
            else:
                if held:
                    yield held, None
        log.debug("local model: %d prompt tokens (%d cached), %d generated (%d of them "
                  "drafted), %s", outcome.prompt_tokens, outcome.cached_tokens,
                  outcome.completion_tokens, outcome.drafted_tokens, outcome.finish_reason)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        outcome = Outcome()
        text, steps = "", []
        for piece, step in self._run(messages, stop, outcome, **kwargs):
            text += piece
            if step is not None:
                steps.append(step.logprob_entry())
        metadata: dict[str, Any] = {"finish_reason": outcome.finish_reason,
                                    "model_name": self.model_path}
        if steps:
            metadata["logprobs"] = {"content": steps}
        message = AIMessage(content=text, response_metadata=metadata,
                            usage_metadata=_usage(outcome))
        generation = ChatGeneration(message=message,
                                    generation_info={"finish_reason": outcome.finish_reason})
        return ChatResult(generations=[generation])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        outcome = Outcome()
        for text, step in self._run(messages, stop, outcome, **kwargs):
            metadata = {"logprobs": {"content": [step.logprob_entry()]}} if step else {}
            chunk = ChatGenerationChunk(
                message=AIMessageChunk(content=text, response_metadata=metadata))
            if run_manager and text:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="", usage_metadata=_usage(outcome),
                response_metadata={"finish_reason": outcome.finish_reason,
                                   "model_name": self.model_path},
            ),
            generation_info={"finish_reason": outcome.finish_reason},
        )


def _overlap(text: str, stop: str) -> int:
    """Length of the longest end of ``text`` that begins ``stop``."""
    for n in range(min(len(text), len(stop) - 1), 0, -1):
        if stop.startswith(text[-n:]):
            return n
    return 0


def _usage(outcome: Outcome) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=outcome.prompt_tokens, output_tokens=outcome.completion_tokens,
        total_tokens=outcome.prompt_tokens + outcome.completion_tokens,
        input_token_details={"cache_read": outcome.cached_tokens},
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

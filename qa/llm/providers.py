"""Hosted and server models, ``provider:model``, through LangChain's own factory.

``openai:gpt-4o-mini`` or ``ollama:llama3`` become
``init_chat_model(model, model_provider=provider, temperature=0)``; the
provider's LangChain package reads its own settings (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``, ``OLLAMA_HOST`` ...). qa adds one thing: an OpenAI-compatible
local server (``OPENAI_BASE_URL`` set, no key) gets a placeholder key, since
langchain-openai refuses to start without one. Keys are never logged.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from qa.errors import ConfigError, MissingDependencyError

log = logging.getLogger(__name__)

# provider -> (LangChain package, qa extra that installs it)
PROVIDER_EXTRAS: dict[str, tuple[str, str]] = {
    "openai": ("langchain-openai", "openai"),
    "azure_openai": ("langchain-openai", "openai"),
    "ollama": ("langchain-ollama", "ollama"),
    "anthropic": ("langchain-anthropic", "anthropic"),
}
PLACEHOLDER_KEY = "not-needed"


def installed_providers() -> list[str]:
    """The providers of :data:`PROVIDER_EXTRAS` whose package is installed."""
    return [
        provider
        for provider, (package, _) in PROVIDER_EXTRAS.items()
        if importlib.util.find_spec(package.replace("-", "_")) is not None
    ]


# Providers whose LangChain client takes ``timeout`` (seconds per request).
TIMEOUT_PROVIDERS = frozenset({"openai", "azure_openai", "anthropic"})


def provider_chat_model(provider: str, model: str, timeout: float | None = None) -> BaseChatModel:
    """A greedy chat model for ``model`` at ``provider``.

    A call that fails (the server is down, slower than ``timeout`` seconds, or
    answers with an HTTP error) raises :class:`~qa.errors.LLMError`, whose
    message names the provider, what went wrong and what to do.

    Raises:
        MissingDependencyError: the provider's LangChain package is not installed.
        ConfigError: the provider is unknown, or the client cannot be set up
            (for instance no API key).
    """
    spec = f"{provider}:{model}"
    kwargs: dict[str, Any] = {"temperature": 0}
    if timeout and provider in TIMEOUT_PROVIDERS:
        kwargs["timeout"] = float(timeout)
    if (
        provider == "openai"
        and not os.environ.get("OPENAI_API_KEY")
        and os.environ.get("OPENAI_BASE_URL")
    ):
        kwargs["api_key"] = PLACEHOLDER_KEY
    from langchain.chat_models import init_chat_model

    try:
        chat: BaseChatModel = init_chat_model(model, model_provider=provider, **kwargs)
    except ImportError as exc:
        raise _missing(provider, exc) from exc
    except ValueError as exc:
        raise ConfigError(f"QA_LLM={spec!r}: {exc}") from exc
    except Exception as exc:  # the provider's own client refusing its settings
        hint = _hint(provider)
        raise ConfigError(f"cannot set up QA_LLM={spec!r}: {exc}{hint}") from exc
    log.info("Answer model: %s via %s", model, provider)
    guarded = _guarded_class(type(chat))
    try:
        return guarded(**{"model": model, **kwargs})
    except Exception:  # noqa: BLE001 - a client that cannot be rebuilt keeps its own errors
        log.debug("cannot wrap %s; its errors pass unchanged", type(chat).__name__)
        return chat


_guarded_classes: dict[type, type] = {}


def _guarded_class(cls: type[BaseChatModel]) -> type[BaseChatModel]:
    """``cls`` with its calls' errors turned into :class:`LLMError`."""
    if cls not in _guarded_classes:

        def _generate(self: Any, *args: Any, **kw: Any) -> Any:
            try:
                return cls._generate(self, *args, **kw)
            except Exception as exc:
                raise call_error(self, exc) from exc

        def _stream(self: Any, *args: Any, **kw: Any) -> Any:
            try:
                yield from cls._stream(self, *args, **kw)
            except Exception as exc:
                raise call_error(self, exc) from exc

        async def _agenerate(self: Any, *args: Any, **kw: Any) -> Any:
            try:
                return await cls._agenerate(self, *args, **kw)
            except Exception as exc:
                raise call_error(self, exc) from exc

        async def _astream(self: Any, *args: Any, **kw: Any) -> Any:
            try:
                async for chunk in cls._astream(self, *args, **kw):
                    yield chunk
            except Exception as exc:
                raise call_error(self, exc) from exc

        _guarded_classes[cls] = type(cls.__name__, (cls,), {
            "__module__": cls.__module__, "_generate": _generate, "_stream": _stream,
            "_agenerate": _agenerate, "_astream": _astream,
        })
    return _guarded_classes[cls]


def call_error(chat: Any, exc: BaseException) -> Exception:
    """What to tell the user about a failed model call (an :class:`LLMError`), or
    ``exc`` itself when it is already one of qa's errors or a programming error."""
    from qa.errors import LLMError, QAError

    if isinstance(exc, (QAError, TypeError, AttributeError, KeyError)):
        return exc  # type: ignore[return-value]
    name = type(exc).__name__
    model = getattr(chat, "model_name", None) or getattr(chat, "model", None) or "the model"
    base_url = getattr(getattr(chat, "root_client", None), "base_url", None)
    where = f" at {base_url}" if base_url else ""
    what = f"the answer model {model}{where}"
    status = getattr(exc, "status_code", None)
    other = "choose another backend (--llm extractive, or local)"
    if "Timeout" in name or isinstance(exc, TimeoutError):
        timeout = getattr(chat, "request_timeout", None)
        limit = f" within {timeout:g} s" if isinstance(timeout, (int, float)) else " in time"
        return LLMError(f"{what} did not answer{limit}; check that the server is up, raise "
                        f"QA_LLM_TIMEOUT, or {other}")
    if status in (401, 403):
        return LLMError(f"{what} refused the request (HTTP {status}): check the API key "
                        f"(OPENAI_API_KEY for openai:) or {other}")
    if isinstance(status, int):
        detail = " ".join(str(getattr(exc, "message", "") or exc).split())[:160]
        return LLMError(f"{what} failed with HTTP {status} ({detail}); try again later or "
                        f"{other}")
    if "Connection" in name or isinstance(exc, ConnectionError):
        return LLMError(f"cannot reach {what}: {' '.join(str(exc).split())[:160]}; check that "
                        f"the server runs and OPENAI_BASE_URL (or the provider's URL), or {other}")
    return LLMError(f"{what} failed ({name}: {' '.join(str(exc).split())[:160]}); {other}")


def _missing(provider: str, exc: ImportError) -> MissingDependencyError:
    feature = f"The {provider!r} answer backend"
    if provider in PROVIDER_EXTRAS:
        package, extra = PROVIDER_EXTRAS[provider]
        return MissingDependencyError(package, extra, feature)
    # No extra of qa brings this package: name the package LangChain asked for.
    found = re.search(r"requires the ([\w.-]+) package", str(exc))
    package = found.group(1) if found else f"langchain-{provider.replace('_', '-')}"
    error = MissingDependencyError(package, provider, feature)
    error.args = (
        f"{feature} needs the package '{package}'; install it with `pip install {package}`",
    )
    return error


def _hint(provider: str) -> str:
    if provider == "openai":
        return "; set OPENAI_API_KEY, or OPENAI_BASE_URL to use a local OpenAI-compatible server"
    return ""

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


def provider_chat_model(provider: str, model: str) -> BaseChatModel:
    """A greedy chat model for ``model`` at ``provider``.

    Raises:
        MissingDependencyError: the provider's LangChain package is not installed.
        ConfigError: the provider is unknown, or the client cannot be set up
            (for instance no API key).
    """
    spec = f"{provider}:{model}"
    kwargs: dict[str, Any] = {"temperature": 0}
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
    return chat


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

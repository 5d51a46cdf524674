"""Choosing the answer backend from its spec string (``Settings.llm`` / ``QA_LLM``).

=====================  ===============================================
``extractive``         no language model: the chain quotes passages
``local``              Qwen2.5-Coder-1.5B-Instruct via llama.cpp, in process
``provider:model``     any LangChain provider, e.g. ``openai:gpt-4o-mini``
=====================  ===============================================
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass

from langchain_core.language_models.chat_models import BaseChatModel

from qa.config import Settings
from qa.errors import ConfigError, MissingDependencyError
from qa.llm.gguf import ensure_local_model, parts_installed
from qa.llm.llama_chat import LlamaCppChatModel
from qa.llm.providers import provider_chat_model

log = logging.getLogger(__name__)

LOCAL = "local"
EXTRACTIVE = "extractive"
CHOICES = f"{LOCAL!r}, {EXTRACTIVE!r} or 'provider:model' (e.g. 'openai:gpt-4o-mini')"


@dataclass(frozen=True)
class LLMSpec:
    """A parsed spec: ``kind`` is "local", "extractive" or "provider"."""

    kind: str
    provider: str | None = None
    model: str | None = None


def parse_spec(spec: str) -> LLMSpec:
    """Read a spec string.

    >>> parse_spec("ollama:llama3:8b")
    LLMSpec(kind='provider', provider='ollama', model='llama3:8b')

    Raises:
        ConfigError: the spec is none of the forms above; the message names it.
    """
    text = spec.strip()
    if text in (LOCAL, EXTRACTIVE):
        return LLMSpec(kind=text)
    provider, sep, model = text.partition(":")
    provider, model = provider.strip().lower(), model.strip()
    if not sep or not provider or not model:
        raise ConfigError(f"QA_LLM={spec!r} is not one of {CHOICES}")
    return LLMSpec(kind="provider", provider=provider, model=model)


def local_available() -> bool:
    """Whether llama-cpp-python and the model parts are installed (nothing is imported)."""
    return importlib.util.find_spec("llama_cpp") is not None and parts_installed()


def available_backends() -> list[str]:
    """The spec names usable here without further installs: extractive, and local if installed.

    ``provider:model`` specs are usable when the provider's package is installed;
    :func:`qa.llm.installed_providers` lists those.
    """
    return [EXTRACTIVE, LOCAL] if local_available() else [EXTRACTIVE]


def get_chat_model(spec: str, settings: Settings) -> BaseChatModel | None:
    """The chat model ``spec`` names, or None for ``extractive``.

    ``local`` assembles and verifies the GGUF on first use (a few seconds, once
    per machine and user: it goes to the user's model cache, see ``qa.model_cache``);
    the model itself loads on the first call. :func:`qa.llm.traits_of` tells what
    the returned model is (context size, whether it takes ``max_tokens``, speed).

    Example:
        >>> chat = get_chat_model("local", Settings.from_env())  # doctest: +SKIP
        >>> chat.invoke("What is 2 + 2?").content  # doctest: +SKIP

    Raises:
        ConfigError: the spec is unknown or its provider cannot be set up.
        MissingDependencyError: the packages it needs are not installed; the
            message names the extra (``local``, ``openai``, ...).
    """
    parsed = parse_spec(spec)
    if parsed.kind == EXTRACTIVE:
        return None
    if parsed.kind == LOCAL:
        if importlib.util.find_spec("llama_cpp") is None:
            raise MissingDependencyError("llama-cpp-python", "local", "The local answer model")
        path = ensure_local_model(settings)
        return LlamaCppChatModel(model_path=str(path))
    if parsed.provider is None or parsed.model is None:  # parse_spec gives both
        raise ConfigError(f"QA_LLM={spec!r} is not one of {CHOICES}")
    return provider_chat_model(parsed.provider, parsed.model, timeout=settings.llm_timeout)

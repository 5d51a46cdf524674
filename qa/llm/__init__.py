"""Answer backends ("LLMs") for qa, chosen by a spec string.

>>> from qa.llm import get_chat_model  # doctest: +SKIP
>>> chat = get_chat_model(settings.llm, settings)  # None for "extractive"  # doctest: +SKIP
>>> traits_of(chat).small_context  # what the answer chain asks of it  # doctest: +SKIP
"""

from qa.llm.factory import LLMSpec, available_backends, get_chat_model, parse_spec
from qa.llm.gguf import ModelIntegrityError, ensure_local_model
from qa.llm.llama_chat import LlamaCppChatModel
from qa.llm.providers import installed_providers
from qa.llm.traits import ModelTraits, traits_of

__all__ = [
    "LLMSpec",
    "LlamaCppChatModel",
    "ModelIntegrityError",
    "ModelTraits",
    "available_backends",
    "ensure_local_model",
    "get_chat_model",
    "installed_providers",
    "parse_spec",
    "traits_of",
]

"""Answer backends ("LLMs") for qa, chosen by a spec string.

>>> from qa.llm import get_chat_model  # doctest: +SKIP
>>> chat = get_chat_model(settings.llm, settings)  # None for "extractive"  # doctest: +SKIP
"""

from qa.llm.factory import LLMSpec, available_backends, get_chat_model, parse_spec
from qa.llm.gguf import ModelIntegrityError, ensure_local_model
from qa.llm.llama_chat import LlamaCppChatModel
from qa.llm.providers import installed_providers

__all__ = [
    "LLMSpec",
    "LlamaCppChatModel",
    "ModelIntegrityError",
    "available_backends",
    "ensure_local_model",
    "get_chat_model",
    "installed_providers",
    "parse_spec",
]

"""What the answer chain needs to know of a chat model, without testing its class.

:func:`traits_of` reads a :class:`ModelTraits` from any chat model the factory
(:func:`qa.llm.get_chat_model`) hands back, or any LangChain chat model a caller
brings: a model may declare its own (``traits()``, as
:class:`qa.llm.LlamaCppChatModel` does), else they are read from its fields.
The answer chain asks them to choose a prompt budget (``context_tokens``), to
cap a reply's length (``takes_max_tokens``) and to keep replies short on a slow
model (``speed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Under this many tokens of context a model is "small": it is shown fewer passages.
SMALL_CONTEXT = 8192


@dataclass(frozen=True)
class ModelTraits:
    """A chat model's context size, whether it takes ``max_tokens`` per call, its speed.

    Attributes:
        context_tokens: the context window it declares, ``None`` when unknown.
        takes_max_tokens: ``chat.bind(max_tokens=n)`` caps its reply.
        speed: "slow" for a model run on this machine's CPU (tens of tokens a
            second), "fast" otherwise.
    """

    context_tokens: int | None = None
    takes_max_tokens: bool = False
    speed: Literal["slow", "fast"] = "fast"

    @property
    def small_context(self) -> bool:
        """Whether the model declares a context under :data:`SMALL_CONTEXT` tokens."""
        return self.context_tokens is not None and self.context_tokens < SMALL_CONTEXT


def traits_of(chat: object) -> ModelTraits:
    """The traits ``chat`` declares (its ``traits()``), else those its fields show.

    >>> traits_of(object())
    ModelTraits(context_tokens=None, takes_max_tokens=False, speed='fast')
    """
    declared = getattr(chat, "traits", None)
    if callable(declared):
        found = declared()
        if isinstance(found, ModelTraits):
            return found
    n_ctx = getattr(chat, "n_ctx", None)
    fields = getattr(type(chat), "model_fields", {})
    return ModelTraits(
        context_tokens=n_ctx if isinstance(n_ctx, int) else None,
        takes_max_tokens=n_ctx is not None or "max_tokens" in fields,
    )

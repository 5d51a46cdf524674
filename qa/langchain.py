"""A LangChain ``BaseRetriever`` over a qa collection, for use in any LangChain chain."""

from __future__ import annotations

import asyncio
from typing import Any, get_args

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from qa.config import SearchMode, Settings
from qa.errors import QAError
from qa.types import Passage

#: What ``invoke`` accepts per call, over the retriever's own fields.
CALL_OPTIONS = ("k", "mode", "documents", "collection")


def passage_to_document(passage: Passage) -> Document:
    """A LangChain Document whose metadata carries the passage's provenance."""
    meta = passage.to_dict()
    text = meta.pop("text")
    return Document(page_content=text, metadata=meta, id=passage.chunk_id)


class QARetriever(BaseRetriever):
    """Retrieves passages from a qa collection.

    The fields are defaults; ``k``, ``mode``, ``documents`` and ``collection`` can
    also be given per call, as keyword arguments of ``invoke`` / ``ainvoke``.

    Example::

        from qa import QARetriever
        retriever = QARetriever(k=3)
        docs = retriever.invoke("Who hosted the January conference?")
        docs[0].metadata["source"], docs[0].metadata["start"]
        retriever.invoke("Moscow", k=2, mode="keyword", documents=["notes/plan.md"])
    """

    k: int = 5
    collection: str | None = None
    mode: SearchMode | None = None
    documents: list[str] | None = None
    settings: Settings | None = None

    model_config = {"arbitrary_types_allowed": True}

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        from qa.api import retrieve

        options = self._options(kwargs)
        passages = retrieve(query, settings=self.settings, **options)
        return [passage_to_document(p) for p in passages]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # Retrieval is CPU work in native code (ONNX Runtime, Chroma, tantivy), which
        # releases the GIL: a thread keeps the event loop free.
        from qa.api import retrieve

        options = self._options(kwargs)
        passages = await asyncio.to_thread(retrieve, query, settings=self.settings, **options)
        return [passage_to_document(p) for p in passages]

    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(kwargs) - set(CALL_OPTIONS))
        if unknown:
            raise QAError(
                f"QARetriever got unknown option(s) {', '.join(unknown)}; it accepts "
                f"{', '.join(CALL_OPTIONS)}"
            )
        options: dict[str, Any] = {
            "k": self.k, "mode": self.mode, "documents": self.documents,
            "collection": self.collection,
        }
        options.update(kwargs)
        k = options["k"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise QAError(f"k={k!r} is not a positive whole number of passages")
        if options["mode"] is not None and options["mode"] not in get_args(SearchMode):
            raise QAError(
                f"mode={options['mode']!r} is not one of {', '.join(get_args(SearchMode))}"
            )
        if isinstance(options["documents"], str):  # one document, not its characters
            options["documents"] = [options["documents"]]
        return options

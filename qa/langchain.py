"""A LangChain ``BaseRetriever`` over a qa collection, for use in any LangChain chain."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from qa.config import SearchMode, Settings
from qa.types import Passage


def passage_to_document(passage: Passage) -> Document:
    """A LangChain Document whose metadata carries the passage's provenance."""
    meta = passage.to_dict()
    text = meta.pop("text")
    return Document(page_content=text, metadata=meta, id=passage.chunk_id)


class QARetriever(BaseRetriever):
    """Retrieves passages from a qa collection.

    Example::

        from qa import QARetriever
        docs = QARetriever(k=3).invoke("Who hosted the January conference?")
        docs[0].metadata["source"], docs[0].metadata["start"]
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

        passages = retrieve(
            query, k=self.k, collection=self.collection, documents=self.documents,
            mode=self.mode, settings=self.settings,
        )
        return [passage_to_document(p) for p in passages]

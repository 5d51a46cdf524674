"""The LangChain retriever adapter over a real index."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import QARetriever, ingest
from tests.conftest import SEED_QUESTION


@pytest.mark.slow
def test_retriever_in_a_chain(seeds_copy: Path) -> None:
    from langchain_core.runnables import RunnableLambda

    ingest(seeds_copy)
    chain = QARetriever(k=2) | RunnableLambda(lambda docs: docs[0])
    doc = chain.invoke(SEED_QUESTION)
    assert "Pakistan and China" in doc.page_content
    assert {"source", "title", "page", "section", "start", "end", "chunk_id", "score"} <= set(
        doc.metadata
    )

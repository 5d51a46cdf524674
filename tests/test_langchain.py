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


@pytest.mark.slow
def test_options_per_call(seeds_copy: Path) -> None:
    """k, mode and documents given to invoke/ainvoke override the retriever's fields."""
    import asyncio

    from qa.errors import QAError

    other = seeds_copy / "other.md"
    other.write_text("# Harbor notes\n\nThe Moscow harbor opens at dawn and closes at dusk.\n")
    ingest(seeds_copy)
    retriever = QARetriever(k=5)
    everywhere = {d.metadata["source"] for d in retriever.invoke("Moscow", mode="keyword")}
    assert str(other.resolve()) in everywhere and len(everywhere) == 2
    only = retriever.invoke("Moscow", k=2, mode="keyword", documents=[str(other)])
    assert [d.metadata["source"] for d in only] == [str(other.resolve())]
    seed = next(s for s in everywhere if s != str(other.resolve()))
    docs = asyncio.run(retriever.ainvoke("Moscow", k=2, documents=seed))
    assert len(docs) == 2 and {d.metadata["source"] for d in docs} == {seed}
    with pytest.raises(QAError, match="mode='fuzzy' is not one of hybrid, dense, keyword"):
        retriever.invoke("Moscow", mode="fuzzy")
    with pytest.raises(QAError, match="unknown option"):
        retriever.invoke("Moscow", top_k=2)
    with pytest.raises(QAError, match="k=0"):
        retriever.invoke("Moscow", k=0)

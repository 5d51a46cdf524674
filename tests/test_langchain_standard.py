"""LangChain's own standard retriever tests (``langchain-tests``) against ``QARetriever``.

The suite runs over a real collection: ``seeds/`` ingested with the real model
into a folder of this module's own. It checks ``k`` in the constructor and per
call, that ``invoke`` and ``ainvoke`` return Documents, and that none of its
tests is overridden here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from qa import QARetriever, ingest
from qa.config import Settings
from tests.conftest import SEED_QUESTION, SEEDS

pytestmark = pytest.mark.slow  # its async test runs on asyncio (asyncio_mode = auto)

_collection: dict[str, Settings] = {}


@pytest.fixture(scope="module", autouse=True)
def seeded(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Settings]:
    """``seeds/`` ingested once for the whole suite."""
    settings = Settings.from_env(data_dir=tmp_path_factory.mktemp("lc-standard"),
                                 model_dir=model_dir)
    report = ingest(SEEDS, settings=settings)
    assert [f.status for f in report.files] == ["added"] and report.chunks_embedded >= 3
    _collection["settings"] = settings
    yield settings
    _collection.clear()


class TestQARetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return QARetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"settings": _collection["settings"], "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return SEED_QUESTION

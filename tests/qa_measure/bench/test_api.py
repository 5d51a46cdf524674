"""`qa bench api` end to end at a tiny size, against a real `qa serve` (a smoke test)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qa_measure.bench import BenchOptions, run
from tests.qa_measure.bench.conftest import needs_data

pytestmark = [pytest.mark.slow, needs_data]


def test_api_bench_measures_both_paths(make_options: Callable[..., BenchOptions]) -> None:
    result = run("api", make_options(sizes=(60,), queries=4, pool_docs=8))
    search, answer = result.tables
    assert [row[0] for row in search.rows][:2] == ["in-process retrieve()",
                                                   "HTTP POST /v1/search"]
    assert all(v > 0 for row in search.rows[:2] for v in row[1:])
    assert len(result.data["search_ms"]["http"]) == 4
    assert all(v > 0 for row in answer.rows for v in row[1:])
    assert len(result.data["answer_ms"]["first_byte"]) == 3

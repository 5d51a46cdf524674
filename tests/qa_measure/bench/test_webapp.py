"""`qa bench webapp`: scripts/run.sh, a real Chromium and the real local model (one round)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qa.llm.factory import local_available
from qa_measure.bench import BenchOptions, run

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.llm,
              pytest.mark.skipif(not local_available(), reason="extra 'local' not installed")]


def test_first_answer_of_each_backend_is_timed(make_options: Callable[..., BenchOptions]) -> None:
    result = run("webapp", make_options(rounds=1))
    (table,) = result.tables
    assert [row[0] for row in table.rows] == [
        "healthy", "input shown", "input enabled", "answer text", "cited answer"]
    for column in (1, 2):  # local, extractive: each moment comes after the one before
        moments = [row[column] for row in table.rows]
        assert all(0 < a <= b for a, b in zip(moments, moments[1:], strict=False)), moments
    (rounds,) = result.data["rounds"]
    assert set(rounds) == {"local", "extractive"}
    assert len(result.goals) == 1

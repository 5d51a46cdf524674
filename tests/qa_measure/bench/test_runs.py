"""Each benchmark end to end at tiny sizes, with the real model (a smoke test, not a measure)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qa.cli import main
from qa_measure.bench import BenchOptions, run
from tests.qa_measure.bench.conftest import needs_data

pytestmark = [pytest.mark.slow, needs_data]


def test_ingest_compares_every_contender(make_options: Callable[..., BenchOptions]) -> None:
    result = run("ingest", make_options(scifact_docs=4, text_mb=0.02, text_file_kb=10))
    scifact, generated = result.tables
    names = [row[0] for row in scifact.rows]
    assert names[:2] == ["qa int8", "qa torch"] and "encoder int8" in names
    chunks = {row[0]: row[1] for row in scifact.rows}
    # Every qa contender and both bare encoders see exactly qa's chunks.
    assert chunks["qa int8"] == chunks["qa torch"] == chunks["encoder int8"] > 0
    assert all(row[3] > 0 for row in scifact.rows + generated.rows)  # chunks/s
    if "naive LangChain" in names:
        assert any("naive LangChain" in goal for goal in result.goals)


def test_query_latency_at_two_sizes(make_options: Callable[..., BenchOptions]) -> None:
    result = run("query", make_options(sizes=(40, 90), queries=3, pool_docs=8))
    latency, steps = result.tables
    assert [row[0] for row in latency.rows] == ["hybrid", "dense", "keyword"]
    assert all(v > 0 for row in latency.rows for v in row[1:])
    assert "chunks_by_ids" in [row[0] for row in steps.rows]
    assert {len(v) for v in result.data["latencies_ms"]["90"]["modes"].values()} == {3}


def test_resume_after_kill(make_options: Callable[..., BenchOptions]) -> None:
    result = run("resume", make_options(resume_files=6))
    assert all(result.goals.values()), result.text()


def test_cli_prints_tables(make_options: Callable[..., BenchOptions],
                           capsys: pytest.CaptureFixture[str]) -> None:
    options = make_options()
    code = main(["bench", "memory", "--quick", "--data-dir", str(options.settings.data_dir),
                 "--corpus-mb", "0.05", "0.1", "--real-mb", "--big-file-mb", "0"])
    out = capsys.readouterr().out
    assert code == 0
    assert "== memory ==" in out and "stub, 0.1 MB" in out and "goals:" in out

"""`qa bench firstrun` at a tiny size: real processes, real model, real Chroma (a smoke test)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qa_measure.bench import BenchOptions, run
from qa_measure.bench.firstrun import corpus_folder
from tests.qa_measure.bench.conftest import needs_data

pytestmark = [pytest.mark.slow, needs_data]


def test_corpus_folder_is_written_once(make_options: Callable[..., BenchOptions]) -> None:
    options = make_options()
    folder = corpus_folder(options, 3)
    files = sorted(folder.glob("*.txt"))
    assert len(files) == 3 and all(f.read_text().strip() for f in files)
    mtimes = [f.stat().st_mtime_ns for f in files]
    assert corpus_folder(options, 3) == folder
    assert [f.stat().st_mtime_ns for f in files] == mtimes


def test_whole_processes_are_compared(make_options: Callable[..., BenchOptions]) -> None:
    result = run("firstrun", make_options(scifact_docs=4, rounds=1))
    whole, phases, encoders = result.tables
    rows = {row[0]: row for row in whole.rows}
    assert set(rows) == {"qa ingest", "naive LangChain"}
    assert rows["qa ingest"][1] > 0 and rows["naive LangChain"][1] > 0  # chunks embedded
    assert rows["qa ingest"][6] > 0  # the ratio naive / qa
    assert {row[0] for row in phases.rows} >= {"load model", "open store", "embed and store"}
    assert [row[0] for row in encoders.rows] == ["encoder int8 (qa)", "encoder fp32 (ST)"]
    assert len(result.goals) == 1

"""Percentiles, tables and the JSON file: small literal cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qa_measure.bench.report import BenchResult, Table, percentile, ratio, write_json


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([1, 2, 3, 4], 50, 2.5), ([5], 95, 5.0), ([1, 2, 3, 4, 5], 100, 5.0), ([3, 1, 2], 0, 1.0)],
)
def test_percentile(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 50))
    assert math.isnan(ratio(1.0, 0.0))


def test_table_aligns_and_formats() -> None:
    table = Table("t", ["name", "ms"])
    table.add("hybrid", 12.345)
    table.add("dense", None)
    assert table.render().splitlines() == [
        "t",
        "name      ms",
        "------  ----",
        "hybrid  12.3",
        "dense      -",
    ]


def test_result_text_and_json(tmp_path: Path) -> None:
    result = BenchResult("query", goals={"p50 <= 30 ms": True, "growth <= 2x": False,
                                         "not measured": None}, notes=["synthetic"])
    text = result.text()
    assert "[met] p50 <= 30 ms" in text and "[MISSED] growth" in text and "[n/a]" in text
    out = tmp_path / "r" / "query.json"
    write_json([result], out, {"quick": True})
    saved = json.loads(out.read_text())
    assert saved["options"] == {"quick": True}
    assert saved["results"][0]["goals"]["growth <= 2x"] is False
    assert saved["machine"]["cpus"] >= 1


def test_chunks_embedded_reads_a_probe_line_or_the_ingest_summary() -> None:
    from qa_measure.bench.report import chunks_embedded

    assert chunks_embedded('loading\n{"chunks": 7, "phases": {}}\n') == 7
    assert chunks_embedded("1 file: 1 added; 1 chunk embedded in 0.4s (2.5 chunks/s)") == 1
    assert chunks_embedded("3 files: 3 unchanged; 0 chunks embedded in 0.0s") == 0
    assert chunks_embedded("nothing printed") == 0

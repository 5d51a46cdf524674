"""Benchmarks of qa against baselines, measured side by side in one run.

Each benchmark takes :class:`BenchOptions` and returns a :class:`BenchResult`
(tables, goals met or missed, notes on method, raw data)::

    from qa import Settings
    from qa_measure.bench import BenchOptions, run

    options = BenchOptions.create(Settings.from_env(), data=Path("../shared/data"), quick=True)
    print(run("ingest", options).text())
"""

from __future__ import annotations

import importlib

from qa_measure.bench.options import BenchOptions
from qa_measure.bench.report import BenchResult, Table

BENCHMARKS = {
    "ingest": "qa_measure.bench.ingest:run_ingest",
    "query": "qa_measure.bench.query:run_query",
    "coldstart": "qa_measure.bench.coldstart:run_coldstart",
    "memory": "qa_measure.bench.memory:run_memory",
    "resume": "qa_measure.bench.resume:run_resume",
    "api": "qa_measure.bench.api:run_api",
    "firstrun": "qa_measure.bench.firstrun:run_firstrun",
    "webapp": "qa_measure.bench.webapp:run_webapp",
}


def run(name: str, options: BenchOptions) -> BenchResult:
    """Run one benchmark by name (a key of ``BENCHMARKS``)."""
    module, function = BENCHMARKS[name].split(":")
    result: BenchResult = getattr(importlib.import_module(module), function)(options)
    return result


__all__ = ["BENCHMARKS", "BenchOptions", "BenchResult", "Table", "run"]

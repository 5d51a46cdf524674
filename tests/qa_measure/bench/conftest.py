"""Fixtures for the benchmark smoke tests: tiny sizes, one shared work folder per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings
from qa_measure.bench import BenchOptions
from tests.conftest import SHARED_DATA

needs_data = pytest.mark.skipif(not (SHARED_DATA / "scifact" / "corpus.jsonl").exists(),
                                reason=f"benchmark data not found at {SHARED_DATA}")


@pytest.fixture(scope="session")
def bench_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder shared by the bench tests, so the int8 model is built once."""
    return tmp_path_factory.mktemp("bench-data")


@pytest.fixture
def make_options(bench_home: Path) -> Callable[..., BenchOptions]:
    """``--quick`` options in the shared folder, with ``overrides``."""

    def make(**overrides: Any) -> BenchOptions:
        settings = Settings.from_env(data_dir=bench_home)
        return BenchOptions.create(settings, SHARED_DATA, quick=True, **overrides)

    return make

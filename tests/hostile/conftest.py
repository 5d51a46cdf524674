"""Fixtures of the hostile-input tests: one model for the whole session, and a report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# Lines for the closing summary (times, memory, counts), filled in by the tests.
REPORT: list[str] = []


@pytest.fixture
def shared_model(embedder, data_dir: Path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Let ``qa.ingest`` in this test reuse the session's model instead of loading its own.

    ``get_embedder`` caches per model and model folder, and each test has its own; the
    model is the same real one either way, only loaded once.
    """
    from qa.config import Settings
    from qa.embedding import _cache

    settings = Settings.from_env()
    key = (settings.embed_model, settings.embed_backend, str(settings.data_dir))
    _cache[key] = embedder
    yield
    _cache.pop(key, None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("hostile inputs: measurements")
        for line in REPORT:
            terminalreporter.write_line(line)

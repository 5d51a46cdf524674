"""Fixtures for the answer tests: a real seed index, built once, and the local model."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.api import ingest
from qa.config import Settings
from qa.llm.factory import local_available
from tests.conftest import SEEDS

JANUARY = "Which countries took part in the conference Moscow hosted in January?"
FEBRUARY = "And which countries were invited in February?"
KABUL = "What is the population of Kabul?"

needs_local = pytest.mark.skipif(not local_available(), reason="extra 'local' not installed")


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a real index of seeds/ (real embedding model, Chroma in a temp folder)."""
    settings = Settings.from_env(data_dir=tmp_path_factory.mktemp("answer-data"))
    report = ingest([SEEDS], settings=settings)
    assert not report.failed and report.chunks_embedded > 0
    return settings


@pytest.fixture(scope="session")
def seed_text() -> str:
    """The seed document's extracted text, which citation offsets point into."""
    from qa.loaders import load

    (path,) = sorted(SEEDS.glob("*.txt"))
    return load(path).text


@pytest.fixture
def seed_data_dir(seed_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Path:
    """QA_DATA_DIR pointing at the seed index, for code that reads the environment."""
    monkeypatch.setenv("QA_DATA_DIR", str(seed_settings.data_dir))
    return seed_settings.data_dir

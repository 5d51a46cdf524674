"""Shared fixtures: a ``load`` that also checks the offsets every loader promises."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from qa.loaders import load
from qa.types import LoadedDocument

from .helpers import check_document


@pytest.fixture
def load_checked() -> Callable[..., LoadedDocument]:
    """``load`` plus :func:`check_document` on the result."""

    def run(path: Path, **kwargs: int) -> LoadedDocument:
        doc = load(path, **kwargs)
        check_document(doc, path)
        return doc

    return run


@pytest.fixture
def shared_model(embedder, data_dir: Path):  # type: ignore[no-untyped-def]
    """Let ``qa.ingest`` in this test reuse the session's model instead of loading its own."""
    from qa.config import Settings
    from qa.embedding import _cache

    settings = Settings.from_env()
    key = (settings.embed_model, settings.embed_backend, str(settings.models_dir))
    _cache[key] = embedder
    yield
    _cache.pop(key, None)
